//! Pausing and resuming jobs: one conditional write each, so a concurrent writer is detected, never overwritten.

use chrono::{DateTime, Utc};

use crate::domain::job::{fire_from, next_fire, Job, JobName};
use crate::ports::{JobStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no job `{0}` is stored (see `fsched jobs`)")]
    Unknown(JobName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn rewrite<S: JobStore>(
    store: &S,
    name: &JobName,
    change: impl Fn(&mut Job) -> Result<(), JobError>,
) -> Result<Job, JobError> {
    let current = store
        .get_job(name)
        .await?
        .ok_or_else(|| JobError::Unknown(name.clone()))?;
    let mut job = current.clone();
    change(&mut job)?;
    job.version = current.version + 1;
    store.put_job(&job, Some(current.version)).await?;
    Ok(job)
}

/// Pauses a job: it keeps its definition and history but has no next fire until resumed.
pub async fn pause<S: JobStore>(store: &S, name: &JobName) -> Result<Job, JobError> {
    rewrite(store, name, |job| {
        job.spec.paused = true;
        job.next_fire = None;
        Ok(())
    })
    .await
}

/// Resumes a job from `now`: fires missed while paused are not replayed, unless `replay`, which resumes from the
/// last handled fire (the dispatcher then applies the job's `catch_up` to the paused window).
pub async fn resume<S: JobStore>(
    store: &S,
    name: &JobName,
    now: DateTime<Utc>,
    replay: bool,
) -> Result<Job, JobError> {
    rewrite(store, name, |job| {
        job.spec.paused = false;
        job.next_fire = match job.last_fire.filter(|_| replay) {
            Some(last) => next_fire(&job.spec, last),
            None => fire_from(&job.spec, now),
        };
        // A paused job is not expected to succeed: its success window starts again at its first fire.
        if job.spec.expect.is_some() && job.health.overdue_since.is_none() {
            job.health.since = Some(next_fire(&job.spec, now).unwrap_or(now));
        }
        Ok(())
    })
    .await
}
