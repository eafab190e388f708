//! The ECS task launcher: the `TaskLauncher` port over RunTask, StopTask and DescribeTasks, with RunTask's
//! `failures[]` and ECS exceptions mapped to what the dispatcher can do about them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskOverride,
};
use aws_sdk_ecs::Client;
use chrono::{DateTime, Utc};

use super::sdk_error::{classify, Failure};
use crate::domain::dispatch::started_by;
use crate::domain::fargate::Capacity;
use crate::domain::fargate::{Architecture, TaskStatus};
use crate::domain::job::JobSpec;
use crate::domain::logs::ContainerLogs;
use crate::domain::run::RunId;
use crate::domain::task::{ContainerSnapshot, TaskSnapshot};
use crate::ports::{
    EcsError, LaunchError, LaunchRequest, Launched, TaskDefinitionFacts, TaskLauncher,
};

/// Tag keys fsched puts on every task it starts.
pub const JOB_TAG: &str = "fsched:job";
pub const RUN_TAG: &str = "fsched:run";

/// ECS's words for "no capacity of this kind right now" in RunTask `failures[].reason`.
const NO_CAPACITY: &[&str] = &["Capacity is unavailable", "RESOURCE:"];

/// StopTask keeps at most this many characters of a reason.
const REASON_MAX: usize = 255;

/// Task definition revisions described, kept at most.
const DEFINITIONS_KEPT: usize = 256;

#[derive(Clone, Debug)]
pub struct EcsLauncher {
    client: Client,
    /// The stack's discriminator (`domain::trigger::stack_tag` of its table), part of every `startedBy`.
    stack: String,
    /// What DescribeTaskDefinition said of each revision asked about. A revision never changes, and the recorder
    /// asks at every run's end, mostly about the same few revisions; a family name is asked every time.
    definitions: Arc<Mutex<HashMap<String, TaskDefinitionFacts>>>,
}

impl EcsLauncher {
    pub fn new(client: Client, stack: impl Into<String>) -> Self {
        EcsLauncher {
            client,
            stack: stack.into(),
            definitions: Arc::default(),
        }
    }

    fn definitions(&self) -> MutexGuard<'_, HashMap<String, TaskDefinitionFacts>> {
        // A holder that panicked left a cache that is still right: each entry is written whole.
        self.definitions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn ecs_error<E, R>(what: &str, err: SdkError<E, R>) -> EcsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match classify(&err) {
        Failure::Transient { message } => EcsError::Transient {
            message: format!("{what}: {message}"),
        },
        Failure::Service { code, message } => EcsError::Rejected {
            message: format!("{what}: {code}: {message}"),
        },
    }
}

fn chrono_time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn overrides(spec: &JobSpec) -> TaskOverride {
    let containers = spec.containers.iter().map(|(name, o)| {
        ContainerOverride::builder()
            .name(name)
            .set_command(o.command.clone())
            .set_environment(Some(
                o.environment
                    .iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                    .collect(),
            ))
            .set_cpu(o.cpu.map(|c| c as i32))
            .set_memory(o.memory.map(|m| m as i32))
            .build()
    });
    TaskOverride::builder()
        .set_container_overrides(Some(containers.collect()))
        .set_cpu(spec.cpu.map(|c| c.to_string()))
        .set_memory(spec.memory.map(|m| m.to_string()))
        .build()
}

