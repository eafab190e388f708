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

#[derive(Debug, Default)]
pub(super) struct Table {
    /// Failures to give instead of doing the named operation (`claim_run`, `update_run`, ...), first come first.
    pub(super) failures: Vec<(&'static str, StoreError)>,
    pub(super) items: BTreeMap<Key, Item>,
    /// (timer_sk, pk, sk): the timers index's one partition.
    pub(super) timers: BTreeSet<(String, String, String)>,
    /// (list_pk, list_sk, pk, sk)
    listing: BTreeSet<(String, String, String, String)>,
    /// (task_arn, pk, sk)
    pub(super) by_task: BTreeSet<(String, String, String)>,
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

    pub(super) fn put(&mut self, item: Item) {
        let k = item.keys();
        let key = (k.pk, k.sk);
        if let Some(old) = self.items.remove(&key) {
            self.index(&key, &old, false);
        }
        self.index(&key, &item, true);
        self.items.insert(key, item);
    }

    pub(super) fn delete(&mut self, key: &Key) {
        if let Some(old) = self.items.remove(key) {
            self.index(key, &old, false);
        }
    }

    pub(super) fn get(&self, pk: String, sk: &str) -> Option<&Item> {
        self.items.get(&(pk, sk.to_owned()))
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
            .filter_map(|(_, _, pk, sk)| self.items.get(&(pk.clone(), sk.clone())))
            .collect()
    }
}
