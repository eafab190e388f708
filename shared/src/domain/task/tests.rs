use super::*;
use crate::domain::fargate::{Capacity, TaskStatus};

/// A real "ECS Task State Change" event from tests/events/ecs.
pub(crate) fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../tests/events/ecs/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn report(name: &str) -> TaskSnapshot {
    TaskSnapshot::from_event_detail(&fixture(name)["detail"]).unwrap()
}

#[test]
fn event_details_are_read_with_sizes_times_and_containers() {
    let t = report("running");
    assert_eq!(
        t.task_arn,
        "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad"
    );
    assert_eq!((t.last_status.as_str(), t.version), ("RUNNING", 3));
    assert_eq!((t.cpu, t.memory), (Some(256), Some(512)));
    assert_eq!(t.capacity, Some(Capacity::Fargate));
    assert_eq!(
        t.pull_started_at.unwrap().to_rfc3339(),
        "2020-01-23T17:57:52.103+00:00"
    );
    assert_eq!(t.containers.len(), 1);
    let spot = report("stopped-spot-interruption");
    assert_eq!(spot.capacity, Some(Capacity::FargateSpot));
}

#[test]
fn malformed_details_are_errors_not_panics() {
    for bad in [
        serde_json::json!(null),
        serde_json::json!({"lastStatus": "RUNNING"}),
        serde_json::json!({"taskArn": "", "lastStatus": "RUNNING"}),
        serde_json::json!({"taskArn": 7, "lastStatus": "RUNNING"}),
        serde_json::json!({"taskArn": "a", "lastStatus": "RUNNING", "containers": "x"}),
    ] {
        assert!(TaskSnapshot::from_event_detail(&bad).is_err(), "{bad}");
    }
}

#[test]
fn merging_keeps_the_newest_status_and_every_time_stamp() {
    let mut a = report("stopped-success");
    a.pull_started_at = None;
    a.containers[0].essential = Some(true);
    let mut b = report("running");
    b.merge(&a);
    assert_eq!(b.last_status, "STOPPED");
    assert_eq!(b.version, 5);
    assert!(b.pull_started_at.is_some(), "kept from the older report");
    assert_eq!(b.containers[0].essential, Some(true));
    let mut c = a.clone();
    c.merge(&report("running"));
    assert_eq!(b, c, "the same whichever way round");
}

#[test]
fn without_versions_the_lifecycle_orders_reports_and_stopped_is_final() {
    // The emulator's DescribeTasks reports no version: the later stage wins.
    let mut running = report("running");
    running.version = 0;
    let mut stopping = running.clone();
    stopping.last_status = TaskStatus::Stopping;
    let mut a = running.clone();
    a.merge(&stopping);
    assert_eq!(a.last_status, "STOPPING");
    let mut b = stopping.clone();
    b.merge(&running);
    assert_eq!(b.last_status, "STOPPING");
    // A stopped task never runs again, whatever the versions say.
    let mut stopped = report("stopped-success");
    stopped.version = 0;
    let mut c = report("running");
    c.merge(&stopped);
    assert!(c.is_stopped());
}

#[test]
fn the_architecture_fargate_reports_is_read_from_the_attributes() {
    let mut event = fixture("stopped-success");
    event["detail"]["attributes"] =
        serde_json::json!([{"name": "ecs.cpu-architecture", "value": "arm64"}]);
    let t = TaskSnapshot::from_event_detail(&event["detail"]).unwrap();
    assert_eq!(
        t.architecture,
        Some(crate::domain::fargate::Architecture::Arm64)
    );
    assert_eq!(
        report("stopped-success").architecture,
        None,
        "not said: not known"
    );
}
