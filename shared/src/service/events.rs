//! fsched's lifecycle events about runs, as published on the stack's bus (source `fsched`).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::run::{Run, RunStatus};
use crate::ports::LifecycleEvent;

/// The detail-type announcing that a run ended with `status`.
pub fn closing_event(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "Run Succeeded",
        RunStatus::Failed => "Run Failed",
        RunStatus::TimedOut => "Run Timed Out",
        RunStatus::Interrupted => "Run Interrupted",
        RunStatus::Stopped => "Run Stopped",
        _ => "Run Lost",
    }
}

/// An event about a run: who it is, where it stands and, once ended, its exit code, runtime and cost. `extra`
/// (an object) adds fields.
pub fn run_event(
    detail_type: &str,
    run: &Run,
    now: DateTime<Utc>,
    extra: serde_json::Value,
) -> LifecycleEvent {
    let mut detail = json!({
        "job": run.id.job().as_str(),
        "run": run.id.to_string(),
        "scheduled_at": run.scheduled_at,
        "trigger": run.trigger,
        "status": run.status,
        "attempts": run.attempts,
    });
    let optional = [
        ("task_arn", run.task_arn.as_ref().map(|a| json!(a))),
        ("capacity", run.capacity.map(|c| json!(c))),
        ("reason", run.reason.as_ref().map(|r| json!(r))),
        ("exit_code", run.exit_code().map(|c| json!(c))),
        (
            "runtime_seconds",
            run.runtime()
                .map(|d| json!(d.num_milliseconds() as f64 / 1000.0)),
        ),
        ("cost_usd", run.cost.as_ref().map(|c| json!(c.usd))),
    ];
    if let Some(map) = detail.as_object_mut() {
        for (key, value) in optional {
            if let Some(v) = value {
                map.insert(key.to_owned(), v);
            }
        }
        if let serde_json::Value::Object(more) = extra {
            map.extend(more);
        }
    }
    LifecycleEvent {
        source: crate::domain::trigger::EVENT_SOURCE,
        detail_type: detail_type.to_owned(),
        detail,
        time: now,
    }
}
