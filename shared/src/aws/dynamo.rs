//! The DynamoDB store: the `Store` port over one table, with items mapped by serde_dynamo and keys from `keys`.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys;
use super::sdk_error::{classify, Failure};
use crate::domain::job::{Job, JobName};
use crate::domain::run::{Run, RunId};
use crate::domain::service::{ScaleAction, ServiceName, ServiceState};
use crate::ports::{Claim, Due, Store, StoreError};

type Item = HashMap<String, AttributeValue>;

/// The store over a table. Cheap to clone (the SDK client is reference-counted).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// What kind of entity an item holds: stored on every item, so index results can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Entity {
    Job,
    Run,
    Service,
    Action,
}

#[derive(Serialize, Deserialize)]
struct Keys {
    pk: String,
    sk: String,
    entity: Entity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timer_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timer_sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    list_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    list_sk: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct JobItem {
    #[serde(flatten)]
    keys: Keys,
    #[serde(flatten)]
    job: Job,
}

#[derive(Serialize, Deserialize)]
struct RunItem {
    #[serde(flatten)]
    keys: Keys,
    /// Its `task_arn` field is also the `by-task` index key, so a launched run is indexed with no extra attribute.
    #[serde(flatten)]
    run: Run,
}

#[derive(Serialize, Deserialize)]
struct ServiceItem {
    #[serde(flatten)]
    keys: Keys,
    #[serde(flatten)]
    state: ServiceState,
}

#[derive(Serialize, Deserialize)]
struct ActionItem {
    #[serde(flatten)]
    keys: Keys,
    #[serde(flatten)]
    action: ScaleAction,
}

fn service_keys(state: &ServiceState) -> Keys {
    Keys {
        pk: keys::service_pk(&state.name),
        sk: keys::SERVICE_SK.to_owned(),
        entity: Entity::Service,
        timer_pk: state.check_at.map(|_| keys::TIMERS_PARTITION.to_owned()),
        timer_sk: state
            .check_at
            .map(|at| keys::service_timer_sk(at, &state.name)),
        list_pk: Some(keys::SERVICES_PARTITION.to_owned()),
        list_sk: Some(state.name.to_string()),
    }
}

fn action_keys(a: &ScaleAction) -> Keys {
    Keys {
        pk: keys::service_pk(&a.service),
        sk: keys::action_sk(a.at, &a.to.to_string()),
        entity: Entity::Action,
        timer_pk: None,
        timer_sk: None,
        list_pk: Some(keys::actions_day_partition(a.at.date_naive())),
        list_sk: Some(keys::action_list_sk(a.at, &a.service)),
    }
}

fn job_keys(job: &Job) -> Keys {
    Keys {
        pk: keys::job_pk(&job.name),
        sk: keys::JOB_SK.to_owned(),
        entity: Entity::Job,
        timer_pk: job.next_fire.map(|_| keys::TIMERS_PARTITION.to_owned()),
        timer_sk: job.next_fire.map(|at| keys::job_timer_sk(at, &job.name)),
        list_pk: Some(keys::JOBS_PARTITION.to_owned()),
        list_sk: Some(job.name.to_string()),
    }
}

fn run_keys(run: &Run) -> Keys {
    let timer = run.check_at.filter(|_| run.status.is_open());
    Keys {
        pk: keys::job_pk(run.id.job()),
        sk: keys::run_sk(&run.id),
        entity: Entity::Run,
        timer_pk: timer.map(|_| keys::TIMERS_PARTITION.to_owned()),
        timer_sk: timer.map(|at| keys::run_timer_sk(at, &run.id)),
        list_pk: Some(keys::runs_day_partition(run.scheduled_at.date_naive())),
        list_sk: Some(keys::run_list_sk(&run.id)),
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt {
        key: "(new item)".to_owned(),
        message: e.to_string(),
    })
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let key = match (item.get(keys::PK), item.get(keys::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk}/{sk}"),
        _ => "(item without keys)".to_owned(),
    };
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt {
        key,
        message: e.to_string(),
    })
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn error<E, R>(&self, what: &str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match classify(&err) {
            Failure::Transient { message } => StoreError::Transient {
                message: format!("{what}: {message}"),
            },
            Failure::Service { code, message } if code == "ConditionalCheckFailedException" => {
                StoreError::Conflict {
                    what: format!("{what} ({message})"),
                }
            }
            Failure::Service { code, message } => StoreError::Unusable {
                message: format!("{what} in table `{}`: {code}: {message}", self.table),
            },
        }
    }

