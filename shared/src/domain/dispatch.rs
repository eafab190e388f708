//! The dispatcher's decisions, pure: which scheduled times of a job are due, missed or to be skipped at a tick, what
//! the overlap policy does with them, and the identifiers that make a launch idempotent.

use chrono::{DateTime, Duration, Utc};

use super::fargate::Capacity;
use super::hash::fnv128;
use super::job::next_fire;
use super::job::{Job, JobName, Overlap};
use super::run::RunId;

/// Missed times recorded one by one; older ones are only counted, so a job down for a month writes a few records,
/// not 40,000.
pub const MISSED_RECORDS: usize = 3;

/// Scheduled times enumerated per job and tick before the rest of a long outage is skipped over uncounted. At
/// about 100 ns per evaluation this bounds a tick's work for a job at a few milliseconds.
pub const ENUMERATION_LIMIT: u64 = 100_000;

/// A claimed run not launched by this time after its claim is launched by a later tick: 90 s is the tick after
/// next, so a slow invocation still working on its backlog is not raced by the next one.
pub const RECOVER_AFTER: Duration = Duration::seconds(90);

/// A launched run is looked at again this often (until `max_runtime`): it closes runs whose end was never reported.
pub const CHECK_EVERY: Duration = Duration::minutes(15);

/// When an open run must be looked at next: after `CHECK_EVERY` without news, or at its `max_runtime` limit.
pub fn next_check(now: DateTime<Utc>, timeout_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let regular = now + CHECK_EVERY;
    timeout_at.map_or(regular, |t| t.min(regular))
}

/// The scheduled times a tick found for one job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fires {
    /// Times later than the job's `catch_up` allows.
    pub missed: Missed,
    /// Times to run now, oldest first.
    pub due: Vec<DateTime<Utc>>,
    /// The job's next scheduled time after the tick (`None`: no more fires, or paused).
    pub next_fire: Option<DateTime<Utc>>,
    /// The latest time handled by this tick.
    pub last_fire: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Missed {
    /// How many times were missed in all (at least this many when `more` is set).
    pub count: u64,
    /// The most recent missed times, oldest first, at most `MISSED_RECORDS`.
    pub recent: Vec<DateTime<Utc>>,
    /// The enumeration stopped at `ENUMERATION_LIMIT`: more were missed than counted.
    pub more: bool,
}

/// The job's scheduled times from its stored next fire that are due by `now` (`Job::due_at`), split by `catch_up`.
pub fn fires(job: &Job, now: DateTime<Utc>) -> Fires {
    let mut out = Fires::default();
    let Some(first) = job.next_fire.filter(|_| !job.spec.paused) else {
        return out;
    };
    let cutoff = now - job.spec.catch_up.to_chrono();
    let mut at = Some(first);
    // With `jitter`, a time is due at its offset; times stay in order (a time waits for the one before it).
    while let Some(t) = at.filter(|t| job.due_at(*t) <= now) {
        if job.due_at(t) < cutoff {
            out.missed.count += 1;
            out.missed.recent.push(t);
            if out.missed.recent.len() > MISSED_RECORDS {
                out.missed.recent.remove(0);
            }
            if out.missed.count >= ENUMERATION_LIMIT {
                out.missed.more = true;
                // Skip the rest of the outage: continue from the first time inside the catch-up window.
                at = next_fire(&job.spec, cutoff - Duration::seconds(1));
                out.last_fire = Some(t);
                continue;
            }
        } else {
            out.due.push(t);
        }
        out.last_fire = Some(t);
        at = next_fire(&job.spec, t);
    }
    out.next_fire = at;
    out
}

/// What to do with one due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Launch,
    /// Record the time as SKIPPED, with this reason.
    Skip(String),
    /// Claim it WAITING, queued behind this run (`overlap: queue`): it starts when that one ends.
    Queue(RunId),
}

/// The overlap policy applied to a tick's due times, given the job's runs still in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub actions: Vec<(DateTime<Utc>, Action)>,
    /// Runs to stop before launching (`overlap: replace`).
    pub stop: Vec<RunId>,
}

