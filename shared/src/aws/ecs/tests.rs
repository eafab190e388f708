//! The RunTask request the launcher builds, and how it reads ECS's answers: aws-smithy-mocks on the typed
//! operations (the emulator ignores most of these fields).

use std::sync::{Arc, Mutex};

use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::run_task::{RunTaskInput, RunTaskOutput};
use aws_sdk_ecs::types::{AssignPublicIp, Container, DesiredStatus, Task};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use chrono::TimeZone;

use super::*;
use crate::domain::dispatch::client_token;
use crate::domain::duration::Span;
use crate::domain::job::{
    ContainerOverride as JobContainer, JobName, Launch, Network, Overlap, Retries,
};

const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/batch/abc";

fn spec() -> JobSpec {
    JobSpec {
        schedule: Some("rate(1 hour)".parse().unwrap()),
        timezone: "UTC".parse().unwrap(),
        start: None,
        end: None,
        paused: false,
        run_skipped_times: false,
        cluster: "batch".into(),
        task_definition: "etl:7".into(),
        launch: Launch::SpotWithFallback,
        platform_version: Some("1.4.0".into()),
        network: Network {
            subnets: vec!["subnet-1".into(), "subnet-2".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: true,
        },
        containers: [(
            "etl".to_owned(),
            JobContainer {
                command: Some(vec!["python".into(), "-m".into(), "etl".into()]),
                environment: [("LOG_LEVEL".to_owned(), "info".to_owned())].into(),
                cpu: None,
                memory: Some(4096),
            },
        )]
        .into(),
        cpu: Some(2048),
        memory: Some(8192),
        tags: [("team".to_owned(), "data".to_owned())].into(),
        group: Some("nightly".into()),
        overlap: Overlap::Forbid,
        max_running: None,
        catch_up: Span::from_secs(600),
        max_runtime: None,
        retries: Retries::default(),
        history: Span::from_secs(86_400),
        prices: None,
        on_event: None,
        event_bus: None,
        on_interruption: Default::default(),
        params: Vec::new(),
        alerts: Vec::new(),
        expect: None,
        retry: None,
        jitter: None,
        together: Default::default(),
    }
}

/// The stack discriminator the launcher under test is built with.
const STACK: &str = "a1b2c3";

fn request(capacity: Capacity) -> LaunchRequest {
    let run = RunId::scheduled(
        &JobName::new("nightly-etl").unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap(),
    );
    LaunchRequest {
        client_token: client_token(&run, capacity),
        run,
        spec: spec(),
        capacity,
    }
}

fn launcher(rules: &[&Rule]) -> EcsLauncher {
    EcsLauncher::new(mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules), STACK)
}

/// A RunTask rule that keeps the request it saw and answers with a task.
fn capture() -> (Rule, Arc<Mutex<Option<RunTaskInput>>>) {
    let seen = Arc::new(Mutex::new(None));
    let keep = seen.clone();
    let rule = mock!(aws_sdk_ecs::Client::run_task)
        .match_requests(move |r| {
            *keep.lock().unwrap() = Some(r.clone());
            true
        })
        .then_output(|| {
            RunTaskOutput::builder()
                .tasks(Task::builder().task_arn(TASK).build())
                .build()
        });
    (rule, seen)
}

#[tokio::test]
async fn run_task_carries_the_job_the_run_and_its_idempotency_token() {
    let (rule, seen) = capture();
    let req = request(Capacity::FargateSpot);
    let launched = launcher(&[&rule]).launch(&req).await.unwrap();
    assert_eq!(launched.task_arn, TASK);
    assert_eq!(
        launched.capacity,
        Capacity::FargateSpot,
        "what was asked, when ECS does not say"
    );

    let input = seen.lock().unwrap().clone().unwrap();
    assert_eq!(input.cluster(), Some("batch"));
    assert_eq!(input.task_definition(), Some("etl:7"));
    assert_eq!(input.count(), Some(1));
    assert_eq!(input.client_token(), Some(req.client_token.as_str()));
    assert_eq!(
        input.started_by(),
        Some(started_by(&req.run, STACK).as_str())
    );
    assert_eq!(input.group(), Some("nightly"));
    assert_eq!(input.platform_version(), Some("1.4.0"));
    assert_eq!(
        input.launch_type(),
        None,
        "Spot goes through the capacity provider strategy"
    );
    let strategy = input.capacity_provider_strategy();
    assert_eq!(strategy.len(), 1);
    assert_eq!(strategy[0].capacity_provider(), "FARGATE_SPOT");

    let tags: Vec<(String, String)> = input
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert!(
        tags.contains(&(JOB_TAG.into(), "nightly-etl".into())),
        "{tags:?}"
    );
    assert!(tags.contains(&(RUN_TAG.into(), "nightly-etl/20261129T010000Z".into())));
    assert!(tags.contains(&("team".into(), "data".into())));

    let vpc = input
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-1", "subnet-2"]);
    assert_eq!(vpc.security_groups(), ["sg-1"]);
    assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Enabled));

    let overrides = input.overrides().unwrap();
    assert_eq!(
        (overrides.cpu(), overrides.memory()),
        (Some("2048"), Some("8192"))
    );
    let etl = &overrides.container_overrides()[0];
    assert_eq!(etl.name(), Some("etl"));
    assert_eq!(etl.command(), ["python", "-m", "etl"]);
    assert_eq!(etl.memory(), Some(4096));
    assert_eq!(etl.environment()[0].name(), Some("LOG_LEVEL"));
    assert_eq!(etl.environment()[0].value(), Some("info"));
}

