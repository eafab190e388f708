//! The in-memory table's items and indexes: each item is indexed under the keys the DynamoDB adapter gives it
//! (`aws::dynamo::items`), so the timers, listing and by-task indexes order and bound results as the real ones do.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::dynamo::items::{action_keys, job_keys, run_keys, service_keys, Keys};
use crate::domain::job::Job;
use crate::domain::run::Run;
use crate::domain::service::{ScaleAction, ServiceState};
use crate::ports::StoreError;

pub(super) type Key = (String, String);

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
            task: match item {
                Item::Run(r) => r.task_arn.clone(),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Table {
    /// Failures to give instead of doing the named operation (`claim_run`, `update_run`, ...), first come first.
    pub(super) failures: Vec<(&'static str, StoreError)>,
    /// Boxed: a node of the map moves its values on every insert, and a run is large.
    pub(super) items: BTreeMap<Key, Box<Item>>,
    indexed: BTreeMap<Key, Indexed>,
    /// (timer_sk, pk, sk): the timers index's one partition.
    pub(super) timers: BTreeSet<(String, String, String)>,
    /// (list_pk, list_sk, pk, sk)
    listing: BTreeSet<(String, String, String, String)>,
    /// (task_arn, pk, sk)
    pub(super) by_task: BTreeSet<(String, String, String)>,
    /// Each pool's holders (its one item).
    pub(super) pools: BTreeMap<crate::domain::job::PoolName, BTreeSet<crate::domain::run::RunId>>,
}

impl Table {
    /// Moves an item's index entries from `old` to `new`, touching only those that change.
    fn reindex(&mut self, key: &Key, old: &Indexed, new: &Indexed) {
        let (pk, sk) = key;
        if old.timer != new.timer {
            if let Some(t) = &old.timer {
                self.timers.remove(&(t.clone(), pk.clone(), sk.clone()));
            }
            if let Some(t) = &new.timer {
                self.timers.insert((t.clone(), pk.clone(), sk.clone()));
            }
        }
        if old.listing != new.listing {
            if let Some((p, s)) = &old.listing {
                self.listing
                    .remove(&(p.clone(), s.clone(), pk.clone(), sk.clone()));
            }
            if let Some((p, s)) = &new.listing {
                self.listing
                    .insert((p.clone(), s.clone(), pk.clone(), sk.clone()));
            }
        }
        if old.task != new.task {
            if let Some(t) = &old.task {
                self.by_task.remove(&(t.clone(), pk.clone(), sk.clone()));
            }
            if let Some(t) = &new.task {
                self.by_task.insert((t.clone(), pk.clone(), sk.clone()));
            }
        }
    }

    pub(super) fn put(&mut self, item: Item) {
        let mut keys = item.keys();
        let key = (std::mem::take(&mut keys.pk), std::mem::take(&mut keys.sk));
        let new = Indexed::of(&item, keys);
        let old = self.indexed.get(&key).cloned().unwrap_or_default();
        self.reindex(&key, &old, &new);
        self.indexed.insert(key.clone(), new);
        self.items.insert(key, Box::new(item));
    }

    pub(super) fn delete(&mut self, key: &Key) {
        if self.items.remove(key).is_some() {
            let old = self.indexed.remove(key).unwrap_or_default();
            self.reindex(key, &old, &Indexed::default());
        }
    }

    pub(super) fn get(&self, pk: String, sk: &str) -> Option<&Item> {
        self.items.get(&(pk, sk.to_owned())).map(|b| &**b)
    }

    /// The items of one listing partition with sort keys in `[from, to]`, in key order.
    pub(super) fn listing(&self, partition: &str, from: &str, to: &str) -> Vec<&Item> {
        let lo = (
            partition.to_owned(),
            from.to_owned(),
            String::new(),
            String::new(),
        );
        self.listing
            .range(lo..)
            .take_while(|(p, s, _, _)| p == partition && s.as_str() <= to)
            .filter_map(|(_, _, pk, sk)| self.items.get(&(pk.clone(), sk.clone())).map(|b| &**b))
            .collect()
    }
}
