//! The dispatcher's tick: everything due by the tick's time, found in one query, handled with bounded concurrency.
//! Each scheduled time is claimed by one conditional write before anything is launched, so duplicate and
//! concurrent ticks are harmless; a claimed run that was never launched is launched by a later tick.
//!
//! `checks` looks at open runs whose time has come; `launch` starts claimed runs; `pacer` keeps RunTask within
//! ECS's rate; `report` is what a tick did.

mod checks;
mod launch;
mod pacer;
mod report;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use tokio::time::Instant;

use crate::domain::dispatch::{self, decide, Action, RECOVER_AFTER};
use crate::domain::duration::Span;
use crate::domain::event::Lifecycle;
use crate::domain::job::{ContainerOverride, Job, JobSpec, Overlap};
use crate::domain::run::{Run, RunId, RunStatus, Trigger};
use crate::domain::task::TaskSnapshot;
use crate::domain::trigger::{is_dynamic, resolve, schedule_event, Rejection};
use crate::ports::{Claim, Due, EventPublisher, Store, StoreError, TaskLauncher};

use pacer::Pacer;
pub use report::TickReport;

/// Limits of one dispatcher.
#[derive(Debug, Clone)]
pub struct Settings {
    /// RunTask calls per second at most (ECS throttles RunTask at about 20 per second per account and Region).
    pub run_task_rate: f64,
    /// Jobs and runs handled at once.
    pub concurrency: usize,
    /// Time kept in hand before the invocation's deadline: no new work starts after it.
    pub margin: StdDuration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            run_task_rate: 20.0,
            concurrency: 32,
            margin: StdDuration::from_secs(5),
        }
    }
}

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

fn expiry(spec: &JobSpec, scheduled_at: DateTime<Utc>) -> Option<i64> {
    Some((scheduled_at + spec.history.to_chrono()).timestamp())
}

