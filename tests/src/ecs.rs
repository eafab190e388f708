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

/// The fixtures' task: its ARN, task definition, container name and the time its run was scheduled.
const FIXTURE_TASK: &str =
    "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad";
const FIXTURE_DEFINITION: &str =
    "arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate:1";
const FIXTURE_CONTAINER: &str = "\"FargateApp\"";
const FIXTURE_SCHEDULED: &str = "2020-01-23T17:57:00Z";

/// A real "ECS Task State Change" event from tests/events/ecs (`name` without `.json`), made about another task: its
/// ARN, task definition and container name replace the fixture's, and every time stamp moves by the distance from
/// the fixture's scheduled time (17:57:00) to `scheduled`.
pub fn task_event(
    name: &str,
    task_arn: &str,
    task_definition_arn: &str,
    container: &str,
    scheduled: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<serde_json::Value> {
    let path = format!(
        "{}/../tests/events/ecs/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let text = text
        .replace(FIXTURE_TASK, task_arn)
        .replace(FIXTURE_DEFINITION, task_definition_arn)
        .replace(FIXTURE_CONTAINER, &serde_json::to_string(container)?);
    let mut event: serde_json::Value = serde_json::from_str(&text)?;
    let shift = scheduled - chrono::DateTime::parse_from_rfc3339(FIXTURE_SCHEDULED)?.to_utc();
    shift_times(&mut event, shift);
    Ok(event)
}

fn shift_times(value: &mut serde_json::Value, by: chrono::Duration) {
    match value {
        serde_json::Value::String(s) => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                *s = (t.to_utc() + by).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| shift_times(v, by)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| shift_times(v, by)),
        _ => {}
    }
}

/// The families examples/jobs.yaml runs, their container and the revision it names.
pub const EXAMPLE_FAMILIES: &[(&str, &str, i32)] = &[
    ("etl", "etl", 7),
    ("crm-sync", "app", 1),
    ("finance-report", "app", 12),
    ("orders-migrate", "migrate", 3),
    ("importer", "import", 2),
    ("report", "app", 4),
    ("warehouse", "refresh", 1),
    ("compactor", "compact", 1),
    ("kpi", "app", 1),
];

/// Registers the task definitions examples/jobs.yaml names, each up to the revision it names.
pub async fn example_task_definitions(config: &aws_config::SdkConfig) -> anyhow::Result<()> {
    for (family, container, revision) in EXAMPLE_FAMILIES {
        for _ in 0..*revision {
            task_definition_with(config, family, container).await?;
        }
    }
    Ok(())
}

/// Registers a Fargate task definition whose essential container `app` is joined by a non-essential `log-router`
/// sidecar, on arm64. Returns its `family:revision`.
pub async fn task_definition_with_sidecar(
    config: &aws_config::SdkConfig,
    family: &str,
) -> anyhow::Result<String> {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, CpuArchitecture, NetworkMode, RuntimePlatform,
    };
    let ecs = aws_sdk_ecs::Client::new(config);
    let container = |name: &str, essential: bool| {
        ContainerDefinition::builder()
            .name(name)
            .image("public.ecr.aws/docker/library/busybox:stable")
            .memory(256)
            .essential(essential)
            .build()
    };
    let out = ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .build(),
        )
        .container_definitions(container("app", true))
        .container_definitions(container("log-router", false))
        .send()
        .await
        .with_context(|| format!("registering task definition {family}"))?;
    let revision = out
        .task_definition()
        .map(|t| t.revision())
        .context("no task definition returned")?;
    Ok(format!("{family}:{revision}"))
}

/// Creates an ECS service of `desired` tasks in the sandbox's cluster, with an Application Auto Scaling target of
/// `autoscaling` (min, max) when given. Returns the service's name.
pub async fn service(
    config: &aws_config::SdkConfig,
    place: &Sandbox,
    name: &str,
    desired: i32,
    autoscaling: Option<(i32, i32)>,
) -> anyhow::Result<String> {
    use aws_sdk_ecs::types::{AwsVpcConfiguration, LaunchType, NetworkConfiguration};
    let family = task_definition(config, &format!("{name}-td")).await?;
    aws_sdk_ecs::Client::new(config)
        .create_service()
        .cluster(&place.cluster)
        .service_name(name)
        .task_definition(family)
        .desired_count(desired)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(place.subnets.clone()))
                        .security_groups(&place.security_group)
                        .build()?,
                )
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("creating service {name}"))?;
    if let Some((min, max)) = autoscaling {
        use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
        aws_sdk_applicationautoscaling::Client::new(config)
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(format!("service/{}/{name}", place.cluster))
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await
            .with_context(|| format!("registering the scalable target of {name}"))?;
    }
    Ok(name.to_owned())
}
