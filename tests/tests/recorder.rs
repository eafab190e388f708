//! The recorder end to end: runs launched by the real dispatcher in the emulator, then real "ECS Task State Change"
//! events (tests/events/ecs, made about the launched task) delivered to the recorder's handler as EventBridge would,
//! with duplicates and out of order. Simulated: the clock, the delivery, and what ECS reports (the emulator runs no
//! containers and sends no events).

use std::time::Duration as StdDuration;

use chrono::{DateTime, TimeZone, Utc};
use fsched_core::domain::clock::{Receipt, DEFAULT_SKEW};
use fsched_core::domain::dispatch::started_by;
use fsched_core::domain::job::JobName;
use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
use fsched_core::ports::{RunStore, TaskLauncher};
use fsched_core::service::record::Recorded;
use fsched_dispatcher::handler as dispatcher;
use fsched_recorder::handler;
use fsched_tests::ecs::{task_definition_with_sidecar, task_event};
use fsched_tests::unique_name;
use fsched_tests::world::{world, World};
use lambda_runtime::Diagnostic;
use tokio::time::Instant;

const LIFE: [&str; 4] = ["provisioning", "pending", "running", "stopped-success"];

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0).unwrap()
}

fn scheduled_event(time: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": format!("tick-{}", time.timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": time.to_rfc3339(), "region": "us-east-1",
        "resources": [], "detail": {}
    })
}

/// Launches one run of a new hourly job through the dispatcher and returns it with its task definition's ARN.
async fn launched(w: &World, task_definition: &str) -> (Run, String) {
    let name = unique_name("job");
    let mut spec = w.spec("rate(1 hour)");
    spec.task_definition = task_definition.to_owned();
    let job = w.add(&name, spec, at(1, 30)).await;
    let d = w.dispatcher();
    let report = dispatcher::tick(
        &d,
        scheduled_event(at(2, 0)),
        Receipt::new(at(2, 0), DEFAULT_SKEW),
        Instant::now() + StdDuration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let run = w.runs(&job).await.pop().unwrap();
    let arn = run.task_arn.clone().unwrap();
    let task = w
        .ecs
        .describe(&w.sandbox.cluster, std::slice::from_ref(&arn))
        .await
        .unwrap()
        .pop()
        .unwrap();
    (run, task.task_definition_arn.unwrap())
}

async fn deliver(w: &World, run: &Run, definition: &str, names: &[&str]) -> Vec<Recorded> {
    let recorder = w.recorder();
    let mut out = Vec::new();
    for name in names {
        let event = task_event(
            name,
            run.task_arn.as_deref().unwrap(),
            definition,
            "app",
            run.scheduled_at,
        )
        .unwrap();
        out.push(
            handler::handle(&recorder, event)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}")),
        );
    }
    out
}

