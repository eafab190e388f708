//! What fsched announces on the stack's bus: the lifecycle of runs and services (source `fsched`), one kind per
//! detail-type, and the event shape every announcement and command takes on its way to EventBridge.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::alert::Outcome;
use super::run::{Pending, Run, RunStatus};

/// The `source` of fsched's lifecycle events ("Run Succeeded", ...).
pub const EVENT_SOURCE: &str = "fsched";
/// The `source` of commands to fsched on the stack's bus.
pub const COMMAND_SOURCE: &str = "fsched.commands";

/// One kind of lifecycle event; its detail-type is what rules match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    RunStarted,
    RunLaunchFailed,
    RunSkipped,
    RunMissed,
    RunRejected,
    RunSucceeded,
    RunFailed,
    RunTimedOut,
    RunInterrupted,
    RunStopped,
    /// A run that ended without a task outcome (ECS no longer knows the task).
    RunLost,
    /// A run that ended badly and is run again (the job's `retry`): its status says how it ended.
    RunRetrying,
    /// One task of a parallel run ended (its run's end, once all did, is the job's outcome).
    TaskEnded,
    ServiceSlept,
    ServiceWoke,
    /// A job with `expect` went longer than `success_within` without a successful run.
    JobOverdue,
    /// An overdue job's first success.
    JobRecovered,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 17] = [
        Lifecycle::RunStarted,
        Lifecycle::RunLaunchFailed,
        Lifecycle::RunSkipped,
        Lifecycle::RunMissed,
        Lifecycle::RunRejected,
        Lifecycle::RunSucceeded,
        Lifecycle::RunFailed,
        Lifecycle::RunTimedOut,
        Lifecycle::RunInterrupted,
        Lifecycle::RunStopped,
        Lifecycle::RunLost,
        Lifecycle::RunRetrying,
        Lifecycle::TaskEnded,
        Lifecycle::ServiceSlept,
        Lifecycle::ServiceWoke,
        Lifecycle::JobOverdue,
        Lifecycle::JobRecovered,
    ];

    /// The EventBridge `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            Lifecycle::RunStarted => "Run Started",
            Lifecycle::RunLaunchFailed => "Run Launch Failed",
            Lifecycle::RunSkipped => "Run Skipped",
            Lifecycle::RunMissed => "Run Missed",
            Lifecycle::RunRejected => "Run Rejected",
            Lifecycle::RunSucceeded => "Run Succeeded",
            Lifecycle::RunFailed => "Run Failed",
            Lifecycle::RunTimedOut => "Run Timed Out",
            Lifecycle::RunInterrupted => "Run Interrupted",
            Lifecycle::RunStopped => "Run Stopped",
            Lifecycle::RunLost => "Run Lost",
            Lifecycle::RunRetrying => "Run Retrying",
            Lifecycle::TaskEnded => "Run Task Ended",
            Lifecycle::ServiceSlept => "Service Slept",
            Lifecycle::ServiceWoke => "Service Woke",
            Lifecycle::JobOverdue => "Job Overdue",
            Lifecycle::JobRecovered => "Job Recovered",
        }
    }

    /// The announcement of an outcome.
    pub fn of(outcome: Outcome) -> Lifecycle {
        match outcome {
            Outcome::Started => Lifecycle::RunStarted,
            Outcome::Succeeded => Lifecycle::RunSucceeded,
            Outcome::Failed => Lifecycle::RunFailed,
            Outcome::TimedOut => Lifecycle::RunTimedOut,
            Outcome::Interrupted => Lifecycle::RunInterrupted,
            Outcome::Stopped => Lifecycle::RunStopped,
            Outcome::Lost => Lifecycle::RunLost,
            Outcome::Retrying => Lifecycle::RunRetrying,
            Outcome::LaunchFailed => Lifecycle::RunLaunchFailed,
            Outcome::Skipped => Lifecycle::RunSkipped,
            Outcome::Missed => Lifecycle::RunMissed,
            Outcome::Rejected => Lifecycle::RunRejected,
            Outcome::Overdue => Lifecycle::JobOverdue,
            Outcome::Recovered => Lifecycle::JobRecovered,
        }
    }

    /// The outcome an announcement is about (`None` for a service's).
    pub fn outcome(self) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| Lifecycle::of(*o) == self)
    }

    /// The event announcing that a run ended with `status`.
    pub fn closing(status: RunStatus) -> Lifecycle {
        match status {
            RunStatus::Succeeded => Lifecycle::RunSucceeded,
            RunStatus::Failed => Lifecycle::RunFailed,
            RunStatus::TimedOut => Lifecycle::RunTimedOut,
            RunStatus::Interrupted => Lifecycle::RunInterrupted,
            RunStatus::Stopped => Lifecycle::RunStopped,
            RunStatus::LaunchFailed => Lifecycle::RunLaunchFailed,
            RunStatus::Skipped => Lifecycle::RunSkipped,
            RunStatus::Missed => Lifecycle::RunMissed,
            RunStatus::Rejected => Lifecycle::RunRejected,
            _ => Lifecycle::RunLost,
        }
    }
}

