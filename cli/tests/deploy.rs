//! Deploy smoke test: template.yaml as `sam deploy` sends it (expanded by the pinned aws-sam-translator, with a
//! placeholder for the functions' code: no Lambda build here), created as two stacks side by side in the emulator's
//! CloudFormation, then the CLI driven through `--stack` before and after the subcommand. A template change that
//! breaks deployment fails here. What the emulator ignores (alarms, queue and bus policies, IAM statements) is
//! checked on the template itself (tests/tests/template.rs) and by checkov (scripts/lib/checkov-template).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use fsched_tests::{local_sdk_config, unique_name};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// template.yaml expanded from SAM to plain CloudFormation, with the functions' code inline.
fn expanded_template() -> String {
    let root = root();
    let venv = Command::new(root.join("scripts/lib/venv"))
        .arg("sam")
        .output()
        .unwrap();
    assert!(venv.status.success(), "{}", text(&venv.stderr));
    let python = PathBuf::from(text(&venv.stdout).trim()).join("python");
    let out = std::env::temp_dir().join(format!("{}.json", unique_name("fsched-expanded")));
    let expand = Command::new(python)
        .arg(root.join("scripts/lib/expand-template.py"))
        .arg(root.join("template.yaml"))
        .arg(&out)
        .arg("--inline-code")
        .output()
        .unwrap();
    assert!(expand.status.success(), "{}", text(&expand.stderr));
    let body = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    body
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The example's Region and account (its finance report names its task definition by ARN there).
const REGION: &str = "eu-central-1";
const ACCOUNT: &str = "123456789012";

/// Creates a stack from `body` allowed the task definition families `families`, and waits until CloudFormation is
/// done with it; returns its outputs.
async fn deploy(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    body: &str,
    families: &[&str],
) -> BTreeMap<String, String> {
    let parameter = |k: &str, v: String| {
        Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    let task_definitions: Vec<String> = families
        .iter()
        .map(|f| format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{f}:*"))
        .collect();
    cfn.create_stack()
        .stack_name(stack)
        .template_body(body)
        .capabilities(Capability::CapabilityIam)
        .parameters(parameter(
            "ClusterArns",
            format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/data-platform"),
        ))
        .parameters(parameter("TaskDefinitionArns", task_definitions.join(",")))
        .parameters(parameter(
            "TaskRoleArns",
            format!("arn:aws:iam::{ACCOUNT}:role/etl-task"),
        ))
        .parameters(parameter(
            "ServiceArns",
            format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/data-platform/*"),
        ))
        // The example's request-woken preview service points this rule (the ARN examples/jobs.yaml names).
        .parameters(parameter(
            "ListenerRuleArns",
            format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/web/*"),
        ))
        .send()
        .await
        .unwrap();
    // Bounded by attempts, not time: the emulator creates stacks synchronously or nearly so.
    for _ in 0..600 {
        let described = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        let found = &described.stacks()[0];
        match found.stack_status() {
            Some(StackStatus::CreateComplete) => {
                return found
                    .outputs()
                    .iter()
                    .map(|o| {
                        (
                            o.output_key().unwrap_or_default().to_owned(),
                            o.output_value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            }
            Some(StackStatus::CreateInProgress) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            other => panic!("stack {stack}: {other:?} {:?}", found.stack_status_reason()),
        }
    }
    panic!("stack {stack} was not created")
}

fn fsched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(args)
        .env_remove("FSCHED_TABLE")
        .env_remove("FSCHED_EVENT_BUS")
        .env_remove("FSCHED_TRIGGER_QUEUE")
        .env_remove("FSCHED_STACK")
        .env("AWS_REGION", REGION)
        .current_dir(root())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_template_deploys_twice_side_by_side_and_the_cli_finds_each_stack() {
    let config = local_sdk_config().await.unwrap();
    let config = config
        .into_builder()
        .region(aws_config::Region::new(REGION))
        .build();
    let cfn = aws_sdk_cloudformation::Client::new(&config);
    fsched_tests::ecs::example_task_definitions(&config)
        .await
        .unwrap();
    let body = expanded_template();
    let every_family: Vec<&str> = fsched_tests::ecs::EXAMPLE_FAMILIES
        .iter()
        .map(|(family, _, _)| *family)
        .collect();
    let staging = unique_name("fsched-staging");
    let prod = unique_name("fsched-prod");
    let first = deploy(&cfn, &staging, &body, &every_family).await;
    // The production stack may run the ETL only.
    let second = deploy(&cfn, &prod, &body, &["etl"]).await;

    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "DashboardName",
            "DispatcherFunction",
            "EventBusArn",
            "EventBusName",
            "FailedCommandsQueue",
            "FailedTaskEventsQueue",
            "FailedTicksQueue",
            "RecorderFunction",
            "TableArn",
            "TableName",
            "TriggerFunction",
            "TriggerQueueArn",
            "WakerFunction",
            "WakerTargetGroupArn",
        ]
    );
    // Nothing collides: each stack has its own bus (named after it), table and queue.
    assert_eq!(first["EventBusName"], staging);
    assert_eq!(second["EventBusName"], prod);
    for key in ["TableName", "TriggerQueueArn", "DispatcherFunction"] {
        assert_ne!(first[key], second[key], "{key}");
    }

    // The CLI finds everything from the stack's name, given before or after the subcommand.
    let example = "examples/jobs.yaml";
    let o = fsched(&["--stack", &staging, "apply", example]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let before = fsched(&["--stack", &staging, "jobs", "--output", "json"]);
    let after = fsched(&["jobs", "--output", "json", "--stack", &staging]);
    assert!(before.status.success(), "{}", text(&before.stderr));
    assert_eq!(text(&before.stdout), text(&after.stdout));
    let jobs: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(9), "{jobs}");

    // The example's on_event rules were created on the stack's own bus, pointing at its trigger queue.
    let rules = aws_sdk_eventbridge::Client::new(&config)
        .list_rules()
        .event_bus_name(&staging)
        .send()
        .await
        .unwrap();
    assert!(!rules.rules().is_empty(), "{rules:?}");

    // A command goes to the stack's bus.
    let o = fsched(&[
        "--stack",
        &staging,
        "run",
        "daily-report",
        "--env",
        "AFTER_RUN=manual",
        "--env",
        "FORMAT=csv",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = fsched(&["services", "--stack", &staging]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    // The production stack may not run the other jobs: plan and apply refuse them, naming the parameter, and
    // nothing is written.
    for command in ["plan", "apply"] {
        let o = fsched(&["--stack", &prod, command, example]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(
            err.contains("job crm-sync: the stack may not run task definition")
                && err.contains("TaskDefinitionArns")
                && !err.contains("job nightly-etl"),
            "{err}"
        );
    }
    let other = fsched(&["jobs", "--stack", &prod, "--output", "json"]);
    let other: serde_json::Value = serde_json::from_slice(&other.stdout).unwrap();
    assert_eq!(other["items"], serde_json::json!([]), "nothing was written");

    // doctor: healthy, then a tick in the failure queue makes it fail, naming the queue.
    let o = fsched(&["--stack", &staging, "doctor"]);
    let report = text(&o.stdout);
    assert!(o.status.success(), "{report}{}", text(&o.stderr));
    for line in [
        "functions",
        "function Dispatcher",
        "queue FailedTicks",
        "queue UndeliveredTaskEvents",
        "all 9 stored job(s) within the stack's permissions",
    ] {
        assert!(report.contains(line), "{line}: {report}");
    }
    let failed_ticks = first["FailedTicksQueue"].clone();
    aws_sdk_sqs::Client::new(&config)
        .send_message()
        .queue_url(&failed_ticks)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let o = fsched(&["doctor", "--stack", &staging, "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (report["kind"].as_str(), report["ok"].as_bool()),
        (Some("DoctorReport"), Some(false))
    );
    let findings = &report["findings"];
    let failed: Vec<&serde_json::Value> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{findings}");
    assert_eq!(failed[0]["what"], "queue FailedTicks");
}
