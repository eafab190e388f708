//! What a run's end asks of others, done before its announcement leaves the outbox (so whoever sends the outbox
//! does it, at least once; each step is harmless twice): its pool slot given back; then either the attempt its
//! job's `retry` asked for claimed as a WAITING run (the first claim wins), or the run queued behind it (`then`)
//! released, its parallel run told (closed once every task ended), and the fan-in runs its success feeds told.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::fan::After;
use crate::domain::job::{Job, JobName};
use crate::domain::run::{Part, PartEnd, Pending, Run, RunId, RunStatus, Trigger, Waits};
use crate::ports::{JobStore, PoolStore, RunStore, StoreError};
use crate::service::record::closing;

/// Conditional writes lost in a row before giving up (each loss means someone else just wrote the run).
const WRITE_ATTEMPTS: usize = 5;

fn lost(id: &RunId) -> StoreError {
    StoreError::Conflict {
        what: format!("run `{id}` ({WRITE_ATTEMPTS} writes in a row lost)"),
    }
}

/// Does what `run`'s end asks. Returns the parallel run this end closed (its last task's), whose own outbox the
/// caller sends next.
pub async fn follow_up<S: RunStore + JobStore + PoolStore>(
    store: &S,
    run: &Run,
) -> Result<Option<Run>, StoreError> {
    let created = run.outbox.first().map_or(run.claimed_at, |p| p.time);
    if let Some(pool) = &run.fan.pool {
        store.give_slot(pool, &run.id).await?;
    }
    if let Some(next) = &run.retried_as {
        store.claim_run(&run.next_attempt(next, created)).await?;
        return Ok(None);
    }
    if let Some(queued) = &run.then {
        release(store, queued, created).await?;
    }
    if run.status == RunStatus::Succeeded {
        for downstream in &run.fan.feeds {
            feed(store, downstream, run, created).await?;
        }
    }
    match &run.fan.part {
        Some(part) => tally(store, part, run, created).await,
        None => Ok(None),
    }
}

/// Releases a queued run (due at `now`: the dispatcher takes it at its next tick). A run no longer queued (released
/// already, or gone) is left as it is.
pub async fn release<S: RunStore>(
    store: &S,
    id: &RunId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut queued) = store.get_run(id).await? else {
            return Ok(());
        };
        if !queued.is_queued() {
            return Ok(());
        }
        queued.release(now);
        queued.revision += 1;
        match store.update_run(&queued).await {
            Err(StoreError::Conflict { .. }) => continue,
            other => return other,
        }
    }
    Err(lost(id))
}

/// Counts a task's final end on its parallel run; the last one closes that run with the tasks' combined outcome
/// and cost, announced (and alerted) as the job's. Returns the run when this closed it.
pub async fn tally<S: RunStore + JobStore>(
    store: &S,
    part: &Part,
    task: &Run,
    now: DateTime<Utc>,
) -> Result<Option<Run>, StoreError> {
    let end = PartEnd {
        index: part.index,
        run: task.id.clone(),
        status: task.status,
        exit_code: task.exit_code(),
        cost: task.cost.clone(),
    };
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut run) = store.get_run(&part.of).await? else {
            return Ok(None);
        };
        let Some(parts) = run.fan.parts.as_mut().filter(|_| run.status.is_open()) else {
            return Ok(None);
        };
        if !parts.count_end(end.clone()) {
            return Ok(None);
        }
        let closes = parts.all_ended();
        if closes {
            let (status, reason) = parts.outcome();
            run.cost = parts.cost();
            run.status = status;
            run.reason = Some(reason);
            run.stopped_at = Some(now);
            run.check_at = None;
            let job = store.get_job(run.id.job()).await?;
            let events = closing(&mut run, job.as_ref(), now);
            run.announce(events.iter().map(Pending::from), now);
        }
        run.revision += 1;
        match store.update_run(&run).await {
            Ok(()) => return Ok(closes.then_some(run)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(lost(&part.of))
}

/// The fan-in run of `job` for `day`: keyed by the day's first instant in the job's zone, so each day has one.
pub fn fan_in_id(job: &JobName, day: NaiveDate, zone: chrono_tz::Tz) -> (RunId, DateTime<Utc>) {
    use chrono::TimeZone;
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    let at = zone
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc));
    (RunId::triggered(job, at, 'a', ""), at)
}

/// Tells the fan-in run of `downstream` for `upstream`'s day that `upstream` succeeded: the first success of the
/// day claims it WAITING until the window's end; the one that completes the set makes it due at once. A success
/// after the run started or gave up changes nothing.
async fn feed<S: RunStore + JobStore>(
    store: &S,
    downstream: &JobName,
    upstream: &Run,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(job) = store.get_job(downstream).await? else {
        return Ok(());
    };
    let Some(after) = job.spec.together.after.clone().filter(|_| !job.spec.paused) else {
        return Ok(());
    };
    let zone = job.spec.timezone.tz();
    let day = upstream.scheduled_at.with_timezone(&zone).date_naive();
    let (id, at) = fan_in_id(downstream, day, zone);
    for _ in 0..WRITE_ATTEMPTS {
        let mut run = match store.get_run(&id).await? {
            Some(run) if run.status != RunStatus::Waiting => return Ok(()),
            Some(run) => run,
            None => {
                // The first success of the day (unless `after` no longer names its job).
                let mut first = waiting(&job, &after, (id.clone(), at), day, now);
                if !meets(&mut first, upstream, now) {
                    return Ok(());
                }
                match store.claim_run(&first).await? {
                    crate::ports::Claim::Won => return Ok(()),
                    crate::ports::Claim::Lost(_) => continue,
                }
            }
        };
        if !meets(&mut run, upstream, now) {
            return Ok(());
        }
        run.revision += 1;
        match store.update_run(&run).await {
            Err(StoreError::Conflict { .. }) => continue,
            other => return other,
        }
    }
    Err(lost(&id))
}

/// A fan-in run waiting for its jobs' successes, until the window's end.
fn waiting(
    job: &Job,
    after: &After,
    (id, at): (RunId, DateTime<Utc>),
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Run {
    let mut run = Run::claimed(id, Trigger::After, at, now);
    run.status = RunStatus::Waiting;
    run.check_at = Some(now + after.window.to_chrono());
    run.expires_at = crate::service::dispatch::expiry(&job.spec, at);
    run.fan.waits = Some(Waits {
        day,
        jobs: after.jobs.clone(),
        met: Vec::new(),
    });
    run
}

/// Counts `upstream`'s success on a waiting fan-in run; the last one makes it due now. `false` when it was no news.
fn meets(run: &mut Run, upstream: &Run, now: DateTime<Utc>) -> bool {
    let Some(waits) = run.fan.waits.as_mut() else {
        return false;
    };
    if !waits.meet(&upstream.id) {
        return false;
    }
    if waits.missing().is_empty() {
        run.check_at = Some(now);
        run.not_before = Some(now);
    }
    true
}
