//! `fsched apply / services / wake / sleep / savings` through the binary against the emulator: services declared
//! in a jobs file, put to sleep by the dispatcher's tick, woken on demand by a command the trigger handles.

use fsched_core::domain::clock::{Receipt, DEFAULT_SKEW};
use std::process::{Command, Output};
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use fsched_core::domain::service::{Phase, ServiceName};
use fsched_core::ports::{ServiceScaler, ServiceStore};
use fsched_tests::ecs::service;
use fsched_tests::world::{world, World};

fn fsched(w: &World, queue: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(args)
        .env("FSCHED_TABLE", w.store.table())
        .env("FSCHED_EVENT_BUS", &w.bus)
        .env("FSCHED_TRIGGER_QUEUE", queue)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[tokio::test]
async fn declare_sleep_wake_on_demand_and_see_the_savings() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let ecs_service = service(&w.config, &w.sandbox, "api", 2, Some((2, 4)))
        .await
        .unwrap();
    // Never awake (a period that already ended today and starts again next week would do; this one never comes).
    let file = std::env::temp_dir().join(format!("{}-services.yaml", w.store.table()));
    std::fs::write(
        &file,
        format!(
            "services:\n  staging-api:\n    cluster: {}\n    service: {ecs_service}\n    timezone: Europe/Berlin\n    awake: [daily 03:00-03:01]\n",
            w.sandbox.cluster
        ),
    )
    .unwrap();
    let file = file.display().to_string();
    let plan = fsched(&w, &queue, &["plan", &file]);
    assert!(
        text(&plan).contains("+ service staging-api  (daily 03:00-03:01 in Europe/Berlin)"),
        "{}",
        text(&plan)
    );
    let apply = fsched(&w, &queue, &["apply", &file]);
    assert!(
        apply.status.success() && text(&apply).contains("created  service staging-api"),
        "{}",
        text(&apply)
    );

    // The first tick gives it the phase its periods want.
    let now = Utc::now();
    let tick = serde_json::json!({"version": "0", "id": "t", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "1", "time": now.to_rfc3339(), "region": "us-east-1", "resources": [], "detail": {}});
    let until = tokio::time::Instant::now() + StdDuration::from_secs(60);
    let (_, r) = fsched_dispatcher::handler::tick_all(
        &w.dispatcher(),
        &w.sleeper(),
        tick,
        Receipt::new(now, DEFAULT_SKEW),
        until,
    )
    .await
    .unwrap();
    assert_eq!(r.slept, ["staging-api"], "{r:?}");
    let listing = text(&fsched(&w, &queue, &["services"]));
    let row = listing
        .lines()
        .find(|l| l.trim_start().starts_with("staging-api"))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(
        row.contains("ASLEEP") && row.contains("2 (autoscaling 2-4)"),
        "{listing}"
    );

    let wake = fsched(&w, &queue, &["wake", "staging-api", "--for", "2h"]);
    assert!(wake.status.success(), "{}", text(&wake));
    let delivered = w.receive(&queue_url).await;
    assert_eq!(delivered.records.len(), 1);
    let response =
        fsched_trigger::handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until).await;
    assert!(response.batch_item_failures.is_empty());
    let name = ServiceName::new("staging-api").unwrap();
    let state = w.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(state.phase, Phase::Awake);
    assert!(state.hold_until.unwrap() > now + Duration::minutes(119));
    let scale = w
        .services()
        .current(&w.sandbox.cluster, &ecs_service)
        .await
        .unwrap();
    assert_eq!((scale.desired_count, scale.autoscaling), (2, Some((2, 4))));

    let savings = text(&fsched(&w, &queue, &["savings", "--since", "1d"]));
    assert!(
        savings.contains("staging-api") && savings.contains("TOTAL"),
        "{savings}"
    );

    let unknown = fsched(&w, &queue, &["sleep", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown).contains("no service `nope` is declared"));
    // `--wait` returns once the trigger has put it to sleep, with what waking will restore.
    let waiting = Command::new(env!("CARGO_BIN_EXE_fsched"))
        .args(["sleep", "staging-api", "--wait", "--wait-timeout", "60s"])
        .env("FSCHED_TABLE", w.store.table())
        .env("FSCHED_EVENT_BUS", &w.bus)
        .env("FSCHED_TRIGGER_QUEUE", &queue)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut delivered = w.receive(&queue_url).await;
    for _ in 0..20 {
        if !delivered.records.is_empty() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(250)).await;
        delivered = w.receive(&queue_url).await;
    }
    fsched_trigger::handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until).await;
    let slept = waiting.wait_with_output().unwrap();
    assert!(slept.status.success(), "{}", text(&slept));
    assert!(
        text(&slept)
            .contains("staging-api is asleep: 0 tasks; 2 restored on waking (autoscaling 2-4)"),
        "{}",
        text(&slept)
    );
    // A wake nobody handles: exit 1 after the timeout, saying what to check.
    let unhandled = fsched(
        &w,
        &queue,
        &["wake", "staging-api", "--wait", "--wait-timeout", "2s"],
    );
    assert_eq!(unhandled.status.code(), Some(1));
    assert!(
        text(&unhandled).contains("staging-api is not awake after 2s"),
        "{}",
        text(&unhandled)
    );
    w.receive(&queue_url).await;
    // An asleep service is never pruned away (it would stay at 0 with nobody to wake it).
    let empty = std::env::temp_dir().join(format!("{}-none.yaml", w.store.table()));
    std::fs::write(&empty, "jobs: {}\n").unwrap();
    let prune = fsched(
        &w,
        &queue,
        &["apply", &empty.display().to_string(), "--prune"],
    );
    assert!(
        text(&prune).contains("KEPT     service staging-api: it is asleep"),
        "{}",
        text(&prune)
    );
    assert!(w.store.get_service(&name).await.unwrap().is_some());
}
