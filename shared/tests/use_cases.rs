//! The use cases over the in-memory ports (no emulator): the dispatcher's claims, policies and recovery, the
//! recorder's fold, the sleeper's saved scale and the trigger's refusals, each with the fault that tests it.

use std::collections::BTreeMap;

use chrono::Duration;
use fsched_core::domain::duration::Span;
use fsched_core::domain::fargate::Capacity;
use fsched_core::domain::job::{Job, JobName, JobSpec, Launch, Overlap};
use fsched_core::domain::run::{RunId, RunStatus};
use fsched_core::domain::service::{Awake, Phase, ServiceName, ServiceSpec, ServiceState};
use fsched_core::domain::trigger::{Command, Inbound};
use fsched_core::ports::{JobStore, LaunchError, RunStore, ServiceStore, StoreError};
use fsched_core::service::trigger::{TriggerError, Triggers};
use fsched_core::testing::contract::job_spec;
use tokio::time::Instant;

mod common;
use common::{t, Fakes};

#[tokio::test(start_paused = true)]
async fn duplicate_and_concurrent_ticks_launch_one_task_per_fire() {
    let f = Fakes::new();
    let job = f.job("etl", job_spec("rate(5 minutes)"), t(2, 0)).await;
    let (a, b) = tokio::join!(f.tick(t(2, 0)), f.tick(t(2, 0)));
    f.tick(t(2, 0)).await;
    assert_eq!(a.launched.len() + b.launched.len(), 1);
    assert_eq!(f.ecs.tasks().len(), 1);
    assert_eq!(f.run(&job, t(2, 0)).await.status, RunStatus::Pending);
    assert_eq!(f.announced("Run Started"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_fire_whose_claim_was_throttled_is_claimed_by_the_retry_not_lost() {
    let f = Fakes::new();
    let job = f.job("etl", job_spec("rate(5 minutes)"), t(2, 0)).await;
    f.store.fail_next(
        "claim_run",
        StoreError::Transient {
            message: "throttled".into(),
        },
    );
    let first = f.tick(t(2, 0)).await;
    assert_eq!(first.errors.len(), 1, "{first:?}");
    let stored = f.store.get_job(&job).await.unwrap().unwrap();
    assert_eq!(
        stored.next_fire,
        Some(t(2, 0)),
        "the timer stays on the unclaimed time"
    );
    // Lambda retries the failed tick with the same time.
    let retry = f.tick(t(2, 0)).await;
    assert_eq!(retry.launched.len(), 1);
    assert_eq!(f.ecs.tasks().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_left_claimed_by_a_crash_is_recovered_by_one_of_two_concurrent_ticks() {
    let f = Fakes::new();
    let spec = JobSpec {
        launch: Launch::SpotWithFallback,
        ..job_spec("rate(1 hour)")
    };
    let job = f.job("etl", spec, t(3, 0)).await;
    // The tick that claimed 02:00 died before RunTask; its check time has come.
    let mut claimed = fsched_core::domain::run::Run::claimed(
        RunId::scheduled(&job, t(2, 0)),
        fsched_core::domain::run::Trigger::Schedule,
        t(2, 0),
        t(2, 0),
    );
    claimed.check_at = Some(t(2, 1));
    f.store.claim_run(&claimed).await.unwrap();
    // A retried tick and the next one run side by side; the second to launch would find Spot full and fall back
    // to Fargate, with a token of its own: only one of them may launch.
    f.ecs.set_now(t(2, 2));
    f.ecs.fail_next_launch(LaunchError::NoCapacity {
        capacity: Capacity::FargateSpot,
        message: "RESOURCE:FARGATE_SPOT".into(),
    });
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let (d1, d2) = (f.dispatcher(), f.dispatcher());
    let (a, b) = tokio::join!(d1.tick(t(2, 2), deadline), d2.tick(t(2, 2), deadline));
    assert_eq!(a.unwrap().launched.len() + b.unwrap().launched.len(), 1);
    assert_eq!(f.ecs.tasks().len(), 1, "{:?}", f.ecs.tasks());
    assert_eq!(f.run(&job, t(2, 0)).await.status, RunStatus::Pending);
}

#[tokio::test(start_paused = true)]
async fn spot_without_capacity_falls_back_and_a_lost_answer_is_adopted_not_launched_twice() {
    let f = Fakes::new();
    let spec = JobSpec {
        launch: Launch::SpotWithFallback,
        ..job_spec("rate(5 minutes)")
    };
    let plain = f.job("plain", spec.clone(), t(2, 0)).await;
    f.ecs.fail_next_launch(LaunchError::NoCapacity {
        capacity: Capacity::FargateSpot,
        message: "RESOURCE:FARGATE_SPOT".into(),
    });
    f.tick(t(2, 0)).await;
    assert_eq!(
        f.run(&plain, t(2, 0)).await.capacity,
        Some(Capacity::Fargate)
    );

    // RunTask on Spot started a task but its answer was lost; the retry finds Spot full. Falling back must not
    // start a second task on Fargate: the first is found (by its startedBy) and adopted.
    let f = Fakes::new();
    let lost = f.job("lost", spec, t(2, 5)).await;
    f.ecs.lose_next_answer(LaunchError::Transient {
        message: "timed out".into(),
    });
    f.ecs.fail_next_launch(LaunchError::NoCapacity {
        capacity: Capacity::FargateSpot,
        message: "RESOURCE:FARGATE_SPOT".into(),
    });
    f.tick(t(2, 5)).await;
    let tasks: Vec<_> = f
        .ecs
        .tasks()
        .into_iter()
        .filter(|(r, _)| r.job() == &lost)
        .collect();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let run = f.run(&lost, t(2, 5)).await;
    assert_eq!(run.capacity, Some(Capacity::FargateSpot));
    assert_eq!(run.task_arn.as_deref(), Some(tasks[0].1.task_arn.as_str()));
}

#[tokio::test(start_paused = true)]
async fn overlap_forbid_skips_while_a_run_goes_and_the_skip_is_announced_even_if_the_first_send_fails(
) {
    let f = Fakes::running(Duration::minutes(12));
    let spec = JobSpec {
        overlap: Overlap::Forbid,
        ..job_spec("rate(5 minutes)")
    };
    let job = f.job("etl", spec, t(2, 0)).await;
    f.tick(t(2, 0)).await;
    // "Run Started" goes out; then the skip's announcement fails once.
    f.tick(t(2, 1)).await;
    f.bus.fail_next("PutEvents throttled");
    let skipped = f.tick(t(2, 5)).await;
    assert_eq!(skipped.skipped.len(), 1);
    assert!(
        !skipped.errors.is_empty(),
        "the unsent announcement makes the tick incomplete"
    );
    assert_eq!(f.run(&job, t(2, 5)).await.status, RunStatus::Skipped);
    assert_eq!(f.announced("Run Skipped"), 0);
    // The skipped run's outbox is on the timers index: the next tick sends it, once.
    f.tick(t(2, 6)).await;
    f.tick(t(2, 7)).await;
    assert_eq!(f.announced("Run Skipped"), 1);
    assert!(f.run(&job, t(2, 5)).await.outbox.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_late_job_records_the_latest_misses_counts_the_rest_and_runs_what_catch_up_allows() {
    let f = Fakes::new();
    let spec = JobSpec {
        catch_up: Span::from_secs(600),
        ..job_spec("rate(5 minutes)")
    };
    let job = f.job("etl", spec, t(1, 0)).await;
    let report = f.tick(t(3, 0)).await;
    // 01:00 .. 02:45 are later than 10 minutes: 22 missed; 02:50, 02:55 and 03:00 are within catch_up.
    assert_eq!(report.missed_total, 22);
    assert_eq!(report.missed.len(), 3);
    assert_eq!(report.launched.len(), 3);
    let latest = f.run(&job, t(2, 45)).await;
    assert_eq!(latest.status, RunStatus::Missed);
    let reason = latest.reason.unwrap();
    assert!(
        reason.contains("19 earlier scheduled times were missed too"),
        "{reason}"
    );
    assert_eq!(f.announced("Run Missed"), 3);
}

#[tokio::test(start_paused = true)]
async fn the_recorder_reaches_the_same_end_whatever_the_order_of_the_reports() {
    let orders: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let f = Fakes::new();
        let job = f.job("etl", job_spec("rate(5 minutes)"), t(2, 0)).await;
        f.tick(t(2, 0)).await;
        f.ecs.set_now(t(2, 30));
        let reports = f.ecs.take_reports();
        assert_eq!(reports.len(), 3, "provisioning, running, stopped");
        let recorder = f.recorder();
        for i in order.iter().chain(order.iter()) {
            recorder
                .record(reports[*i].clone(), t(2, 30))
                .await
                .unwrap();
        }
        let run = f.run(&job, t(2, 0)).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{order:?}");
        assert!(
            run.started_at.is_some() && run.stopped_at.is_some(),
            "{order:?}"
        );
        assert_eq!(f.announced("Run Succeeded"), 1, "{order:?}");
    }
}

fn service_spec() -> ServiceSpec {
    ServiceSpec {
        cluster: "staging".into(),
        service: "api".into(),
        timezone: "UTC".parse().unwrap(),
        awake: Awake::Periods(vec!["daily 08:00-20:00".parse().unwrap()]),
        awake_count: None,
        enforce: false,
        idle: None,
        wake_on: None,
        event_bus: None,
        wake_on_request: None,
    }
}

/// The ECS service `staging/api` at `desired` tasks (autoscaling 2-6), declared to fsched at 19:00 as `api`.
async fn api_service(f: &Fakes, desired: u32) -> ServiceName {
    f.scaler.add("staging", "api", desired, Some((2, 6)));
    let name = ServiceName::new("api").unwrap();
    let declared = ServiceState::declared(name.clone(), service_spec(), t(19, 0));
    f.store.put_service(&declared, None).await.unwrap();
    name
}

#[tokio::test(start_paused = true)]
async fn a_service_sleeps_with_its_scale_saved_and_wakes_to_it_even_after_a_failed_wake() {
    let f = Fakes::new();
    let name = api_service(&f, 3).await;
    f.services_due(t(20, 0)).await;
    let asleep = f.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(asleep.phase, Phase::Asleep);
    let saved = asleep.saved.unwrap();
    assert_eq!((saved.desired_count, saved.autoscaling), (3, Some((2, 6))));
    assert_eq!(f.scaler.get("staging", "api").unwrap().desired_count, 0);

    let next_morning = t(8, 0) + Duration::days(1);
    f.scaler
        .fail_next(fsched_core::ports::ScaleError::Transient {
            message: "throttled".into(),
        });
    f.services_due(next_morning).await;
    assert_eq!(
        f.scaler.get("staging", "api").unwrap().desired_count,
        0,
        "the wake failed"
    );
    f.services_due(next_morning + Duration::minutes(1)).await;
    let now = f.scaler.get("staging", "api").unwrap();
    assert_eq!((now.desired_count, now.autoscaling), (3, Some((2, 6))));
}

/// Found by the simulator (seed 689 of the typical fleet): a tick putting a service to sleep (its scale saved
/// already, by the attempt before it) scaled it to 0 after a command had woken it, because ECS took the calls in the
/// order they arrived; its record write lost to the wake's, and the service stayed at 0 while its record said awake
/// for the whole hold. The loser now sets the service to what the record says.
#[tokio::test(start_paused = true)]
async fn a_sleep_whose_scale_lands_after_a_wake_gives_the_service_back_to_the_wake() {
    let f = Fakes::new();
    let name = api_service(&f, 2).await;
    // The tick's read: a sleep half done by the attempt before it (the scale saved, the phase not yet changed).
    let mut stale = f.store.get_service(&name).await.unwrap().unwrap();
    stale.saved = Some(fsched_core::domain::service::Saved {
        desired_count: 2,
        autoscaling: Some((2, 6)),
    });
    stale.transition_at = Some(t(20, 0));
    f.store
        .put_service(&stale, Some(stale.version))
        .await
        .unwrap();
    stale.version += 1;
    // Meanwhile the rest of that sleep and a wake with a hold were written (and scaled) by others.
    f.sleeper()
        .command(
            &name,
            Phase::Asleep,
            None,
            fsched_core::domain::service::ScaleTrigger::Schedule,
            t(20, 0),
        )
        .await
        .unwrap();
    f.sleeper()
        .command(
            &name,
            Phase::Awake,
            Some(t(21, 0)),
            fsched_core::domain::service::ScaleTrigger::Schedule,
            t(20, 0),
        )
        .await
        .unwrap();
    assert_eq!(f.scaler.get("staging", "api").unwrap().desired_count, 2);
    // The tick's scale call lands last.
    let report = f.sleeper().check(stale, t(20, 0)).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(
        report.slept.is_empty(),
        "its sleep did not stand: {report:?}"
    );
    let record = f.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(record.phase, Phase::Awake);
    let now = f.scaler.get("staging", "api").unwrap();
    assert_eq!(
        (now.desired_count, now.autoscaling),
        (2, Some((2, 6))),
        "set back to what the record says"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wake_whose_record_write_fails_after_the_scale_is_written_again() {
    let f = Fakes::new();
    let name = api_service(&f, 2).await;
    let sleeper = f.sleeper();
    let command = |phase, at| {
        sleeper.command(
            &name,
            phase,
            None,
            fsched_core::domain::service::ScaleTrigger::Schedule,
            at,
        )
    };
    command(Phase::Asleep, t(20, 0)).await.unwrap();
    assert_eq!(f.scaler.get("staging", "api").unwrap().desired_count, 0);
    // The wake takes the service (a write), scales it, and its record write is throttled.
    f.store.fail_later(
        "put_service",
        1,
        StoreError::Transient {
            message: "throttled".into(),
        },
    );
    let report = command(Phase::Awake, t(20, 30)).await.unwrap();
    assert_eq!(
        report.woke,
        std::slice::from_ref(&name),
        "recorded and announced"
    );
    let now = f.scaler.get("staging", "api").unwrap();
    assert_eq!((now.desired_count, now.autoscaling), (2, Some((2, 6))));
    let record = f.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(
        record.phase,
        Phase::Awake,
        "the record says what ECS was told"
    );
    assert_eq!(record.busy_until, None, "and the service is given back");
}

#[tokio::test(start_paused = true)]
async fn the_trigger_refuses_unknown_jobs_for_good_and_records_runs_of_paused_jobs_rejected() {
    let f = Fakes::new();
    let spec = JobSpec {
        paused: true,
        ..job_spec("rate(5 minutes)")
    };
    let job = f.job("etl", spec, t(2, 0)).await;
    let triggers = Triggers::new(f.dispatcher(), f.sleeper(), f.store.clone());
    let command = |job: &str| Inbound::Command {
        command: Command::RunJob {
            job: JobName::new(job).unwrap(),
            values: BTreeMap::new(),
            request_id: "r-1".into(),
            requested_by: "test".into(),
        },
        id: "evt-1".into(),
        time: t(2, 3),
        received: t(2, 3),
        event: serde_json::json!({}),
    };
    let until = Instant::now() + std::time::Duration::from_secs(60);
    let err = triggers.handle(command("nope"), until).await.unwrap_err();
    assert!(
        matches!(err, TriggerError::UnknownJob(_)) && !err.is_retryable(),
        "{err}"
    );
    triggers.handle(command("etl"), until).await.unwrap();
    let runs = f.store.runs_of_job(&job, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Rejected);
    assert!(runs[0].reason.as_deref().unwrap().contains("paused"));
    assert_eq!(f.announced("Run Rejected"), 1);
    assert!(f.ecs.tasks().is_empty());
}

#[tokio::test]
async fn a_success_whose_note_on_the_job_was_lost_is_found_at_the_deadline_and_overdue_is_said_once(
) {
    use fsched_core::domain::alert::Expect;
    let f = Fakes::new();
    let spec = JobSpec {
        expect: Some(Expect {
            success_within: Span::from_secs(3 * 3600),
        }),
        ..job_spec("cron(0 2 * * ? *)")
    };
    let job = Job {
        name: JobName::new("etl").unwrap(),
        health: fsched_core::domain::health::applied(None, &spec, t(1, 0)),
        spec,
        version: 1,
        next_fire: Some(t(2, 0)),
        last_fire: None,
    };
    f.store.put_job(&job, None).await.unwrap();
    assert_eq!(f.tick(t(2, 0)).await.launched.len(), 1);
    f.ecs.set_now(t(2, 30));
    // The run's end is written; the note of the success on the job is throttled and lost.
    f.store.fail_next(
        "put_job",
        StoreError::Transient {
            message: "throttled".into(),
        },
    );
    for report in f.ecs.take_reports() {
        f.recorder().record(report, t(2, 30)).await.unwrap();
    }
    assert_eq!(f.run(&job.name, t(2, 0)).await.status, RunStatus::Succeeded);
    let stored = f.store.get_job(&job.name).await.unwrap().unwrap();
    assert_eq!(stored.health.since, Some(t(2, 0)), "the note was lost");

    // At the deadline (05:00) the dispatcher finds the success among the runs: not overdue, the window moves.
    f.tick(t(5, 1)).await;
    assert_eq!(f.announced("Job Overdue"), 0);
    let moved = f.store.get_job(&job.name).await.unwrap().unwrap();
    assert!(moved.health.since.is_some_and(|s| s > t(2, 0)), "{moved:?}");

    // Three hours after that success, with no other, it is overdue: said once, however many ticks follow.
    for now in [t(6, 0), t(9, 0), t(9, 1), t(10, 0)] {
        f.tick(now).await;
    }
    assert_eq!(f.announced("Job Overdue"), 1);
}
