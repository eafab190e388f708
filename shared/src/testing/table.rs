//! The in-memory table's items and indexes: each item is indexed under the keys the DynamoDB adapter gives it
//! (`aws::dynamo::items`), so the timers, listing and by-task indexes order and bound results as the real ones do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::aws::dynamo::items::{action_keys, job_keys, run_keys, service_keys, Keys};
use crate::aws::keys;
use crate::domain::job::{Job, JobName};
use crate::domain::run::Run;
use crate::domain::service::{ScaleAction, ServiceState};
use crate::ports::StoreError;

/// Told of every run written, with what was stored before (`None`: a new run), while the write is made.
pub type RunWatch = Arc<dyn Fn(Option<&Run>, &Run) + Send + Sync>;

#[derive(Debug, Clone)]
pub(super) enum Item {
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

    fn run(&self) -> Option<&Run> {
        match self {
            Item::Run(r) => Some(r),
            _ => None,
        }
    }
}

/// Where an item is indexed (kept with it, so a write changes only the index entries that move).
#[derive(Debug, Clone, Default, PartialEq)]
struct Indexed {
    timer: Option<String>,
    listing: Option<(String, String)>,
    task: Option<String>,
}

impl Indexed {
    fn of(item: &Item, keys: Keys) -> Indexed {
        Indexed {
            timer: keys.timer_sk,
            listing: keys.list_pk.zip(keys.list_sk),
            task: item.run().and_then(|r| r.task_arn.clone()),
        }
    }
}

/// An item with where it is indexed. Boxed: a node of the map moves its values on every insert, and a run is large.
#[derive(Debug)]
struct Stored {
    item: Item,
    indexed: Indexed,
}

/// The table's secondary indexes, each entry naming its item's (pk, sk).
#[derive(Default)]
pub(super) struct Indexes {
    /// (timer_sk, pk, sk): the timers index's one partition.
    pub(super) timers: BTreeSet<(String, String, String)>,
    /// (list_pk, list_sk, pk, sk)
    listing: BTreeSet<(String, String, String, String)>,
    /// (task_arn, pk, sk)
    pub(super) by_task: BTreeSet<(String, String, String)>,
}

impl Indexes {
    /// Moves an item's index entries from `old` to `new`, touching only those that change.
    fn reindex(&mut self, pk: &str, sk: &str, old: Option<&Indexed>, new: &Indexed) {
        let none = Indexed::default();
        let old = old.unwrap_or(&none);
        let key = || (pk.to_owned(), sk.to_owned());
        if old.timer != new.timer {
            if let Some(t) = &old.timer {
                let (pk, sk) = key();
                self.timers.remove(&(t.clone(), pk, sk));
            }
            if let Some(t) = &new.timer {
                let (pk, sk) = key();
                self.timers.insert((t.clone(), pk, sk));
            }
        }
        if old.listing != new.listing {
            if let Some((p, s)) = &old.listing {
                let (pk, sk) = key();
                self.listing.remove(&(p.clone(), s.clone(), pk, sk));
            }
            if let Some((p, s)) = &new.listing {
                let (pk, sk) = key();
                self.listing.insert((p.clone(), s.clone(), pk, sk));
            }
        }
        if old.task != new.task {
            if let Some(t) = &old.task {
                let (pk, sk) = key();
                self.by_task.remove(&(t.clone(), pk, sk));
            }
            if let Some(t) = &new.task {
                let (pk, sk) = key();
                self.by_task.insert((t.clone(), pk, sk));
            }
        }
    }
}