    /// Runs a Query to the end (or `limit` items), page by page.
    async fn query_items(
        &self,
        what: &str,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error(what, e))?;
            for item in page.items.unwrap_or_default() {
                if out.len() == limit {
                    return Ok(out);
                }
                out.push(item);
            }
            match page.last_evaluated_key {
                Some(key) if out.len() < limit => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn query_all<T: DeserializeOwned>(
        &self,
        what: &str,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        self.query_items(what, query, limit)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(what, e))?;
        out.item.map(from_item).transpose()
    }
}

impl DynamoStore {
    /// Writes a versioned item (a job or a service) if the stored version is `expected` (`None`: it must not exist).
    async fn put_versioned(
        &self,
        item: Item,
        expected: Option<u64>,
        what: &str,
    ) -> Result<(), StoreError> {
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        req.send().await.map_err(|e| self.error(what, e))?;
        Ok(())
    }

    /// Every item of one `listing` partition (all jobs, all services), in key order.
    async fn listing<T: DeserializeOwned>(
        &self,
        partition: &str,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::LISTING_INDEX)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", keys::LIST_PK)
            .expression_attribute_values(":p", s(partition));
        self.query_all(what, query, usize::MAX).await
    }

    /// Deletes a versioned item if the stored version is `expected`.
    async fn delete_versioned(
        &self,
        pk: String,
        sk: &str,
        expected: u64,
        what: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected))
            .send()
            .await
            .map_err(|e| self.error(what, e))?;
        Ok(())
    }
}

impl Store for DynamoStore {
    async fn get_job(&self, name: &JobName) -> Result<Option<Job>, StoreError> {
        let item: Option<JobItem> = self
            .get(
                &format!("reading job `{name}`"),
                keys::job_pk(name),
                keys::JOB_SK.to_owned(),
            )
            .await?;
        Ok(item.map(|i| i.job))
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let items: Vec<JobItem> = self.listing(keys::JOBS_PARTITION, "listing jobs").await?;
        Ok(items.into_iter().map(|i| i.job).collect())
    }

    async fn put_job(&self, job: &Job, expected: Option<u64>) -> Result<(), StoreError> {
        let item = to_item(&JobItem {
            keys: job_keys(job),
            job: job.clone(),
        })?;
        self.put_versioned(item, expected, &format!("job `{}`", job.name))
            .await
    }

    async fn delete_job(&self, name: &JobName, expected: u64) -> Result<(), StoreError> {
        self.delete_versioned(
            keys::job_pk(name),
            keys::JOB_SK,
            expected,
            &format!("job `{name}`"),
        )
        .await
    }

