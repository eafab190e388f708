//! Runs in the table: claimed once, updated on their revision, listed by job, by day and by task.

use chrono::{DateTime, Duration, Utc};

use super::items::*;
use super::DynamoStore;
use crate::aws::keys;
use crate::domain::job::JobName;
use crate::domain::rollup;
use crate::domain::run::{Run, RunId, RunStatus};
use crate::ports::{Claim, RunStore, StoreError};

impl RunStore for DynamoStore {
    async fn claim_run(&self, run: &Run) -> Result<Claim, StoreError> {
        let item = to_item(&RunItem {
            keys: run_keys(run),
            run: run.clone(),
        })?;
        let what = format!("run `{}`", run.id);
        let result = if rollup::reopens(run.scheduled_at, run.claimed_at) {
            let day = run.scheduled_at.date_naive();
            self.put_reopening(item, "attribute_not_exists(pk)", None, day, &what)
                .await
        } else {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(&what, e))
        };
        match result {
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
        let previous = previous_revision(run)?;
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

    async fn correct_run(&self, run: &Run, now: DateTime<Utc>) -> Result<(), StoreError> {
        if !rollup::reopens(run.scheduled_at, now) {
            return self.update_run(run).await;
        }
        let previous = previous_revision(run)?;
        let item = to_item(&RunItem {
            keys: run_keys(run),
            run: run.clone(),
        })?;
        let day = run.scheduled_at.date_naive();
        let what = format!("run `{}`", run.id);
        self.put_reopening(item, "revision = :r", Some((":r", n(previous))), day, &what)
            .await
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

    async fn open_runs_of_job(&self, job: &JobName, reach: usize) -> Result<Vec<Run>, StoreError> {
        // `Limit` counts the items read before the filter: the newest `reach`, of which only the open runs and the
        // skips naming a blocker come back. A page cut short by its 1 MB goes on from where it stopped.
        let open: Vec<RunStatus> = RunStatus::ALL.into_iter().filter(|s| s.is_open()).collect();
        let mut filter = Vec::new();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :r)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":p", s(keys::job_pk(job)))
            .expression_attribute_values(":r", s(keys::RUN_SK_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true);
        for (i, status) in open.iter().enumerate() {
            filter.push(format!(":o{i}"));
            query =
                query.expression_attribute_values(format!(":o{i}"), s(status.as_str().to_owned()));
        }
        let query = query.filter_expression(format!(
            "#s IN ({}) OR attribute_exists(blocked_by)",
            filter.join(", ")
        ));
        let what = format!("reading open runs of `{job}`");
        let mut out = Vec::new();
        let mut left = reach;
        let mut start = None;
        while left > 0 {
            let page = query
                .clone()
                .limit(i32::try_from(left).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error(&what, e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item::<RunItem>(item)?.run);
            }
            left = left.saturating_sub(usize::try_from(page.scanned_count).unwrap_or(left));
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        Ok(out)
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
            // Exclusive end: every key of `to` itself starts with its stamp, which sorts above the stamp minus one.
            let query = self.listing_range(
                keys::runs_day_partition(day),
                keys::stamp(from),
                keys::stamp(to - Duration::seconds(1)) + "~",
                true,
            );
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
}

/// The revision an update of `run` must find stored: the one before its own.
fn previous_revision(run: &Run) -> Result<u64, StoreError> {
    run.revision
        .checked_sub(1)
        .ok_or_else(|| StoreError::Conflict {
            what: format!(
                "run `{}` (an update must bump the revision it read)",
                run.id
            ),
        })
}
