//! What one tick did: the runs it launched, skipped, missed, failed, deferred and closed, its errors, and the
//! lifecycle events it owes the bus.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::domain::run::Run;
use crate::ports::LifecycleEvent;

/// What one tick did, for logs, the invocation's result and tests.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct TickReport {
    pub now: Option<DateTime<Utc>>,
    /// Jobs and open runs the timers index returned.
    pub due: usize,
    pub launched: Vec<String>,
    pub skipped: Vec<String>,
    /// Missed times recorded one by one, and missed times in all (counted, not all recorded).
    pub missed: Vec<String>,
    pub missed_total: u64,
    pub launch_failed: Vec<String>,
    /// Runs left claimed for a later tick (out of time, or still being throttled).
    pub deferred: Vec<String>,
    /// Runs closed after a check: finished, timed out, replaced or lost.
    pub closed: Vec<String>,
    /// Due items not started because the invocation ran out of time: the next tick finds them again.
    pub not_started: usize,
    /// Failures that left something for a later tick; the invocation reports them as an error.
    pub errors: Vec<String>,
    #[serde(skip)]
    pub(super) events: Vec<LifecycleEvent>,
}

impl TickReport {
    pub(super) fn merge(&mut self, other: TickReport) {
        self.due += other.due;
        self.launched.extend(other.launched);
        self.skipped.extend(other.skipped);
        self.missed.extend(other.missed);
        self.missed_total += other.missed_total;
        self.launch_failed.extend(other.launch_failed);
        self.deferred.extend(other.deferred);
        self.closed.extend(other.closed);
        self.not_started += other.not_started;
        self.errors.extend(other.errors);
        self.events.extend(other.events);
    }

    pub(super) fn event(
        &mut self,
        detail_type: &str,
        run: &Run,
        now: DateTime<Utc>,
        extra: serde_json::Value,
    ) {
        let mut detail = json!({
            "job": run.id.job().as_str(),
            "run": run.id.to_string(),
            "scheduled_at": run.scheduled_at,
            "trigger": run.trigger,
            "status": run.status,
            "attempts": run.attempts,
        });
        for (key, value) in [
            ("task_arn", run.task_arn.as_ref().map(|a| json!(a))),
            ("capacity", run.capacity.map(|c| json!(c))),
            ("reason", run.reason.as_ref().map(|r| json!(r))),
        ] {
            if let (Some(v), Some(map)) = (value, detail.as_object_mut()) {
                map.insert(key.to_owned(), v);
            }
        }
        if let (Some(map), serde_json::Value::Object(more)) = (detail.as_object_mut(), extra) {
            map.extend(more);
        }
        self.events.push(LifecycleEvent {
            detail_type: detail_type.to_owned(),
            detail,
            time: now,
        });
    }
}
