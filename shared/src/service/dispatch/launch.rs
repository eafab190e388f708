//! Launching a claimed run: paced, retried with backoff and jitter, falling back from Spot, within the
//! invocation's time.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::time::Instant;

use super::{owe, Dispatcher, TickReport};
use crate::domain::dispatch::{client_token, next_check};
use crate::domain::event::Lifecycle;
use crate::domain::fargate::Capacity;
use crate::domain::job::{JobSpec, Launch};
use crate::domain::record::stop_reason;
use crate::domain::retry::Backoff;
use crate::domain::run::{Run, RunStatus};
use crate::ports::{EventPublisher, LaunchError, LaunchRequest, Launched, Store, TaskLauncher};

fn capacities(launch: Launch) -> &'static [Capacity] {
    match launch {
        Launch::Fargate => &[Capacity::Fargate],
        Launch::Spot => &[Capacity::FargateSpot],
        Launch::SpotWithFallback => &[Capacity::FargateSpot, Capacity::Fargate],
    }
}

/// What looking for a task started by an attempt whose answer was lost found.
enum Found {
    Task(Launched),
    Nothing,
    /// ECS could not be asked.
    Unknown,
}

/// The longest wait between two RunTask attempts of a run (the job's `retries.backoff` doubles up to it).
const MAX_BACKOFF: StdDuration = StdDuration::from_secs(600);

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// Launches a claimed run's task: paced, retried with backoff and jitter, falling back from Spot when it has no
    /// capacity, within the invocation's time. Out of time, the run stays claimed for a later tick.
    pub(super) async fn launch_one(
        &self,
        mut run: Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) {
        let resolved = run.spec(spec);
        let spec = &resolved;
        let caps = capacities(spec.launch);
        let per_capacity = spec.retries.attempts.max(1);
        let limit = per_capacity * caps.len() as u32;
        // A run recovered after a fallback starts on the capacity recorded for it (the same client token).
        let mut index = run
            .capacity
            .and_then(|c| caps.iter().position(|x| *x == c))
            .unwrap_or(0);
        let mut tries = 0;
        let mut last: Option<LaunchError> = None;
        // Whether an attempt may have started a task whose answer was lost (throttled or timed out: RunTask may
        // have succeeded). Its retries on the same capacity reuse its token, so ECS answers with that task; a new
        // capacity has a token of its own, so the task is looked for first (and likewise before giving up).
        let mut ambiguous = false;
        loop {
            if run.attempts >= limit {
                let reason = match &last {
                    Some(e) => format!("{e} (after {} attempts)", run.attempts),
                    None => format!("no attempts left (after {} attempts)", run.attempts),
                };
                self.fail(run, Some(spec), reason, now, r).await;
                return;
            }
            if !self.pacer.wait(until).await {
                self.defer(run, last, now, r).await;
                return;
            }
            run.attempts += 1;
            tries += 1;
            let capacity = caps[index];
            let request = LaunchRequest {
                run: run.id.clone(),
                spec: spec.clone(),
                client_token: client_token(&run.id, capacity),
                capacity,
            };
            match self.launcher.launch(&request).await {
                Ok(launched) => {
                    self.launched(run, launched, spec, now, r).await;
                    return;
                }
                Err(e @ LaunchError::NoCapacity { .. }) if index + 1 < caps.len() => {
                    let Some(back) = self.unless_started(run, spec, ambiguous, &e, now, r).await
                    else {
                        return;
                    };
                    run = back;
                    tracing::info!(run = %run.id, error = %e, "no Spot capacity: falling back");
                    index += 1;
                    // The fallback's token is new: recorded before it is used, so that a recovery of this run (if
                    // this invocation dies after RunTask answered) asks again with it instead of starting a
                    // second task on the first capacity, which may have room by then.
                    run.capacity = Some(caps[index]);
                    if !self.save(&mut run, r).await {
                        return;
                    }
                    tries = 0;
                    last = Some(e);
                }
                Err(e @ LaunchError::Rejected { .. }) => {
                    let reason = format!("{e} (after {} attempts)", run.attempts);
                    self.fail(run, Some(spec), reason, now, r).await;
                    return;
                }
                Err(e) => {
                    ambiguous |= matches!(e, LaunchError::Transient { .. });
                    if tries >= per_capacity {
                        let Some(back) =
                            self.unless_started(run, spec, ambiguous, &e, now, r).await
                        else {
                            return;
                        };
                        run = back;
                        let reason = format!("{e} (after {} attempts)", run.attempts);
                        self.fail(run, Some(spec), reason, now, r).await;
                        return;
                    }
                    let backoff = Backoff::new(
                        StdDuration::from_secs(spec.retries.backoff.as_secs().max(1)),
                        MAX_BACKOFF,
                    );
                    let wait = backoff.delay(tries, &run.id.to_string());
                    tracing::info!(run = %run.id, error = %e, ?wait, "launch failed: retrying");
                    last = Some(e);
                    if Instant::now() + wait >= until {
                        self.defer(run, last, now, r).await;
                        return;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Before another capacity or giving up: adopts the task an ambiguous attempt started after all, or defers the
    /// run when ECS cannot say (a new attempt could start a second task; a later check adopts or launches it). The
    /// run comes back when there is no such task.
    async fn unless_started(
        &self,
        run: Run,
        spec: &JobSpec,
        ambiguous: bool,
        error: &LaunchError,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) -> Option<Run> {
        match self.started_anyway(&run, spec, ambiguous).await {
            Found::Task(launched) => self.launched(run, launched, spec, now, r).await,
            Found::Unknown => self.defer(run, Some(error.clone()), now, r).await,
            Found::Nothing => return Some(run),
        }
        None
    }

    /// The task an ambiguous attempt started after all, if ECS lists one for the run.
    async fn started_anyway(&self, run: &Run, spec: &JobSpec, ambiguous: bool) -> Found {
        if !ambiguous {
            return Found::Nothing;
        }
        match self.launcher.find(&spec.cluster, &run.id).await {
            Ok(Some(task)) => Found::Task(task),
            Ok(None) => Found::Nothing,
            Err(e) => {
                tracing::warn!(run = %run.id, error = %e, "could not look for a task started by a lost answer");
                Found::Unknown
            }
        }
    }

    pub(super) async fn launched(
        &self,
        mut run: Run,
        launched: Launched,
        spec: &JobSpec,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        let arn = launched.task_arn.clone();
        run.status = RunStatus::Pending;
        run.task_arn = Some(launched.task_arn);
        run.cluster = Some(spec.cluster.clone());
        run.capacity = Some(launched.capacity);
        run.launched_at = Some(now);
        run.timeout_at = spec.max_runtime.map(|m| now + m.to_chrono());
        run.check_at = Some(next_check(now, run.timeout_at));
        run.reason = None;
        if self.save(&mut run, r).await {
            r.launched.push(run.id.clone());
            let delay = (self.settings.clock.0)() - run.due_at();
            r.launch_delays
                .push(delay.num_milliseconds().max(0) as f64 / 1000.0);
            // A parallel run's start was announced when its tasks were claimed.
            if run.fan.part.is_none() {
                r.event(Lifecycle::RunStarted, &run, spec, now, json!({}));
            }
            return;
        }
        // Closed by someone else while its task was being launched (`overlap: replace` stopping the claimed run): a
        // task no run records would go unseen (and outside its pool), so it is stopped.
        if let Ok(Some(stored)) = self.store.get_run(&run.id).await {
            if !stored.status.is_open() && stored.task_arn.is_none() {
                let why = format!("run {} was closed {} as it launched", run.id, stored.status);
                let reason = stop_reason(&run.id, &why);
                if let Err(e) = self.launcher.stop(&spec.cluster, &arn, &reason).await {
                    r.errors
                        .push(format!("run {}: stopping {arn}: {e}", run.id));
                }
            }
        }
    }

    pub(super) async fn fail(
        &self,
        mut run: Run,
        spec: Option<&JobSpec>,
        reason: String,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        run.status = RunStatus::LaunchFailed;
        run.reason = Some(reason);
        run.check_at = None;
        owe(&mut run, spec, Lifecycle::RunLaunchFailed, now, json!({}));
        if self.save(&mut run, r).await {
            r.launch_failed.push(run.id.clone());
            r.unsent.push(run);
        }
    }

    /// Out of time (or pacing): the run stays claimed, with its attempts so far, for the next tick.
    pub(super) async fn defer(
        &self,
        mut run: Run,
        last: Option<LaunchError>,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        run.check_at = Some(now + chrono::Duration::minutes(1));
        run.reason = last.map(|e| format!("launch pending: {e}"));
        if self.save(&mut run, r).await {
            r.deferred.push(run.id.clone());
        }
    }
}
