//! Tasks no run records: a claimed run closed by `overlap: replace` while (or after) its task was being launched
//! must not leave that task running unseen; and a job applied or resumed at a fire's instant keeps that fire.

use chrono::Duration;
use fsched_core::domain::fargate::Capacity;
use fsched_core::domain::job::{JobSpec, Overlap};
use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
use fsched_core::ports::{JobStore, LaunchRequest, RunStore, StoreError, TaskLauncher};
use fsched_core::testing::contract::job_spec;

mod common;
use common::{t, Fakes};

fn replacing() -> JobSpec {
    JobSpec {
        overlap: Overlap::Replace,
        ..job_spec("rate(5 minutes)")
    }
}

#[tokio::test(start_paused = true)]
async fn replace_stops_the_task_a_claimed_run_started_without_recording_it() {
    let f = Fakes::running(Duration::minutes(30));
    let job = f.job("sync", replacing(), t(2, 0)).await;
    // RunTask succeeds, the write recording it is throttled: the run stays claimed, its task unrecorded.
    f.store.fail_next(
        "update_run",
        StoreError::Transient {
            message: "throttled".into(),
        },
    );
    f.tick(t(2, 0)).await;
    let first = f.run(&job, t(2, 0)).await;
    assert_eq!(
        (first.status, first.task_arn.as_ref()),
        (RunStatus::Claimed, None)
    );
    assert_eq!(f.ecs.tasks().len(), 1);
    // The next fire replaces it: its task is found by its startedBy and stopped, not left running unseen.
    f.tick(t(2, 5)).await;
    let first = f.run(&job, t(2, 0)).await;
    assert_eq!(first.status, RunStatus::Stopped);
    let (_, task) = f
        .ecs
        .tasks()
        .into_iter()
        .find(|(run, _)| *run == first.id)
        .unwrap();
    assert_eq!(task.stopping_at, Some(t(2, 5)), "stopped by the replace");
}

#[tokio::test(start_paused = true)]
async fn the_recorder_stops_a_task_whose_run_was_closed_without_it() {
    let f = Fakes::new();
    let job = f.job("sync", replacing(), t(9, 0)).await;
    let mut run = Run::claimed(
        RunId::scheduled(&job, t(2, 0)),
        Trigger::Schedule,
        t(2, 0),
        t(2, 0),
    );
    run.status = RunStatus::Stopped;
    run.reason = Some("replaced by run sync/20261130T020500Z (overlap: replace)".into());
    f.store.claim_run(&run).await.unwrap();
    // The launch that lost the race: its task starts after its run was closed.
    let spec = f.store.get_job(&job).await.unwrap().unwrap().spec;
    f.ecs
        .launch(&LaunchRequest {
            run: run.id.clone(),
            spec,
            client_token: "token".into(),
            capacity: Capacity::Fargate,
        })
        .await
        .unwrap();
    f.ecs.set_now(t(2, 1));
    for report in f.ecs.take_reports() {
        f.recorder().record(report, t(2, 1)).await.unwrap();
    }
    let (_, task) = f.ecs.tasks().pop().unwrap();
    assert!(task.stopping_at.is_some(), "{task:?}");
    let stored = f.store.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.task_arn), (RunStatus::Stopped, None));
}

#[tokio::test(start_paused = true)]
async fn a_job_resumed_at_the_instant_of_a_fire_keeps_that_fire() {
    let f = Fakes::new();
    let job = f.job("etl", job_spec("cron(0 2 * * ? *)"), t(2, 0)).await;
    fsched_core::service::jobs::pause(&f.store, &job)
        .await
        .unwrap();
    let resumed = fsched_core::service::jobs::resume(&f.store, &job, t(2, 0), false)
        .await
        .unwrap();
    assert_eq!(resumed.next_fire, Some(t(2, 0)));
    assert_eq!(f.tick(t(2, 1)).await.launched.len(), 1);
}