async fn stored(w: &World, run: &Run) -> Run {
    w.store.get_run(&run.id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_runs_whole_life_is_recorded_in_any_order_with_one_closing_event() {
    let w = world().await;
    // The same life delivered in order, reversed, and shuffled with duplicates, each to its own run.
    let orders: [&[&str]; 3] = [
        &LIFE,
        &["stopped-success", "running", "pending", "provisioning"],
        &[
            "running",
            "stopped-success",
            "provisioning",
            "running",
            "stopped-success",
            "pending",
        ],
    ];
    let mut finals = Vec::new();
    for order in orders {
        let (run, definition) = launched(&w, &w.task_definition).await;
        deliver(&w, &run, &definition, order).await;
        let rec = stored(&w, &run).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{order:?}");
        assert_eq!(rec.exit_code(), Some(0));
        let task = rec.task.clone().unwrap();
        assert_eq!(task.version, 5);
        assert!(task.created_at.is_some() && task.pull_started_at.is_some());
        // Fixture times: pull 17:57:52.103 .. stop 18:04:12.000 -> 380 s of 0.25 vCPU / 0.5 GB x86 on-demand.
        let cost = rec.cost.clone().unwrap();
        assert_eq!(cost.billed_seconds, 380);
        assert!((cost.usd - 0.001_302_819_444).abs() < 1e-9, "{}", cost.usd);
        assert_eq!(rec.check_at, None, "a closed run has no timer");
        assert!(rec.expires_at.is_some(), "history TTL kept");
        finals.push(rec);
    }
    // Same record whatever the order, apart from the run's own identity and task.
    let strip = |r: &Run| {
        let mut r = r.clone();
        r.task.as_mut().unwrap().task_arn.clear();
        (
            r.status,
            r.reason,
            r.cost,
            r.started_at.map(|s| s - r.scheduled_at),
            r.task.map(|t| t.containers),
        )
    };
    assert_eq!(strip(&finals[0]), strip(&finals[1]));
    assert_eq!(strip(&finals[0]), strip(&finals[2]));
    let succeeded = w.events("Run Succeeded");
    assert_eq!(succeeded.len(), 3, "one per run, never per duplicate");
    assert_eq!(succeeded[0]["exit_code"], 0);
    assert_eq!(
        succeeded[0]["cost_usd"],
        finals[0].cost.as_ref().unwrap().usd
    );
}

#[tokio::test]
async fn a_non_zero_exit_fails_the_run_naming_the_container_and_code() {
    let w = world().await;
    let (run, definition) = launched(&w, &w.task_definition).await;
    let results = deliver(
        &w,
        &run,
        &definition,
        &["running", "stopped-exit-code", "stopped-exit-code"],
    )
    .await;
    assert!(matches!(
        results[1],
        Recorded::Updated {
            closed: true,
            status: RunStatus::Failed,
            ..
        }
    ));
    assert!(
        matches!(results[2], Recorded::Unchanged { .. }),
        "{:?}",
        results[2]
    );
    let rec = stored(&w, &run).await;
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(
        rec.reason.as_deref(),
        Some("container `app` exited with code 1")
    );
    let failed = w.events("Run Failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["exit_code"], 1);
    assert_eq!(failed[0]["reason"], "container `app` exited with code 1");
}

#[tokio::test]
async fn the_task_definition_decides_which_containers_count_and_the_price() {
    let w = world().await;
    let family = task_definition_with_sidecar(&w.config, &unique_name("sidecar"))
        .await
        .unwrap();
    let (run, definition) = launched(&w, &family).await;
    // The app exits 0; the non-essential log router is killed on the way out (143).
    let mut stop = task_event(
        "stopped-success",
        run.task_arn.as_deref().unwrap(),
        &definition,
        "app",
        run.scheduled_at,
    )
    .unwrap();
    let mut sidecar = stop["detail"]["containers"][0].clone();
    sidecar["name"] = "log-router".into();
    sidecar["exitCode"] = 143.into();
    stop["detail"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(sidecar);
    handler::handle(&w.recorder(), stop).await.unwrap();
    let rec = stored(&w, &run).await;
    assert_eq!(rec.status, RunStatus::Succeeded, "{:?}", rec.reason);
    let cost = rec.cost.unwrap();
    assert_eq!(cost.architecture, "arm64");
    // 380 s x (0.25 x 0.03238 + 0.5 x 0.00356) $/h / 3600 = 0.105556 h x 0.009875 $/h = $0.0010423611.
    assert!((cost.usd - 0.001_042_361_111).abs() < 1e-9, "{}", cost.usd);
}

#[tokio::test]
async fn the_documented_endings_each_get_their_status() {
    let w = world().await;
    for (fixture, status) in [
        ("stopped-failed-to-start", RunStatus::Failed),
        ("stopped-spot-interruption", RunStatus::Interrupted),
        ("stopped-by-user", RunStatus::Stopped),
    ] {
        let (run, definition) = launched(&w, &w.task_definition).await;
        deliver(&w, &run, &definition, &["provisioning", fixture]).await;
        let rec = stored(&w, &run).await;
        assert_eq!(rec.status, status, "{fixture}: {:?}", rec.reason);
    }
    assert_eq!(w.events("Run Interrupted").len(), 1);
    assert_eq!(w.events("Run Stopped").len(), 1);
    let failed = w.events("Run Failed");
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("CannotPullContainerError"),
        "{failed:?}"
    );
    // The image pull began, so Fargate bills its one-minute minimum: 60 s x 0.0123425 $/h / 3600 = $0.00020570833.
    let billed = failed[0]["cost_usd"].as_f64().unwrap();
    assert!((billed - 0.000_205_708_333).abs() < 1e-9, "{billed}");
}

#[tokio::test]
async fn a_stopped_task_of_a_run_not_recorded_yet_is_retried_and_anyone_elses_is_ignored() {
    let w = world().await;
    let stranger = "arn:aws:ecs:us-east-1:123456789012:task/elsewhere/0123456789abcdef";
    let recorder = w.recorder();
    let early = task_event("running", stranger, "td:1", "app", at(2, 0)).unwrap();
    assert!(matches!(
        handler::handle(&recorder, early).await.unwrap(),
        Recorded::Ignored { .. }
    ));
    // A task someone started with a `startedBy` that looks like fsched's, naming no run: not fsched's to record,
    // and no retry (it used to be retried into the failure queue).
    let stopped = task_event("stopped-success", stranger, "td:1", "app", at(2, 0)).unwrap();
    assert!(matches!(
        handler::handle(&recorder, stopped).await.unwrap(),
        Recorded::Ignored { .. }
    ));
    // The task of a run that is claimed but whose launch is not recorded yet: retried until it is.
    let id = RunId::scheduled(&JobName::new("etl").unwrap(), at(2, 0));
    let claimed = Run::claimed(id.clone(), Trigger::Schedule, at(2, 0), at(2, 0));
    w.store.claim_run(&claimed).await.unwrap();
    // Another stack sharing the cluster, with a job of the same name due at the same time: its task is not ours.
    let mut theirs = task_event("stopped-success", stranger, "td:1", "app", at(2, 0)).unwrap();
    theirs["detail"]["startedBy"] = serde_json::json!(started_by(&id, "0f0f0f"));
    assert!(matches!(
        handler::handle(&recorder, theirs).await.unwrap(),
        Recorded::Ignored { .. }
    ));
    let mut ours = task_event("stopped-success", stranger, "td:1", "app", at(2, 0)).unwrap();
    ours["detail"]["startedBy"] = serde_json::json!(w.ecs.started_by(&id));
    let err = handler::handle(&recorder, ours).await.unwrap_err();
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "fsched.RunNotFoundYet");
    assert!(d.error_message.contains(stranger), "{}", d.error_message);
    assert!(w.events("Run Succeeded").is_empty());
}

#[tokio::test]
async fn a_run_the_dispatcher_timed_out_keeps_its_status_and_gains_exit_code_and_cost() {
    let w = world().await;
    let name = unique_name("slow");
    let mut spec = w.spec("rate(1 hour)");
    spec.max_runtime = Some("5m".parse().unwrap());
    let job = w.add(&name, spec, at(1, 30)).await;
    let d = w.dispatcher();
    for t in [at(2, 0), at(2, 5)] {
        dispatcher::tick(
            &d,
            scheduled_event(t),
            Receipt::new(t, DEFAULT_SKEW),
            Instant::now() + StdDuration::from_secs(60),
        )
        .await
        .unwrap();
    }
    let run = w.runs(&job).await.pop().unwrap();
    assert_eq!(run.status, RunStatus::TimedOut);
    // ECS then reports the stop with the reason fsched gave StopTask.
    let arn = run.task_arn.clone().unwrap();
    let task = w
        .ecs
        .describe(&w.sandbox.cluster, std::slice::from_ref(&arn))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let mut stop = task_event(
        "stopped-by-user",
        &arn,
        task.task_definition_arn.as_deref().unwrap(),
        "app",
        run.scheduled_at,
    )
    .unwrap();
    stop["detail"]["stoppedReason"] = task.stopped_reason.clone().unwrap().into();
    let result = handler::handle(&w.recorder(), stop).await.unwrap();
    assert!(
        matches!(result, Recorded::Updated { closed: false, .. }),
        "{result:?}"
    );
    let rec = stored(&w, &run).await;
    assert_eq!(rec.status, RunStatus::TimedOut);
    assert_eq!(rec.reason.as_deref(), Some("exceeded max_runtime (5m)"));
    assert_eq!(rec.exit_code(), Some(143));
    assert!(rec.cost.is_some());
    assert_eq!(
        w.events("Run Timed Out").len(),
        1,
        "announced once, by the dispatcher"
    );
}
