//! The dispatcher's tick: everything due by the tick's time, found in one query, handled with bounded concurrency.
//! Each scheduled time is claimed by one conditional write before anything is launched, so duplicate and
//! concurrent ticks are harmless; a claimed run that was never launched is launched by a later tick.
//!
//! `checks` looks at open runs whose time has come; `launch` starts claimed runs; `overlap` applies the overlap
//! policy against what runs (for ticks and for triggered runs, `start`); `pacer` keeps RunTask within ECS's rate;
//! `report` is what a tick did; `timer` moves a job's timer and watches its health.

mod checks;
mod launch;
mod overlap;
mod pacer;
mod report;
mod settings;
mod timer;
mod together;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use tokio::time::Instant;

use crate::domain::dispatch::{self, Action, Missed, RECOVER_AFTER};
use crate::domain::duration::Span;
use crate::domain::event::{BusEvent, Lifecycle};

use crate::domain::job::{ContainerOverride, Job, JobSpec};
use crate::domain::run::{Run, RunId, RunStatus, Trigger};
use crate::domain::trigger::{is_dynamic, resolve, schedule_event, Rejection};
use crate::ports::{Claim, Due, EventPublisher, Store, StoreError, TaskLauncher};
use crate::service::follow::follow_up;
use crate::service::record::clear_sent;

use overlap::replaced;
use pacer::Pacer;
use report::owe;
pub use report::TickReport;
pub use settings::{tick_deadline, Clock, Settings, TICK_WINDOW};
use timer::clear_job_outbox;
pub use together::{COUNT_VAR, INDEX_VAR};