#[derive(Default)]
pub(super) struct Table {
    /// Failures to give instead of doing the named operation (`claim_run`, `update_run`, ...), first come first, each
    /// after the number of calls it lets through.
    pub(super) failures: Vec<(&'static str, usize, StoreError)>,
    /// Items by partition, then sort key: looked up by `&str`, without building a key.
    items: BTreeMap<String, BTreeMap<String, Box<Stored>>>,
    len: usize,
    pub(super) index: Indexes,
    /// Each pool's holders (its one item).
    pub(super) pools: BTreeMap<crate::domain::job::PoolName, BTreeSet<crate::domain::run::RunId>>,
    pub(super) watch: Option<RunWatch>,
    /// Each day's rollup (its one item).
    pub(super) rollups: BTreeMap<chrono::NaiveDate, crate::domain::rollup::Rollup>,
    /// Runs returned by `runs_between`: what a report read, for tests that count it.
    pub(super) runs_listed: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("items", &self.len)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Reopens a day's rollup (domain::rollup): a new generation, no tally.
    pub(super) fn reopen(&mut self, day: chrono::NaiveDate) {
        let rollup = self
            .rollups
            .entry(day)
            .or_insert_with(|| crate::domain::rollup::Rollup {
                day,
                generation: 0,
                tally: None,
            });
        rollup.generation += 1;
        rollup.tally = None;
    }

    /// Writes `run` over the revision before its own, as an update does (`Conflict` otherwise).
    pub(super) fn update_run(&mut self, run: &Run) -> Result<(), StoreError> {
        let conflict = |what: String| StoreError::Conflict { what };
        let Some(previous) = run.revision.checked_sub(1) else {
            return Err(conflict(format!(
                "run `{}` (an update must bump the revision it read)",
                run.id
            )));
        };
        match self.get(&keys::job_pk(run.id.job()), &keys::run_sk(&run.id)) {
            Some(Item::Run(stored)) if stored.revision == previous => {}
            _ => return Err(conflict(format!("run `{}`", run.id))),
        }
        self.put(Item::Run(run.clone()));
        Ok(())
    }

    pub(super) fn put(&mut self, item: Item) {
        let mut keys = item.keys();
        let (pk, sk) = (std::mem::take(&mut keys.pk), std::mem::take(&mut keys.sk));
        let indexed = Indexed::of(&item, keys);
        if !self.items.contains_key(&pk) {
            self.items.insert(pk.clone(), BTreeMap::new());
        }
        let Some(partition) = self.items.get_mut(&pk) else {
            return;
        };
        let old = partition.get(&sk);
        if let (Some(watch), Some(run)) = (&self.watch, item.run()) {
            watch(old.and_then(|s| s.item.run()), run);
        }
        self.index
            .reindex(&pk, &sk, old.map(|s| &s.indexed), &indexed);
        if partition
            .insert(sk, Box::new(Stored { item, indexed }))
            .is_none()
        {
            self.len += 1;
        }
    }

    pub(super) fn delete(&mut self, pk: &str, sk: &str) {
        let Some(old) = self.items.get_mut(pk).and_then(|p| p.remove(sk)) else {
            return;
        };
        self.len -= 1;
        self.index
            .reindex(pk, sk, Some(&old.indexed), &Indexed::default());
    }

    pub(super) fn get(&self, pk: &str, sk: &str) -> Option<&Item> {
        self.items.get(pk)?.get(sk).map(|s| &s.item)
    }

    /// The items of partition `pk` with sort keys in `[from, to)`, in key order.
    pub(super) fn range<'a>(
        &'a self,
        pk: &str,
        from: &'a str,
        to: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a Item> + 'a {
        use std::ops::Bound::{Excluded, Included};
        self.items
            .get(pk)
            .into_iter()
            .flat_map(move |p| p.range::<str, _>((Included(from), Excluded(to))))
            .map(|(_, s)| &s.item)
    }

    /// A job's runs, newest first.
    pub(super) fn newest_runs(&self, job: &JobName) -> impl Iterator<Item = &Run> {
        // Every run key starts with `RUN#`; `RUN$` is the first key after them.
        self.range(&keys::job_pk(job), keys::RUN_SK_PREFIX, "RUN$")
            .rev()
            .filter_map(|i| match i {
                Item::Run(r) => Some(r),
                _ => None,
            })
    }

    /// Every item, in key order.
    pub(super) fn all(&self) -> impl Iterator<Item = &Item> {
        self.items
            .values()
            .flat_map(|p| p.values())
            .map(|s| &s.item)
    }

    /// The failure asked for this call of `operation`, if any (one whose calls to let through are used up).
    pub(super) fn failure(&mut self, operation: &str) -> Option<StoreError> {
        let i = self
            .failures
            .iter()
            .position(|(op, _, _)| *op == operation)?;
        match &mut self.failures[i].1 {
            0 => Some(self.failures.remove(i).2),
            after => {
                *after -= 1;
                None
            }
        }
    }

    /// Empties the table, giving every item in key order.
    pub(super) fn take_all(&mut self) -> impl Iterator<Item = Item> {
        self.len = 0;
        self.index = Indexes::default();
        self.pools.clear();
        std::mem::take(&mut self.items)
            .into_values()
            .flat_map(|p| p.into_values())
            .map(|s| s.item)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The items of one listing partition with sort keys in `[from, to]`, in key order.
    pub(super) fn listing(&self, partition: &str, from: &str, to: &str) -> Vec<&Item> {
        let lo = (
            partition.to_owned(),
            from.to_owned(),
            String::new(),
            String::new(),
        );
        self.index
            .listing
            .range(lo..)
            .take_while(|(p, s, _, _)| p == partition && s.as_str() <= to)
            .filter_map(|(_, _, pk, sk)| self.get(pk, sk))
            .collect()
    }
}
