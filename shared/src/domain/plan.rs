//! Plans: what applying a jobs file would change against what is stored, field by field, for anything `apply`
//! keeps under a name (jobs, services). Pure.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::job::{Job, JobName, JobSpec};
use super::service::{ServiceName, ServiceSpec, ServiceState};

/// Something `apply` keeps: stored under a name, declared in the file by a spec.
pub trait Declared: Clone + fmt::Debug + PartialEq {
    type Name: Ord + Clone + fmt::Debug + fmt::Display + Serialize;
    type Spec: Clone + fmt::Debug + PartialEq + Serialize;
    /// What the plan calls it: `job`, `service`.
    const KIND: &'static str;
    fn name(&self) -> &Self::Name;
    fn spec(&self) -> &Self::Spec;
}

impl Declared for Job {
    type Name = JobName;
    type Spec = JobSpec;
    const KIND: &'static str = "job";
    fn name(&self) -> &JobName {
        &self.name
    }
    fn spec(&self) -> &JobSpec {
        &self.spec
    }
}

impl Declared for ServiceState {
    type Name = ServiceName;
    type Spec = ServiceSpec;
    const KIND: &'static str = "service";
    fn name(&self) -> &ServiceName {
        &self.name
    }
    fn spec(&self) -> &ServiceSpec {
        &self.spec
    }
}

/// One field that differs, as dotted path and display values (`-` when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change<D: Declared> {
    Add {
        name: D::Name,
        spec: Box<D::Spec>,
    },
    Update {
        current: Box<D>,
        spec: Box<D::Spec>,
        fields: Vec<FieldChange>,
    },
    Remove {
        current: Box<D>,
    },
    /// Stored but not in the file, and not pruned: left as it is.
    Keep {
        current: Box<D>,
    },
}

impl<D: Declared> Change<D> {
    pub fn name(&self) -> &D::Name {
        match self {
            Change::Add { name, .. } => name,
            Change::Update { current, .. }
            | Change::Remove { current }
            | Change::Keep { current } => current.name(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan<D: Declared> {
    pub changes: Vec<Change<D>>,
    pub unchanged: Vec<D::Name>,
}

impl<D: Declared> Default for Plan<D> {
    fn default() -> Self {
        Plan {
            changes: Vec::new(),
            unchanged: Vec::new(),
        }
    }
}

impl<D: Declared> Plan<D> {
    /// Whether applying the plan would write anything.
    pub fn is_empty(&self) -> bool {
        self.changes
            .iter()
            .all(|c| matches!(c, Change::Keep { .. }))
    }

    /// How many are stored now (all but the ones it adds).
    pub fn stored(&self) -> usize {
        self.unchanged.len()
            + self
                .changes
                .iter()
                .filter(|c| !matches!(c, Change::Add { .. }))
                .count()
    }

    /// How many it adds, changes and removes.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Change<D>) -> bool| self.changes.iter().filter(|c| f(c)).count();
        (
            count(|c| matches!(c, Change::Add { .. })),
            count(|c| matches!(c, Change::Update { .. })),
            count(|c| matches!(c, Change::Remove { .. })),
        )
    }

    /// What stays stored once the plan is applied and the file does not declare: the kept ones.
    pub fn kept(&self) -> impl Iterator<Item = (&D::Name, &D::Spec)> {
        self.changes.iter().filter_map(|c| match c {
            Change::Keep { current } => Some((current.name(), current.spec())),
            _ => None,
        })
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// A spec as `field.path -> value` lines, in field order (what `plan` compares and `fsched job` shows).
pub fn fields<T: Serialize>(spec: &T) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // Specs are plain data with string keys: they always serialize.
    if let Ok(v) = serde_json::to_value(spec) {
        flatten("", &v, &mut out);
    }
    out
}

/// The fields that differ between two specs, in field order.
pub fn diff<T: Serialize>(from: &T, to: &T) -> Vec<FieldChange> {
    let flat = |spec: &T| fields(spec);
    let (a, b) = (flat(from), flat(to));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            from: a.get(k).cloned().unwrap_or_else(|| "-".to_owned()),
            to: b.get(k).cloned().unwrap_or_else(|| "-".to_owned()),
        })
        .collect()
}

/// Compares the file's declarations with the stored ones. With `prune`, stored ones missing from the file are
/// removed; without, they are kept.
pub fn plan<D: Declared>(
    desired: &BTreeMap<D::Name, D::Spec>,
    stored: &[D],
    prune: bool,
) -> Plan<D> {
    let stored_by_name: BTreeMap<&D::Name, &D> = stored.iter().map(|d| (d.name(), d)).collect();
    let mut out = Plan::default();
    for (name, spec) in desired {
        match stored_by_name.get(name) {
            None => out.changes.push(Change::Add {
                name: name.clone(),
                spec: Box::new(spec.clone()),
            }),
            Some(current) if current.spec() == spec => out.unchanged.push(name.clone()),
            Some(current) => out.changes.push(Change::Update {
                current: Box::new((*current).clone()),
                spec: Box::new(spec.clone()),
                fields: diff(current.spec(), spec),
            }),
        }
    }
    for current in stored.iter().filter(|d| !desired.contains_key(d.name())) {
        let current = Box::new(current.clone());
        out.changes.push(if prune {
            Change::Remove { current }
        } else {
            Change::Keep { current }
        });
    }
    out
}
