//! Batch semantics end to end: a run retried under its job's `retry`, through the real dispatcher and recorder
//! against the emulator (DynamoDB, ECS RunTask), with ECS's reports from fixtures (tests/events/ecs: the emulator
//! runs no containers and sends no events, so the exit codes come from there).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::job::JobSpec;
use fsched_core::domain::retry::RetryPolicy;
use fsched_core::domain::run::{Run, RunStatus};
use fsched_core::ports::RunStore;
use fsched_recorder::handler;
use fsched_tests::unique_name;
use fsched_tests::world::{world, World};
use tokio::time::Instant;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, s).unwrap()
}

async fn tick(w: &World, now: DateTime<Utc>) -> usize {
    let report = w
        .dispatcher()
        .tick(now, Instant::now() + StdDuration::from_secs(60))
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{now}: {report:?}");
    report.launched.len()
}

/// Delivers ECS's report that the run's task stopped as `fixture` says, through the recorder's handler.
async fn stop(w: &World, run: &Run, fixture: &str) {
    let event = w.report(run, fixture).await;
    handler::handle(&w.recorder(), event).await.unwrap();
}

#[tokio::test]
async fn a_run_that_exits_1_is_retried_and_its_second_attempt_succeeds_for_a_runs_writes() {
    let w = world().await;
    let spec = JobSpec {
        retry: Some(RetryPolicy {
            backoff: Span::from_secs(120),
            never_exit_codes: vec![2],
            ..RetryPolicy::new(3)
        }),
        ..w.spec("cron(0 2 * * ? *)")
    };
    let job = w.add(&unique_name("retried"), spec, at(1, 0, 0)).await;
    assert_eq!(tick(&w, at(2, 0, 0)).await, 1);

    // The task exits 1 at 02:07:12 (the fixture's stop, moved to the run's time).
    let first = w.run(&job, at(2, 0, 0)).await;
    stop(&w, &first, "stopped-exit-code").await;
    let first = w.run(&job, at(2, 0, 0)).await;
    assert_eq!(
        (first.status, first.exit_code()),
        (RunStatus::Failed, Some(1))
    );
    let next = first.retried_as.clone().expect("retried");
    assert_eq!(next.at, at(2, 9, 12));
    let retrying = w.events("Run Retrying");
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0]["exit_code"], 1);
    assert_eq!(retrying[0]["next_run"], next.run.to_string());
    assert_eq!(retrying[0]["next_attempt"], 2);
    assert!(w.events("Run Failed").is_empty(), "not the job's outcome");

    // Before its time, the retry waits; at the first tick after, it is launched: a take and the launch's write
    // (its WAITING claim was the recorder's third), one RunTask.
    assert_eq!(tick(&w, at(2, 9, 0)).await, 0);
    w.counter.reset();
    assert_eq!(tick(&w, at(2, 10, 0)).await, 1);
    let writes = w.counter.count("PutItem") + w.counter.count("UpdateItem");
    assert_eq!((writes, w.counter.count("RunTask")), (2, 1));

    let second = w.store.get_run(&next.run).await.unwrap().unwrap();
    assert_eq!(second.status, RunStatus::Pending);
    assert_eq!(
        (second.attempt, second.retry_of.as_ref(), second.due_at()),
        (2, Some(&first.id), next.at)
    );
    assert_ne!(second.task_arn, first.task_arn, "a task of its own");
    assert_eq!(second.start_delay(), None);
    stop(&w, &second, "stopped-success").await;
    let second = w.store.get_run(&next.run).await.unwrap().unwrap();
    assert_eq!(second.status, RunStatus::Succeeded);
    assert!(second.start_delay().unwrap() < Duration::minutes(5));
    let succeeded = w.events("Run Succeeded");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0]["attempt"], 2);
    assert_eq!(succeeded[0]["retry_of"], first.id.to_string());
    assert_eq!(w.runs(&job).await.len(), 2);
}
