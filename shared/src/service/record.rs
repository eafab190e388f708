//! The recorder: every report ECS sends about a task fsched started updates that task's run (domain::record), with
//! a conditional write, so duplicates, stale reports and concurrent writers never move a run backwards. A run's
//! end is announced on the bus by whoever wrote it first.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::domain::cost::Prices;
use crate::domain::dispatch::{started_by, started_by_time};
use crate::domain::event::{BusEvent, Lifecycle};
use crate::domain::job::OnInterruption;
use crate::domain::record::{observe, Observed};
use crate::domain::run::{Run, RunStatus};
use crate::domain::task::TaskSnapshot;
use crate::domain::trigger::{settable, Command};
use crate::ports::{EventPublisher, JobStore, PublishError, RunStore, StoreError, TaskLauncher};

/// Conditional writes lost in a row before giving up (each loss means someone else just wrote the run).
const WRITE_ATTEMPTS: usize = 5;

/// What recording one report did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Recorded {
    /// The run was updated; `closed` when this report ended it.
    Updated {
        run: String,
        status: RunStatus,
        closed: bool,
    },
    /// A duplicate or stale report: nothing to change.
    Unchanged { run: String },
    /// A report of a task with no run yet, before it stopped: later reports carry everything it said.
    Ignored { task_arn: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A stopped task whose run cannot be found (yet): RunTask's answer may not be recorded yet, and the index is
    /// eventually consistent. Retrying later finds it; the dispatcher's check is the backstop.
    #[error("no run records task {task_arn} yet; retry later")]
    RunNotFound { task_arn: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run was recorded; announcing its end failed.
    #[error("run {run} recorded, but its event was not published: {source}")]
    Publish { run: String, source: PublishError },
    #[error(transparent)]
    Command(#[from] crate::domain::trigger::CommandError),
}

impl RecordError {
    pub fn is_retryable(&self) -> bool {
        match self {
            RecordError::RunNotFound { .. } => true,
            RecordError::Store(e) => e.is_retryable() || matches!(e, StoreError::Conflict { .. }),
            RecordError::Publish { .. } | RecordError::Command(_) => false,
        }
    }
}

/// Applies a report to a run and writes it, re-reading and re-applying when another writer got there first.
/// Stopped tasks are completed with their task definition's essential containers and architecture, and priced
/// with the job's prices. `None` when the report changes nothing.
pub async fn apply_report<S: RunStore + JobStore, L: TaskLauncher>(
    store: &S,
    launcher: &L,
    mut run: Run,
    mut task: TaskSnapshot,
    now: DateTime<Utc>,
) -> Result<Option<Observed>, StoreError> {
    let mut prices = Prices::default();
    // A duplicate or stale report changes nothing whatever the task definition and prices say: answer it without
    // the two reads below (ECS sends each stopped task's event at least once, often more).
    if observe(&run, &task, &prices, now).is_none() {
        return Ok(None);
    }
    if task.is_stopped() {
        if let Some(arn) = task.task_definition_arn.clone() {
            match launcher.definition(&arn).await {
                Ok(facts) => facts.apply(&mut task),
                // Without it every container counts as essential and the price is x86_64's: say so, carry on.
                Err(e) => tracing::warn!(run = %run.id, error = %e, "task definition not readable"),
            }
        }
        if let Some(job) = store.get_job(run.id.job()).await? {
            prices = job.spec.prices.unwrap_or_default();
        }
    }
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut observed) = observe(&run, &task, &prices, now) else {
            return Ok(None);
        };
        observed.run.revision += 1;
        match store.update_run(&observed.run).await {
            Ok(()) => return Ok(Some(observed)),
            Err(StoreError::Conflict { .. }) => {
                run = store
                    .get_run(&run.id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict {
                        what: format!("run `{}` (deleted while recording)", run.id),
                    })?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict {
        what: format!("run `{}` ({WRITE_ATTEMPTS} writes in a row lost)", run.id),
    })
}

pub struct Recorder<S, L, P> {
    store: S,
    launcher: L,
    publisher: P,
}

impl<S: RunStore + JobStore, L: TaskLauncher, P: EventPublisher> Recorder<S, L, P> {
    /// The "Run Job" command that reruns an interrupted run, when its job says `on_interruption: rerun`: with the
    /// values the run was given, keyed by the run so that a duplicate event asks once.
    async fn rerun(&self, run: &Run, now: DateTime<Utc>) -> Result<Option<BusEvent>, RecordError> {
        let Some(job) = self.store.get_job(run.id.job()).await? else {
            return Ok(None);
        };
        if job.spec.on_interruption != OnInterruption::Rerun {
            return Ok(None);
        }
        // The values the run was given, for the variables a command may set (the others are the job's own).
        let settable = settable(&job.spec);
        let mut values = BTreeMap::new();
        for c in run.overrides.iter().flat_map(|o| o.values()) {
            for (k, v) in c.environment.iter().filter(|(k, _)| settable.contains(*k)) {
                values.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let command = Command::RunJob {
            job: job.name,
            values,
            request_id: format!("rerun-{}", run.id.key()),
            requested_by: format!("fsched (on_interruption: rerun of {})", run.id),
        };
        Ok(Some(command.to_event(now.trunc_subsecs(0))?))
    }

    /// Whether the task's `startedBy` is the one fsched gave a run: the runs of its time stamp are read (one Query of
    /// a day's listing, for this rare case only) and their `startedBy` compared.
    async fn names_a_run(&self, task: &TaskSnapshot) -> Result<bool, StoreError> {
        let Some(by) = task.started_by.as_deref() else {
            return Ok(false);
        };
        let Some(at) = started_by_time(by) else {
            return Ok(false);
        };
        let runs = self
            .store
            .runs_between(at, at + chrono::Duration::seconds(1), 1000)
            .await?;
        Ok(runs.iter().any(|run| started_by(&run.id) == by))
    }

    pub fn new(store: S, launcher: L, publisher: P) -> Self {
        Recorder {
            store,
            launcher,
            publisher,
        }
    }

    /// Records one report of a task at `now` (the event's time).
    pub async fn record(
        &self,
        task: TaskSnapshot,
        now: DateTime<Utc>,
    ) -> Result<Recorded, RecordError> {
        let Some(run) = self.store.run_by_task(&task.task_arn).await? else {
            // A stopped task of one of fsched's runs whose launch is not recorded yet: a retry will find it. Any
            // other task (started by hand with a `startedBy` that looks like fsched's) is not fsched's to record.
            if task.is_stopped() && self.names_a_run(&task).await? {
                return Err(RecordError::RunNotFound {
                    task_arn: task.task_arn,
                });
            }
            return Ok(Recorded::Ignored {
                task_arn: task.task_arn,
            });
        };
        let id = run.id.to_string();
        let Some(observed) = apply_report(&self.store, &self.launcher, run, task, now).await?
        else {
            return Ok(Recorded::Unchanged { run: id });
        };
        if observed.closed {
            let mut events = vec![BusEvent::run(
                Lifecycle::closing(observed.run.status),
                &observed.run,
                now,
                serde_json::json!({}),
            )];
            if observed.run.status == RunStatus::Interrupted {
                // The run is written: a failure here must not lose its closing event too.
                match self.rerun(&observed.run, now).await {
                    Ok(command) => events.extend(command),
                    Err(e) => {
                        tracing::error!(run = %id, error = %e, "on_interruption: rerun not asked for")
                    }
                }
            }
            self.publisher
                .publish(&events)
                .await
                .map_err(|source| RecordError::Publish {
                    run: id.clone(),
                    source,
                })?;
        }
        Ok(Recorded::Updated {
            run: id,
            status: observed.run.status,
            closed: observed.closed,
        })
    }
}