/// `in_progress`: the job's runs still going, newest first; `queued`: whether one already waits behind them
/// (`overlap: queue` keeps one). `max_running` then skips launches beyond the job's limit.
pub fn decide(
    job: &JobName,
    (overlap, max_running): (Overlap, Option<u32>),
    due: &[DateTime<Utc>],
    in_progress: &[RunId],
    queued: bool,
) -> Decision {
    let id = |t: DateTime<Utc>| RunId::scheduled(job, t);
    let mut actions: Vec<(DateTime<Utc>, Action)> = match overlap {
        Overlap::Allow => due.iter().map(|t| (*t, Action::Launch)).collect(),
        Overlap::Forbid => {
            let mut blocker = in_progress.first().cloned();
            due.iter()
                .map(|t| match &blocker {
                    Some(b) => (
                        *t,
                        Action::Skip(format!("run {b} was still in progress (overlap: forbid)")),
                    ),
                    None => {
                        blocker = Some(id(*t));
                        (*t, Action::Launch)
                    }
                })
                .collect()
        }
        Overlap::Queue => {
            let mut ahead = in_progress.first().cloned();
            let mut waiting = queued;
            due.iter()
                .map(|t| match &ahead {
                    _ if waiting => (
                        *t,
                        Action::Skip(format!(
                            "a run was already queued{} (overlap: queue keeps one)",
                            ahead
                                .as_ref()
                                .map(|a| format!(" behind run {a}"))
                                .unwrap_or_default()
                        )),
                    ),
                    None => {
                        ahead = Some(id(*t));
                        (*t, Action::Launch)
                    }
                    Some(a) => {
                        waiting = true;
                        (*t, Action::Queue(a.clone()))
                    }
                })
                .collect()
        }
        Overlap::Replace => {
            let last = due.last().copied();
            due.iter()
                .map(|t| match last {
                    Some(l) if l != *t => (
                        *t,
                        Action::Skip(format!(
                            "superseded by run {} in the same tick (overlap: replace)",
                            id(l)
                        )),
                    ),
                    _ => (*t, Action::Launch),
                })
                .collect()
        }
    };
    if let Some(limit) = max_running {
        // `replace` stops what is going before it launches.
        let mut going = if overlap == Overlap::Replace {
            0
        } else {
            in_progress.len()
        };
        for (_, action) in actions.iter_mut() {
            if *action != Action::Launch {
                continue;
            }
            if going >= limit as usize {
                *action = Action::Skip(format!(
                    "max_running {limit}: {going} run(s) of the job were going"
                ));
            } else {
                going += 1;
            }
        }
    }
    let stop = match (overlap, due.is_empty()) {
        (Overlap::Replace, false) => in_progress.to_vec(),
        _ => Vec::new(),
    };
    Decision { actions, stop }
}

/// RunTask's `clientToken` for a run on one capacity: the same on every attempt and every tick, so ECS starts at
/// most one task per run and capacity however often the launch is retried (a fallback to another capacity is a new
/// request, made only after the first was refused). 39 characters; ECS allows 64.
pub fn client_token(run: &RunId, capacity: Capacity) -> String {
    format!(
        "fsched-{:032x}",
        fnv128(&[&run.to_string(), capacity.as_str()])
    )
}

/// Prefix of every `startedBy` fsched sets: the recorder's event rule matches it.
pub const STARTED_BY_PREFIX: &str = "fsched/";

/// RunTask's `startedBy`: `fsched/`, the run's UTC time stamp and a hash of the stack's discriminator (`stack`) and
/// the run's id, so that two stacks sharing a cluster, with jobs of the same name, never take each other's task for
/// their own. 36 characters, ECS's historical limit; the full run id is in the task's `fsched:run` tag.
pub fn started_by(run: &RunId, stack: &str) -> String {
    let stamp = run.key().get(..16).unwrap_or(run.key());
    let hash = fnv128(&[stack, &run.to_string()]) as u64 & 0xffff_ffff_ffff;
    format!("{STARTED_BY_PREFIX}{stamp}/{hash:012x}")
}

/// The time stamp a `startedBy` of fsched's carries: the run's scheduled (or requested) UTC second. `None` for any
/// other `startedBy`.
pub fn started_by_time(started_by: &str) -> Option<DateTime<Utc>> {
    let stamp = started_by
        .strip_prefix(STARTED_BY_PREFIX)?
        .split('/')
        .next()?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests;
