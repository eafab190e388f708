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
