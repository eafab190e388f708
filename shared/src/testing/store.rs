//! The table in memory: the four store ports with DynamoDB's semantics that fsched relies on. Items are indexed as
//! the real key design indexes them (`table`); conditional writes fail with `Conflict` where DynamoDB's condition
//! would. TTL is ignored (items never expire here), and indexes are read consistently.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

use super::table::{Item, Table};
use crate::aws::keys;
use crate::domain::job::{Job, JobName};
use crate::domain::rollup;
use crate::domain::run::{Run, RunId};
use crate::domain::service::{ScaleAction, ServiceName, ServiceState};
use crate::ports::{Claim, Due, JobStore, RunStore, ServiceStore, StoreError, Timers};

fn conflict(what: String) -> StoreError {
    StoreError::Conflict { what }
}

/// The in-memory table. Clones share it, as clones of `DynamoStore` share a table.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    table: Arc<Mutex<Table>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A test that panicked while holding the lock has already failed; its data is still what it was.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next call of `operation` (a port method's name, such as `claim_run`) fails with `error`, changing nothing.
    pub fn fail_next(&self, operation: &'static str, error: StoreError) {
        self.fail_later(operation, 0, error);
    }

    /// The call of `operation` after the next `after` calls of it fails with `error`, changing nothing.
    pub fn fail_later(&self, operation: &'static str, after: usize, error: StoreError) {
        self.table().failures.push((operation, after, error));
    }

    /// The table, unless a failure was asked for `operation`.
    pub(super) fn open(
        &self,
        operation: &'static str,
    ) -> Result<MutexGuard<'_, Table>, StoreError> {
        let mut table = self.table();
        match table.failure(operation) {
            Some(e) => Err(e),
            None => Ok(table),
        }
    }

    /// Calls `watch` with every run written (and what was stored before it), while the write is made: for
    /// harnesses that judge each write without reading the run again.
    pub fn watch_runs(&self, watch: super::table::RunWatch) {
        self.table().watch = Some(watch);
    }

    /// Every run stored, in key order (job, then time): for checks that look at the whole table.
    pub fn all_runs(&self) -> Vec<Run> {
        self.table()
            .all()
            .filter_map(|i| match i {
                Item::Run(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// Empties the table, giving its runs in key order without copying them: for a harness done with its world.
    pub fn take_runs(&self) -> Vec<Run> {
        self.table()
            .take_all()
            .filter_map(|i| match i {
                Item::Run(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// How many items the table holds.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many runs `runs_between` has returned: what reports read.
    pub fn runs_listed(&self) -> usize {
        self.table().runs_listed
    }
}

fn version_of(item: Option<&Item>) -> Option<u64> {
    match item? {
        Item::Job(j) => Some(j.version),
        Item::Service(s) => Some(s.version),
        _ => None,
    }
}

/// DynamoDB's `attribute_not_exists(pk)` (expected `None`) or `version = :v` (on a missing item: false).
fn check_version(
    stored: Option<&Item>,
    expected: Option<u64>,
    what: String,
) -> Result<(), StoreError> {
    let ok = match expected {
        None => stored.is_none(),
        Some(v) => version_of(stored) == Some(v),
    };
    if ok {
        Ok(())
    } else {
        Err(conflict(what))
    }
}

impl JobStore for MemoryStore {
    async fn get_job(&self, name: &JobName) -> Result<Option<Job>, StoreError> {
        Ok(
            match self.open("get_job")?.get(&keys::job_pk(name), keys::JOB_SK) {
                Some(Item::Job(j)) => Some(j.clone()),
                _ => None,
            },
        )
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let table = self.open("list_jobs")?;
        Ok(table
            .listing(keys::JOBS_PARTITION, "", "~")
            .into_iter()
            .filter_map(|i| match i {
                Item::Job(j) => Some(j.clone()),
                _ => None,
            })
            .collect())
    }

    async fn put_job(&self, job: &Job, expected: Option<u64>) -> Result<(), StoreError> {
        let mut table = self.open("put_job")?;
        let stored = table.get(&keys::job_pk(&job.name), keys::JOB_SK);
        check_version(stored, expected, format!("job `{}`", job.name))?;
        table.put(Item::Job(job.clone()));
        Ok(())
    }

    async fn delete_job(&self, name: &JobName, expected: u64) -> Result<(), StoreError> {
        let mut table = self.open("delete_job")?;
        let pk = keys::job_pk(name);
        check_version(
            table.get(&pk, keys::JOB_SK),
            Some(expected),
            format!("job `{name}`"),
        )?;
        table.delete(&pk, keys::JOB_SK);
        Ok(())
    }

    async fn advance_job(
        &self,
        read: &Job,
        next_fire: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut table = self.open("advance_job")?;
        let what = || format!("job `{}`", read.name);
        let Some(Item::Job(stored)) = table.get(&keys::job_pk(&read.name), keys::JOB_SK) else {
            return Err(conflict(what()));
        };
        // `version = :v AND timer_sk = :read` (or no timer, when it was read without one).
        let timer = |j: &Job| j.timer().map(|at| keys::job_timer_sk(at, &j.name));
        if stored.version != read.version || timer(stored) != timer(read) {
            return Err(conflict(what()));
        }
        let mut job = stored.clone();
        job.version += 1;
        job.next_fire = next_fire;
        if last_fire.is_some() {
            job.last_fire = last_fire;
        }
        table.put(Item::Job(job));
        Ok(())
    }
}

impl RunStore for MemoryStore {
    async fn claim_run(&self, run: &Run) -> Result<Claim, StoreError> {
        let mut table = self.open("claim_run")?;
        if let Some(Item::Run(stored)) =
            table.get(&keys::job_pk(run.id.job()), &keys::run_sk(&run.id))
        {
            return Ok(Claim::Lost(Box::new(stored.clone())));
        }
        table.put(Item::Run(run.clone()));
        if rollup::reopens(run.scheduled_at, run.claimed_at) {
            table.reopen(run.scheduled_at.date_naive());
        }
        Ok(Claim::Won)
    }

    async fn correct_run(&self, run: &Run, now: DateTime<Utc>) -> Result<(), StoreError> {
        // One hold of the table for both, as DynamoDB's transaction writes both or neither.
        let mut table = self.open("correct_run")?;
        table.update_run(run)?;
        if rollup::reopens(run.scheduled_at, now) {
            table.reopen(run.scheduled_at.date_naive());
        }
        Ok(())
    }

    async fn update_run(&self, run: &Run) -> Result<(), StoreError> {
        self.open("update_run")?.update_run(run)
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        Ok(
            match self
                .open("get_run")?
                .get(&keys::job_pk(id.job()), &keys::run_sk(id))
            {
                Some(Item::Run(r)) => Some(r.clone()),
                _ => None,
            },
        )
    }

    async fn runs_of_job(&self, job: &JobName, limit: usize) -> Result<Vec<Run>, StoreError> {
        let table = self.open("runs_of_job")?;
        Ok(table.newest_runs(job).take(limit).cloned().collect())
    }

    async fn open_runs_of_job(&self, job: &JobName, reach: usize) -> Result<Vec<Run>, StoreError> {
        let table = self.open("open_runs_of_job")?;
        Ok(table
            .newest_runs(job)
            .take(reach)
            .filter(|r| r.status.is_open() || r.blocked_by.is_some())
            .cloned()
            .collect())
    }

    async fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>, StoreError> {
        let mut table = self.open("runs_between")?;
        let mut out = Vec::new();
        let mut day = (to - Duration::seconds(1)).date_naive();
        while day >= from.date_naive() && out.len() < limit {
            let upto = keys::stamp(to - Duration::seconds(1)) + "~";
            let found = table.listing(&keys::runs_day_partition(day), &keys::stamp(from), &upto);
            for item in found.into_iter().rev() {
                if let (Item::Run(r), true) = (item, out.len() < limit) {
                    out.push(r.clone());
                }
            }
            day = match day.pred_opt() {
                Some(d) => d,
                None => break,
            };
        }
        table.runs_listed += out.len();
        Ok(out)
    }

    async fn run_by_task(&self, task_arn: &str) -> Result<Option<Run>, StoreError> {
        let table = self.open("run_by_task")?;
        let lo = (task_arn.to_owned(), String::new(), String::new());
        let found = table
            .index
            .by_task
            .range(lo..)
            .take_while(|(t, _, _)| t == task_arn)
            .find_map(|(_, pk, sk)| match table.get(pk, sk) {
                Some(Item::Run(r)) => Some(r.clone()),
                _ => None,
            });
        Ok(found)
    }
}

impl ServiceStore for MemoryStore {
    async fn get_service(&self, name: &ServiceName) -> Result<Option<ServiceState>, StoreError> {
        Ok(
            match self
                .open("get_service")?
                .get(&keys::service_pk(name), keys::SERVICE_SK)
            {
                Some(Item::Service(s)) => Some(s.clone()),
                _ => None,
            },
        )
    }

    async fn list_services(&self) -> Result<Vec<ServiceState>, StoreError> {
        let table = self.open("list_services")?;
        Ok(table
            .listing(keys::SERVICES_PARTITION, "", "~")
            .into_iter()
            .filter_map(|i| match i {
                Item::Service(s) => Some(s.clone()),
                _ => None,
            })
            .collect())
    }

    async fn put_service(
        &self,
        state: &ServiceState,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut table = self.open("put_service")?;
        let stored = table.get(&keys::service_pk(&state.name), keys::SERVICE_SK);
        check_version(stored, expected, format!("service `{}`", state.name))?;
        table.put(Item::Service(state.clone()));
        Ok(())
    }

    async fn delete_service(&self, name: &ServiceName, expected: u64) -> Result<(), StoreError> {
        let mut table = self.open("delete_service")?;
        let pk = keys::service_pk(name);
        check_version(
            table.get(&pk, keys::SERVICE_SK),
            Some(expected),
            format!("service `{name}`"),
        )?;
        table.delete(&pk, keys::SERVICE_SK);
        Ok(())
    }

    async fn record_action(&self, action: &ScaleAction) -> Result<(), StoreError> {
        self.open("record_action")?
            .put(Item::Action(action.clone()));
        Ok(())
    }

    async fn actions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScaleAction>, StoreError> {
        let table = self.open("actions_between")?;
        let millis = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let mut out = Vec::new();
        let mut day = from.date_naive();
        while day <= (to - Duration::milliseconds(1)).date_naive() {
            let upto = millis(to - Duration::milliseconds(1)) + "~";
            for item in table.listing(&keys::actions_day_partition(day), &millis(from), &upto) {
                if let Item::Action(a) = item {
                    out.push(a.clone());
                }
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        Ok(out)
    }
}

impl Timers for MemoryStore {
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, StoreError> {
        let table = self.open("due")?;
        let upto = keys::timers_upto(now);
        Ok(table
            .index
            .timers
            .iter()
            .take_while(|(t, _, _)| *t <= upto)
            .filter_map(|(_, pk, sk)| match table.get(pk, sk)? {
                Item::Job(j) => Some(Due::Job(Box::new(j.clone()))),
                Item::Run(r) => Some(Due::Run(Box::new(r.clone()))),
                Item::Service(s) => Some(Due::Service(Box::new(s.clone()))),
                Item::Action(_) => None,
            })
            .collect())
    }
}
