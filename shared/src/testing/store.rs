//! The table in memory: the four store ports with DynamoDB's semantics that fsched relies on. Every item carries the
//! keys the DynamoDB adapter gives it (`aws::dynamo::items`), so the timers, listing and by-task indexes order and
//! bound results exactly as the real key design does; conditional writes fail with `Conflict` where DynamoDB's
//! condition would. TTL is ignored (items never expire here), and indexes are read consistently.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

use crate::aws::dynamo::items::{action_keys, job_keys, run_keys, service_keys, Keys};
use crate::aws::keys;
use crate::domain::job::{Job, JobName};
use crate::domain::run::{Run, RunId};
use crate::domain::service::{ScaleAction, ServiceName, ServiceState};
use crate::ports::{Claim, Due, JobStore, RunStore, ServiceStore, StoreError, Timers};

type Key = (String, String);

#[derive(Debug, Clone)]
enum Item {
    Job(Job),
    Run(Run),
    Service(ServiceState),
    Action(ScaleAction),
}

impl Item {
    fn keys(&self) -> Keys {
        match self {
            Item::Job(j) => job_keys(j),
            Item::Run(r) => run_keys(r),
            Item::Service(s) => service_keys(s),
            Item::Action(a) => action_keys(a),
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    items: BTreeMap<Key, Item>,
    /// (timer_sk, pk, sk): the timers index's one partition.
    timers: BTreeSet<(String, String, String)>,
    /// (list_pk, list_sk, pk, sk)
    listing: BTreeSet<(String, String, String, String)>,
    /// (task_arn, pk, sk)
    by_task: BTreeSet<(String, String, String)>,
}

impl Table {
    fn index(&mut self, key: &Key, item: &Item, add: bool) {
        let k = item.keys();
        let (pk, sk) = key.clone();
        let timer = k.timer_sk.map(|t| (t, pk.clone(), sk.clone()));
        let listing = k
            .list_pk
            .zip(k.list_sk)
            .map(|(p, s)| (p, s, pk.clone(), sk.clone()));
        let task = match item {
            Item::Run(r) => r.task_arn.clone().map(|t| (t, pk.clone(), sk.clone())),
            _ => None,
        };
        if add {
            timer.map(|t| self.timers.insert(t));
            listing.map(|l| self.listing.insert(l));
            task.map(|t| self.by_task.insert(t));
        } else {
            timer.map(|t| self.timers.remove(&t));
            listing.map(|l| self.listing.remove(&l));
            task.map(|t| self.by_task.remove(&t));
        }
    }

    fn put(&mut self, item: Item) {
        let k = item.keys();
        let key = (k.pk, k.sk);
        if let Some(old) = self.items.remove(&key) {
            self.index(&key, &old, false);
        }
        self.index(&key, &item, true);
        self.items.insert(key, item);
    }

    fn delete(&mut self, key: &Key) {
        if let Some(old) = self.items.remove(key) {
            self.index(key, &old, false);
        }
    }

    fn get(&self, pk: String, sk: &str) -> Option<&Item> {
        self.items.get(&(pk, sk.to_owned()))
    }

    /// The items of one listing partition with sort keys in `[from, to]`, in key order.
    fn listing(&self, partition: &str, from: &str, to: &str) -> Vec<&Item> {
        let lo = (
            partition.to_owned(),
            from.to_owned(),
            String::new(),
            String::new(),
        );
        self.listing
            .range(lo..)
            .take_while(|(p, s, _, _)| p == partition && s.as_str() <= to)
            .filter_map(|(_, _, pk, sk)| self.items.get(&(pk.clone(), sk.clone())))
            .collect()
    }
}

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

    /// Every run stored, in key order (job, then time): for checks that look at the whole table.
    pub fn all_runs(&self) -> Vec<Run> {
        self.table()
            .items
            .values()
            .filter_map(|i| match i {
                Item::Run(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many items the table holds.
    pub fn len(&self) -> usize {
        self.table().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        Ok(match self.table().get(keys::job_pk(name), keys::JOB_SK) {
            Some(Item::Job(j)) => Some(j.clone()),
            _ => None,
        })
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let table = self.table();
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
        let mut table = self.table();
        let stored = table.get(keys::job_pk(&job.name), keys::JOB_SK);
        check_version(stored, expected, format!("job `{}`", job.name))?;
        table.put(Item::Job(job.clone()));
        Ok(())
    }

    async fn delete_job(&self, name: &JobName, expected: u64) -> Result<(), StoreError> {
        let mut table = self.table();
        let key = (keys::job_pk(name), keys::JOB_SK.to_owned());
        check_version(
            table.items.get(&key),
            Some(expected),
            format!("job `{name}`"),
        )?;
        table.delete(&key);
        Ok(())
    }

    async fn advance_job(
        &self,
        read: &Job,
        next_fire: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut table = self.table();
        let what = || format!("job `{}`", read.name);
        let Some(Item::Job(stored)) = table.get(keys::job_pk(&read.name), keys::JOB_SK) else {
            return Err(conflict(what()));
        };
        // `version = :v AND timer_sk = :read` (or no timer, when it was read without one).
        let timer = |j: &Job| j.next_fire.map(|at| keys::job_timer_sk(at, &j.name));
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
        let mut table = self.table();
        if let Some(Item::Run(stored)) =
            table.get(keys::job_pk(run.id.job()), &keys::run_sk(&run.id))
        {
            return Ok(Claim::Lost(Box::new(stored.clone())));
        }
        table.put(Item::Run(run.clone()));
        Ok(Claim::Won)
    }

    async fn update_run(&self, run: &Run) -> Result<(), StoreError> {
        let mut table = self.table();
        let what = || format!("run `{}`", run.id);
        let Some(previous) = run.revision.checked_sub(1) else {
            return Err(conflict(format!(
                "run `{}` (an update must bump the revision it read)",
                run.id
            )));
        };
        match table.get(keys::job_pk(run.id.job()), &keys::run_sk(&run.id)) {
            Some(Item::Run(stored)) if stored.revision == previous => {}
            _ => return Err(conflict(what())),
        }
        table.put(Item::Run(run.clone()));
        Ok(())
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        Ok(
            match self.table().get(keys::job_pk(id.job()), &keys::run_sk(id)) {
                Some(Item::Run(r)) => Some(r.clone()),
                _ => None,
            },
        )
    }

    async fn runs_of_job(&self, job: &JobName, limit: usize) -> Result<Vec<Run>, StoreError> {
        let table = self.table();
        let pk = keys::job_pk(job);
        let lo = (pk.clone(), keys::RUN_SK_PREFIX.to_owned());
        Ok(table
            .items
            .range(lo..)
            .take_while(|((p, s), _)| *p == pk && s.starts_with(keys::RUN_SK_PREFIX))
            .filter_map(|(_, i)| match i {
                Item::Run(r) => Some(r.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(limit)
            .collect())
    }

    async fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>, StoreError> {
        let table = self.table();
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
        Ok(out)
    }

    async fn run_by_task(&self, task_arn: &str) -> Result<Option<Run>, StoreError> {
        let table = self.table();
        let lo = (task_arn.to_owned(), String::new(), String::new());
        let found = table
            .by_task
            .range(lo..)
            .take_while(|(t, _, _)| t == task_arn)
            .find_map(
                |(_, pk, sk)| match table.items.get(&(pk.clone(), sk.clone())) {
                    Some(Item::Run(r)) => Some(r.clone()),
                    _ => None,
                },
            );
        Ok(found)
    }
}

impl ServiceStore for MemoryStore {
    async fn get_service(&self, name: &ServiceName) -> Result<Option<ServiceState>, StoreError> {
        Ok(
            match self.table().get(keys::service_pk(name), keys::SERVICE_SK) {
                Some(Item::Service(s)) => Some(s.clone()),
                _ => None,
            },
        )
    }

    async fn list_services(&self) -> Result<Vec<ServiceState>, StoreError> {
        let table = self.table();
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
        let mut table = self.table();
        let stored = table.get(keys::service_pk(&state.name), keys::SERVICE_SK);
        check_version(stored, expected, format!("service `{}`", state.name))?;
        table.put(Item::Service(state.clone()));
        Ok(())
    }

    async fn delete_service(&self, name: &ServiceName, expected: u64) -> Result<(), StoreError> {
        let mut table = self.table();
        let key = (keys::service_pk(name), keys::SERVICE_SK.to_owned());
        check_version(
            table.items.get(&key),
            Some(expected),
            format!("service `{name}`"),
        )?;
        table.delete(&key);
        Ok(())
    }

    async fn record_action(&self, action: &ScaleAction) -> Result<(), StoreError> {
        self.table().put(Item::Action(action.clone()));
        Ok(())
    }

    async fn actions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScaleAction>, StoreError> {
        let table = self.table();
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
        let table = self.table();
        let upto = keys::timers_upto(now);
        Ok(table
            .timers
            .iter()
            .take_while(|(t, _, _)| *t <= upto)
            .filter_map(
                |(_, pk, sk)| match table.items.get(&(pk.clone(), sk.clone()))? {
                    Item::Job(j) => Some(Due::Job(Box::new(j.clone()))),
                    Item::Run(r) => Some(Due::Run(Box::new(r.clone()))),
                    Item::Service(s) => Some(Due::Service(Box::new(s.clone()))),
                    Item::Action(_) => None,
                },
            )
            .collect())
    }
}
