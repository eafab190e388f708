//! The recorder: every report ECS sends about a task fsched started updates that task's run (domain::record), with
//! a conditional write, so duplicates, stale reports and concurrent writers never move a run backwards. A run's
//! end is announced on the bus by whoever wrote it first, through the run's outbox: the announcement is written with
//! the end, sent, then cleared; if the send fails, the dispatcher sends it at the run's timer (at least once).

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::domain::attempt;
use crate::domain::cost::Prices;
use crate::domain::dispatch::started_by_time;
use crate::domain::event::{BusEvent, Lifecycle};
use crate::domain::health;
use crate::domain::job::{Job, OnInterruption};
use crate::domain::notify::address;
use crate::domain::record::{observe, Observed};
use crate::domain::run::{Pending, Run, RunStatus};
use crate::domain::task::TaskSnapshot;
use crate::domain::trigger::{settable, Command};
use crate::ports::{
    EventPublisher, JobStore, PoolStore, PublishError, RunStore, StoreError, TaskLauncher,
};
use crate::service::follow::follow_up;

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
}

impl RecordError {
    pub fn is_retryable(&self) -> bool {
        match self {
            RecordError::RunNotFound { .. } => true,
            RecordError::Store(e) => e.is_retryable() || matches!(e, StoreError::Conflict { .. }),
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
    let mut job = None;
    if task.is_stopped() {
        if let Some(arn) = task.task_definition_arn.clone() {
            match launcher.definition(&arn).await {
                Ok(facts) => facts.apply(&mut task),
                // Without it every container counts as essential and the price is x86_64's: say so, carry on.
                Err(e) => tracing::warn!(run = %run.id, error = %e, "task definition not readable"),
            }
        }
        job = store.get_job(run.id.job()).await?;
        if let Some(job) = &job {
            prices = job.spec.prices.clone().unwrap_or_default();
        }
    }
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut observed) = observe(&run, &task, &prices, now) else {
            return Ok(None);
        };
        if observed.announces() {
            let ends = closing(&mut observed.run, job.as_ref(), now);
            observed.run.announce(ends.iter().map(Pending::from), now);
        }
        observed.run.revision += 1;
        // A closed run's change may land in a rolled-up day: `correct_run` reopens it.
        let written = match run.status.is_open() {
            true => store.update_run(&observed.run).await,
            false => store.correct_run(&observed.run, now).await,
        };
        match written {
            Ok(()) => {
                if observed.closed && observed.run.status == RunStatus::Succeeded {
                    if let Some(job) = job {
                        note_success(store, job, &observed.run, now).await;
                    }
                }
                return Ok(Some(observed));
            }
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

/// Starts the job's success window again after a run succeeded and, if the job was overdue, writes "Job Recovered"
/// into its outbox (domain::health); the dispatcher sends it at the job's timer, the next tick. Only for jobs with
/// `expect`: one conditional write, made again on what another writer stored if it loses.
async fn note_success<S: JobStore>(store: &S, mut job: Job, run: &Run, now: DateTime<Utc>) {
    for _ in 0..WRITE_ATTEMPTS {
        let read = job.version;
        if !health::succeeded(&mut job, run, now) {
            return;
        }
        job.version = read + 1;
        match store.put_job(&job, Some(read)).await {
            Ok(()) => return,
            Err(StoreError::Conflict { .. }) => match store.get_job(&job.name).await {
                Ok(Some(fresh)) => job = fresh,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(job = %job.name, error = %e, "success not noted on the job: it may be announced overdue");
                    return;
                }
            },
            Err(e) => {
                tracing::warn!(job = %job.name, error = %e, "success not noted on the job: it may be announced overdue");
                return;
            }
        }
    }
}

pub struct Recorder<S, L, P> {
    store: S,
    launcher: L,
    publisher: P,
}

/// What a run's end announces, deciding first whether the job's `retry` runs it again (domain::attempt: then
/// `retried_as` names the attempt, claimed before the announcement leaves the outbox, and the end is announced as
/// "Run Retrying": only a chain's last ending is the job's outcome for alerts and chained jobs). Otherwise its
/// closing lifecycle event and, when its job says `on_interruption: rerun` and it was interrupted, the "Run Job"
/// command that reruns it (with the values the run was given, keyed by the run so that a duplicate asks once).
pub fn closing(run: &mut Run, job: Option<&Job>, now: DateTime<Utc>) -> Vec<BusEvent> {
    // A parallel run is not retried as a whole: each of its tasks is, by its own ending.
    if run.retried_as.is_none() && run.fan.parts.is_none() {
        run.retried_as = job.and_then(|j| attempt::next(&j.spec, run, now));
    }
    if run.status == RunStatus::Succeeded && run.fan.part.is_none() {
        run.fan.feeds = job
            .map(|j| j.spec.together.feeds.clone())
            .unwrap_or_default();
    }
    // A run closed as LOST or TIMED_OUT whose task then reports success keeps the retry it asked for (it may be
    // running already), but is announced as what it was.
    let retrying = run
        .retried_as
        .as_ref()
        .filter(|_| attempt::ending(run.status).is_some());
    let (kind, extra) = match retrying {
        Some(next) => (
            Lifecycle::RunRetrying,
            serde_json::json!({
                "next_run": next.run.to_string(),
                "next_attempt": next.number,
                "retry_at": next.at,
            }),
        ),
        None => (Lifecycle::closing(run.status), serde_json::json!({})),
    };
    // A task of a parallel run: announced for who watches the bus, not the job's outcome (alerts, chaining).
    if run.fan.part.is_some() {
        return vec![BusEvent::run(Lifecycle::TaskEnded, run, now, extra)];
    }
    let mut end = BusEvent::run(kind, run, now, extra);
    if let Some(job) = job {
        address(&mut end, &job.spec);
    }
    let mut events = vec![end];
    let Some(job) = job.filter(|j| {
        run.status == RunStatus::Interrupted
            && j.spec.on_interruption == OnInterruption::Rerun
            && retrying.is_none()
    }) else {
        return events;
    };
    // The values the run was given, for the variables a command may set (the others are the job's own).
    let settable = settable(&job.spec);
    let mut values = BTreeMap::new();
    for c in run.overrides.iter().flat_map(|o| o.values()) {
        for (k, v) in c.environment.iter().filter(|(k, _)| settable.contains(*k)) {
            values.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let command = Command::RunJob {
        job: job.name.clone(),
        values,
        request_id: format!("rerun-{}", run.id.key()),
        requested_by: format!("fsched (on_interruption: rerun of {})", run.id),
    };
    match command.to_event(now.trunc_subsecs(0)) {
        Ok(event) => events.push(event),
        // The values were checked when the run was asked for; a run recorded before a check existed may fail it.
        Err(e) => {
            tracing::error!(run = %run.id, error = %e, "on_interruption: rerun not asked for")
        }
    }
    events
}

/// Why a run's outbox could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The attempt that follows the run could not be claimed, or the run queued behind it released: the outbox
    /// waits for it.
    #[error("claiming its retry or releasing the run queued behind it: {0}")]
    FollowUp(#[from] StoreError),
}

/// Sends what a run's outbox holds, then takes what was sent out of it with a conditional write, after claiming the
/// retry its end asked for (if any). A failed send leaves the outbox and its timer for the dispatcher. A write that loses to another writer (a report adding facts,
/// which carries the outbox along) is made again on what that writer stored, so the events just sent are not sent
/// again by whoever finds them later; only a failure to write leaves them to be sent again (at least once).
pub async fn send_outbox<S: RunStore + JobStore + PoolStore, P: EventPublisher>(
    store: &S,
    publisher: &P,
    run: &Run,
) -> Result<(), OutboxError> {
    let mut next = Some(run.clone()).filter(|r| !r.outbox.is_empty());
    // The last task of a parallel run closes that run: its end is sent next, the same way.
    while let Some(run) = next.take() {
        next = follow_up(store, &run).await?;
        let events: Vec<BusEvent> = run.outbox.iter().map(BusEvent::from).collect();
        publisher.publish(&events).await?;
        clear_sent(store, &run).await;
    }
    Ok(())
}

/// Takes what `run`'s outbox held (now sent) out of the stored run; see `send_outbox`.
pub async fn clear_sent<S: RunStore>(store: &S, run: &Run) {
    let mut stored = run.clone();
    for _ in 0..WRITE_ATTEMPTS {
        let mut sent = stored.clone();
        sent.outbox.retain(|p| !run.outbox.contains(p));
        if sent.outbox.len() == stored.outbox.len() {
            return;
        }
        if sent.outbox.is_empty() {
            sent.announced();
        }
        sent.revision += 1;
        match store.update_run(&sent).await {
            Ok(()) => return,
            Err(StoreError::Conflict { .. }) => match store.get_run(&run.id).await {
                Ok(Some(now)) => stored = now,
                _ => break,
            },
            Err(e) => {
                tracing::warn!(run = %run.id, error = %e, "outbox sent but not emptied: it will be sent again");
                return;
            }
        }
    }
    tracing::warn!(run = %run.id, "outbox sent but not emptied: it will be sent again");
}

impl<S: RunStore + JobStore + PoolStore, L: TaskLauncher, P: EventPublisher> Recorder<S, L, P> {
    /// The run the task's `startedBy` names, if fsched gave it to one: the runs of its time stamp are read (one
    /// Query of a day's listing, for this rare case only) and their `startedBy` compared.
    async fn named_run(&self, task: &TaskSnapshot) -> Result<Option<Run>, StoreError> {
        let Some(by) = task.started_by.as_deref() else {
            return Ok(None);
        };
        let Some(at) = started_by_time(by) else {
            return Ok(None);
        };
        let runs = self
            .store
            .runs_between(at, at + chrono::Duration::seconds(1), 1000)
            .await?;
        Ok(runs
            .into_iter()
            .find(|run| self.launcher.started_by(&run.id) == by))
    }

    /// A task whose run was closed before its launch was recorded (`overlap: replace` closed the claimed run while
    /// RunTask was answering): nobody would watch it, so it is stopped.
    async fn stop_orphan(&self, run: &Run, task: &TaskSnapshot) -> Result<(), StoreError> {
        let Some(job) = self.store.get_job(run.id.job()).await? else {
            return Ok(());
        };
        let why = format!(
            "run {} was closed {} before its task was recorded",
            run.id, run.status
        );
        let reason = crate::domain::record::stop_reason(&run.id, &why);
        if let Err(e) = self
            .launcher
            .stop(&job.spec.cluster, &task.task_arn, &reason)
            .await
        {
            tracing::warn!(run = %run.id, task = %task.task_arn, error = %e, "orphan task not stopped");
        }
        Ok(())
    }

    /// Sends a run's outbox; a failure is the dispatcher's to retry, at the run's timer.
    async fn send(&self, run: &Run) {
        if let Err(e) = send_outbox(&self.store, &self.publisher, run).await {
            tracing::warn!(run = %run.id, error = %e, retry_at = ?run.check_at, "announcement kept in the outbox");
        }
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
            // A stopped task of one of fsched's runs whose launch is not recorded yet: a retry will find it. A task
            // of a run closed without it is stopped. Any other task (started by hand with a `startedBy` that looks
            // like fsched's) is not fsched's to record.
            match self.named_run(&task).await? {
                Some(run) if run.status.is_open() && task.is_stopped() => {
                    return Err(RecordError::RunNotFound {
                        task_arn: task.task_arn,
                    })
                }
                Some(run) if !run.status.is_open() && !task.is_stopped() => {
                    self.stop_orphan(&run, &task).await?
                }
                _ => {}
            }
            return Ok(Recorded::Ignored {
                task_arn: task.task_arn,
            });
        };
        let id = run.id.to_string();
        // A run whose end was written but not announced (the invocation died in between): announce it now.
        let unsent = (!run.outbox.is_empty()).then(|| run.clone());
        let Some(observed) = apply_report(&self.store, &self.launcher, run, task, now).await?
        else {
            if let Some(run) = unsent {
                self.send(&run).await;
            }
            return Ok(Recorded::Unchanged { run: id });
        };
        // Its end, just written, or an earlier end whose announcement is still unsent.
        if !observed.run.outbox.is_empty() {
            self.send(&observed.run).await;
        }
        Ok(Recorded::Updated {
            run: id,
            status: observed.run.status,
            closed: observed.closed,
        })
    }
}
