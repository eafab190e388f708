//! Container output as ECS's `awslogs` driver would write it (the emulator runs no containers): a task definition
//! whose containers log to CloudWatch, and lines written to the stream a task's container writes to.

use anyhow::Context;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, LogConfiguration, LogDriver, NetworkMode,
};
use chrono::{DateTime, Utc};
use fsched_core::domain::logs::task_id;

use crate::unique_name;

/// A task definition whose `app` logs to CloudWatch (group `group`, prefix `etl`) and whose `proxy` logs to Splunk.
/// Returns `FAMILY:REVISION`.
pub async fn logging_definition(
    config: &aws_config::SdkConfig,
    group: &str,
) -> anyhow::Result<String> {
    let container = |name: &str, logs: LogConfiguration| {
        ContainerDefinition::builder()
            .name(name)
            .image("public.ecr.aws/docker/library/busybox:stable")
            .memory(256)
            .essential(name == "app")
            .log_configuration(logs)
            .build()
    };
    let awslogs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", group)
        .options("awslogs-stream-prefix", "etl")
        .build()?;
    let splunk = LogConfiguration::builder()
        .log_driver(LogDriver::Splunk)
        .build()?;
    let family = unique_name("logging");
    let out = aws_sdk_ecs::Client::new(config)
        .register_task_definition()
        .family(&family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(container("app", awslogs))
        .container_definitions(container("proxy", splunk))
        .send()
        .await
        .context("registering the logging task definition")?;
    let revision = out
        .task_definition()
        .map(|t| t.revision())
        .context("no task definition returned")?;
    Ok(format!("{family}:{revision}"))
}

/// Writes `lines` to the stream the `awslogs` driver writes the `app` container of `task_arn` to (group `group`,
/// prefix `etl`), one second apart from `from`.
pub async fn write(
    config: &aws_config::SdkConfig,
    group: &str,
    task_arn: &str,
    lines: &[&str],
    from: DateTime<Utc>,
) -> anyhow::Result<()> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    let stream = format!("etl/app/{}", task_id(task_arn));
    // Both exist already when a second write goes to the same stream.
    let _ = logs.create_log_group().log_group_name(group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(&stream)
        .send()
        .await;
    let mut put = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(&stream);
    for (i, line) in lines.iter().enumerate() {
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp((from + chrono::Duration::seconds(i as i64)).timestamp_millis())
                .message(*line)
                .build()?,
        );
    }
    put.send().await.context("writing log events")?;
    Ok(())
}
