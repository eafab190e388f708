//! What goes together, over the in-memory ports: a pool's slots shared by jobs (never more runs going than its
//! size, the others waiting their turn), a run fanned out over parallel tasks (one run, the tasks' combined
//! outcome and cost), and a job run once the jobs it waits for succeeded for the day.

use chrono::{Duration, Utc};
use fsched_core::domain::duration::Span;
use fsched_core::domain::fan::{After, Pool, Together};
use fsched_core::domain::job::{JobName, JobSpec, PoolName};
use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
use fsched_core::ports::{PoolStore, RunStore, StoreError};
use fsched_core::service::dispatch::INDEX_VAR;
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::{Fate, CONTAINER};

mod common;
use common::{t, Fakes};

async fn record_all(f: &Fakes, now: chrono::DateTime<Utc>) {
    f.ecs.set_now(now);
    for report in f.ecs.take_reports() {
        f.recorder().record(report, now).await.unwrap();
    }
}

fn pooled(size: u32) -> JobSpec {
    JobSpec {
        catch_up: Span::from_secs(3600),
        together: Together {
            pool: Some(Pool {
                name: PoolName::new("warehouse").unwrap(),
                size,
            }),
            ..Together::default()
        },
        ..job_spec("cron(0 2 * * ? *)")
    }
}

#[tokio::test(start_paused = true)]
async fn five_jobs_due_at_once_in_a_pool_of_two_run_two_at_a_time_and_all_of_them() {
    let f = Fakes::running(Duration::minutes(5));
    let mut jobs = Vec::new();
    for i in 0..5 {
        jobs.push(f.job(&format!("load-{i}"), pooled(2), t(2, 0)).await);
    }
    let first = f.tick(t(2, 0)).await;
    assert_eq!(first.launched.len(), 2, "{first:?}");
    assert_eq!(first.pooled.len(), 3);
    let waiting = f.run(&jobs[4], t(2, 0)).await;
    assert_eq!(waiting.status, RunStatus::Waiting);
    assert!(
        waiting
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("pool `warehouse` is full (2 of 2 slots held"),
        "{:?}",
        waiting.reason
    );
    let mut most = 0;
    let mut now = t(2, 1);
    while now <= t(2, 40) {
        record_all(&f, now).await;
        f.tick(now).await;
        let going = f
            .ecs
            .tasks()
            .iter()
            .filter(|(_, task)| !task.is_stopped())
            .count();
        most = most.max(going);
        now += Duration::minutes(1);
    }
    assert_eq!(most, 2, "never more tasks going than the pool's size");
    for job in &jobs {
        assert_eq!(
            f.run(job, t(2, 0)).await.status,
            RunStatus::Succeeded,
            "{job}"
        );
    }
    let pool = PoolName::new("warehouse").unwrap();
    assert!(
        f.store.holders(&pool).await.unwrap().is_empty(),
        "every slot given back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_waits_for_a_slot_at_most_catch_up_and_a_lost_give_back_heals() {
    let f = Fakes::running(Duration::minutes(120));
    let spec = |catch_up| JobSpec {
        catch_up: Span::from_secs(catch_up),
        ..pooled(1)
    };
    let long = f.job("long", spec(3600), t(2, 0)).await;
    let short = f.job("short", spec(600), t(2, 0)).await;
    f.tick(t(2, 0)).await;
    let mut now = t(2, 1);
    while now <= t(2, 11) {
        f.tick(now).await;
        now += Duration::minutes(1);
    }
    // The timers index hands `long` over first: it takes the slot; `short` waits its 10 minutes, then is skipped.
    assert_eq!(f.run(&long, t(2, 0)).await.status, RunStatus::Pending);
    let skipped = f.run(&short, t(2, 0)).await;
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("for longer than catch_up (10m) allows"),
        "{:?}",
        skipped.reason
    );
    // A slot whose holder ended without giving it back (its writer died) is let go by the next run that asks.
    let pool = PoolName::new("warehouse").unwrap();
    let ghost = RunId::scheduled(&long, t(1, 0));
    let holders = f.store.holders(&pool).await.unwrap();
    assert_eq!(holders.len(), 1);
    f.store.give_slot(&pool, &holders[0]).await.unwrap();
    f.store
        .take_slot(
            &Pool {
                name: pool.clone(),
                size: 1,
            },
            &ghost,
        )
        .await
        .unwrap();
    let later = f.job("later", spec(3600), t(3, 0)).await;
    assert_eq!(f.tick(t(3, 0)).await.launched.len(), 1);
    assert_eq!(f.run(&later, t(3, 0)).await.fan.pool, Some(pool));
}

