//! What the emulator's CloudFormation ignores, checked on template.yaml itself: every alarm notifies the operator's
//! topic when one is given, and every queue that holds failures is kept 14 days and has an alarm.

use fsched_tests::TEMPLATE;
use serde_yaml::Value;

fn resources() -> Vec<(String, Value)> {
    let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn of_type(kind: &str) -> Vec<(String, Value)> {
    resources()
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .collect()
}

fn text(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

#[test]
fn every_alarm_notifies_the_alarm_topic_when_one_is_given() {
    let alarms = of_type("AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 5, "{alarms:?}");
    for (name, alarm) in alarms {
        for key in ["AlarmActions", "OKActions"] {
            let actions = text(&alarm["Properties"][key]);
            assert!(
                actions.contains("HasAlarmTopic") && actions.contains("AlarmTopicArn"),
                "{name}: {key} is {actions}"
            );
        }
    }
    let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
    assert_eq!(
        doc["Parameters"]["AlarmTopicArn"]["Default"].as_str(),
        Some("")
    );
}

#[test]
fn every_failure_queue_is_kept_two_weeks_with_an_alarm_and_none_is_generated_by_sam() {
    let alarms: Vec<String> = of_type("AWS::CloudWatch::Alarm")
        .iter()
        .map(|(_, a)| text(&a["Properties"]["Dimensions"]))
        .collect();
    let queues = of_type("AWS::SQS::Queue");
    let failure_queues: Vec<_> = queues
        .iter()
        .filter(|(name, _)| name.starts_with("Failed") || name.starts_with("Undelivered"))
        .collect();
    assert_eq!(failure_queues.len(), 5, "{queues:?}");
    for (name, queue) in failure_queues {
        assert_eq!(
            queue["Properties"]["MessageRetentionPeriod"].as_u64(),
            Some(14 * 86_400),
            "{name}"
        );
        assert!(
            alarms
                .iter()
                .any(|d| d.contains(&format!("{name}.QueueName"))),
            "{name} has no alarm"
        );
    }
    // SAM's generated dead-letter queues keep messages 4 days and have no alarm: every one is declared here.
    assert!(!TEMPLATE.contains("QueueLogicalId"));
}

/// Every statement in the template, wherever it is (managed policies, the functions' inline policies, queue and bus
/// policies), with where it was found.
fn statements() -> Vec<(String, Value)> {
    fn walk(at: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Mapping(m) => {
                if m.contains_key("Effect") && m.contains_key("Action") {
                    out.push((at.to_owned(), v.clone()));
                }
                for (k, child) in m {
                    walk(&format!("{at}.{}", k.as_str().unwrap_or("?")), child, out);
                }
            }
            Value::Sequence(items) => items.iter().for_each(|i| walk(at, i, out)),
            Value::Tagged(t) => walk(at, &t.value, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, resource) in resources() {
        walk(&name, &resource, &mut out);
    }
    out
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Sequence(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        other => panic!("Action {other:?}"),
    }
}

/// CKV_AWS_111's concern, for every statement: nothing may write on `Resource: "*"`; what AWS cannot scope is read.
#[test]
fn no_statement_allows_writing_to_every_resource() {
    let all = statements();
    assert!(all.len() > 20, "{}", all.len());
    let mut unscoped = Vec::new();
    for (at, statement) in &all {
        if statement["Effect"].as_str() != Some("Allow")
            || statement["Resource"].as_str() != Some("*")
        {
            continue;
        }
        for action in actions(statement) {
            let verb = action.split(':').nth(1).unwrap_or_default();
            assert!(
                ["Describe", "List", "Get"]
                    .iter()
                    .any(|read| verb.starts_with(read)),
                "{at}: {action} on every resource"
            );
            unscoped.push(action);
        }
    }
    unscoped.sort();
    unscoped.dedup();
    assert_eq!(
        unscoped,
        [
            "application-autoscaling:DescribeScalableTargets",
            "cloudwatch:GetMetricData",
            "ecs:DescribeTaskDefinition",
            "ecs:ListTasks",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetHealth",
        ]
    );
}

/// Lifecycle events start chained jobs: the bus denies source `fsched` to all but the stack's three functions, and
/// commands to all but CommandSenders and the functions when CommandSenders is given.
#[test]
fn only_the_stack_puts_lifecycle_events_and_only_command_senders_put_commands() {
    let policies = of_type("AWS::Events::EventBusPolicy");
    let find = |id: &str| -> Value {
        policies
            .iter()
            .find(|(name, _)| name == id)
            .map(|(_, p)| p["Properties"]["Statement"].clone())
            .unwrap_or_else(|| panic!("no {id} in {policies:?}"))
    };
    let lifecycle = find("LifecycleEventsOnlyFromTheStack");
    assert_eq!(lifecycle["Effect"].as_str(), Some("Deny"));
    assert_eq!(lifecycle["Principal"].as_str(), Some("*"));
    assert_eq!(
        lifecycle["Condition"]["StringEquals"]["events:source"].as_str(),
        Some("fsched")
    );
    let except = text(&lifecycle["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]);
    for role in ["DispatcherRole.Arn", "RecorderRole.Arn", "TriggerRole.Arn"] {
        assert!(except.contains(role), "{except}");
    }
    assert_eq!(except.matches(".Arn").count(), 3, "{except}");

    let commands = find("CommandsOnlyFromSenders");
    assert_eq!(commands["Effect"].as_str(), Some("Deny"));
    assert_eq!(
        commands["Condition"]["StringEquals"]["events:source"].as_str(),
        Some(fsched_core::domain::trigger::COMMAND_SOURCE)
    );
    let senders = text(&commands["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
    assert!(
        senders.contains("CommandSenders")
            && senders.contains("RecorderRole.Arn")
            && senders.contains("WakerRole.Arn"),
        "{senders}"
    );
    let (_, resource) = policies
        .iter()
        .find(|(name, _)| name == "CommandsOnlyFromSenders")
        .unwrap();
    assert_eq!(resource["Condition"].as_str(), Some("HasCommandSenders"));
}

/// The trigger queue admits the command rule and `fsched-*` rules on the stack's bus and the default bus: no rule
/// on another bus of the account.
#[test]
fn the_trigger_queue_admits_rules_of_the_stacks_bus_and_the_default_bus_only() {
    let (_, policy) = of_type("AWS::SQS::QueuePolicy")
        .into_iter()
        .find(|(name, _)| name == "TriggerQueuePolicy")
        .unwrap();
    let sources = text(
        &policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnLike"]
            ["aws:SourceArn"],
    );
    assert!(sources.contains("CommandsRule.Arn"), "{sources}");
    assert!(sources.contains(":rule/fsched-*"), "{sources}");
    assert!(
        sources.contains(":rule/${EventBus.Name}/fsched-*"),
        "{sources}"
    );
    assert!(!sources.contains("rule/*"), "any bus: {sources}");
    assert_eq!(sources.matches("arn:").count(), 2, "{sources}");
}

/// Every check `.checkov.yaml` skips is explained in docs/security.md.
#[test]
fn every_checkov_skip_is_explained_in_the_security_doc() {
    let config: Value = serde_yaml::from_str(include_str!("../../.checkov.yaml")).unwrap();
    let skips: Vec<&str> = config["skip-check"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(!skips.is_empty());
    assert!(
        !skips.contains(&"CKV_AWS_111"),
        "write access without constraints must pass"
    );
    let doc = include_str!("../../docs/security.md");
    for id in skips {
        let line = doc
            .lines()
            .find(|l| l.contains(&format!("`{id}`")))
            .unwrap_or_else(|| panic!("{id} is not in docs/security.md"));
        assert!(line.len() > 40, "{id} has no reason: {line}");
    }
}

/// The recorder queries two indexes: `by-task` (a task's run) and `listing` (whether a task's `startedBy` names one
/// of the stack's runs), gives pools' slots back (UpdateItem) and stops a task whose run was closed without it. The
/// emulator does not enforce IAM, so a missing permission would only show in AWS.
#[test]
fn the_recorder_may_make_every_call_it_makes() {
    let (_, recorder) = resources()
        .into_iter()
        .find(|(name, _)| name == "Recorder")
        .unwrap();
    let policies = text(&recorder["Properties"]["Policies"]);
    for index in [
        fsched_core::aws::keys::BY_TASK_INDEX,
        fsched_core::aws::keys::LISTING_INDEX,
    ] {
        assert!(
            policies.contains(&format!("${{Table.Arn}}/index/{index}")),
            "{index}: {policies}"
        );
    }
    for action in ["dynamodb:UpdateItem", "ecs:StopTask"] {
        assert!(policies.contains(action), "{action}: {policies}");
    }
}

/// The waker answers requests and asks for wakes: it reads and writes the table and sends commands on the bus,
/// nothing else; load balancers of the account invoke it through its target group; the functions that run the
/// sleeper know that target group, and may point only the rules in ListenerRuleArns.
#[test]
fn the_waker_reaches_only_its_table_and_bus_and_the_sleeper_knows_its_target_group() {
    let all = resources();
    let find = |id: &str| {
        all.iter()
            .find(|(name, _)| name == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let waker = find("Waker");
    let policies = text(&waker["Properties"]["Policies"]);
    for allowed in [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "events:PutEvents",
    ] {
        assert!(policies.contains(allowed), "{allowed}: {policies}");
    }
    for never in [
        "ecs:",
        "elasticloadbalancing:",
        "application-autoscaling:",
        "iam:",
    ] {
        assert!(!policies.contains(never), "{never}: {policies}");
    }
    let group = find("WakerTargetGroup");
    assert_eq!(group["Properties"]["TargetType"].as_str(), Some("lambda"));
    assert!(text(&group["Properties"]["Targets"]).contains("Waker.Arn"));
    let permission = find("WakerInvokedByLoadBalancers");
    assert_eq!(
        permission["Properties"]["Principal"].as_str(),
        Some("elasticloadbalancing.amazonaws.com")
    );
    assert!(text(&permission["Properties"]["SourceAccount"]).contains("AWS::AccountId"));
    for function in ["Dispatcher", "Trigger"] {
        let env = text(&find(function)["Properties"]["Environment"]);
        assert!(
            env.contains("FSCHED_WAKER_TARGET_GROUP") && env.contains("WakerTargetGroup"),
            "{function}: {env}"
        );
    }
    let routing = find("WakeOnRequestRouting");
    assert_eq!(routing["Condition"].as_str(), Some("HasListenerRules"));
    let document = text(&routing["Properties"]["PolicyDocument"]);
    assert!(
        document.contains("elasticloadbalancing:ModifyRule")
            && document.contains("ListenerRuleArns"),
        "{document}"
    );
    for function in ["Dispatcher", "Trigger"] {
        let policies = text(&find(function)["Properties"]["Policies"]);
        assert!(
            policies.contains("WakeOnRequestRouting"),
            "{function}: {policies}"
        );
    }
}

/// Every metric the functions emit (their `emf` lines) is drawn on the stack's dashboard, and the dashboard shows
/// every alarm.
#[test]
fn the_dashboard_draws_every_metric_the_functions_emit_and_every_alarm() {
    let dashboards = of_type("AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body = text(&dashboards[0].1["Properties"]["DashboardBody"]);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut emitted = Vec::new();
    for function in ["dispatcher", "recorder", "trigger"] {
        for file in ["handler.rs", "main.rs"] {
            let code = std::fs::read_to_string(format!("{root}/{function}/src/{file}")).unwrap();
            // `.count("Name", ..)`, `.samples("Name", ..)`, and the names a match gives (`=> "RunsFailed"`).
            for marker in [".count(", ".samples(", "=> "] {
                for piece in code.split(marker).skip(1) {
                    let Some(rest) = piece.trim_start().strip_prefix('"') else {
                        continue;
                    };
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
                    if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                        emitted.push(name);
                    }
                }
            }
        }
    }
    emitted.sort();
    emitted.dedup();
    assert!(
        emitted.len() >= 15,
        "found the emitted metrics: {emitted:?}"
    );
    for name in &emitted {
        assert!(
            body.contains(&format!("\"{name}\"")),
            "the dashboard does not draw {name}"
        );
    }
    for (name, _) in of_type("AWS::CloudWatch::Alarm") {
        assert!(
            body.contains(&format!("alarm:${{{name}}}")),
            "the dashboard does not show {name}"
        );
    }
}

/// The dispatcher's tick as EventBridge Scheduler delivers it: the template's `Input` with the stack's account and
/// Region and Scheduler's context attributes put in, which must be tests/events/scheduler-tick.json, the event the
/// dispatcher's handler tests read.
#[test]
fn the_ticks_input_is_the_scheduled_event_the_dispatcher_reads() {
    let (_, dispatcher) = resources()
        .into_iter()
        .find(|(name, _)| name == "Dispatcher")
        .unwrap();
    let tick = &dispatcher["Properties"]["Events"]["Tick"];
    assert_eq!(tick["Type"].as_str(), Some("ScheduleV2"));
    assert_eq!(
        tick["Properties"]["FlexibleTimeWindow"]["Mode"].as_str(),
        Some("OFF"),
        "a flexible window would let Scheduler fire late"
    );
    let Value::Tagged(sub) = &tick["Properties"]["Input"] else {
        panic!("the tick's Input is not a !Sub");
    };
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../events/scheduler-tick.json")).unwrap();
    let delivered = sub
        .value
        .as_str()
        .unwrap()
        .replace("${AWS::AccountId}", "123456789012")
        .replace("${AWS::Region}", "us-east-1")
        .replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3")
        .replace("<aws.scheduler.scheduled-time>", "2026-11-29T02:00:00Z")
        .replace("<aws.scheduler.attempt-number>", "1")
        .replace(
            "<aws.scheduler.schedule-arn>",
            fixture["resources"][0].as_str().unwrap(),
        );
    assert!(!delivered.contains("${"), "{delivered}");
    let delivered: serde_json::Value = serde_json::from_str(&delivered).unwrap();
    assert_eq!(delivered, fixture);
}