/// The run's own container overrides when the job takes values from its triggering event (`None` when it takes
/// none: the job's overrides are used as they are).
fn values_for(
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
                match item {
                    Due::Job(job) => self.job(*job, now, until).await,
                    Due::Run(run) => self.check(*run, now, until).await,
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

    async fn job(&self, job: Job, now: DateTime<Utc>, until: Instant) -> TickReport {
        let mut r = TickReport::default();
        let name = job.name.clone();
        let fires = dispatch::fires(&job, now);
        let spec = &job.spec;

        // Times later than catch_up allows: the most recent few are recorded, the rest counted.
        r.missed_total = fires.missed.count;
        let recorded = fires.missed.recent.len();
        for (i, t) in fires.missed.recent.iter().enumerate() {
            let mut run = Run::claimed(RunId::scheduled(&name, *t), Trigger::Schedule, *t, now);
            run.status = RunStatus::Missed;
            run.expires_at = expiry(spec, *t);
            let late = Span::from_chrono(now - *t);
            let mut reason = format!(
                "found {late} late, later than catch_up ({}) allows",
                spec.catch_up
            );
            let earlier = fires.missed.count - recorded as u64;
            let is_latest = i + 1 == recorded;
            if is_latest && earlier > 0 {
                let at_least = if fires.missed.more { "at least " } else { "" };
                reason.push_str(&format!(
                    "; {at_least}{earlier} earlier scheduled times were missed too"
                ));
            }
            run.reason = Some(reason);
            match self.store.claim_run(&run).await {
                Ok(Claim::Won) => {
                    r.missed.push(run.id.to_string());
                    let extra = if is_latest {
                        json!({ "missed_count": fires.missed.count })
                    } else {
                        json!({})
                    };
                    r.event(Lifecycle::RunMissed, &run, now, extra);
                }
                Ok(Claim::Lost(_)) => {}
                Err(e) => r.errors.push(e.to_string()),
            }
        }

        // Times to run: the overlap policy decides, and each is claimed before anything else happens.
        let mut to_launch = Vec::new();
        let mut to_stop = Vec::new();
        if !fires.due.is_empty() {
            let in_progress = match spec.overlap {
                Overlap::Allow => Vec::new(),
                _ => match self.in_progress(&job, now, &mut r).await {
                    Ok(runs) => runs,
                    Err(e) => {
                        // Without knowing what runs, the policy cannot be applied: the next tick tries again.
                        r.errors.push(format!("job `{name}`: {e}"));
                        return r;
                    }
                },
            };
            let ids: Vec<RunId> = in_progress.iter().map(|run| run.id.clone()).collect();
            let decision = decide(&name, spec.overlap, &fires.due, &ids);
            for (t, action) in decision.actions {
                let mut run = Run::claimed(RunId::scheduled(&name, t), Trigger::Schedule, t, now);
                run.expires_at = expiry(spec, t);
                let launch = match action {
                    Action::Launch => match values_for(spec, &schedule_event(&name, t)) {
                        Ok(overrides) => {
                            run.overrides = overrides;
                            run.check_at = Some(now + RECOVER_AFTER);
                            true
                        }
                        Err(rejection) => {
                            run.status = RunStatus::Rejected;
                            run.reason = Some(rejection.to_string());
                            false
                        }
                    },
                    Action::Skip(reason) => {
                        run.status = RunStatus::Skipped;
                        run.reason = Some(reason);
                        false
                    }
                };
                match self.store.claim_run(&run).await {
                    Ok(Claim::Won) if launch => to_launch.push(run),
                    Ok(Claim::Won) if run.status == RunStatus::Rejected => {
                        r.rejected.push(run.id.to_string());
                        r.event(Lifecycle::RunRejected, &run, now, json!({}));
                    }
                    Ok(Claim::Won) => {
                        r.skipped.push(run.id.to_string());
                        r.event(Lifecycle::RunSkipped, &run, now, json!({}));
                    }
                    Ok(Claim::Lost(_)) => {}
                    Err(e) => r.errors.push(e.to_string()),
                }
            }
            if let Some(newest) = to_launch.last() {
                let reason = format!("replaced by run {} (overlap: replace)", newest.id);
                to_stop = in_progress
                    .into_iter()
                    .filter(|run| decision.stop.contains(&run.id))
                    .map(|run| (run, reason.clone()))
                    .collect();
            }
        }

        // Move the job's timer past this tick before launching, so concurrent ticks stop finding it.
        if fires.last_fire.is_some() || fires.next_fire != job.next_fire {
            let last = fires.last_fire.or(job.last_fire);
            match self.store.advance_job(&job, fires.next_fire, last).await {
                Ok(()) => {}
                // Another tick or an apply moved it: the claims above already keep each time to one run.
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(job = %name, "job timer moved concurrently");
                }
                Err(e) => r.errors.push(e.to_string()),
            }
        }

        for (run, reason) in to_stop {
            self.stop_run(run, RunStatus::Stopped, &reason, now, &mut r)
                .await;
        }
        for run in to_launch {
            self.launch(run, spec, now, until, &mut r).await;
        }
        r
    }

    /// Starts a run asked for by an event, a command or a person (`run` is freshly claimed, keyed by what asked for
    /// it): recorded REJECTED when its values are not acceptable, else through the job's overlap policy, claimed
    /// exactly once (a duplicate delivery finds the claim and does nothing) and launched like a scheduled run.
    pub async fn start(
        &self,
        job: &Job,
        mut run: Run,
        start: Start,
        now: DateTime<Utc>,
        until: Instant,
    ) -> TickReport {
        let mut r = TickReport {
            now: Some(now),
            ..TickReport::default()
        };
        let spec = &job.spec;
        run.expires_at = expiry(spec, run.scheduled_at);
        let mut to_stop = Vec::new();
        match start {
            Start::Reject(rejection) => {
                run.status = RunStatus::Rejected;
                run.reason = Some(rejection.to_string());
            }
            Start::Launch(overrides) => {
                run.overrides = overrides;
                let in_progress = match spec.overlap {
                    Overlap::Allow => Vec::new(),
                    _ => match self.in_progress(job, now, &mut r).await {
                        Ok(runs) => runs,
                        Err(e) => {
                            r.errors.push(format!("job `{}`: {e}", job.name));
                            return r;
                        }
                    },
                };
                let ids: Vec<RunId> = in_progress.iter().map(|x| x.id.clone()).collect();
                let decision = decide(&job.name, spec.overlap, &[run.scheduled_at], &ids);
                match decision.actions.into_iter().next().map(|(_, a)| a) {
                    Some(Action::Skip(reason)) => {
                        run.status = RunStatus::Skipped;
                        run.reason = Some(reason);
                    }
                    _ => {
                        run.check_at = Some(now + RECOVER_AFTER);
                        let reason = format!("replaced by run {} (overlap: replace)", run.id);
                        to_stop = in_progress
                            .into_iter()
                            .filter(|x| decision.stop.contains(&x.id))
                            .map(|x| (x, reason.clone()))
                            .collect();
                    }
                }
            }
        }
        match self.store.claim_run(&run).await {
            Ok(Claim::Won) => {}
            Ok(Claim::Lost(_)) => {
                r.duplicates.push(run.id.to_string());
                return r;
            }
            Err(e) => {
                r.errors.push(e.to_string());
                return r;
            }
        }
        match run.status {
            RunStatus::Rejected => {
                r.rejected.push(run.id.to_string());
                r.event(Lifecycle::RunRejected, &run, now, json!({}));
            }
            RunStatus::Skipped => {
                r.skipped.push(run.id.to_string());
                r.event(Lifecycle::RunSkipped, &run, now, json!({}));
            }
            _ => {
                for (old, reason) in to_stop {
                    self.stop_run(old, RunStatus::Stopped, &reason, now, &mut r)
                        .await;
                }
                self.launch(run, spec, now, until, &mut r).await;
            }
        }
        self.publish(&mut r).await;
        r
    }

    async fn publish(&self, report: &mut TickReport) {
        let events = std::mem::take(&mut report.events);
        if !events.is_empty() {
            if let Err(e) = self.publisher.publish(&events).await {
                report.errors.push(format!("lifecycle events: {e}"));
            }
        }
    }

    /// The job's runs that are still going, according to ECS where a task exists. Runs ECS reports stopped (or no
    /// longer knows) are closed on the way.
    async fn in_progress(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) -> Result<Vec<Run>, StoreError> {
        let open: Vec<Run> = self
            .store
            .runs_of_job(&job.name, 20)
            .await?
            .into_iter()
            .filter(|run| run.status.is_open())
            .collect();
        // One DescribeTasks per cluster for all of the job's launched open runs.
        let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for run in &open {
            if let (Some(arn), Some(cluster)) = (&run.task_arn, &run.cluster) {
                by_cluster
                    .entry(cluster.clone())
                    .or_default()
                    .push(arn.clone());
            }
        }
        let mut known: BTreeMap<String, TaskSnapshot> = BTreeMap::new();
        let mut unanswered: Vec<String> = Vec::new();
        for (cluster, arns) in &by_cluster {
            match self.launcher.describe(cluster, arns).await {
                Ok(tasks) => known.extend(tasks.into_iter().map(|t| (t.task_arn.clone(), t))),
                Err(_) => unanswered.push(cluster.clone()),
            }
        }
        let mut going = Vec::new();
        for run in open {
            let Some(arn) = run.task_arn.as_deref() else {
                // Claimed and about to be launched (or recovered): in progress.
                going.push(run);
                continue;
            };
            let cluster = run.cluster.clone().unwrap_or_default();
            match known.get(arn) {
                Some(task) if !task.is_stopped() => going.push(run),
                // ECS could not be asked: assume it is still going.
                None if unanswered.contains(&cluster) => going.push(run),
                found => {
                    let found = found.cloned();
                    self.close_from(run, found, now, r).await
                }
            }
        }
        Ok(going)
    }
}
