//! Recording what ECS reports about a run's task: one pure fold, used by the recorder (task state change events) and
//! by the dispatcher's checks (DescribeTasks), so both reach the same record.
//!
//! Reports arrive at least once and in any order. The task's `version` decides status and stop details, time stamps
//! are kept from whichever report has them, and a run's open status only moves forward, so every order of the same
//! reports gives the same record; a stale or duplicate report changes nothing.

use chrono::{DateTime, Utc};

use super::cost::Prices;
use super::dispatch::next_check;
use super::fargate::Capacity;
use super::run::{Run, RunStatus, OUTBOX_RETRY};
use super::task::TaskSnapshot;

mod outcome;
pub use outcome::{open_status, outcome, stop_reason, STOP_REASON_PREFIX, TIMEOUT_WORDS};

/// A run after a report of its task.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub run: Run,
    /// The report closed the run (open before, final now): its lifecycle event is owed.
    pub closed: bool,
    /// The report changed one final status into another: a run fsched closed before its task said how it ended
    /// (LOST; TIMED_OUT or STOPPED when the task ended on its own just before fsched's stop reached it) is corrected
    /// to what the task did, and the corrected end is announced too, so the last announcement always matches the record.
    pub corrected: bool,
}

impl Observed {
    /// Whether the run's (new) end is to be announced.
    pub fn announces(&self) -> bool {
        self.closed || self.corrected
    }
}

fn open_rank(status: RunStatus) -> u8 {
    match status {
        RunStatus::Waiting | RunStatus::Claimed => 0,
        RunStatus::Pending => 1,
        _ => 2,
    }
}

/// Statuses that follow from what ECS reports, which a later report may therefore correct. The others are fsched's
/// own decisions about runs without a task (skipped, missed, rejected, launch failed).
fn follows_the_task(status: RunStatus) -> bool {
    !matches!(
        status,
        RunStatus::Skipped | RunStatus::Missed | RunStatus::Rejected | RunStatus::LaunchFailed
    )
}

/// Applies a report of the run's task at `now`. `None` when the report changes nothing (a duplicate, a stale report,
/// a task that is not the run's) or nothing the next report will not bring again (below).
pub fn observe(
    run: &Run,
    task: &TaskSnapshot,
    prices: &Prices,
    now: DateTime<Utc>,
) -> Option<Observed> {
    if run.task_arn.as_deref().is_some_and(|a| a != task.task_arn) || !follows_the_task(run.status)
    {
        return None;
    }
    let mut merged = run.task.clone().unwrap_or_else(|| task.clone());
    merged.merge(task);

    let mut next = run.clone();
    next.task_arn = Some(merged.task_arn.clone());
    next.capacity = merged.capacity.or(run.capacity);
    next.started_at = merged.started_at.or(run.started_at);
    match outcome(&merged) {
        Some((status, reason)) => {
            next.status = status;
            next.reason = Some(reason);
            next.stopped_at = merged.stopped_at.or(run.stopped_at).or(Some(now));
            next.cost = prices.cost(&merged, next.capacity.unwrap_or(Capacity::Fargate));
        }
        None if run.status.is_open() => {
            let reported = open_status(&merged);
            if open_rank(reported) > open_rank(run.status) {
                next.status = reported;
            }
        }
        // Closed by fsched (timed out, replaced) while ECS still reports the task stopping: keep the decision.
        None => {}
    }
    next.task = Some(merged);
    next.check_at = None;
    let mut before = run.clone();
    before.check_at = None;
    if next == before {
        return None;
    }
    // ECS reports a task whole each time (its every time stamp so far), so a report that leaves an open, launched
    // run's status where it was (a task provisioning or pending; one running that reports again) is left for the
    // next report to bring again: a run is written at RUNNING and at its end, two writes fewer than one per report.
    if next.status.is_open() && next.status == run.status && run.task_arn.is_some() {
        return None;
    }
    if next.status.is_open() {
        next.check_at = Some(next_check(now, next.timeout_at));
    } else if !next.outbox.is_empty() {
        // Announcements still to send keep the run's timer: whoever sends them clears it.
        next.check_at = run.check_at.or(Some(now + OUTBOX_RETRY));
    }
    Some(Observed {
        closed: run.status.is_open() && !next.status.is_open(),
        corrected: !run.status.is_open() && !next.status.is_open() && next.status != run.status,
        run: next,
    })
}

#[cfg(test)]
mod tests;
