//! What sleeping saved: the tasks each sleep stopped, for as long as it slept, at on-demand prices.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Phase, ScaleAction, ServiceName};
use crate::domain::cost::Prices;

/// What sleeping saved one service over a window: time asleep, task-hours not run, and their on-demand price.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Saving {
    pub asleep_seconds: i64,
    pub task_hours: f64,
    pub usd: f64,
}

/// The estimated cost avoided while services slept in `[from, to)`: for each sleep, the tasks it stopped
/// (`from_count`) times the time until it woke (or `to`), priced at Fargate on-demand x86_64 rates for the task's
/// size. `actions` must include the last action before `from` of each service, so a sleep that began earlier counts.
pub fn savings(
    actions: &[ScaleAction],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    prices: &Prices,
) -> std::collections::BTreeMap<ServiceName, Saving> {
    let mut sorted: Vec<&ScaleAction> = actions.iter().collect();
    sorted.sort_by_key(|a| (a.service.clone(), a.at));
    let mut out: std::collections::BTreeMap<ServiceName, Saving> =
        std::collections::BTreeMap::new();
    let mut add = |a: &ScaleAction, end: DateTime<Utc>| {
        let start = a.at.max(from);
        let end = end.min(to);
        if end <= start || a.from_count == 0 {
            return;
        }
        let hours = (end - start).num_seconds() as f64 / 3600.0;
        let per_task = f64::from(a.task_cpu.unwrap_or(0)) / 1024.0 * prices.fargate_x86.vcpu_hour
            + f64::from(a.task_memory.unwrap_or(0)) / 1024.0 * prices.fargate_x86.gb_hour;
        let s = out.entry(a.service.clone()).or_default();
        s.asleep_seconds += (end - start).num_seconds();
        s.task_hours += hours * f64::from(a.from_count);
        s.usd +=
            hours * f64::from(a.from_count) * per_task * (1.0 - prices.discount_percent / 100.0);
    };
    for (i, a) in sorted.iter().enumerate() {
        if a.to != Phase::Asleep {
            continue;
        }
        let end = sorted[i + 1..]
            .iter()
            .find(|b| b.service == a.service && b.to == Phase::Awake)
            .map_or(to, |b| b.at);
        add(a, end);
    }
    out
}
