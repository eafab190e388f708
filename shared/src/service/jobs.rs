//! Applying a jobs file, pausing and resuming jobs: each job is one conditional write, so a failure part-way
//! leaves every job at either its old or its new definition, and a concurrent writer is detected, never overwritten.

use chrono::{DateTime, Utc};

use crate::domain::job::{Job, JobName};
use crate::domain::plan::{moves_fires, next_fire, Change, Plan};
use crate::ports::{JobStore, StoreError};

/// What happened to one job when a plan was applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created,
    Updated,
    Removed,
    /// Someone changed the job since the plan was made: nothing was written for it.
    Conflict(String),
    /// The write failed for another reason: nothing was written for it.
    Failed(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Created | Outcome::Updated | Outcome::Removed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no job `{0}` is stored (see `fsched jobs`)")]
    Unknown(JobName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn outcome_of(result: Result<(), StoreError>, ok: Outcome) -> Outcome {
    match result {
        Ok(()) => ok,
        Err(StoreError::Conflict { .. }) => Outcome::Conflict(
            "changed by someone else since the plan was made; run plan and apply again".to_owned(),
        ),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Writes every change of `plan` (made against the stored versions), one conditional write per job.
pub async fn apply<S: JobStore>(
    store: &S,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Vec<(JobName, Outcome)> {
    let mut results = Vec::new();
    for change in &plan.changes {
        let (name, outcome) = match change {
            Change::Add { name, spec } => {
                let job = Job {
                    name: name.clone(),
                    spec: (**spec).clone(),
                    version: 1,
                    next_fire: next_fire(spec, now),
                    last_fire: None,
                };
                let outcome = outcome_of(store.put_job(&job, None).await, Outcome::Created);
                (name.clone(), outcome)
            }
            Change::Update { current, spec, .. } => {
                let next_fire = if moves_fires(&current.spec, spec) {
                    next_fire(spec, now)
                } else {
                    current.next_fire
                };
                let job = Job {
                    spec: (**spec).clone(),
                    version: current.version + 1,
                    next_fire,
                    ..(**current).clone()
                };
                let outcome = outcome_of(
                    store.put_job(&job, Some(current.version)).await,
                    Outcome::Updated,
                );
                (current.name.clone(), outcome)
            }
            Change::Remove { current } => (
                current.name.clone(),
                outcome_of(
                    store.delete_job(&current.name, current.version).await,
                    Outcome::Removed,
                ),
            ),
            Change::Keep { .. } => continue,
        };
        results.push((name, outcome));
    }
    results
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
        let from = if replay {
            job.last_fire.unwrap_or(now)
        } else {
            now
        };
        job.next_fire = next_fire(&job.spec, from);
        Ok(())
    })
    .await
}