#[tokio::test]
async fn on_demand_uses_the_fargate_launch_type() {
    let (rule, seen) = capture();
    launcher(&[&rule])
        .launch(&request(Capacity::Fargate))
        .await
        .unwrap();
    let input = seen.lock().unwrap().clone().unwrap();
    assert_eq!(input.launch_type(), Some(&LaunchType::Fargate));
    assert!(input.capacity_provider_strategy().is_empty());
}

/// The error a Spot launch gets when RunTask answers `output`.
async fn refused(output: RunTaskOutput) -> LaunchError {
    let rule = mock!(aws_sdk_ecs::Client::run_task).then_output(move || output.clone());
    let err = launcher(&[&rule])
        .launch(&request(Capacity::FargateSpot))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("nightly-etl/20261129T010000Z"),
        "{err}"
    );
    err
}

fn failure(reason: &str) -> RunTaskOutput {
    RunTaskOutput::builder()
        .failures(
            aws_sdk_ecs::types::Failure::builder()
                .reason(reason)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn ecs_answers_map_to_what_the_dispatcher_can_do() {
    let no_spot = refused(failure(
        "Capacity is unavailable at this time. Please try again later",
    ))
    .await;
    assert!(
        matches!(
            no_spot,
            LaunchError::NoCapacity {
                capacity: Capacity::FargateSpot,
                ..
            }
        ),
        "{no_spot:?}"
    );
    let missing = refused(failure("MISSING")).await;
    assert!(
        matches!(&missing, LaunchError::Rejected { message } if message.contains("MISSING")),
        "{missing:?}"
    );
    let empty = refused(RunTaskOutput::builder().build()).await;
    assert!(
        matches!(&empty, LaunchError::Rejected { message } if message.contains("neither a task nor a failure")),
        "{empty:?}"
    );
}

#[tokio::test]
async fn a_started_task_is_found_by_its_started_by_and_described_with_exit_codes() {
    let req = request(Capacity::FargateSpot);
    let by = started_by(&req.run, STACK);
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .match_requests(move |r| {
            r.started_by() == Some(by.as_str())
                && r.desired_status() == Some(&DesiredStatus::Running)
        })
        .then_output(|| ListTasksOutput::builder().task_arns(TASK).build());
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(
                Task::builder()
                    .task_arn(TASK)
                    .last_status("STOPPED")
                    .capacity_provider_name("FARGATE_SPOT")
                    .stop_code(aws_sdk_ecs::types::TaskStopCode::EssentialContainerExited)
                    .containers(Container::builder().name("etl").exit_code(3).build())
                    .build(),
            )
            .build()
    });
    let ecs = launcher(&[&list, &describe]);
    let found = ecs.find("batch", &req.run).await.unwrap().unwrap();
    assert_eq!(found.task_arn, TASK);
    assert_eq!(found.capacity, Capacity::FargateSpot);

    let tasks = ecs.describe("batch", &[TASK.to_owned()]).await.unwrap();
    assert_eq!(tasks[0].containers[0].exit_code, Some(3));
    assert_eq!(
        crate::domain::record::outcome(&tasks[0]).unwrap().1,
        "container `etl` exited with code 3"
    );
}

#[tokio::test]
async fn a_revision_is_described_once_and_a_family_every_time() {
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};

    let rule = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn("arn:aws:ecs:us-east-1:123456789012:task-definition/etl:7")
                    .container_definitions(ContainerDefinition::builder().name("etl").build())
                    .build(),
            )
            .build()
    });
    let launcher = launcher(&[&rule]);
    let revision = "arn:aws:ecs:us-east-1:123456789012:task-definition/etl:7";
    let first = launcher.definition(revision).await.unwrap();
    assert_eq!(first.essential, [("etl".to_owned(), true)]);
    assert_eq!(launcher.definition(revision).await.unwrap(), first);
    launcher.clone().definition("etl:7").await.unwrap();
    launcher.definition("etl:7").await.unwrap();
    assert_eq!(
        rule.num_calls(),
        2,
        "each revision asked once, clones sharing what is known"
    );
    for family in [
        "etl",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/etl",
    ] {
        launcher.definition(family).await.unwrap();
        launcher.definition(family).await.unwrap();
    }
    assert_eq!(rule.num_calls(), 6, "a family's latest revision can change");
}