/// An event for the stack's bus: a lifecycle announcement (source `fsched`) or a command (`fsched.commands`).
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    /// EventBridge `source`.
    pub source: &'static str,
    /// EventBridge `detail-type`, e.g. "Run Started".
    pub detail_type: String,
    pub detail: Value,
    pub time: DateTime<Utc>,
}

impl From<&BusEvent> for Pending {
    fn from(e: &BusEvent) -> Pending {
        Pending {
            source: e.source.to_owned(),
            detail_type: e.detail_type.clone(),
            detail: e.detail.clone(),
            time: e.time,
        }
    }
}

impl From<&Pending> for BusEvent {
    /// An outbox entry back as the event it was; a source fsched does not send (only a corrupt record has one)
    /// becomes a lifecycle event's.
    fn from(p: &Pending) -> BusEvent {
        BusEvent {
            source: if p.source == COMMAND_SOURCE {
                COMMAND_SOURCE
            } else {
                EVENT_SOURCE
            },
            detail_type: p.detail_type.clone(),
            detail: p.detail.clone(),
            time: p.time,
        }
    }
}

impl BusEvent {
    /// A lifecycle announcement.
    pub fn lifecycle(kind: Lifecycle, detail: Value, time: DateTime<Utc>) -> BusEvent {
        BusEvent {
            source: EVENT_SOURCE,
            detail_type: kind.detail_type().to_owned(),
            detail,
            time,
        }
    }

    /// An event about a run: who it is, where it stands and, once ended, its exit code, runtime and cost. `extra`
    /// (an object) adds fields.
    pub fn run(kind: Lifecycle, run: &Run, now: DateTime<Utc>, extra: Value) -> BusEvent {
        let mut detail = json!({
            "job": run.id.job().as_str(),
            "run": run.id.to_string(),
            "scheduled_at": run.scheduled_at,
            "trigger": run.trigger,
            "status": run.status,
            "attempts": run.attempts,
            "attempt": run.attempt,
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
            (
                "retry_of",
                run.retry_of.as_ref().map(|r| json!(r.to_string())),
            ),
            (
                "task_of",
                run.fan.part.as_ref().map(|p| json!(p.of.to_string())),
            ),
            ("task_index", run.fan.part.as_ref().map(|p| json!(p.index))),
            ("tasks", run.fan.parts.as_ref().map(|p| json!(p.count))),
        ];
        if let Some(map) = detail.as_object_mut() {
            for (key, value) in optional {
                if let Some(v) = value {
                    map.insert(key.to_owned(), v);
                }
            }
            if let Value::Object(more) = extra {
                map.extend(more);
            }
        }
        BusEvent::lifecycle(kind, detail, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_detail_type_and_every_ending_an_announcement() {
        let mut seen: Vec<_> = Lifecycle::ALL.iter().map(|k| k.detail_type()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), Lifecycle::ALL.len());
        for status in RunStatus::ALL.into_iter().filter(|s| !s.is_open()) {
            let kind = Lifecycle::closing(status);
            assert!(kind.detail_type().starts_with("Run "), "{status}");
        }
        assert_eq!(
            Lifecycle::closing(RunStatus::TimedOut).detail_type(),
            "Run Timed Out"
        );
    }
}
