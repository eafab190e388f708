//! The terminal views, pinned with insta snapshots over runs recorded from the real ECS event fixtures
//! (tests/events/ecs) through the same fold the recorder uses.

use chrono::TimeZone;
use fsched_core::domain::cost::Prices;
use fsched_core::domain::fargate::Capacity;
use fsched_core::domain::job::JobName;
use fsched_core::domain::record::observe;
use fsched_core::domain::rollup::DayTally;
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
    insta::assert_snapshot!(runs_table(
        &day(),
        &crate::output::Times::utc(),
        Format::Table
    ));
}

#[test]
fn the_wide_runs_table_adds_columns_and_times_read_in_the_jobs_zone() {
    let times = crate::output::Times {
        tz: crate::output::Tz::Job,
        jobs: [("etl".to_owned(), "Europe/Berlin".parse().unwrap())].into(),
    };
    insta::assert_snapshot!(runs_table(&day(), &times, Format::Wide));
}

#[test]
fn one_failed_run_in_full() {
    insta::assert_snapshot!(show(
        &recorded(
            "import",
            &["provisioning", "pending", "running", "stopped-exit-code"]
        ),
        &crate::output::Times::utc()
    ));
}

#[test]
fn a_run_still_going() {
    let berlin = crate::output::Times {
        tz: crate::output::Tz::Zone("Europe/Berlin".parse().unwrap()),
        jobs: Default::default(),
    };
    insta::assert_snapshot!(show(
        &recorded("crm-sync", &["provisioning", "pending", "running"]),
        &berlin
    ));
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
        show(&first, &crate::output::Times::utc()),
        show(&second, &crate::output::Times::utc()),
        attempts_table(
            &[first.clone(), second.clone()],
            &crate::output::Times::utc()
        )
    ));
}

#[test]
fn cost_per_job_and_in_total() {
    let mut runs = day();
    runs.push(recorded("etl", &["running", "stopped-success"]));
    let day = DayTally::of(runs[0].scheduled_at.date_naive(), &runs);
    insta::assert_snapshot!(cost_table(&by_job(&[day])));
}

/// The `Run` document of every kind of run in the day: the shape scripts build on (docs/output.md).
#[test]
fn the_run_documents() {
    let docs: Vec<serde_json::Value> = day().iter().map(crate::contract::run).collect();
    insta::assert_snapshot!(fsched_tests::sorted_json(&serde_json::json!(docs)));
}

#[test]
fn a_run_document_carries_the_derived_figures_to_the_second() {
    let v = crate::contract::run(&recorded(
        "etl",
        &["provisioning", "running", "stopped-success"],
    ));
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["start_delay_seconds"], 58);
    assert_eq!(v["runtime_seconds"], 373);
    assert_eq!(v["cost"]["billed_seconds"], 380);
    // One null policy: a field that does not apply is there, as null.
    assert!(v["retried_as"].is_null() && v["tasks"].is_null(), "{v}");
    let started = v["started_at"].as_str().unwrap();
    assert!(started.len() == 20 && started.ends_with('Z'), "{started}");
}

#[test]
fn a_document_is_the_same_in_json_and_yaml_and_says_its_version_and_kind() {
    use crate::output::emit;
    let body = crate::contract::run(&recorded("etl", &["running", "stopped-success"]));
    let (mut json, mut yaml) = (Vec::new(), Vec::new());
    emit(&mut json, Format::Json, "Run", body.clone()).unwrap();
    emit(&mut yaml, Format::Yaml, "Run", body).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert_eq!(json.lines().count(), 1, "one document per line");
    let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let yaml = String::from_utf8(yaml).unwrap();
    assert!(yaml.starts_with("---\n"), "{yaml}");
    let from_yaml: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(from_json, from_yaml);
    assert_eq!(from_json["apiVersion"], "fsched/v1");
    assert_eq!(from_json["kind"], "Run");
    assert_eq!(from_json["id"], "etl/20200123T175700Z");
    // A list goes under `items`.
    let mut list = Vec::new();
    emit(
        &mut list,
        Format::Json,
        "RunList",
        serde_json::json!([1, 2]),
    )
    .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
    assert_eq!(list["items"], serde_json::json!([1, 2]));
}

#[test]
fn long_run_ids_are_shortened_keeping_task_and_attempt_marks() {
    let job = JobName::new("import-upload").unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 29, 7, 55, 0).unwrap();
    let event = RunId::triggered(&job, at, 'e', "f98afd67-2576-4e4c-a9a6-3db860e5440f");
    assert_eq!(
        short_id(&event),
        "import-upload/20261129T075500Z-ef98afd67…"
    );
    let retried_task = RunId::attempt(&RunId::task(&event, 3), 2);
    assert_eq!(
        short_id(&retried_task),
        "import-upload/20261129T075500Z-ef98afd67…-t3-r2"
    );
    // Short keys stay whole: scheduled, manual (`-m` and 12 hex digits), tasks and attempts of those.
    let scheduled = RunId::scheduled(&job, at);
    assert_eq!(short_id(&scheduled), scheduled.to_string());
    let manual = RunId::triggered(&job, at, 'm', "0123456789ab");
    assert_eq!(short_id(&manual), manual.to_string());
    let task = RunId::attempt(&RunId::task(&scheduled, 1), 2);
    assert_eq!(short_id(&task), task.to_string());
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