#[tokio::test(start_paused = true)]
async fn a_run_waiting_for_a_slot_is_not_written_while_it_waits_and_takes_its_slot_before_its_claim(
) {
    let f = Fakes::running(Duration::minutes(30));
    let first = f.job("first", pooled(1), t(2, 0)).await;
    let second = f.job("second", pooled(1), t(2, 0)).await;
    f.tick(t(2, 0)).await;
    let waiting = f.run(&second, t(2, 0)).await;
    assert_eq!(waiting.status, RunStatus::Waiting, "{waiting:?}");
    let mut now = t(2, 1);
    while now <= t(2, 20) {
        let tick = f.tick(now).await;
        assert_eq!(tick.pooled, vec![waiting.id.clone()], "asked at every tick");
        now += Duration::minutes(1);
    }
    let still = f.run(&second, t(2, 0)).await;
    assert_eq!(
        (still.status, still.revision),
        (RunStatus::Waiting, waiting.revision),
        "asking for a slot of a full pool writes nothing"
    );
    // The first run ends; the second takes the slot at the next tick, but its claim is lost (throttled): it holds
    // the slot while still WAITING, and the tick after claims and launches it, with the one slot.
    while now <= t(2, 40) && f.run(&first, t(2, 0)).await.status.is_open() {
        record_all(&f, now).await;
        now += Duration::minutes(1);
    }
    assert_eq!(f.run(&first, t(2, 0)).await.status, RunStatus::Succeeded);
    let pool = PoolName::new("warehouse").unwrap();
    assert!(f.store.holders(&pool).await.unwrap().is_empty());
    f.store.fail_next(
        "update_run",
        StoreError::Transient {
            message: "throttled".into(),
        },
    );
    f.tick(now).await;
    let holding = f.run(&second, t(2, 0)).await;
    assert_eq!(holding.status, RunStatus::Waiting);
    assert_eq!(
        f.store.holders(&pool).await.unwrap(),
        vec![holding.id.clone()]
    );
    let launched = f.tick(now + Duration::minutes(1)).await;
    assert_eq!(launched.launched, vec![holding.id.clone()]);
    let going = f.run(&second, t(2, 0)).await;
    assert_eq!(going.fan.pool, Some(pool.clone()));
    assert_eq!(f.store.holders(&pool).await.unwrap(), vec![going.id]);
    assert_eq!(f.ecs.tasks().len(), 2, "one task per run");
}

fn parallel(n: u32) -> JobSpec {
    JobSpec {
        together: Together {
            parallel: Some(n),
            ..Together::default()
        },
        ..job_spec("cron(0 2 * * ? *)")
    }
}

#[tokio::test(start_paused = true)]
async fn a_parallel_run_of_four_tasks_with_one_failing_is_one_failed_run_with_every_cost() {
    let f = Fakes::new();
    let f = Fakes {
        ecs: f.ecs.with_fates(|request| {
            let index = request.spec.containers[CONTAINER].environment[INDEX_VAR].clone();
            Fate {
                exit_code: if index == "2" { 1 } else { 0 },
                ..Fate::default()
            }
        }),
        ..f
    };
    let job = f.job("shards", parallel(4), t(2, 0)).await;
    let tick = f.tick(t(2, 0)).await;
    assert_eq!(f.ecs.run_task_calls(), 4, "{tick:?}");
    let run = f.run(&job, t(2, 0)).await;
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(f.announced("Run Started"), 1);
    record_all(&f, t(2, 10)).await;
    let run = f.run(&job, t(2, 0)).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        run.reason.as_deref(),
        Some("1 of 4 tasks did not succeed: task 2 FAILED (exit 1)")
    );
    let parts = run.fan.parts.as_ref().unwrap();
    assert_eq!(parts.ended.len(), 4);
    let each: f64 = parts
        .ended
        .iter()
        .filter_map(|e| e.cost.as_ref())
        .map(|c| c.usd)
        .sum();
    assert!(each > 0.0);
    assert!((run.cost.as_ref().unwrap().usd - each).abs() < 1e-9);
    assert_eq!(f.announced("Run Failed"), 1, "the run's end, once");
    assert_eq!(f.announced("Run Task Ended"), 4);
    let task = f
        .store
        .get_run(&RunId::task(&run.id, 3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.fan.part.as_ref().map(|p| p.count), Some(4));
}

