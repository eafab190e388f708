//! A stored job's scheduling state checked against a clock fsched believes, and corrected.

use chrono::{DateTime, Utc};

use super::{next_fire, Job};
use crate::domain::duration::Span;

/// A stored job's scheduling state, corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repair {
    pub next_fire: Option<DateTime<Utc>>,
    pub last_fire: Option<DateTime<Utc>>,
}

/// The scheduling state a stored job should have when the one it has cannot be right, `None` when it can. No tick
/// runs more than `slack` (the clock skew fsched allows) ahead of the clock, so a next fire later than the
/// schedule's first fire after `now + slack`, a last fire after `now + slack`, or no next fire while the schedule
/// still fires, were left by a clock fsched no longer believes (a forged tick or command from before clocks were
/// checked). `apply` repairs them: the next fire from `now`, a future last fire forgotten.
pub fn repair(job: &Job, now: DateTime<Utc>, slack: Span) -> Option<Repair> {
    let latest = now + slack.to_chrono();
    let bound = next_fire(&job.spec, latest);
    let next_wrong = match (job.next_fire, bound) {
        (Some(stored), Some(bound)) => stored > bound,
        (Some(stored), None) => stored >= crate::domain::schedule::horizon(),
        (None, Some(_)) => true,
        (None, None) => false,
    };
    let last_wrong = job.last_fire.is_some_and(|t| t > latest);
    (next_wrong || last_wrong).then(|| Repair {
        next_fire: if next_wrong {
            next_fire(&job.spec, now)
        } else {
            job.next_fire
        },
        last_fire: job.last_fire.filter(|_| !last_wrong),
    })
}