/// Why a tick could not run at all (everything else is reported per job in the `TickReport`).
#[derive(Debug, thiserror::Error)]
#[error("cannot read what is due: {0}")]
pub struct TickError(#[from] pub StoreError);

pub struct Dispatcher<S, L, P> {
    store: S,
    launcher: L,
    publisher: P,
    settings: Settings,
    pacer: Pacer,
}

pub(crate) fn expiry(spec: &JobSpec, scheduled_at: DateTime<Utc>) -> Option<i64> {
    Some((scheduled_at + spec.history.to_chrono()).timestamp())
}

/// The run's own container overrides when the job takes values from its triggering event (`None` when it takes
/// none: the job's overrides are used as they are).
pub(crate) fn values_for(
    spec: &JobSpec,
    event: &serde_json::Value,
) -> Result<Option<BTreeMap<String, ContainerOverride>>, Rejection> {
    if !is_dynamic(spec) {
        return Ok(None);
    }
    resolve(spec, event, &BTreeMap::new()).map(|s| Some(s.containers))
}

/// How a triggered run is to start: the outcome of resolving its values, or why it cannot.
pub enum Start {
    /// Launch with these container overrides (`None`: the job's own).
    Launch(Option<BTreeMap<String, ContainerOverride>>),
    Reject(Rejection),
}

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    pub fn new(store: S, launcher: L, publisher: P, settings: Settings) -> Self {
        let pacer = Pacer::new(settings.run_task_rate);
        Dispatcher {
            store,
            launcher,
            publisher,
            settings,
            pacer,
        }
    }

    /// When a run claimed (or taken) now may be recovered by another invocation: once this one can no longer be
    /// launching it (its deadline), counted from the later of `now` and the function's clock, since a retried
    /// delivery is handled after the time it carries.
    pub(super) fn lease(&self, now: DateTime<Utc>, until: Instant) -> DateTime<Utc> {
        let left = until.saturating_duration_since(Instant::now());
        let left = chrono::Duration::from_std(left).unwrap_or(RECOVER_AFTER);
        now.max((self.settings.clock.0)()) + left.max(RECOVER_AFTER)
    }

    /// Handles everything due at `now` (the tick's scheduled time), stopping new work `margin` before `deadline`.
    pub async fn tick(
        &self,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<TickReport, TickError> {
        let due = self.store.due(now).await?;
        let until = deadline
            .checked_sub(self.settings.margin)
            .unwrap_or(deadline);
        let mut report = TickReport {
            now: Some(now),
            due: due.len(),
            ..TickReport::default()
        };
        let work = stream::iter(due)
            .map(|item| async move {
                if Instant::now() >= until {
                    return TickReport {
                        not_started: 1,
                        ..TickReport::default()
                    };
                }
                // Boxed: each is a large future, and the stream moves its items' futures into place.
                match item {
                    Due::Job(job) => Box::pin(self.job(*job, now, until)).await,
                    Due::Run(run) => Box::pin(self.check(*run, now, until)).await,
                    // Services are the sleeper's (service::scale): handed back to the caller.
                    Due::Service(state) => TickReport {
                        services: vec![*state],
                        ..TickReport::default()
                    },
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1));
        let parts: Vec<TickReport> = work.collect().await;
        for part in parts {
            report.merge(part);
        }
        self.publish(&mut report).await;
        Ok(report)
    }

    /// A due job: its missed times recorded, its due times claimed through the overlap policy, its timer moved
    /// past the tick, then the claimed runs launched (and, with `overlap: replace`, the runs they replace stopped).
    async fn job(&self, job: Job, now: DateTime<Utc>, until: Instant) -> TickReport {
        let mut r = TickReport::default();
        let fires = dispatch::fires(&job, now);
        self.record_missed(&job, &fires.missed, now, &mut r).await;
        let (to_launch, to_stop) = if fires.due.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            match self.claim_due(&job, &fires.due, now, until, &mut r).await {
                Some(claimed) => claimed,
                // Without knowing what runs, the policy cannot be applied: the next tick tries again.
                None => return r,
            }
        };
        // A time that could not be claimed (or recorded missed) keeps the job's timer where it is, so the retry of
        // this tick, or the next tick, claims it; moving on would lose that time for good.
        if r.errors.is_empty() {
            self.advance(&job, &fires, now, &mut r).await;
        }
        for (run, reason) in to_stop {
            self.stop_run(run, RunStatus::Stopped, &reason, now, &mut r)
                .await;
        }
        for run in to_launch {
            self.launch(run, &job.spec, now, until, &mut r).await;
        }
        r
    }

    /// Times later than catch_up allows: the most recent few are recorded MISSED, the rest counted.
    async fn record_missed(
        &self,
        job: &Job,
        missed: &Missed,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        let spec = &job.spec;
        r.missed_total = missed.count;
        let recorded = missed.recent.len();
        for (i, t) in missed.recent.iter().enumerate() {
            let mut run = Run::claimed(RunId::scheduled(&job.name, *t), Trigger::Schedule, *t, now);
            run.status = RunStatus::Missed;
            run.expires_at = expiry(spec, *t);
            let late = Span::from_chrono(now - *t);
            let mut reason = format!(
                "found {late} late, later than catch_up ({}) allows",
                spec.catch_up
            );
            let earlier = missed.count - recorded as u64;
            let is_latest = i + 1 == recorded;
            if is_latest && earlier > 0 {
                let at_least = if missed.more { "at least " } else { "" };
                reason.push_str(&format!(
                    "; {at_least}{earlier} earlier scheduled times were missed too"
                ));
            }
            run.reason = Some(reason);
            let extra = if is_latest {
                json!({ "missed_count": missed.count })
            } else {
                json!({})
            };
            owe(&mut run, Some(spec), Lifecycle::RunMissed, now, extra);
            match self.store.claim_run(&run).await {
                Ok(Claim::Won) => {
                    r.missed.push(run.id.clone());
                    r.unsent.push(run);
                }
                Ok(Claim::Lost(_)) => {}
                Err(e) => r.errors.push(e.to_string()),
            }
        }
    }

    /// Claims each due time as the overlap policy decides: runs to launch, and runs they replace. `None` when the
    /// policy could not be applied.
    async fn claim_due(
        &self,
        job: &Job,
        due: &[DateTime<Utc>],
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) -> Option<(Vec<Run>, Vec<(Run, String)>)> {
        let spec = &job.spec;
        let (decision, in_progress) = self.overlap(job, due, now, r).await?;
        let mut to_launch: Vec<Run> = Vec::new();
        let mut queued = Vec::new();
        for (t, action) in &decision.actions {
            let mut run = Run::claimed(RunId::scheduled(&job.name, *t), Trigger::Schedule, *t, now);
            run.expires_at = expiry(spec, *t);
            // With `jitter`, the start delay counts from the offset time the fire was due at.
            run.not_before = Some(job.due_at(*t)).filter(|d| d != t);
            match (action, values_for(spec, &schedule_event(&job.name, *t))) {
                (Action::Skip(reason), _) => {
                    run.status = RunStatus::Skipped;
                    run.reason = Some(reason.clone());
                    run.blocked_by = r.blocker.clone();
                }
                (_, Err(rejection)) => {
                    run.status = RunStatus::Rejected;
                    run.reason = Some(rejection.to_string());
                }
                (Action::Launch, Ok(overrides)) => {
                    run.overrides = overrides;
                    run.check_at = Some(self.lease(now, until));
                }
                (Action::Queue(ahead), Ok(overrides)) => {
                    run.overrides = overrides;
                    run.queue_behind(ahead.clone(), now);
                }
            }
            if !run.status.is_open() {
                owe_end(&mut run, spec, now);
            }
            match self.store.claim_run(&run).await {
                // Queued behind a run claimed in this tick: that run's next write (its launch) carries the link.
                Ok(Claim::Won) if run.is_queued() => match to_launch
                    .iter_mut()
                    .find(|l| Some(&l.id) == run.queued_behind.as_ref())
                {
                    Some(ahead) => {
                        ahead.then = Some(run.id.clone());
                        r.queued.push(run.id.clone());
                    }
                    None => queued.push(run),
                },
                Ok(Claim::Won) if run.status.is_open() => to_launch.push(run),
                Ok(Claim::Won) => not_launched(run, r),
                Ok(Claim::Lost(_)) => {}
                Err(e) => r.errors.push(e.to_string()),
            }
        }
        for run in queued {
            self.link(run, now, r).await;
        }
        let to_stop = match to_launch.last() {
            Some(newest) => replaced(in_progress, &decision, &newest.id),
            None => Vec::new(),
        };
        Some((to_launch, to_stop))
    }

    /// The tick's events and the outboxes of the runs it ended (after what each end asks of the runs after it), in
    /// one publish (the publisher splits it into EventBridge's batches), then each outbox emptied. A failed send
    /// leaves the outboxes to their timers.
    async fn publish(&self, report: &mut TickReport) {
        let mut unsent = std::mem::take(&mut report.unsent);
        // What each end asks of the runs after it comes first; an end whose follow-up failed stays in its outbox,
        // for its timer.
        let mut ready = Vec::with_capacity(unsent.len());
        while let Some(run) = unsent.pop() {
            match follow_up(&self.store, &run).await {
                Ok(closed) => {
                    // The last task of a parallel run closed it: its end goes out too.
                    unsent.extend(closed);
                    ready.push(run);
                }
                Err(e) => report.errors.push(format!("run {}: {e}", run.id)),
            }
        }
        let unsent = ready;
        let mut events = std::mem::take(&mut report.events);
        events.extend(
            unsent
                .iter()
                .flat_map(|run| run.outbox.iter().map(BusEvent::from)),
        );
        let jobs = std::mem::take(&mut report.unsent_jobs);
        events.extend(
            jobs.iter()
                .flat_map(|job| job.health.outbox.iter().map(BusEvent::from)),
        );
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.publisher.publish(&events).await {
            report.errors.push(format!("lifecycle events: {e}"));
            return;
        }
        for run in &unsent {
            clear_sent(&self.store, run).await;
        }
        for job in &jobs {
            clear_job_outbox(&self.store, job).await;
        }
    }
}

/// Owes the announcement of a run that ends as it is claimed (rejected for its values, skipped by policy).
fn owe_end(run: &mut Run, spec: &JobSpec, now: DateTime<Utc>) {
    let kind = if run.status == RunStatus::Rejected {
        Lifecycle::RunRejected
    } else {
        Lifecycle::RunSkipped
    };
    owe(run, Some(spec), kind, now, json!({}));
}

/// A claimed run that is not launched (rejected for its values, skipped by policy), in the report, its
/// announcement to be sent.
fn not_launched(run: Run, r: &mut TickReport) {
    if run.status == RunStatus::Rejected {
        r.rejected.push(run.id.clone());
    } else {
        r.skipped.push(run.id.clone());
    }
    r.unsent.push(run);
}
