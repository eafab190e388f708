//! Plans: what applying a jobs file would change against what is stored, field by field. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::job::{Job, JobName, JobSpec};
use super::schedule::{Schedule, SkippedTimes, DEFAULT_RATE_ANCHOR};

/// One field that differs, as dotted path and display values (`-` when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Add {
        name: JobName,
        spec: Box<JobSpec>,
    },
    Update {
        current: Box<Job>,
        spec: Box<JobSpec>,
        fields: Vec<FieldChange>,
    },
    Remove {
        current: Box<Job>,
    },
    /// Stored but not in the file, and not pruned: left as it is.
    Keep {
        current: Box<Job>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unchanged: Vec<JobName>,
}

impl Plan {
    /// Whether applying the plan would write anything.
    pub fn is_empty(&self) -> bool {
        self.changes
            .iter()
            .all(|c| matches!(c, Change::Keep { .. }))
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

/// The fields that differ between two specs, in field order.
pub fn diff(from: &JobSpec, to: &JobSpec) -> Vec<FieldChange> {
    let flat = |spec: &JobSpec| {
        let mut out = BTreeMap::new();
        // A JobSpec always serializes (plain data, string keys).
        if let Ok(v) = serde_json::to_value(spec) {
            flatten("", &v, &mut out);
        }
        out
    };
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

/// Compares the file's jobs with the stored ones. With `prune`, stored jobs missing from the file are removed.
pub fn plan(desired: &BTreeMap<JobName, JobSpec>, stored: &[Job], prune: bool) -> Plan {
    let stored_by_name: BTreeMap<&JobName, &Job> = stored.iter().map(|j| (&j.name, j)).collect();
    let mut out = Plan::default();
    for (name, spec) in desired {
        match stored_by_name.get(name) {
            None => out.changes.push(Change::Add {
                name: name.clone(),
                spec: Box::new(spec.clone()),
            }),
            Some(current) if current.spec == *spec => out.unchanged.push(name.clone()),
            Some(current) => out.changes.push(Change::Update {
                current: Box::new((*current).clone()),
                spec: Box::new(spec.clone()),
                fields: diff(&current.spec, spec),
            }),
        }
    }
    for job in stored.iter().filter(|j| !desired.contains_key(&j.name)) {
        let current = Box::new(job.clone());
        out.changes.push(if prune {
            Change::Remove { current }
        } else {
            Change::Keep { current }
        });
    }
    out
}

/// The job's schedule, as the dispatcher evaluates it; `None` for jobs that run only on events and on demand.
pub fn schedule_of(spec: &JobSpec) -> Option<Schedule> {
    let expression = spec.schedule.as_ref()?;
    let skipped = if spec.run_skipped_times {
        SkippedTimes::RunAfter
    } else {
        SkippedTimes::Skip
    };
    Some(
        Schedule::new(expression, spec.timezone)
            .anchored_at(spec.start.unwrap_or(DEFAULT_RATE_ANCHOR))
            .skipped_times(skipped),
    )
}

/// The job's first fire strictly after `after` within its `start`..`end` window (end exclusive), or `None` when
/// paused or finished.
pub fn next_fire(spec: &JobSpec, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if spec.paused {
        return None;
    }
    let schedule = schedule_of(spec)?;
    let from = match spec.start {
        Some(start) if start > after => start - chrono::Duration::seconds(1),
        _ => after,
    };
    schedule
        .next_after(from)
        .filter(|t| spec.end.is_none_or(|end| *t < end))
}

/// Whether a change of spec moves the job's fire times (so its stored next fire must be recomputed).
pub fn moves_fires(from: &JobSpec, to: &JobSpec) -> bool {
    (
        &from.schedule,
        &from.timezone,
        from.start,
        from.end,
        from.paused,
        from.run_skipped_times,
    ) != (
        &to.schedule,
        &to.timezone,
        to.start,
        to.end,
        to.paused,
        to.run_skipped_times,
    )
}
