//! Backfill: the scheduled times of a job in a past range that have no run, run on request, at most `max_parallel`
//! at once. Each missing time is claimed as a WAITING run keyed by its scheduled time, as the schedule would have
//! claimed it (so a time is run once, whoever gets there, and a backfill asked for twice runs nothing twice). The
//! runs form `max_parallel` lanes: the first of each is due at once, each of the others is queued behind the one
//! before it in its lane (`Run::then`, `queued_behind`) and released when that one ends (service::record::follow_up;
//! the dispatcher's hourly look at a queued run is the backstop).
//! An interrupted backfill leaves lanes that end early; asking again claims what is still missing.

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};

use crate::domain::event::{BusEvent, Lifecycle};
use crate::domain::job::{next_fire, Job, JobName};
use crate::domain::run::{Pending, Run, RunId, RunStatus, Trigger};
use crate::domain::trigger::schedule_event;
use crate::ports::{Claim, JobStore, RunStore, StoreError};
use crate::service::dispatch::{expiry, values_for};

/// The most scheduled times one backfill may cover: a larger range is several backfills, each one a bounded number
/// of writes.
pub const MAX_FIRES: usize = 1000;
/// The most runs a backfill starts at once.
pub const MAX_PARALLEL: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("no job `{0}` is stored (see `fsched jobs`)")]
    Unknown(JobName),
    #[error("job `{0}` has no schedule: it runs on events and on demand (`fsched run`), so there is nothing to backfill")]
    NoSchedule(JobName),
    #[error("{0}")]
    Range(String),
    #[error("{count} or more scheduled times between {from} and {to}: at most {MAX_FIRES} in one backfill (narrow the range, or backfill it in parts)")]
    TooMany {
        count: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The job's scheduled times in a range, and which already have a run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub job: Job,
    /// Every scheduled time in the range, oldest first, with the status of its run if it has one.
    pub fires: Vec<(DateTime<Utc>, Option<RunStatus>)>,
}

impl Plan {
    /// The times without a run: what a backfill runs.
    pub fn missing(&self) -> Vec<DateTime<Utc>> {
        self.fires
            .iter()
            .filter(|(_, s)| s.is_none())
            .map(|(t, _)| *t)
            .collect()
    }
}

/// The scheduled times of job `name` in `[from, to)` (at most `now`: the schedule runs what is still to come) and
/// the run each has, read with a bounded number of reads at once.
pub async fn plan<S: JobStore + RunStore>(
    store: &S,
    name: &JobName,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Plan, BackfillError> {
    let job = store
        .get_job(name)
        .await?
        .ok_or_else(|| BackfillError::Unknown(name.clone()))?;
    if job.spec.schedule.is_none() {
        return Err(BackfillError::NoSchedule(name.clone()));
    }
    if from >= to {
        return Err(BackfillError::Range(format!(
            "--from ({from}) must be before --to ({to})"
        )));
    }
    if to > now {
        return Err(BackfillError::Range(format!(
            "--to ({to}) is in the future: a backfill runs past scheduled times, the schedule runs the rest"
        )));
    }
    let mut times = Vec::new();
    let mut at = next_fire(&job.spec, from - Duration::seconds(1));
    while let Some(t) = at.filter(|t| *t < to) {
        if times.len() == MAX_FIRES {
            return Err(BackfillError::TooMany {
                count: MAX_FIRES + 1,
                from,
                to,
            });
        }
        times.push(t);
        at = next_fire(&job.spec, t);
    }
    let reads = times.iter().map(|t| {
        let id = RunId::scheduled(name, *t);
        async move { store.get_run(&id).await.map(|r| r.map(|r| r.status)) }
    });
    let statuses: Vec<Result<Option<RunStatus>, StoreError>> =
        stream::iter(reads).buffered(16).collect().await;
    let mut fires = Vec::with_capacity(times.len());
    for (t, status) in times.into_iter().zip(statuses) {
        fires.push((t, status?));
    }
    Ok(Plan { job, fires })
}

/// What a backfill claimed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Started {
    /// Claimed WAITING: the first `max_parallel` due at once, the others queued.
    pub claimed: Vec<RunId>,
    /// Times another writer claimed first (a concurrent backfill): left to it.
    pub taken: Vec<RunId>,
}

/// Claims the plan's missing times as WAITING backfill runs in `max_parallel` lanes (see the module's doc), asked
/// for by `by` at `now`. Claims are made oldest first, so an interruption leaves only complete lanes' heads; the
/// error says how far it got.
pub async fn start<S: RunStore>(
    store: &S,
    plan: &Plan,
    max_parallel: usize,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Started, (Started, StoreError)> {
    let lanes = max_parallel.clamp(1, MAX_PARALLEL);
    let missing = plan.missing();
    let job = &plan.job;
    let mut started = Started::default();
    // A lane whose previous run was claimed by someone else has no one to release it: its next run is due at once.
    let mut due_now: Vec<bool> = (0..missing.len()).map(|i| i < lanes).collect();
    for (i, t) in missing.iter().enumerate() {
        let id = RunId::scheduled(&job.name, *t);
        let mut run = Run::claimed(id.clone(), Trigger::Backfill { by: by.to_owned() }, *t, now);
        run.status = RunStatus::Waiting;
        run.expires_at = expiry(&job.spec, (*t).max(now));
        if due_now[i] {
            run.release(now);
        } else if let Some(ahead) = i.checked_sub(lanes).and_then(|a| missing.get(a)) {
            run.queue_behind(RunId::scheduled(&job.name, *ahead), now);
        }
        run.then = missing
            .get(i + lanes)
            .map(|next| RunId::scheduled(&job.name, *next));
        // The values a scheduled run of that time would have had; a time they reject is recorded so.
        match values_for(&job.spec, &schedule_event(&job.name, *t)) {
            Ok(overrides) => run.overrides = overrides,
            Err(rejection) => {
                run.status = RunStatus::Rejected;
                run.reason = Some(rejection.to_string());
                run.check_at = None;
                // Announced like any end, through its outbox: the dispatcher sends it at its timer.
                let end = BusEvent::run(Lifecycle::RunRejected, &run, now, serde_json::json!({}));
                run.announce([Pending::from(&end)], now);
                if let Some(next) = due_now.get_mut(i + lanes) {
                    *next = true;
                }
            }
        }
        match store.claim_run(&run).await {
            Ok(Claim::Won) => started.claimed.push(id),
            Ok(Claim::Lost(_)) => {
                if let Some(next) = due_now.get_mut(i + lanes) {
                    *next = true;
                }
                started.taken.push(id);
            }
            Err(e) => return Err((started, e)),
        }
    }
    Ok(started)
}
