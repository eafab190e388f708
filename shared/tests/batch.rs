//! Batch semantics over the in-memory ports: runs retried as attempts of their own (exactly one per failure, even
//! when the writer dies between the end and the retry's claim), and fires spread by `jitter`.

use chrono::{Duration, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::job::JobSpec;
use fsched_core::domain::retry::RetryPolicy;
use fsched_core::domain::run::{RunId, RunStatus};
use fsched_core::ports::{JobStore, RunStore, StoreError};
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::Fate;

mod common;
use common::{t, Fakes};

/// Fakes whose tasks exit with `codes[n]` on attempt n+1 (the last code for any later attempt).
fn exiting(codes: &'static [i32]) -> Fakes {
    let f = Fakes::new();
    Fakes {
        ecs: f.ecs.with_fates(move |request| {
            let attempt = request
                .run
                .key()
                .rsplit_once("-r")
                .and_then(|(_, n)| n.parse::<usize>().ok())
                .unwrap_or(1);
            Fate {
                exit_code: codes[(attempt - 1).min(codes.len() - 1)],
                ..Fate::default()
            }
        }),
        ..f
    }
}

fn retrying(attempts: u32) -> JobSpec {
    JobSpec {
        retry: Some(RetryPolicy {
            backoff: Span::from_secs(120),
            never_exit_codes: vec![2],
            ..RetryPolicy::new(attempts)
        }),
        ..job_spec("cron(0 2 * * ? *)")
    }
}

/// A job `etl` on `schedule` with `overlap: queue`, first due at 02:00.
async fn queueing(f: &Fakes, schedule: &str) -> fsched_core::domain::job::JobName {
    let spec = JobSpec {
        overlap: fsched_core::domain::job::Overlap::Queue,
        ..job_spec(schedule)
    };
    f.job("etl", spec, t(2, 0)).await
}

/// Records every report ECS has sent so far, at `now`.
async fn record_all(f: &Fakes, now: chrono::DateTime<Utc>) {
    f.ecs.set_now(now);
    for report in f.ecs.take_reports() {
        f.recorder().record(report, now).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_retried_once_after_its_backoff_even_if_the_retry_claim_fails_first() {
    let f = exiting(&[1, 0]);
    let job = f.job("etl", retrying(3), t(2, 0)).await;
    f.tick(t(2, 0)).await;

    // The task exits 1. The recorder writes the end; the retry's claim is throttled, so the end's announcement
    // stays in the outbox for the dispatcher, which claims the retry before sending it.
    f.store.fail_next(
        "claim_run",
        StoreError::Transient {
            message: "throttled".into(),
        },
    );
    record_all(&f, t(2, 10)).await;
    let first = f.run(&job, t(2, 0)).await;
    assert_eq!(first.status, RunStatus::Failed);
    let next = first.retried_as.clone().expect("retried");
    assert_eq!(next.run.to_string(), "etl/20261130T020000Z-r2");
    assert_eq!((next.number, next.at), (2, t(2, 12)));
    assert!(f.store.get_run(&next.run).await.unwrap().is_none());
    assert_eq!(
        f.announced("Run Retrying"),
        0,
        "kept until the retry is claimed"
    );

    // The next ticks: the outbox's timer claims the retry and announces; duplicates change nothing.
    for now in [t(2, 11), t(2, 11)] {
        f.tick(now).await;
    }
    let waiting = f.store.get_run(&next.run).await.unwrap().expect("claimed");
    assert_eq!(waiting.status, RunStatus::Waiting);
    assert_eq!(
        (waiting.attempt, waiting.retry_of.as_ref()),
        (2, Some(&first.id))
    );
    assert_eq!(f.announced("Run Retrying"), 1);
    assert_eq!(f.announced("Run Failed"), 0, "not the job's outcome yet");

    // At its time, two concurrent ticks: one launches it.
    let (a, b) = tokio::join!(f.tick(t(2, 12)), f.tick(t(2, 12)));
    assert_eq!(a.launched.len() + b.launched.len(), 1);
    assert_eq!(f.ecs.tasks().len(), 2, "one task per attempt");
    record_all(&f, t(2, 20)).await;
    let second = f.store.get_run(&next.run).await.unwrap().unwrap();
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!(second.retried_as, None);
    assert_eq!(f.announced("Run Succeeded"), 1);
    assert_eq!(
        f.ecs.run_task_calls(),
        2,
        "no RunTask beyond one per attempt"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_attempts_and_at_an_exit_code_never_retried() {
    let f = exiting(&[1, 1, 1, 1]);
    let job = f.job("etl", retrying(3), t(2, 0)).await;
    let mut now = t(2, 0);
    for _ in 0..6 {
        f.tick(now).await;
        now += Duration::minutes(10);
        record_all(&f, now).await;
    }
    let runs = f.store.runs_of_job(&job, 10).await.unwrap();
    let attempts: Vec<(u32, RunStatus)> = runs.iter().map(|r| (r.attempt, r.status)).collect();
    assert_eq!(
        attempts,
        [
            (3, RunStatus::Failed),
            (2, RunStatus::Failed),
            (1, RunStatus::Failed)
        ]
    );
    assert_eq!(f.announced("Run Retrying"), 2);
    assert_eq!(f.announced("Run Failed"), 1, "the last attempt's end");

    let f = exiting(&[2]);
    let job = f.job("etl", retrying(3), t(2, 0)).await;
    f.tick(t(2, 0)).await;
    record_all(&f, t(2, 10)).await;
    f.tick(t(2, 20)).await;
    assert_eq!(f.store.runs_of_job(&job, 10).await.unwrap().len(), 1);
    assert_eq!(f.announced("Run Failed"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_of_a_job_paused_meanwhile_is_skipped_with_why() {
    let f = exiting(&[1]);
    let job = f.job("etl", retrying(3), t(2, 0)).await;
    f.tick(t(2, 0)).await;
    record_all(&f, t(2, 10)).await;
    let mut stored = f.store.get_job(&job).await.unwrap().unwrap();
    stored.spec.paused = true;
    stored.version += 1;
    f.store
        .put_job(&stored, Some(stored.version - 1))
        .await
        .unwrap();
    f.tick(t(2, 12)).await;
    let retry = f
        .store
        .get_run(&RunId::attempt(&RunId::scheduled(&job, t(2, 0)), 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.status, RunStatus::Skipped);
    assert!(retry.reason.unwrap().contains("paused"));
    assert_eq!(f.ecs.tasks().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_fire_by_its_own_stable_offset_within_the_window() {
    let f = Fakes::new();
    let spec = JobSpec {
        jitter: Some(Span::from_secs(600)),
        ..job_spec("cron(0 2 * * ? *)")
    };
    let names: Vec<String> = (0..8).map(|i| format!("job-{i}")).collect();
    for name in &names {
        f.job(name, spec.clone(), t(2, 0)).await;
    }
    // Minute by minute from 02:00 to 02:10: each job starts once, at its offset, none before 02:00.
    let mut started = Vec::new();
    for minute in 0..=10 {
        let report = f.tick(t(2, minute)).await;
        for id in report.launched {
            started.push((id.job().to_string(), minute));
        }
    }
    assert_eq!(started.len(), names.len(), "{started:?}");
    let minutes: std::collections::BTreeSet<u32> = started.iter().map(|(_, m)| *m).collect();
    assert!(minutes.len() > 2, "spread over the window: {started:?}");
    for name in &names {
        let run = f
            .store
            .get_run(&RunId::scheduled(
                &fsched_core::domain::job::JobName::new(name).unwrap(),
                t(2, 0),
            ))
            .await
            .unwrap()
            .unwrap();
        let due = run.due_at();
        assert!(due >= t(2, 0) && due < t(2, 10), "{name}: {due}");
        assert!(run.launched_at.unwrap() >= due);
    }
}

#[tokio::test(start_paused = true)]
async fn a_backfill_runs_each_missing_time_once_at_most_two_at_once_and_resumes_where_it_stopped() {
    use fsched_core::service::backfill::{plan, start};
    let f = Fakes::new();
    let job = f.job("etl", job_spec("cron(0 * * * ? *)"), t(12, 0)).await;
    // 00:00 already ran; 01:00..05:00 did not.
    f.store
        .claim_run(&fsched_core::domain::run::Run::claimed(
            RunId::scheduled(&job, t(0, 0)),
            fsched_core::domain::run::Trigger::Schedule,
            t(0, 0),
            t(0, 0),
        ))
        .await
        .unwrap();
    let full = plan(&f.store, &job, t(0, 0), t(6, 0), t(10, 0))
        .await
        .unwrap();
    assert_eq!(full.fires.len(), 6);
    assert_eq!(full.missing().len(), 5);

    // A first backfill is interrupted after two claims; the second one claims the rest, in lanes of its own.
    let mut partial = full.clone();
    partial.fires.truncate(3);
    let first = start(&f.store, &partial, 2, "ops", t(10, 0)).await.unwrap();
    assert_eq!(first.claimed.len(), 2);
    let again = plan(&f.store, &job, t(0, 0), t(6, 0), t(10, 0))
        .await
        .unwrap();
    let second = start(&f.store, &again, 2, "ops", t(10, 0)).await.unwrap();
    assert_eq!(second.claimed.len(), 3);

    // Two lanes from each backfill: four due at once; each end releases the next.
    let mut now = t(10, 0);
    let mut most = 0;
    for _ in 0..6 {
        f.tick(now).await;
        let running = f
            .store
            .all_runs()
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Pending | RunStatus::Running))
            .count();
        most = most.max(running);
        now += Duration::minutes(10);
        record_all(&f, now).await;
        now += Duration::minutes(1);
    }
    assert_eq!(most, 4, "two lanes per backfill");
    let runs = f.store.runs_of_job(&job, 20).await.unwrap();
    let backfilled: Vec<_> = runs
        .iter()
        .filter(|r| {
            matches!(
                r.trigger,
                fsched_core::domain::run::Trigger::Backfill { .. }
            )
        })
        .collect();
    assert_eq!(backfilled.len(), 5);
    assert!(backfilled.iter().all(|r| r.status == RunStatus::Succeeded));
    assert_eq!(f.ecs.tasks().len(), 5, "one task per time");

    // Asked for again: nothing is missing, nothing runs twice.
    let done = plan(&f.store, &job, t(0, 0), t(6, 0), t(10, 0))
        .await
        .unwrap();
    assert!(done.missing().is_empty());
    let none = start(&f.store, &done, 2, "ops", t(11, 0)).await.unwrap();
    assert!(none.claimed.is_empty());
    let future = plan(&f.store, &job, t(0, 0), t(11, 0), t(10, 0)).await;
    assert!(future.unwrap_err().to_string().contains("in the future"));
}

#[tokio::test(start_paused = true)]
async fn overlap_queue_starts_the_next_fire_when_the_run_ahead_ends_and_keeps_one() {
    // Runs take 25 minutes; the job is due every 10: one queues behind the run going, the next is skipped.
    let f = Fakes::running(Duration::minutes(25));
    let job = queueing(&f, "rate(10 minutes)").await;
    f.tick(t(2, 0)).await;
    let queued = f.tick(t(2, 10)).await;
    assert_eq!(queued.queued.len(), 1, "{queued:?}");
    let second = f.run(&job, t(2, 10)).await;
    assert_eq!(
        (second.status, second.queued_behind.clone()),
        (RunStatus::Waiting, Some(RunId::scheduled(&job, t(2, 0))))
    );
    assert_eq!(
        f.run(&job, t(2, 0)).await.then,
        Some(second.id.clone()),
        "linked"
    );
    f.tick(t(2, 20)).await;
    let third = f.run(&job, t(2, 20)).await;
    assert_eq!(third.status, RunStatus::Skipped);
    assert!(third.reason.unwrap().contains("already queued"));

    // The first ends at about 02:26; its end releases the second, which starts at the next tick.
    record_all(&f, t(2, 27)).await;
    assert_eq!(f.run(&job, t(2, 0)).await.status, RunStatus::Succeeded);
    let released = f.run(&job, t(2, 10)).await;
    assert_eq!(
        (released.status, released.check_at),
        (RunStatus::Waiting, Some(t(2, 27)))
    );
    let report = f.tick(t(2, 28)).await;
    assert_eq!(report.launched, std::slice::from_ref(&second.id));
    assert_eq!(f.ecs.tasks().len(), 2);
    // 02:30's fire queues behind the second, now going.
    assert_eq!(f.tick(t(2, 30)).await.queued.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_queued_run_whose_link_was_lost_starts_once_the_dispatcher_sees_the_run_ahead_ended() {
    let f = Fakes::running(Duration::minutes(25));
    let job = queueing(&f, "rate(10 minutes)").await;
    f.tick(t(2, 0)).await;
    f.tick(t(2, 10)).await;
    // The link was lost (its writer died before writing it): nothing releases the queued run when the first ends.
    let mut first = f.run(&job, t(2, 0)).await;
    first.then = None;
    first.revision += 1;
    f.store.update_run(&first).await.unwrap();
    record_all(&f, t(2, 27)).await;
    assert_eq!(f.run(&job, t(2, 0)).await.status, RunStatus::Succeeded);
    assert_eq!(f.run(&job, t(2, 10)).await.status, RunStatus::Waiting);
    // The job's next fire (02:20, found at 02:28) finds the queued run's run ahead ended: it is released and
    // starts at the next tick; the fire itself is skipped (one waits already). Without fires, its hourly check
    // would.
    let mut started = None;
    let mut now = t(2, 28);
    while now < t(3, 20) {
        if !f.tick(now).await.launched.is_empty() {
            started = Some(now);
            break;
        }
        now += Duration::minutes(1);
    }
    assert_eq!(started, Some(t(2, 29)));
    assert_eq!(f.run(&job, t(2, 20)).await.status, RunStatus::Skipped);
}

#[tokio::test(start_paused = true)]
async fn max_running_skips_a_fire_while_the_limit_is_reached_and_launches_once_a_run_ends() {
    // Due every 5 minutes, each run takes about 12: at most two at once.
    let f = Fakes::running(Duration::minutes(12));
    let spec = JobSpec {
        max_running: Some(2),
        ..job_spec("rate(5 minutes)")
    };
    let job = f.job("etl", spec, t(2, 0)).await;
    f.tick(t(2, 0)).await;
    f.tick(t(2, 5)).await;
    f.tick(t(2, 10)).await;
    let third = f.run(&job, t(2, 10)).await;
    assert_eq!(third.status, RunStatus::Skipped);
    assert_eq!(
        third.reason.as_deref(),
        Some("max_running 2: 2 run(s) of the job were going")
    );
    // The first ends at about 02:12:40 (ECS says so when the tick asks): 02:15 launches.
    f.ecs.set_now(t(2, 15));
    assert_eq!(f.tick(t(2, 15)).await.launched.len(), 1);
    assert_eq!(f.ecs.tasks().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_queued_run_waits_for_a_run_ahead_older_than_the_newest_runs_read() {
    // Due every 5 minutes, the first run takes two and a half hours: 27 fires are skipped meanwhile, more than the
    // open-run check reads, and still the queued run waits for the first to end.
    let f = Fakes::running(Duration::minutes(150));
    let job = queueing(&f, "rate(5 minutes)").await;
    let mut now = t(2, 0);
    while now <= t(4, 25) {
        f.tick(now).await;
        now += Duration::minutes(5);
    }
    assert_eq!(f.ecs.tasks().len(), 1, "only the first runs");
    assert_eq!(f.run(&job, t(2, 5)).await.status, RunStatus::Waiting);
    let skipped = f
        .store
        .runs_of_job(&job, 100)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.status == RunStatus::Skipped)
        .count();
    assert!(skipped > 20, "{skipped}");
    // The first ends at about 04:30:40; its end releases the queued one.
    // (At 04:32 the 04:30 fire queues behind it in the same tick, whose link write can beat its take: then it
    // starts at the tick after.)
    record_all(&f, t(4, 31)).await;
    let launched = f.tick(t(4, 32)).await.launched.len() + f.tick(t(4, 33)).await.launched.len();
    assert_eq!(launched, 1);
    assert_eq!(f.run(&job, t(2, 5)).await.status, RunStatus::Pending);
    assert_eq!(f.run(&job, t(4, 30)).await.status, RunStatus::Waiting);
}
