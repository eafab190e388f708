//! The launcher's contract: what fsched relies on from ECS's RunTask, ListTasks, DescribeTasks, StopTask and
//! DescribeTaskDefinition, as tests any `TaskLauncher` must pass. `FakeEcs` runs them in `cargo test -p
//! fsched-core`; `EcsLauncher` runs the same functions against the emulator in `tests/tests/contracts.rs`
//! (through `launcher_contract!`).
//!
//! Each function is given a launcher, a job spec whose cluster, task definition (with one essential container,
//! `app`) and network exist, and `settle`, which lets a stop asked for take effect (the fake's clock moves on; the
//! emulator stops a task at once).
//!
//! Not here, because the emulator does not do it: RunTask's idempotency on `clientToken` (ECS answers a token it
//! has seen in the last 24 hours with the task it started). The fake's is tested on its own
//! (`shared/tests/contract.rs`), and that the adapter sends the token is checked on the typed request
//! (`aws::ecs::tests`, aws-smithy-mocks).

use chrono::{TimeZone, Utc};

use crate::domain::dispatch::client_token;
use crate::domain::fargate::{Capacity, TaskStatus};
use crate::domain::job::{JobName, JobSpec};
use crate::domain::run::RunId;
use crate::ports::{LaunchRequest, TaskLauncher};

/// A run of the contract's job, due at `minute` past 02:00.
pub fn run(minute: u32) -> RunId {
    RunId::scheduled(
        &JobName::new("contract").unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 29, 2, minute, 0).unwrap(),
    )
}

/// The launch of `run` on plain Fargate, with its idempotency token.
pub fn request(run: &RunId, spec: &JobSpec) -> LaunchRequest {
    LaunchRequest {
        run: run.clone(),
        spec: spec.clone(),
        client_token: client_token(run, Capacity::Fargate),
        capacity: Capacity::Fargate,
    }
}

pub async fn a_launched_task_is_found_by_its_run_and_described<L: TaskLauncher>(
    launcher: L,
    spec: JobSpec,
    _settle: impl Fn(),
) {
    let first = run(0);
    let launched = launcher.launch(&request(&first, &spec)).await.unwrap();
    assert!(
        launched.task_arn.starts_with("arn:aws:ecs:"),
        "{launched:?}"
    );
    assert_eq!(launched.capacity, Capacity::Fargate);

    let found = launcher.find(&spec.cluster, &first).await.unwrap();
    assert_eq!(found.map(|f| f.task_arn), Some(launched.task_arn.clone()));
    assert_eq!(
        launcher.find(&spec.cluster, &run(1)).await.unwrap(),
        None,
        "a run never launched has no task"
    );

    let tasks = launcher
        .describe(&spec.cluster, std::slice::from_ref(&launched.task_arn))
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task.task_arn, launched.task_arn);
    assert_eq!(task.started_by, Some(launcher.started_by(&first)));
    assert_ne!(task.last_status, TaskStatus::Stopped);
    let family = spec.task_definition.split(':').next().unwrap_or_default();
    assert!(
        task.task_definition_arn
            .as_deref()
            .is_some_and(|d| d.contains(family)),
        "{:?}",
        task.task_definition_arn
    );
}

pub async fn a_task_ecs_does_not_know_is_left_out_of_a_description<L: TaskLauncher>(
    launcher: L,
    spec: JobSpec,
    _settle: impl Fn(),
) {
    let launched = launcher.launch(&request(&run(0), &spec)).await.unwrap();
    let unknown = format!(
        "arn:aws:ecs:us-east-1:123456789012:task/{}/ffffffffffffffffffffffffffffffff",
        spec.cluster
    );
    let tasks = launcher
        .describe(&spec.cluster, &[unknown, launched.task_arn.clone()])
        .await
        .unwrap();
    let arns: Vec<&str> = tasks.iter().map(|t| t.task_arn.as_str()).collect();
    assert_eq!(arns, [launched.task_arn.as_str()]);
}

pub async fn a_stopped_task_ends_with_the_reason_given_and_is_still_found<L: TaskLauncher>(
    launcher: L,
    spec: JobSpec,
    settle: impl Fn(),
) {
    let first = run(0);
    let launched = launcher.launch(&request(&first, &spec)).await.unwrap();
    launcher
        .stop(&spec.cluster, &launched.task_arn, "replaced by a newer run")
        .await
        .unwrap();
    settle();
    let tasks = launcher
        .describe(&spec.cluster, std::slice::from_ref(&launched.task_arn))
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].last_status, TaskStatus::Stopped);
    assert_eq!(
        tasks[0].stopped_reason.as_deref(),
        Some("replaced by a newer run")
    );
    // A stopped task is still found by its run (a recovery must not start a second one).
    let found = launcher.find(&spec.cluster, &first).await.unwrap();
    assert_eq!(found.map(|f| f.task_arn), Some(launched.task_arn));
}

pub async fn a_task_definition_names_its_essential_containers<L: TaskLauncher>(
    launcher: L,
    spec: JobSpec,
    _settle: impl Fn(),
) {
    let facts = launcher.definition(&spec.task_definition).await.unwrap();
    assert!(
        facts.essential.contains(&("app".to_owned(), true)),
        "{:?}",
        facts.essential
    );
}
