//! ECS set-up in the emulator for tests and the demo: a cluster, task definitions the emulator can run (every
//! container has `memory`), and the default VPC's subnets and security group (the emulator's run_task needs them).

use anyhow::Context;

/// Where jobs in the emulator can run.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub cluster: String,
    pub subnets: Vec<String>,
    pub security_group: String,
}

/// Creates `cluster`; the default network comes from scripts/local-aws, which looks it up when it starts the emulator.
pub async fn sandbox(config: &aws_config::SdkConfig, cluster: &str) -> anyhow::Result<Sandbox> {
    let ecs = aws_sdk_ecs::Client::new(config);
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .context("creating the cluster")?;
    let subnets = std::env::var("FSCHED_LOCAL_SUBNETS")
        .context("FSCHED_LOCAL_SUBNETS is not set: run through scripts/local-aws")?
        .split(',')
        .map(str::to_owned)
        .collect();
    let security_group = std::env::var("FSCHED_LOCAL_SECURITY_GROUP")
        .context("FSCHED_LOCAL_SECURITY_GROUP is not set: run through scripts/local-aws")?;
    Ok(Sandbox {
        cluster: cluster.to_owned(),
        subnets,
        security_group,
    })
}

/// Registers a one-container Fargate task definition of `family` and returns its `family:revision`.
pub async fn task_definition(
    config: &aws_config::SdkConfig,
    family: &str,
) -> anyhow::Result<String> {
    task_definition_with(config, family, "app").await
}

/// As `task_definition`, with the container named `container` (jobs override containers by name).
pub async fn task_definition_with(
    config: &aws_config::SdkConfig,
    family: &str,
    container: &str,
) -> anyhow::Result<String> {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
    let ecs = aws_sdk_ecs::Client::new(config);
    let out = ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name(container)
                .image("public.ecr.aws/docker/library/busybox:stable")
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("registering task definition {family}"))?;
    let revision = out
        .task_definition()
        .map(|t| t.revision())
        .context("no task definition returned")?;
    Ok(format!("{family}:{revision}"))
}

/// Tasks the emulator knows in `cluster`, running and stopped.
pub async fn tasks(config: &aws_config::SdkConfig, cluster: &str) -> anyhow::Result<Vec<String>> {
    let ecs = aws_sdk_ecs::Client::new(config);
    let mut out = Vec::new();
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let listed = ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status)
            .send()
            .await?;
        out.extend(listed.task_arns().iter().cloned());
    }
    Ok(out)
}
