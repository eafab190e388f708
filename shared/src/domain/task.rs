//! What ECS says about a task (from DescribeTasks or an "ECS Task State Change" event), merged across its reports.
//! What a report means for a run is decided where runs are recorded (`domain::record`): this module knows tasks only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fargate::{Architecture, Capacity, TaskStatus};

/// One container of a task as ECS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerSnapshot {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// From the task definition (events and DescribeTasks do not say); `None`: not known, taken as essential, which
    /// is ECS's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
}

impl ContainerSnapshot {
    pub fn is_essential(&self) -> bool {
        self.essential.unwrap_or(true)
    }
}

/// A task as ECS reports it. `last_status` is ECS's own word (PROVISIONING, PENDING, RUNNING, ..., STOPPED).
/// `version` orders reports of the same task: ECS bumps it on every change, and events may arrive out of order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskSnapshot {
    pub task_arn: String,
    pub last_status: TaskStatus,
    /// Who started the task (`fsched/...` for fsched's runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    #[serde(default)]
    pub version: u64,
    /// The capacity it runs on, when ECS says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// Task size: CPU units (1024 = 1 vCPU) and memory in MiB, as ECS reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Ephemeral storage in GiB when more than Fargate's included 20 GiB was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_gib: Option<u32>,
    /// From the task definition's runtime platform (`None`: not known, priced as x86_64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerSnapshot>,
}

impl TaskSnapshot {
    pub fn is_stopped(&self) -> bool {
        self.last_status == TaskStatus::Stopped
    }

    /// How far along a report is: a stopped task never changes again, then ECS's `version`, then the lifecycle
    /// (for reports without a version, such as an emulator's).
    fn recency(&self) -> (bool, u64, u8) {
        (self.is_stopped(), self.version, self.last_status.stage())
    }

    /// Merges another report of the same task into this one. The newer report (see `recency`) decides status, stop
    /// details, containers and size; time stamps are facts that never change once set, so each is kept from
    /// whichever report has it. The result is the same whatever order the reports arrive in.
    pub fn merge(&mut self, other: &TaskSnapshot) {
        let (newer, older) = if other.recency() > self.recency() {
            (other.clone(), self.clone())
        } else {
            (self.clone(), other.clone())
        };
        let mut merged = newer;
        macro_rules! keep {
            ($($field:ident),*) => { $( merged.$field = merged.$field.or(older.$field); )* };
        }
        keep!(
            created_at,
            pull_started_at,
            pull_stopped_at,
            started_at,
            stopping_at,
            stopped_at,
            capacity,
            cpu,
            memory,
            ephemeral_storage_gib
        );
        merged.task_definition_arn = merged.task_definition_arn.or(older.task_definition_arn);
        merged.started_by = merged.started_by.or(older.started_by);
        merged.architecture = merged.architecture.or(older.architecture);
        // Essential flags come from the task definition, not from the report: keep them across reports.
        for c in &mut merged.containers {
            if c.essential.is_none() {
                c.essential = older
                    .containers
                    .iter()
                    .find(|o| o.name == c.name)
                    .and_then(|o| o.essential);
            }
        }
        *self = merged;
    }
}

/// The `detail` of an "ECS Task State Change" event, as documented by ECS (only the fields fsched reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskDetail {
    task_arn: String,
    last_status: String,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    capacity_provider_name: Option<String>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    task_definition_arn: Option<String>,
    #[serde(default)]
    cpu: Option<String>,
    #[serde(default)]
    memory: Option<String>,
    #[serde(default)]
    ephemeral_storage: Option<EphemeralStorage>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pull_started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    stopping_at: Option<DateTime<Utc>>,
    #[serde(default)]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    stop_code: Option<String>,
    #[serde(default)]
    stopped_reason: Option<String>,
    #[serde(default)]
    containers: Vec<ContainerDetail>,
    /// Fargate adds `ecs.cpu-architecture` here: what the task really ran on.
    #[serde(default)]
    attributes: Vec<AttributeDetail>,
}

#[derive(Debug, Deserialize)]
struct AttributeDetail {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EphemeralStorage {
    size_in_gi_b: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerDetail {
    name: String,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    reason: Option<String>,
}

/// Why an event's detail could not be read as a task report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ECS task state change: {0}")]
pub struct TaskEventError(String);

impl TaskSnapshot {
    /// Reads the `detail` of an "ECS Task State Change" event.
    pub fn from_event_detail(detail: &serde_json::Value) -> Result<TaskSnapshot, TaskEventError> {
        let d = TaskDetail::deserialize(detail).map_err(|e| TaskEventError(e.to_string()))?;
        if d.task_arn.is_empty() {
            return Err(TaskEventError("taskArn is empty".to_owned()));
        }
        let number = |s: Option<String>| s.and_then(|s| s.trim().parse::<u32>().ok());
        Ok(TaskSnapshot {
            task_arn: d.task_arn,
            last_status: TaskStatus::named(&d.last_status),
            started_by: d.started_by,
            version: d.version,
            capacity: Capacity::named(
                d.capacity_provider_name.as_deref(),
                d.launch_type.as_deref(),
            ),
            task_definition_arn: d.task_definition_arn,
            cpu: number(d.cpu),
            memory: number(d.memory),
            ephemeral_storage_gib: d.ephemeral_storage.map(|e| e.size_in_gi_b),
            architecture: d
                .attributes
                .iter()
                .find(|a| a.name == "ecs.cpu-architecture")
                .and_then(|a| a.value.as_deref())
                .and_then(Architecture::named),
            created_at: d.created_at,
            pull_started_at: d.pull_started_at,
            pull_stopped_at: d.pull_stopped_at,
            started_at: d.started_at,
            stopping_at: d.stopping_at,
            stopped_at: d.stopped_at,
            stop_code: d.stop_code,
            stopped_reason: d.stopped_reason,
            containers: d
                .containers
                .into_iter()
                .map(|c| ContainerSnapshot {
                    name: c.name,
                    exit_code: c.exit_code,
                    reason: c.reason,
                    essential: None,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
