//! The terminal views, pinned with insta snapshots over runs recorded from the real ECS event fixtures
//! (tests/events/ecs) through the same fold the recorder uses.

use chrono::TimeZone;
use fsched_core::domain::cost::Prices;
use fsched_core::domain::fargate::Capacity;
use fsched_core::domain::job::JobName;
use fsched_core::domain::record::observe;
use fsched_core::domain::run::{RunId, RunStatus};
use fsched_core::domain::task::TaskSnapshot;

use super::*;

fn report(name: &str) -> TaskSnapshot {
    let path = format!(
        "{}/../tests/events/ecs/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    TaskSnapshot::from_event_detail(&event["detail"]).unwrap()
}

/// A run of `job` scheduled at the fixtures' time, launched, then told `reports` in order.
fn recorded(job: &str, reports: &[&str]) -> Run {
    let at = Utc.with_ymd_and_hms(2020, 1, 23, 17, 57, 0).unwrap();
    let mut run = Run::claimed(
        RunId::scheduled(&JobName::new(job).unwrap(), at),
        Trigger::Schedule,
        at,
        at + Duration::milliseconds(412),
    );
    run.status = RunStatus::Pending;
    run.attempts = 1;
    run.capacity = Some(Capacity::Fargate);
    run.cluster = Some("FargateCluster".into());
    run.launched_at = Some(at + Duration::seconds(1));
    run.task_arn = Some(report("running").task_arn);
    run.expires_at = Some((at + Duration::days(90)).timestamp());
    for name in reports {
        if let Some(o) = observe(&run, &report(name), &Prices::default(), at) {
            run = o.run;
        }
    }
    run
}

fn day() -> Vec<Run> {
    let mut skipped = recorded("report", &[]);
    skipped.status = RunStatus::Skipped;
    skipped.task_arn = None;
    skipped.launched_at = None;
    skipped.attempts = 0;
    skipped.reason = Some("overlap: forbid, run report/20200123T165700Z is still running".into());
    vec![
        recorded(
            "etl",
            &["provisioning", "pending", "running", "stopped-success"],
        ),
        recorded("import", &["running", "stopped-exit-code"]),
        recorded("image-check", &["provisioning", "stopped-failed-to-start"]),
        recorded("spot-batch", &["running", "stopped-spot-interruption"]),
        recorded("crm-sync", &["pending", "running"]),
        skipped,
    ]
}

#[test]
fn the_runs_table() {
    insta::assert_snapshot!(runs_table(&day(), &crate::output::Times::utc()));
}

#[test]
fn one_failed_run_in_full() {
    insta::assert_snapshot!(show(&recorded(
        "import",
        &["provisioning", "pending", "running", "stopped-exit-code"]
    )));
}

#[test]
fn a_run_still_going() {
    insta::assert_snapshot!(show(&recorded(
        "crm-sync",
        &["provisioning", "pending", "running"]
    )));
}

#[test]
fn a_retried_run_names_its_next_attempt_and_the_attempts_line_up() {
    use fsched_core::domain::run::NextAttempt;
    let mut first = recorded("import", &["running", "stopped-exit-code"]);
    let next = NextAttempt {
        run: RunId::attempt(&first.id, 2),
        number: 2,
        at: first.stopped_at.unwrap() + Duration::minutes(2),
    };
    first.retried_as = Some(next.clone());
    let mut second = first.next_attempt(&next, first.stopped_at.unwrap());
    second.status = RunStatus::Succeeded;
    second.stopped_at = Some(next.at + Duration::minutes(6));
    insta::assert_snapshot!(format!(
        "{}\n{}\n{}",
        show(&first),
        show(&second),
        attempts_table(&[first.clone(), second.clone()])
    ));
}

#[test]
fn cost_per_job_and_in_total() {
    let mut runs = day();
    runs.push(recorded("etl", &["running", "stopped-success"]));
    insta::assert_snapshot!(cost_table(&costs(&runs)));
}

#[test]
fn json_carries_the_derived_figures() {
    let v = run_json(&recorded(
        "etl",
        &["provisioning", "running", "stopped-success"],
    ));
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["start_delay_seconds"], 58.103);
    assert_eq!(v["runtime_seconds"], 373.897);
    assert_eq!(v["cost"]["billed_seconds"], 380);
}

#[test]
fn spans_and_dollars_read_naturally() {
    let s = |secs| span(Some(Duration::seconds(secs)));
    assert_eq!(
        [s(0), s(59), s(61), s(3600), s(7380), s(90_000)],
        ["0s", "59s", "1m 01s", "1h 00m", "2h 03m", "1d 1h"]
    );
    assert_eq!(span(Some(Duration::seconds(-3))), "-");
    assert_eq!(dollars(0.0013028), "$0.0013");
    assert_eq!(dollars(12.345), "$12.35");
}