#[tokio::test(start_paused = true)]
async fn a_parallel_run_whose_launcher_died_half_way_is_completed_by_its_check() {
    let f = Fakes::running(Duration::minutes(5));
    let job = f.job("shards", parallel(3), t(9, 0)).await;
    // Claimed at 02:00 by an invocation that died before launching it: the tick at 02:02 recovers it, but the
    // first task's claim fails there too. The run's check claims and launches that one.
    let mut run = Run::claimed(
        RunId::scheduled(&job, t(2, 0)),
        Trigger::Schedule,
        t(2, 0),
        t(2, 0),
    );
    run.check_at = Some(t(2, 0));
    f.store.claim_run(&run).await.unwrap();
    f.store.fail_next(
        "claim_run",
        StoreError::Transient {
            message: "gone".into(),
        },
    );
    let first = f.tick(t(2, 2)).await;
    assert_eq!(first.errors.len(), 1, "{first:?}");
    assert_eq!(f.ecs.run_task_calls(), 2);
    assert_eq!(f.run(&job, t(2, 0)).await.status, RunStatus::Running);
    record_all(&f, t(2, 10)).await;
    f.tick(t(2, 17)).await;
    assert_eq!(f.ecs.run_task_calls(), 3);
    record_all(&f, t(2, 25)).await;
    assert_eq!(f.run(&job, t(2, 0)).await.status, RunStatus::Succeeded);
    assert_eq!(f.announced("Run Succeeded"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_job_after_two_others_runs_once_both_succeeded_that_day() {
    let f = Fakes::running(Duration::minutes(5));
    let name = |n: &str| JobName::new(n).unwrap();
    let feeding = JobSpec {
        together: Together {
            feeds: vec![name("load")],
            ..Together::default()
        },
        ..job_spec("cron(0 2 * * ? *)")
    };
    let a = f.job("extract-a", feeding.clone(), t(2, 0)).await;
    f.job(
        "extract-b",
        JobSpec {
            schedule: Some("cron(0 3 * * ? *)".parse().unwrap()),
            ..feeding
        },
        t(3, 0),
    )
    .await;
    let load = JobSpec {
        schedule: None,
        together: Together {
            after: Some(After {
                jobs: vec![name("extract-a"), name("extract-b")],
                window: Span::from_secs(6 * 3600),
            }),
            ..Together::default()
        },
        ..job_spec("cron(0 2 * * ? *)")
    };
    let load = f.job("load", load, t(2, 0)).await;
    f.tick(t(2, 0)).await;
    record_all(&f, t(2, 10)).await;
    assert_eq!(f.run(&a, t(2, 0)).await.status, RunStatus::Succeeded);
    let day =
        fsched_core::service::follow::fan_in_id(&load, t(2, 0).date_naive(), chrono_tz::UTC).0;
    let waiting = f.store.get_run(&day).await.unwrap().unwrap();
    assert_eq!(waiting.status, RunStatus::Waiting);
    assert_eq!(waiting.trigger, Trigger::After);
    assert_eq!(
        f.tick(t(2, 11)).await.launched.len(),
        0,
        "extract-b has not succeeded yet"
    );
    f.tick(t(3, 0)).await;
    record_all(&f, t(3, 10)).await;
    let launched = f.tick(t(3, 11)).await.launched;
    assert_eq!(launched, vec![day.clone()]);
    let run = f.store.get_run(&day).await.unwrap().unwrap();
    assert_eq!(run.fan.waits.as_ref().map(|w| w.met.len()), Some(2));
}

#[tokio::test(start_paused = true)]
async fn a_parallel_run_replaced_by_the_next_fire_stops_with_all_its_tasks() {
    let f = Fakes::running(Duration::minutes(30));
    let spec = JobSpec {
        overlap: fsched_core::domain::job::Overlap::Replace,
        schedule: Some("rate(5 minutes)".parse().unwrap()),
        ..parallel(3)
    };
    let job = f.job("shards", spec, t(2, 0)).await;
    f.tick(t(2, 0)).await;
    assert_eq!(f.ecs.run_task_calls(), 3);
    f.tick(t(2, 5)).await;
    let old = f.run(&job, t(2, 0)).await;
    assert_eq!(old.status, RunStatus::Stopped, "{:?}", old.reason);
    for index in 0..3 {
        let task = f
            .store
            .get_run(&RunId::task(&old.id, index))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(task.status, RunStatus::Stopped);
        let (_, snapshot) = f
            .ecs
            .tasks()
            .into_iter()
            .find(|(r, _)| *r == task.id)
            .unwrap();
        assert_eq!(
            snapshot.stopping_at,
            Some(t(2, 5)),
            "task {index} stopped in ECS"
        );
    }
    assert_eq!(f.ecs.run_task_calls(), 6, "the new run's three tasks");
    assert_eq!(f.run(&job, t(2, 5)).await.status, RunStatus::Running);
    assert_eq!(f.announced("Run Stopped"), 1);
}
