//! A job's timer after a tick: moved past the times the tick handled, and, for a job with `expect`, marked overdue
//! in the same write when its success window ran out (domain::health). The job's announcements go out with the
//! tick's events, then leave its outbox.

use chrono::{DateTime, Utc};

use super::{Dispatcher, TickReport};
use crate::domain::dispatch::Fires;
use crate::domain::health;
use crate::domain::job::Job;
use crate::domain::run::RunStatus;
use crate::ports::{EventPublisher, Store, StoreError, TaskLauncher};

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// Moves the job's timer past this tick before launching, so concurrent ticks stop finding it. A job whose
    /// success window ran out is marked overdue in the same write (domain::health), and its unsent announcements
    /// go out with the tick's.
    pub(super) async fn advance(
        &self,
        job: &Job,
        fires: &Fires,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        let mut moved = job.clone();
        moved.next_fire = fires.next_fire;
        moved.last_fire = fires.last_fire.or(job.last_fire);
        let Some(found) = self.latest_success(&moved, now, r).await else {
            // Without knowing whether it succeeded, the job is not announced overdue: the next tick looks again.
            return;
        };
        let since_moved = health::found_success(&mut moved, found);
        let overdue = health::watch(&mut moved, now);
        if overdue || since_moved {
            moved.version = job.version + 1;
            match self.store.put_job(&moved, Some(job.version)).await {
                Ok(()) => {
                    if overdue {
                        r.overdue += 1;
                        r.unsent_jobs.push(moved);
                    }
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(job = %job.name, "job written concurrently: the next tick looks again");
                }
                Err(e) => r.errors.push(e.to_string()),
            }
            return;
        }
        if !job.health.outbox.is_empty() {
            r.unsent_jobs.push(job.clone());
        }
        if fires.last_fire.is_none() && fires.next_fire == job.next_fire {
            return;
        }
        let last = fires.last_fire.or(job.last_fire);
        match self.store.advance_job(job, fires.next_fire, last).await {
            Ok(()) => {}
            // Another tick or an apply moved it: the claims already keep each time to one run.
            Err(StoreError::Conflict { .. }) => {
                tracing::debug!(job = %job.name, "job timer moved concurrently");
            }
            Err(e) => r.errors.push(e.to_string()),
        }
    }

    /// At the moment a job would become overdue, the end of its latest success (`Some(None)`: none found), read
    /// from its runs: the recorder notes each success on the job, and this finds one whose note was lost (a write
    /// that failed after the run's). One Query, at the deadline only; `None` when the runs cannot be read.
    async fn latest_success(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) -> Option<Option<DateTime<Utc>>> {
        if job.health.deadline(&job.spec).is_none_or(|d| d > now) {
            return Some(None);
        }
        match self.store.runs_of_job(&job.name, RECENT_RUNS).await {
            Ok(runs) => Some(
                runs.iter()
                    .filter(|run| run.status == RunStatus::Succeeded)
                    .filter_map(|run| run.stopped_at)
                    .max(),
            ),
            Err(e) => {
                r.errors.push(format!("job {}: {e}", job.name));
                None
            }
        }
    }
}

/// How many of a job's newest runs the overdue check reads for a success.
const RECENT_RUNS: usize = 50;

/// Takes what `job`'s outbox held (now sent) out of the stored job: a conditional write, made again on what another
/// writer stored if it loses; a failure leaves the announcements to be sent again at the job's timer.
pub(super) async fn clear_job_outbox<S: Store>(store: &S, job: &Job) {
    let mut stored = job.clone();
    for _ in 0..3 {
        let mut cleared = health::sent(&stored, &job.health.outbox);
        if cleared.health.outbox.len() == stored.health.outbox.len() {
            return;
        }
        cleared.version = stored.version + 1;
        match store.put_job(&cleared, Some(stored.version)).await {
            Ok(()) => return,
            Err(StoreError::Conflict { .. }) => match store.get_job(&job.name).await {
                Ok(Some(fresh)) => stored = fresh,
                _ => break,
            },
            Err(_) => break,
        }
    }
    tracing::warn!(job = %job.name, "job announcements sent but not cleared: they will be sent again");
}
