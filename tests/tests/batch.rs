//! Batch semantics end to end: a run retried under its job's `retry`, a pool shared by jobs, a parallel run and a
//! job run after others, through the real dispatcher and recorder against the emulator (DynamoDB, ECS RunTask), with ECS's reports from fixtures (tests/events/ecs: the emulator
//! runs no containers and sends no events, so the exit codes come from there).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::fan::{After, Pool, Together};
use fsched_core::domain::job::{JobName, JobSpec, PoolName};
use fsched_core::domain::retry::RetryPolicy;
use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
use fsched_core::ports::{PoolStore, RunStore};
use fsched_core::service::dispatch::{Settings, COUNT_VAR, INDEX_VAR};
use fsched_core::service::follow::fan_in_id;
use fsched_recorder::handler;
use fsched_tests::unique_name;
use fsched_tests::world::{world, World};
use tokio::time::Instant;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, s).unwrap()
}

async fn tick(w: &World, now: DateTime<Utc>) -> usize {
    // One job at a time: moto's server does not make a conditional UpdateItem atomic against a concurrent one (five
    // takes of a pool of two once all passed). DynamoDB does; the race of concurrent takes is tested over the fakes
    // (shared/tests/together.rs) and in the simulator.
    let serial = Settings {
        concurrency: 1,
        ..Settings::default()
    };
    let report = w
        .dispatcher_with(w.ecs.clone(), serial)
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

fn pooled(pool: &PoolName, size: u32, spec: JobSpec) -> JobSpec {
    JobSpec {
        catch_up: Span::from_secs(3600),
        together: Together {
            pool: Some(Pool {
                name: pool.clone(),
                size,
            }),
            ..Together::default()
        },
        ..spec
    }
}

#[tokio::test]
async fn five_jobs_due_at_once_in_a_pool_of_two_run_two_at_a_time_each_once() {
    let w = world().await;
    let pool = PoolName::new(unique_name("warehouse")).unwrap();
    let mut jobs = Vec::new();
    for i in 0..5 {
        let spec = pooled(&pool, 2, w.spec("cron(0 2 * * ? *)"));
        jobs.push(
            w.add(&unique_name(&format!("load{i}")), spec, at(1, 0, 0))
                .await,
        );
    }
    assert_eq!(tick(&w, at(2, 0, 0)).await, 2);
    assert_eq!(w.store.holders(&pool).await.unwrap().len(), 2);
    let mut now = at(2, 1, 0);
    let mut done = 0;
    while done < 5 {
        // Whatever runs now ends (the recorder gives its slot back); the next tick starts the next ones.
        for job in &jobs {
            let run = w.run(job, at(2, 0, 0)).await;
            if run.status == RunStatus::Pending {
                stop(&w, &run, "stopped-success").await;
                done += 1;
            }
        }
        assert!(w.store.holders(&pool).await.unwrap().len() <= 2);
        tick(&w, now).await;
        let going = w.store.holders(&pool).await.unwrap().len();
        assert!(going <= 2, "{now}: {going} slots held");
        now += Duration::minutes(1);
        assert!(now < at(2, 10, 0), "all five ran by 02:10");
    }
    for job in &jobs {
        let run = w.run(job, at(2, 0, 0)).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{job}");
        assert_eq!(w.runs(job).await.len(), 1);
    }
    assert_eq!(w.events("Run Started").len(), 5);
    assert!(w.store.holders(&pool).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_parallel_run_of_four_tasks_with_one_failing_fails_once_with_every_tasks_cost() {
    let w = world().await;
    let spec = JobSpec {
        together: Together {
            parallel: Some(4),
            ..Together::default()
        },
        ..w.spec("cron(0 2 * * ? *)")
    };
    let job = w.add(&unique_name("shards"), spec, at(1, 0, 0)).await;
    w.counter.reset();
    assert_eq!(tick(&w, at(2, 0, 0)).await, 5, "the run and its four tasks");
    assert_eq!(w.counter.count("RunTask"), 4);
    let run = w.run(&job, at(2, 0, 0)).await;
    assert_eq!(run.status, RunStatus::Running);
    for index in 0..4 {
        let task = w
            .store
            .get_run(&RunId::task(&run.id, index))
            .await
            .unwrap()
            .unwrap();
        let env = &task.overrides.as_ref().unwrap()["app"].environment;
        assert_eq!(env[INDEX_VAR], index.to_string());
        assert_eq!(env[COUNT_VAR], "4");
        let fixture = if index == 2 {
            "stopped-exit-code"
        } else {
            "stopped-success"
        };
        stop(&w, &task, fixture).await;
    }
    let run = w.run(&job, at(2, 0, 0)).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        run.reason.as_deref(),
        Some("1 of 4 tasks did not succeed: task 2 FAILED (exit 1)")
    );
    let tasks: f64 = run
        .fan
        .parts
        .as_ref()
        .unwrap()
        .ended
        .iter()
        .filter_map(|e| e.cost.as_ref())
        .map(|c| c.usd)
        .sum();
    assert!(tasks > 0.0);
    assert!((run.cost.as_ref().unwrap().usd - tasks).abs() < 1e-9);
    assert_eq!(w.events("Run Failed").len(), 1);
    assert_eq!(w.events("Run Started").len(), 1);
    assert_eq!(w.events("Run Task Ended").len(), 4);
}

#[tokio::test]
async fn a_job_after_two_others_runs_once_when_both_succeeded_that_day() {
    let w = world().await;
    let load = JobName::new(unique_name("load")).unwrap();
    let feeding = |schedule: &str| JobSpec {
        together: Together {
            feeds: vec![load.clone()],
            ..Together::default()
        },
        ..w.spec(schedule)
    };
    let a = w
        .add(
            &unique_name("extract-a"),
            feeding("cron(0 2 * * ? *)"),
            at(1, 0, 0),
        )
        .await;
    let b = w
        .add(
            &unique_name("extract-b"),
            feeding("cron(0 3 * * ? *)"),
            at(1, 0, 0),
        )
        .await;
    let after = JobSpec {
        schedule: None,
        together: Together {
            after: Some(After {
                jobs: vec![a.clone(), b.clone()],
                window: Span::from_secs(6 * 3600),
            }),
            ..Together::default()
        },
        ..w.spec("cron(0 2 * * ? *)")
    };
    w.add(load.as_str(), after, at(1, 0, 0)).await;
    tick(&w, at(2, 0, 0)).await;
    stop(&w, &w.run(&a, at(2, 0, 0)).await, "stopped-success").await;
    let (day, _) = fan_in_id(
        &load,
        at(2, 0, 0).date_naive(),
        JobSpec::placeholder().timezone.tz(),
    );
    let waiting = w.store.get_run(&day).await.unwrap().unwrap();
    assert_eq!(waiting.status, RunStatus::Waiting);
    assert_eq!(waiting.fan.waits.as_ref().unwrap().missing(), vec![&b]);
    assert_eq!(tick(&w, at(2, 30, 0)).await, 0);
    assert_eq!(tick(&w, at(3, 0, 0)).await, 1);
    stop(&w, &w.run(&b, at(3, 0, 0)).await, "stopped-success").await;
    assert_eq!(tick(&w, at(3, 8, 0)).await, 1);
    let run = w.store.get_run(&day).await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.trigger.clone()),
        (RunStatus::Pending, Trigger::After)
    );
    // A second success of a job that day changes nothing: one run of `load` per day.
    assert_eq!(w.runs(&load).await.len(), 1);
}
