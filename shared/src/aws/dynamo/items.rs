//! How jobs, runs, services and scale actions are laid out as items: their keys (from `aws::keys`), the entity tag
//! that tells index results apart, and the serde_dynamo mapping. docs/table.md draws the same design.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::aws::keys;
use crate::domain::job::Job;
use crate::domain::rollup::Tally;
use crate::domain::run::Run;
use crate::domain::service::{ScaleAction, ServiceState};
use crate::ports::StoreError;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The item format this fsched writes, stored on every item as `schema`. An item without one was written before
/// formats were numbered (format 0, which this version reads as it is). An item of a newer format is refused with
/// "upgrade fsched" instead of being read half-understood, and so never written back with fields lost.
///
/// Format 1 adds to format 0: `schema` itself, and a run's `outbox` (absent when empty). Format 2 (this one) adds a
/// job's `health` (domain::health: its success window, overdue mark and outbox) and a job spec's `alerts` and
/// `expect`; a job's timer is its health's when that comes first.
pub const SCHEMA: u32 = 2;

/// What kind of entity an item holds: stored on every item, so index results can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Entity {
    Job,
    Run,
    Service,
    Action,
    Rollup,
}

impl Entity {
    /// The entity an item says it holds (`None`: an item without a known tag).
    pub(crate) fn of(item: &Item) -> Option<Entity> {
        serde_dynamo::from_attribute_value(item.get("entity")?.clone()).ok()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Keys {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) entity: Entity,
    #[serde(default)]
    pub(crate) schema: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timer_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timer_sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) list_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) list_sk: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct JobItem {
    #[serde(flatten)]
    pub(crate) keys: Keys,
    #[serde(flatten)]
    pub(crate) job: Job,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RunItem {
    #[serde(flatten)]
    pub(crate) keys: Keys,
    /// Its `task_arn` field is also the `by-task` index key, so a launched run is indexed with no extra attribute.
    #[serde(flatten)]
    pub(crate) run: Run,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ServiceItem {
    #[serde(flatten)]
    pub(crate) keys: Keys,
    #[serde(flatten)]
    pub(crate) state: ServiceState,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ActionItem {
    #[serde(flatten)]
    pub(crate) keys: Keys,
    #[serde(flatten)]
    pub(crate) action: ScaleAction,
}

/// A day's rollup. Its `tally` is absent while the day is reopened; `generation` counts the reopenings.
#[derive(Serialize, Deserialize)]
pub(crate) struct RollupItem {
    #[serde(flatten)]
    pub(crate) keys: Keys,
    pub(crate) day: NaiveDate,
    #[serde(default)]
    pub(crate) generation: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tally: Option<BTreeMap<String, Tally>>,
    pub(crate) expires_at: i64,
}

pub(crate) fn rollup_keys(day: NaiveDate) -> Keys {
    Keys {
        pk: keys::ROLLUPS_PARTITION.to_owned(),
        sk: keys::rollup_sk(day),
        entity: Entity::Rollup,
        schema: SCHEMA,
        timer_pk: None,
        timer_sk: None,
        list_pk: None,
        list_sk: None,
    }
}

pub(crate) fn service_keys(state: &ServiceState) -> Keys {
    Keys {
        pk: keys::service_pk(&state.name),
        sk: keys::SERVICE_SK.to_owned(),
        entity: Entity::Service,
        schema: SCHEMA,
        timer_pk: state.check_at.map(|_| keys::TIMERS_PARTITION.to_owned()),
        timer_sk: state
            .check_at
            .map(|at| keys::service_timer_sk(at, &state.name)),
        list_pk: Some(keys::SERVICES_PARTITION.to_owned()),
        list_sk: Some(state.name.to_string()),
    }
}

pub(crate) fn action_keys(a: &ScaleAction) -> Keys {
    Keys {
        pk: keys::service_pk(&a.service),
        sk: keys::action_sk(a.at, &a.to.to_string()),
        entity: Entity::Action,
        schema: SCHEMA,
        timer_pk: None,
        timer_sk: None,
        list_pk: Some(keys::actions_day_partition(a.at.date_naive())),
        list_sk: Some(keys::action_list_sk(a.at, &a.service)),
    }
}

pub(crate) fn job_keys(job: &Job) -> Keys {
    Keys {
        pk: keys::job_pk(&job.name),
        sk: keys::JOB_SK.to_owned(),
        entity: Entity::Job,
        schema: SCHEMA,
        timer_pk: job.timer().map(|_| keys::TIMERS_PARTITION.to_owned()),
        timer_sk: job.timer().map(|at| keys::job_timer_sk(at, &job.name)),
        list_pk: Some(keys::JOBS_PARTITION.to_owned()),
        list_sk: Some(job.name.to_string()),
    }
}

pub(crate) fn run_keys(run: &Run) -> Keys {
    // An open run's next check, or a closed one's unsent announcements.
    let timer = run
        .check_at
        .filter(|_| run.status.is_open() || !run.outbox.is_empty());
    Keys {
        pk: keys::job_pk(run.id.job()),
        sk: keys::run_sk(&run.id),
        entity: Entity::Run,
        schema: SCHEMA,
        timer_pk: timer.map(|_| keys::TIMERS_PARTITION.to_owned()),
        timer_sk: timer.map(|at| keys::run_timer_sk(at, &run.id)),
        list_pk: Some(keys::runs_day_partition(run.scheduled_at.date_naive())),
        list_sk: Some(keys::run_list_sk(&run.id)),
    }
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt {
        key: "(new item)".to_owned(),
        message: e.to_string(),
    })
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let key = match (item.get(keys::PK), item.get(keys::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk}/{sk}"),
        _ => "(item without keys)".to_owned(),
    };
    let schema = match item.get("schema") {
        Some(AttributeValue::N(n)) => n.parse::<u32>().unwrap_or(u32::MAX),
        _ => 0,
    };
    if schema > SCHEMA {
        return Err(StoreError::Corrupt {
            key,
            message: format!(
                "written by a newer fsched (item format {schema}; this fsched reads formats up to {SCHEMA}): \
                 upgrade fsched"
            ),
        });
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        message: e.to_string(),
    })
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
