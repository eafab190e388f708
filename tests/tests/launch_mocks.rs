//! What the emulator cannot do: Spot capacity shortages, throttling and RunTask `failures[]`. ECS is mocked with
//! aws-smithy-mocks on the typed RunTask operation (the real `EcsLauncher` and SDK client, mocked transport); the
//! store and the bus are the emulator's, as in production.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::types::{Failure, LaunchType, Task};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, TimeZone, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::domain::duration::Span;
use fsched_core::domain::fargate::Capacity;
use fsched_core::domain::job::{Job, JobName, JobSpec, Launch, Retries};
use fsched_core::domain::run::{Run, RunId, RunStatus};
use fsched_core::ports::{JobStore, RunStore};
use fsched_core::service::dispatch::{Dispatcher, Settings, TickReport};
use fsched_tests::{fresh_table, job_spec, local_sdk_config, unique_name};
use tokio::time::Instant;

const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/batch/0123456789abcdef";
const NO_SPOT: &str =
    "Capacity is unavailable at this time. Please try again later or in a different availability zone";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap()
}

fn spec(launch: Launch) -> JobSpec {
    JobSpec {
        launch,
        retries: Retries {
            attempts: 2,
            backoff: Span::from_secs(1),
        },
        ..job_spec("rate(1 hour)")
    }
}

/// Runs one tick at t0 for a job of `spec` with ECS answering by `rules`; returns the report and the stored run.
async fn tick_with(spec: JobSpec, rules: &[&Rule]) -> (TickReport, Run) {
    let config = local_sdk_config().await.unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let store = DynamoStore::new(ddb.clone(), fresh_table(&ddb).await.unwrap());
    let bus = unique_name("fsched-bus");
    let eb = aws_sdk_eventbridge::Client::new(&config);
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, |c| c.retry_config(
        aws_sdk_ecs::config::retry::RetryConfig::standard().with_max_attempts(1)
    ));
    let name = JobName::new("etl").unwrap();
    let job = Job {
        name: name.clone(),
        spec,
        version: 1,
        next_fire: Some(t0()),
        last_fire: None,
        health: Default::default(),
    };
    store.put_job(&job, None).await.unwrap();
    let d = Dispatcher::new(
        store.clone(),
        EcsLauncher::new(ecs, "a1b2c3"),
        EventBridgePublisher::new(eb, bus),
        Settings::default(),
    );
    let report = d
        .tick(t0(), Instant::now() + StdDuration::from_secs(60))
        .await
        .unwrap();
    let run = store
        .get_run(&RunId::scheduled(&name, t0()))
        .await
        .unwrap()
        .unwrap();
    (report, run)
}

fn started() -> RunTaskOutput {
    RunTaskOutput::builder()
        .tasks(Task::builder().task_arn(TASK).build())
        .build()
}

fn throttled() -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
    )
}

#[tokio::test]
async fn spot_without_capacity_falls_back_to_on_demand_fargate_with_a_new_token() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = tokens.clone();
    let spot = mock!(aws_sdk_ecs::Client::run_task)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.client_token().unwrap_or_default().to_owned());
            r.capacity_provider_strategy()
                .iter()
                .any(|c| c.capacity_provider() == "FARGATE_SPOT")
        })
        .then_output(|| {
            RunTaskOutput::builder()
                .failures(Failure::builder().reason(NO_SPOT).build())
                .build()
        });
    let fargate = mock!(aws_sdk_ecs::Client::run_task)
        .match_requests(|r| r.launch_type() == Some(&LaunchType::Fargate))
        .then_output(started);
    let (report, run) = tick_with(spec(Launch::SpotWithFallback), &[&spot, &fargate]).await;

    assert_eq!(report.launched, ["etl/20261129T020000Z"]);
    assert_eq!((spot.num_calls(), fargate.num_calls()), (1, 1));
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!(run.capacity, Some(Capacity::Fargate));
    assert_eq!(run.attempts, 2);
    assert_eq!(run.task_arn.as_deref(), Some(TASK));
    let tokens = tokens.lock().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_ne!(
        tokens[0], tokens[1],
        "the fallback is a new request, with its own token"
    );
}

#[tokio::test]
async fn spot_only_jobs_do_not_fall_back_and_fail_with_ecs_words() {
    let spot = mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .failures(Failure::builder().reason(NO_SPOT).build())
            .build()
    });
    let (report, run) = tick_with(spec(Launch::Spot), &[&spot]).await;
    assert_eq!(report.launch_failed.len(), 1);
    assert_eq!(
        spot.num_calls(),
        2,
        "retried once (attempts: 2), on Spot only"
    );
    assert_eq!(run.status, RunStatus::LaunchFailed);
    let reason = run.reason.unwrap();
    assert!(reason.contains("Capacity is unavailable"), "{reason}");
    assert!(reason.contains("after 2 attempts"), "{reason}");
}

#[tokio::test]
async fn throttling_is_retried_with_the_same_token_until_it_succeeds() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = tokens.clone();
    let rule = mock!(aws_sdk_ecs::Client::run_task)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.client_token().unwrap_or_default().to_owned());
            true
        })
        .sequence()
        .http_response(throttled)
        .output(started)
        .build();
    let (report, run) = tick_with(spec(Launch::Fargate), &[&rule]).await;
    assert_eq!(report.launched.len(), 1, "{report:?}");
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!(run.attempts, 2);
    let tokens = tokens.lock().unwrap();
    assert_eq!(
        tokens[0], tokens[1],
        "a retry must be recognised by ECS as the same request"
    );
}

#[tokio::test]
async fn throttling_that_does_not_pass_fails_the_run_after_its_attempts() {
    let rule = mock!(aws_sdk_ecs::Client::run_task)
        .sequence()
        .http_response(throttled)
        .repeatedly()
        .build();
    // Before giving up, the run looks for a task an attempt may have started although its answer was lost: none.
    let none = mock!(aws_sdk_ecs::Client::list_tasks)
        .then_output(|| aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder().build());
    let (report, run) = tick_with(spec(Launch::Fargate), &[&rule, &none]).await;
    assert_eq!(report.launch_failed.len(), 1);
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(none.num_calls(), 2, "running, then stopped tasks");
    let reason = run.reason.unwrap();
    assert!(reason.contains("ThrottlingException"), "{reason}");
}

#[tokio::test]
async fn run_task_failures_are_failures_and_are_not_retried() {
    let rule = mock!(aws_sdk_ecs::Client::run_task).then_output(|| {
        RunTaskOutput::builder()
            .failures(
                Failure::builder()
                    .arn("arn:aws:ecs:us-east-1:123456789012:container-instance/x")
                    .reason("MISSING")
                    .detail("The task definition etl:7 is INACTIVE")
                    .build(),
            )
            .build()
    });
    let (report, run) = tick_with(spec(Launch::Fargate), &[&rule]).await;
    assert_eq!(report.launch_failed, ["etl/20261129T020000Z"]);
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(run.status, RunStatus::LaunchFailed);
    assert!(run
        .reason
        .unwrap()
        .contains("MISSING (The task definition etl:7 is INACTIVE)"));
    assert_eq!(run.task_arn, None);
}