    async fn advance_job(
        &self,
        read: &Job,
        next_fire: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        // Times are written exactly as serde_dynamo writes them in a whole job item.
        let time = |t: DateTime<Utc>| {
            serde_dynamo::to_attribute_value::<_, AttributeValue>(t).map_err(|e| {
                StoreError::Corrupt {
                    key: keys::job_pk(&read.name),
                    message: e.to_string(),
                }
            })
        };
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::job_pk(&read.name)))
            .key(keys::SK, s(keys::JOB_SK))
            .expression_attribute_names("#tp", keys::TIMER_PK)
            .expression_attribute_names("#ts", keys::TIMER_SK)
            .expression_attribute_values(":v", n(read.version));
        let mut update = match next_fire {
            Some(at) => {
                req = req
                    .expression_attribute_values(":next", time(at)?)
                    .expression_attribute_values(":tp", s(keys::TIMERS_PARTITION))
                    .expression_attribute_values(":ts", s(keys::job_timer_sk(at, &read.name)));
                "SET next_fire = :next, #tp = :tp, #ts = :ts".to_owned()
            }
            None => "REMOVE next_fire, #tp, #ts".to_owned(),
        };
        if let Some(at) = last_fire {
            req = req.expression_attribute_values(":last", time(at)?);
            update = match next_fire {
                Some(_) => format!("{update}, last_fire = :last"),
                None => format!("SET last_fire = :last {update}"),
            };
        }
        // The timer it was read with is the one this tick handled; another tick or `apply` may have moved it since.
        let condition = match read.next_fire {
            Some(at) => {
                req =
                    req.expression_attribute_values(":read", s(keys::job_timer_sk(at, &read.name)));
                "version = :v AND #ts = :read"
            }
            None => "version = :v AND attribute_not_exists(#ts)",
        };
        req.update_expression(update)
            .condition_expression(condition)
            .send()
            .await
            .map_err(|e| self.error(&format!("job `{}`", read.name), e))?;
        Ok(())
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::TIMERS_INDEX)
            .key_condition_expression("#p = :p AND #s <= :upto")
            .expression_attribute_names("#p", keys::TIMER_PK)
            .expression_attribute_names("#s", keys::TIMER_SK)
            .expression_attribute_values(":p", s(keys::TIMERS_PARTITION))
            .expression_attribute_values(":upto", s(keys::timers_upto(now)));
        let items = self
            .query_items("reading due timers", query, usize::MAX)
            .await?;
        items
            .into_iter()
            .map(|item| match item.get("entity") {
                Some(AttributeValue::S(e)) if e == "run" => {
                    from_item::<RunItem>(item).map(|i| Due::Run(Box::new(i.run)))
                }
                Some(AttributeValue::S(e)) if e == "service" => {
                    from_item::<ServiceItem>(item).map(|i| Due::Service(Box::new(i.state)))
                }
                _ => from_item::<JobItem>(item).map(|i| Due::Job(Box::new(i.job))),
            })
            .collect()
    }

    async fn claim_run(&self, run: &Run) -> Result<Claim, StoreError> {
        let item = to_item(&RunItem {
            keys: run_keys(run),
            run: run.clone(),
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result.map_err(|e| self.error(&format!("run `{}`", run.id), e)) {
            Ok(_) => Ok(Claim::Won),
            Err(StoreError::Conflict { .. }) => {
                let stored = self
                    .get_run(&run.id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict {
                        what: format!("run `{}` (claimed and deleted concurrently)", run.id),
                    })?;
                Ok(Claim::Lost(Box::new(stored)))
            }
            Err(e) => Err(e),
        }
    }

    async fn update_run(&self, run: &Run) -> Result<(), StoreError> {
        let previous = run
            .revision
            .checked_sub(1)
            .ok_or_else(|| StoreError::Conflict {
                what: format!(
                    "run `{}` (an update must bump the revision it read)",
                    run.id
                ),
            })?;
        let item = to_item(&RunItem {
            keys: run_keys(run),
            run: run.clone(),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("revision = :r")
            .expression_attribute_values(":r", n(previous))
            .send()
            .await
            .map_err(|e| self.error(&format!("run `{}`", run.id), e))?;
        Ok(())
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let item: Option<RunItem> = self
            .get(
                &format!("reading run `{id}`"),
                keys::job_pk(id.job()),
                keys::run_sk(id),
            )
            .await?;
        Ok(item.map(|i| i.run))
    }

    async fn runs_of_job(&self, job: &JobName, limit: usize) -> Result<Vec<Run>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :r)")
            .expression_attribute_values(":p", s(keys::job_pk(job)))
            .expression_attribute_values(":r", s(keys::RUN_SK_PREFIX))
            .scan_index_forward(false);
        let items: Vec<RunItem> = self
            .query_all(&format!("reading runs of `{job}`"), query, limit)
            .await?;
        Ok(items.into_iter().map(|i| i.run).collect())
    }

    async fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>, StoreError> {
        // One Query per UTC day, newest day first, until the limit is reached.
        let mut out = Vec::new();
        let mut day = (to - Duration::seconds(1)).date_naive();
        while day >= from.date_naive() && out.len() < limit {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::LISTING_INDEX)
                .key_condition_expression("#p = :p AND #s BETWEEN :a AND :b")
                .expression_attribute_names("#p", keys::LIST_PK)
                .expression_attribute_names("#s", keys::LIST_SK)
                .expression_attribute_values(":p", s(keys::runs_day_partition(day)))
                .expression_attribute_values(":a", s(keys::stamp(from)))
                // Exclusive end: every key of `to` itself starts with its stamp, which sorts above the stamp minus one.
                .expression_attribute_values(":b", s(keys::stamp(to - Duration::seconds(1)) + "~"))
                .scan_index_forward(false);
            let items: Vec<RunItem> = self
                .query_all("reading runs by time", query, limit - out.len())
                .await?;
            out.extend(items.into_iter().map(|i| i.run));
            day = match day.pred_opt() {
                Some(d) => d,
                None => break,
            };
        }
        Ok(out)
    }

    async fn run_by_task(&self, task_arn: &str) -> Result<Option<Run>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::BY_TASK_INDEX)
            .key_condition_expression("#t = :t")
            .expression_attribute_names("#t", keys::TASK_ARN)
            .expression_attribute_values(":t", s(task_arn));
        let items: Vec<RunItem> = self.query_all("finding a run by task", query, 1).await?;
        Ok(items.into_iter().next().map(|i| i.run))
    }

    async fn get_service(&self, name: &ServiceName) -> Result<Option<ServiceState>, StoreError> {
        let item: Option<ServiceItem> = self
            .get(
                &format!("reading service `{name}`"),
                keys::service_pk(name),
                keys::SERVICE_SK.to_owned(),
            )
            .await?;
        Ok(item.map(|i| i.state))
    }

    async fn list_services(&self) -> Result<Vec<ServiceState>, StoreError> {
        let items: Vec<ServiceItem> = self
            .listing(keys::SERVICES_PARTITION, "listing services")
            .await?;
        Ok(items.into_iter().map(|i| i.state).collect())
    }

    async fn put_service(
        &self,
        state: &ServiceState,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let item = to_item(&ServiceItem {
            keys: service_keys(state),
            state: state.clone(),
        })?;
        self.put_versioned(item, expected, &format!("service `{}`", state.name))
            .await
    }

    async fn delete_service(&self, name: &ServiceName, expected: u64) -> Result<(), StoreError> {
        self.delete_versioned(
            keys::service_pk(name),
            keys::SERVICE_SK,
            expected,
            &format!("service `{name}`"),
        )
        .await
    }

    async fn record_action(&self, action: &ScaleAction) -> Result<(), StoreError> {
        let item = to_item(&ActionItem {
            keys: action_keys(action),
            action: action.clone(),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.error(&format!("scale action of `{}`", action.service), e))?;
        Ok(())
    }

    async fn actions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScaleAction>, StoreError> {
        // One Query per UTC day, oldest day first.
        let mut out = Vec::new();
        let mut day = from.date_naive();
        while day <= (to - Duration::milliseconds(1)).date_naive() {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::LISTING_INDEX)
                .key_condition_expression("#p = :p AND #s BETWEEN :a AND :b")
                .expression_attribute_names("#p", keys::LIST_PK)
                .expression_attribute_names("#s", keys::LIST_SK)
                .expression_attribute_values(":p", s(keys::actions_day_partition(day)))
                .expression_attribute_values(":a", s(from.format("%Y%m%dT%H%M%S%.3fZ").to_string()))
                .expression_attribute_values(
                    ":b",
                    s((to - Duration::milliseconds(1))
                        .format("%Y%m%dT%H%M%S%.3fZ")
                        .to_string()
                        + "~"),
                );
            let items: Vec<ActionItem> = self
                .query_all("reading scale actions", query, usize::MAX)
                .await?;
            out.extend(items.into_iter().map(|i| i.action));
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        Ok(out)
    }
}
