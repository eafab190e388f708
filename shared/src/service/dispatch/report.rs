//! What one tick did: the runs it launched, skipped, missed, failed, deferred and closed, its errors, and the
//! lifecycle events it owes the bus.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::event::{BusEvent, Lifecycle};
use crate::domain::job::{Job, JobSpec};
use crate::domain::notify::address;
use crate::domain::run::{Pending, Run, RunId};
use crate::domain::service::ServiceState;

/// What one tick did, for logs, the invocation's result and tests.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct TickReport {
    pub now: Option<DateTime<Utc>>,
    /// Jobs and open runs the timers index returned.
    pub due: usize,
    pub launched: Vec<RunId>,
    pub skipped: Vec<RunId>,
    /// Missed times recorded one by one, and missed times in all (counted, not all recorded).
    pub missed: Vec<RunId>,
    pub missed_total: u64,
    pub launch_failed: Vec<RunId>,
    /// Runs left claimed for a later tick (out of time, or still being throttled).
    pub deferred: Vec<RunId>,
    /// The run a job's overlap check found in the way (for the skips it decides).
    #[serde(skip)]
    pub(super) blocker: Option<RunId>,
    /// Runs claimed WAITING behind a run still going (`overlap: queue`), or released because it had just ended.
    pub queued: Vec<RunId>,
    /// Runs waiting for a slot of their job's full pool (asking again at the next tick).
    pub pooled: Vec<RunId>,
    /// Runs closed after a check: finished, timed out, replaced or lost.
    pub closed: Vec<RunId>,
    /// Runs not started because the values they were given are not acceptable (recorded REJECTED).
    pub rejected: Vec<RunId>,
    /// Triggered runs already claimed by an earlier delivery of the same event or request: nothing was done.
    pub duplicates: Vec<RunId>,
    /// Due items not started because the invocation ran out of time: the next tick finds them again.
    pub not_started: usize,
    /// Failures that left something for a later tick; the invocation reports them as an error.
    pub errors: Vec<String>,
    #[serde(skip)]
    pub(super) events: Vec<BusEvent>,
    /// Runs that ended with their announcement in their outbox (skipped, missed, rejected, launch failed): sent,
    /// then emptied, when the tick publishes. If that never happens, the dispatcher sends them at their timer.
    #[serde(skip)]
    pub(super) unsent: Vec<Run>,
    /// Jobs with announcements in their outbox (Job Overdue, Job Recovered): sent, then emptied, when the tick
    /// publishes; the job's timer brings back any that are not.
    #[serde(skip)]
    pub(super) unsent_jobs: Vec<Job>,
    /// For each run launched: seconds from its scheduled time to RunTask's answer, by the function's clock.
    #[serde(skip)]
    pub launch_delays: Vec<f64>,
    /// Jobs this tick found overdue ("Job Overdue", domain::health).
    #[serde(skip)]
    pub overdue: usize,
    /// Services whose check time has come: the dispatcher leaves them to the sleeper (service::scale).
    #[serde(skip)]
    pub services: Vec<ServiceState>,
}

impl TickReport {
    /// Adds what another tick (or another attempt of the same tick) did.
    pub fn merge(&mut self, other: TickReport) {
        self.due += other.due;
        self.launched.extend(other.launched);
        self.skipped.extend(other.skipped);
        self.missed.extend(other.missed);
        self.missed_total += other.missed_total;
        self.launch_failed.extend(other.launch_failed);
        self.deferred.extend(other.deferred);
        self.queued.extend(other.queued);
        self.pooled.extend(other.pooled);
        self.closed.extend(other.closed);
        self.rejected.extend(other.rejected);
        self.duplicates.extend(other.duplicates);
        self.not_started += other.not_started;
        self.errors.extend(other.errors);
        self.events.extend(other.events);
        self.unsent.extend(other.unsent);
        self.unsent_jobs.extend(other.unsent_jobs);
        self.services.extend(other.services);
        self.launch_delays.extend(other.launch_delays);
        self.overdue += other.overdue;
    }

    pub(super) fn event(
        &mut self,
        kind: Lifecycle,
        run: &Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        extra: serde_json::Value,
    ) {
        let mut event = BusEvent::run(kind, run, now, extra);
        address(&mut event, spec);
        self.events.push(event);
    }
}

/// Puts the announcement of a run's end in its outbox, to be written with the run and sent after the write: an
/// invocation that dies in between leaves it for the dispatcher's timer instead of losing it.
/// `spec` (the job's, when it can be read) says who is alerted. A parallel run's task announces "Run Task Ended"
/// whatever its end, alerting no one: its run's end is the job's outcome.
pub(super) fn owe(
    run: &mut Run,
    spec: Option<&JobSpec>,
    kind: Lifecycle,
    now: DateTime<Utc>,
    extra: serde_json::Value,
) {
    let task = run.fan.part.is_some();
    let kind = if task { Lifecycle::TaskEnded } else { kind };
    let mut event = BusEvent::run(kind, run, now, extra);
    if let Some(spec) = spec.filter(|_| !task) {
        address(&mut event, spec);
    }
    run.announce([Pending::from(&event)], now);
}