fn network(spec: &JobSpec) -> Option<NetworkConfiguration> {
    let n = &spec.network;
    if n.subnets.is_empty() {
        return None;
    }
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(n.subnets.clone()))
        .set_security_groups(Some(n.security_groups.clone()))
        .assign_public_ip(if n.assign_public_ip {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .ok()?;
    Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    )
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn capacity_of(task: &aws_sdk_ecs::types::Task) -> Option<Capacity> {
    Capacity::named(
        task.capacity_provider_name(),
        task.launch_type().map(|l| l.as_str()),
    )
}

fn snapshot(task: &aws_sdk_ecs::types::Task) -> TaskSnapshot {
    let number = |s: Option<&str>| s.and_then(|s| s.trim().parse::<u32>().ok());
    TaskSnapshot {
        task_arn: task.task_arn().unwrap_or_default().to_owned(),
        last_status: TaskStatus::named(task.last_status().unwrap_or("UNKNOWN")),
        started_by: task.started_by().map(str::to_owned),
        version: u64::try_from(task.version()).unwrap_or(0),
        capacity: capacity_of(task),
        task_definition_arn: task.task_definition_arn().map(str::to_owned),
        cpu: number(task.cpu()),
        memory: number(task.memory()),
        ephemeral_storage_gib: task
            .ephemeral_storage()
            .and_then(|e| u32::try_from(e.size_in_gib()).ok()),
        architecture: None,
        created_at: chrono_time(task.created_at()),
        pull_started_at: chrono_time(task.pull_started_at()),
        pull_stopped_at: chrono_time(task.pull_stopped_at()),
        started_at: chrono_time(task.started_at()),
        stopping_at: chrono_time(task.stopping_at()),
        stopped_at: chrono_time(task.stopped_at()),
        stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: task.stopped_reason().map(str::to_owned),
        containers: task
            .containers()
            .iter()
            .map(|c| ContainerSnapshot {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
                essential: None,
            })
            .collect(),
    }
}

impl TaskLauncher for EcsLauncher {
    fn started_by(&self, run: &RunId) -> String {
        started_by(run, &self.stack)
    }

    async fn launch(&self, request: &LaunchRequest) -> Result<Launched, LaunchError> {
        let spec = &request.spec;
        let run = request.run.to_string();
        let mut req = self
            .client
            .run_task()
            .cluster(&spec.cluster)
            .task_definition(&spec.task_definition)
            .count(1)
            .client_token(&request.client_token)
            .started_by(self.started_by(&request.run))
            .set_group(spec.group.clone())
            .set_platform_version(spec.platform_version.clone())
            .set_network_configuration(network(spec))
            .overrides(overrides(spec))
            .enable_ecs_managed_tags(true)
            .tags(tag(JOB_TAG, request.run.job().as_str()))
            .tags(tag(RUN_TAG, &run));
        for (k, v) in &spec.tags {
            req = req.tags(tag(k, v));
        }
        req = match request.capacity {
            Capacity::Fargate => req.launch_type(LaunchType::Fargate),
            Capacity::FargateSpot => req.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .map_err(|e| LaunchError::Rejected {
                        message: e.to_string(),
                    })?,
            ),
        };
        let what = format!(
            "RunTask for run {run} (task definition `{}` in cluster `{}`)",
            spec.task_definition, spec.cluster
        );
        let out = req
            .send()
            .await
            .map_err(|e| LaunchError::from(ecs_error(&what, e)))?;
        if let Some(task) = out.tasks().first() {
            if let Some(arn) = task.task_arn() {
                // The task says which capacity it got; the emulator leaves it blank, so fall back to what was asked.
                return Ok(Launched {
                    task_arn: arn.to_owned(),
                    capacity: capacity_of(task).unwrap_or(request.capacity),
                });
            }
        }
        // No task: RunTask "succeeded" with failures, which is a failure.
        let failures: Vec<String> = out
            .failures()
            .iter()
            .map(|f| {
                let reason = f.reason().unwrap_or("unknown reason");
                match f.detail() {
                    Some(d) => format!("{reason} ({d})"),
                    None => reason.to_owned(),
                }
            })
            .collect();
        let message = if failures.is_empty() {
            format!("{what}: ECS returned neither a task nor a failure")
        } else {
            format!("{what}: {}", failures.join("; "))
        };
        if failures
            .iter()
            .any(|f| NO_CAPACITY.iter().any(|p| f.starts_with(p)))
        {
            Err(LaunchError::NoCapacity {
                capacity: request.capacity,
                message,
            })
        } else {
            Err(LaunchError::Rejected { message })
        }
    }

    async fn stop(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        let reason: String = reason.chars().take(REASON_MAX).collect();
        self.client
            .stop_task()
            .cluster(cluster)
            .task(task_arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| ecs_error(&format!("StopTask for {task_arn}"), e))?;
        Ok(())
    }

    async fn find(&self, cluster: &str, run: &RunId) -> Result<Option<Launched>, EcsError> {
        let by = self.started_by(run);
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let listed = self
                .client
                .list_tasks()
                .cluster(cluster)
                .started_by(&by)
                .desired_status(status)
                .send()
                .await
                .map_err(|e| ecs_error(&format!("ListTasks for run {run}"), e))?;
            if let Some(arn) = listed.task_arns().first() {
                let tasks = self.describe(cluster, std::slice::from_ref(arn)).await?;
                let capacity = tasks.first().and_then(|t| t.capacity);
                return Ok(Some(Launched {
                    task_arn: arn.clone(),
                    capacity: capacity.unwrap_or(Capacity::Fargate),
                }));
            }
        }
        Ok(None)
    }

    async fn describe(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<TaskSnapshot>, EcsError> {
        let mut out = Vec::new();
        // DescribeTasks takes at most 100 tasks per call.
        for chunk in task_arns.chunks(100) {
            let page = self
                .client
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| ecs_error(&format!("DescribeTasks in cluster `{cluster}`"), e))?;
            out.extend(page.tasks().iter().map(snapshot));
        }
        Ok(out)
    }

    async fn definition(&self, arn: &str) -> Result<TaskDefinitionFacts, EcsError> {
        let revision = names_a_revision(arn);
        if let Some(known) = revision
            .then(|| self.definitions().get(arn).cloned())
            .flatten()
        {
            return Ok(known);
        }
        let out = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| ecs_error(&format!("DescribeTaskDefinition `{arn}`"), e))?;
        let definition = out.task_definition();
        let facts = TaskDefinitionFacts {
            arn: definition
                .and_then(|d| d.task_definition_arn())
                .map(str::to_owned),
            roles: definition
                .map(|d| {
                    [d.task_role_arn(), d.execution_role_arn()]
                        .into_iter()
                        .flatten()
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            essential: definition
                .map(|d| {
                    d.container_definitions()
                        .iter()
                        .filter_map(|c| Some((c.name()?.to_owned(), c.essential().unwrap_or(true))))
                        .collect()
                })
                .unwrap_or_default(),
            architecture: definition
                .and_then(|d| d.runtime_platform())
                .and_then(|p| p.cpu_architecture())
                .and_then(|a| Architecture::named(a.as_str())),
            logs: definition
                .map(|d| {
                    d.container_definitions()
                        .iter()
                        .map(|c| ContainerLogs {
                            container: c.name().unwrap_or_default().to_owned(),
                            driver: c
                                .log_configuration()
                                .map(|l| l.log_driver().as_str().to_owned()),
                            options: c
                                .log_configuration()
                                .and_then(|l| l.options())
                                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        if revision {
            let mut known = self.definitions();
            if known.len() >= DEFINITIONS_KEPT {
                known.clear();
            }
            known.insert(arn.to_owned(), facts.clone());
        }
        Ok(facts)
    }
}

/// Whether `task_definition` names one revision (`family:7`, or an ARN ending so), which never changes.
fn names_a_revision(task_definition: &str) -> bool {
    let name = task_definition
        .rsplit('/')
        .next()
        .unwrap_or(task_definition);
    name.rsplit_once(':')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
