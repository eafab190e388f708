//! Jobs in the table, and the timers index that finds what is due.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::items::*;
use super::DynamoStore;
use crate::aws::keys;
use crate::domain::job::{Job, JobName};
use crate::ports::{Due, JobStore, StoreError, Timers};

impl JobStore for DynamoStore {
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
            .expression_attribute_values(":v", n(read.version))
            .expression_attribute_values(":bumped", n(read.version + 1));
        // The timer is the job's next fire unless its health is watched (domain::health).
        let mut moved = read.clone();
        moved.next_fire = next_fire;
        let mut set = vec!["version = :bumped"];
        let mut remove = Vec::new();
        match moved.timer() {
            Some(at) => {
                req = req
                    .expression_attribute_values(":tp", s(keys::TIMERS_PARTITION))
                    .expression_attribute_values(":ts", s(keys::job_timer_sk(at, &read.name)));
                set.extend(["#tp = :tp", "#ts = :ts"]);
            }
            None => remove.extend(["#tp", "#ts"]),
        }
        match next_fire {
            Some(at) => {
                req = req.expression_attribute_values(":next", time(at)?);
                set.push("next_fire = :next");
            }
            None => remove.push("next_fire"),
        }
        if let Some(at) = last_fire {
            req = req.expression_attribute_values(":last", time(at)?);
            set.push("last_fire = :last");
        }
        let mut update = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            update.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        // The timer it was read with is the one this tick handled; another tick or `apply` may have moved it since.
        let condition = match read.timer() {
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
}

impl Timers for DynamoStore {
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
            .map(|item| match Entity::of(&item) {
                Some(Entity::Run) => from_item::<RunItem>(item).map(|i| Due::Run(Box::new(i.run))),
                Some(Entity::Service) => {
                    from_item::<ServiceItem>(item).map(|i| Due::Service(Box::new(i.state)))
                }
                _ => from_item::<JobItem>(item).map(|i| Due::Job(Box::new(i.job))),
            })
            .collect()
    }
}
