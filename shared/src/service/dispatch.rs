//! The dispatcher's tick: everything due by the tick's time, found in one query, handled with bounded concurrency.
//! Each scheduled time is claimed by one conditional write before anything is launched, so duplicate and
//! concurrent ticks are harmless; a claimed run that was never launched is launched by a later tick.

use std::sync::Mutex;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use crate::domain::dispatch::{self, client_token, decide, Action, RECOVER_AFTER};
use crate::domain::job::{Job, JobSpec, Launch, Overlap};
use crate::domain::run::{Capacity, Run, RunId, RunStatus, Trigger};
use crate::domain::task::TaskSnapshot;
use crate::ports::{
    Claim, Due, EventPublisher, LaunchError, LaunchRequest, Launched, LifecycleEvent, Store,
    StoreError, TaskLauncher,
};

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

/// Paces calls to stay within `rate` per second as the service counts them: calls are spaced evenly with 5% to
/// spare (a call that wakes late must not bunch up with the next ones), and no call starts within one second of the
/// call `rate` places before it, measured when each call actually started.
#[derive(Debug)]
struct Pacer {
    interval: StdDuration,
    window: usize,
    state: Mutex<PacerState>,
}

#[derive(Debug, Default)]
struct PacerState {
    next: Option<Instant>,
    started: std::collections::VecDeque<Instant>,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        let rate = rate.max(0.01);
        Pacer {
            interval: StdDuration::from_secs_f64(1.05 / rate),
            window: (rate.floor() as usize).max(1),
            state: Mutex::new(PacerState::default()),
        }
    }

    /// Waits for the next slot; `false` (and no slot taken) when it would come after `until`.
    async fn wait(&self, until: Instant) -> bool {
        let slot = {
            let Ok(mut state) = self.state.lock() else {
                return false;
            };
            let mut slot = state.next.map_or(Instant::now(), |n| n.max(Instant::now()));
            if state.started.len() >= self.window {
                let oldest = state.started[state.started.len() - self.window];
                slot = slot.max(oldest + StdDuration::from_secs(1));
            }
            if slot > until {
                return false;
            }
            state.next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        if let Ok(mut state) = self.state.lock() {
            state.started.push_back(Instant::now());
            while state.started.len() > self.window {
                state.started.pop_front();
            }
        }
        true
    }
}

/// What one tick did, for logs, the invocation's result and tests.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct TickReport {
    pub now: Option<DateTime<Utc>>,
    /// Jobs and open runs the timers index returned.
    pub due: usize,
    pub launched: Vec<String>,
    pub skipped: Vec<String>,
    /// Missed times recorded one by one, and missed times in all (counted, not all recorded).
    pub missed: Vec<String>,
    pub missed_total: u64,
    pub launch_failed: Vec<String>,
    /// Runs left claimed for a later tick (out of time, or still being throttled).
    pub deferred: Vec<String>,
    /// Runs closed after a check: finished, timed out, replaced or lost.
    pub closed: Vec<String>,
    /// Due items not started because the invocation ran out of time: the next tick finds them again.
    pub not_started: usize,
    /// Failures that left something for a later tick; the invocation reports them as an error.
    pub errors: Vec<String>,
    #[serde(skip)]
    events: Vec<LifecycleEvent>,
}

impl TickReport {
    fn merge(&mut self, other: TickReport) {
        self.due += other.due;
        self.launched.extend(other.launched);
        self.skipped.extend(other.skipped);
        self.missed.extend(other.missed);
        self.missed_total += other.missed_total;
        self.launch_failed.extend(other.launch_failed);
        self.deferred.extend(other.deferred);
        self.closed.extend(other.closed);
        self.not_started += other.not_started;
        self.errors.extend(other.errors);
        self.events.extend(other.events);
    }

    fn event(
        &mut self,
        detail_type: &str,
        run: &Run,
        now: DateTime<Utc>,
        extra: serde_json::Value,
    ) {
        let mut detail = json!({
            "job": run.id.job().as_str(),
            "run": run.id.to_string(),
            "scheduled_at": run.scheduled_at,
            "trigger": run.trigger,
            "status": run.status,
            "attempts": run.attempts,
        });
        for (key, value) in [
            ("task_arn", run.task_arn.as_ref().map(|a| json!(a))),
            ("capacity", run.capacity.map(|c| json!(c))),
            ("reason", run.reason.as_ref().map(|r| json!(r))),
        ] {
            if let (Some(v), Some(map)) = (value, detail.as_object_mut()) {
                map.insert(key.to_owned(), v);
            }
        }
        if let (Some(map), serde_json::Value::Object(more)) = (detail.as_object_mut(), extra) {
            map.extend(more);
        }
        self.events.push(LifecycleEvent {
            detail_type: detail_type.to_owned(),
            detail,
            time: now,
        });
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

fn capacities(launch: Launch) -> &'static [Capacity] {
    match launch {
        Launch::Fargate => &[Capacity::Fargate],
        Launch::Spot => &[Capacity::FargateSpot],
        Launch::SpotWithFallback => &[Capacity::FargateSpot, Capacity::Fargate],
    }
}

fn closing_event(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "Run Succeeded",
        RunStatus::Failed => "Run Failed",
        RunStatus::TimedOut => "Run Timed Out",
        RunStatus::Interrupted => "Run Interrupted",
        RunStatus::Stopped => "Run Stopped",
        _ => "Run Lost",
    }
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
                }
            })
            .buffer_unordered(self.settings.concurrency.max(1));
        let parts: Vec<TickReport> = work.collect().await;
        for part in parts {
            report.merge(part);
        }
        let events = std::mem::take(&mut report.events);
        if !events.is_empty() {
            if let Err(e) = self.publisher.publish(&events).await {
                report.errors.push(format!("lifecycle events: {e}"));
            }
        }
        Ok(report)
    }

    async fn job(&self, job: Job, now: DateTime<Utc>, until: Instant) -> TickReport {
        let mut r = TickReport::default();
        let name = job.name.clone();
        let fires = match dispatch::fires(&job, now) {
            Ok(f) => f,
            Err(e) => {
                r.errors.push(format!(
                    "job `{name}`: its schedule cannot be evaluated: {e}"
                ));
                return r;
            }
        };
        let spec = &job.spec;

        // Times later than catch_up allows: the most recent few are recorded, the rest counted.
        r.missed_total = fires.missed.count;
        let recorded = fires.missed.recent.len();
        for (i, t) in fires.missed.recent.iter().enumerate() {
            let mut run = Run::claimed(RunId::scheduled(&name, *t), Trigger::Schedule, *t, now);
            run.status = RunStatus::Missed;
            run.expires_at = expiry(spec, *t);
            let late =
                crate::domain::duration::Span::from_secs((now - *t).num_seconds().max(0) as u64);
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
                    r.event("Run Missed", &run, now, extra);
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
                    Action::Launch => {
                        run.check_at = Some(now + RECOVER_AFTER);
                        true
                    }
                    Action::Skip(reason) => {
                        run.status = RunStatus::Skipped;
                        run.reason = Some(reason);
                        false
                    }
                };
                match self.store.claim_run(&run).await {
                    Ok(Claim::Won) if launch => to_launch.push(run),
                    Ok(Claim::Won) => {
                        r.skipped.push(run.id.to_string());
                        r.event("Run Skipped", &run, now, json!({}));
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
        let mut going = Vec::new();
        for run in open {
            match (&run.task_arn, &run.cluster) {
                (Some(arn), Some(cluster)) => {
                    match self
                        .launcher
                        .describe(cluster, std::slice::from_ref(arn))
                        .await
                    {
                        Ok(tasks) => match tasks.into_iter().next() {
                            Some(task) if !task.is_stopped() => going.push(run),
                            found => self.close_from(run, found.as_ref(), now, r).await,
                        },
                        // ECS cannot tell: assume it is still going.
                        Err(_) => going.push(run),
                    }
                }
                // Claimed and about to be launched (or recovered): in progress.
                _ => going.push(run),
            }
        }
        Ok(going)
    }

    /// Looks at an open run whose check time has come.
    async fn check(&self, run: Run, now: DateTime<Utc>, until: Instant) -> TickReport {
        let mut r = TickReport::default();
        match run.status {
            RunStatus::Claimed => self.recover(run, now, until, &mut r).await,
            RunStatus::Pending | RunStatus::Running => {
                let (Some(arn), Some(cluster)) = (run.task_arn.clone(), run.cluster.clone()) else {
                    self.close(
                        run,
                        RunStatus::Unknown,
                        "launched without a task ARN".into(),
                        now,
                        None,
                        &mut r,
                    )
                    .await;
                    return r;
                };
                match self
                    .launcher
                    .describe(&cluster, std::slice::from_ref(&arn))
                    .await
                {
                    Err(e) => r.errors.push(format!("run {}: {e}", run.id)),
                    Ok(tasks) => match tasks.into_iter().next() {
                        Some(task) if !task.is_stopped() => {
                            self.still_going(run, &task, now, &mut r).await
                        }
                        found => self.close_from(run, found.as_ref(), now, &mut r).await,
                    },
                }
            }
            // Closed runs carry no timer; an old index entry may still show one briefly.
            _ => {}
        }
        r
    }

    /// A claimed run whose launch did not finish (the invocation died or ran out of time): launch it now, with the
    /// same tokens, after making sure no task was started for it already.
    async fn recover(&self, run: Run, now: DateTime<Utc>, until: Instant, r: &mut TickReport) {
        let job = match self.store.get_job(run.id.job()).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                let reason = "the job was removed before its run was launched".to_owned();
                self.fail(run, reason, now, r).await;
                return;
            }
            Err(e) => {
                r.errors.push(format!("run {}: {e}", run.id));
                return;
            }
        };
        match self.launcher.find(&job.spec.cluster, &run.id).await {
            Ok(Some(found)) => self.launched(run, found, &job.spec, now, r).await,
            Ok(None) => self.launch(run, &job.spec, now, until, r).await,
            Err(e) => r.errors.push(format!("run {}: {e}", run.id)),
        }
    }

    async fn still_going(
        &self,
        mut run: Run,
        task: &TaskSnapshot,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        if let Some(limit) = run.timeout_at.filter(|t| *t <= now) {
            let ran = run.launched_at.map(|l| {
                crate::domain::duration::Span::from_secs((limit - l).num_seconds().max(0) as u64)
            });
            let reason = match ran {
                Some(span) => format!("exceeded max_runtime ({span})"),
                None => "exceeded max_runtime".to_owned(),
            };
            self.stop_run(run, RunStatus::TimedOut, &reason, now, r)
                .await;
            return;
        }
        run.status = task.open_status();
        run.started_at = task.started_at.or(run.started_at);
        run.check_at = Some(next_check(now, run.timeout_at));
        self.save(&mut run, r).await;
    }

    /// Stops a run's task (if it has one) and closes the run with `status`.
    async fn stop_run(
        &self,
        run: Run,
        status: RunStatus,
        reason: &str,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        if let (Some(arn), Some(cluster)) = (&run.task_arn, &run.cluster) {
            let message = format!("fsched: run {} {reason}", run.id);
            if let Err(e) = self.launcher.stop(cluster, arn, &message).await {
                // Keep the run open: its timer brings it back to try again.
                r.errors.push(format!("run {}: {e}", run.id));
                return;
            }
        }
        self.close(run, status, reason.to_owned(), now, None, r)
            .await;
    }

    /// Closes a run from what ECS reports of its task (`None`: ECS no longer knows it).
    async fn close_from(
        &self,
        run: Run,
        task: Option<&TaskSnapshot>,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        match task.and_then(|t| t.outcome().map(|o| (t, o))) {
            Some((task, (status, reason))) => {
                let mut run = run;
                run.started_at = task.started_at.or(run.started_at);
                let stopped = task.stopped_at;
                self.close(run, status, reason, now, stopped, r).await;
            }
            None => {
                let reason =
                    "ECS no longer knows the task and no final state was recorded".to_owned();
                self.close(run, RunStatus::Unknown, reason, now, None, r)
                    .await;
            }
        }
    }

    async fn close(
        &self,
        mut run: Run,
        status: RunStatus,
        reason: String,
        now: DateTime<Utc>,
        stopped_at: Option<DateTime<Utc>>,
        r: &mut TickReport,
    ) {
        run.status = status;
        run.reason = Some(reason);
        run.stopped_at = stopped_at.or(Some(now));
        run.check_at = None;
        if self.save(&mut run, r).await {
            r.closed.push(run.id.to_string());
            r.event(closing_event(status), &run, now, json!({}));
        }
    }

    /// Writes the run at its next revision; `false` when someone else wrote it first (they handled it) or it failed.
    async fn save(&self, run: &mut Run, r: &mut TickReport) -> bool {
        run.revision += 1;
        match self.store.update_run(run).await {
            Ok(()) => true,
            Err(StoreError::Conflict { .. }) => {
                tracing::debug!(run = %run.id, "run updated concurrently");
                false
            }
            Err(e) => {
                r.errors.push(e.to_string());
                false
            }
        }
    }

    /// Launches a claimed run: paced, retried with backoff and jitter, falling back from Spot when it has no
    /// capacity, within the invocation's time. Out of time, the run stays claimed for a later tick.
    async fn launch(
        &self,
        mut run: Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) {
        let caps = capacities(spec.launch);
        let per_capacity = spec.retries.attempts.max(1);
        let limit = per_capacity * caps.len() as u32;
        let mut index = 0;
        let mut tries = 0;
        let mut last: Option<LaunchError> = None;
        loop {
            if run.attempts >= limit {
                let reason = match &last {
                    Some(e) => format!("{e} (after {} attempts)", run.attempts),
                    None => format!("no attempts left (after {} attempts)", run.attempts),
                };
                self.fail(run, reason, now, r).await;
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
                    tracing::info!(run = %run.id, error = %e, "no Spot capacity: falling back");
                    index += 1;
                    tries = 0;
                    last = Some(e);
                }
                Err(e @ LaunchError::Rejected { .. }) => {
                    let reason = format!("{e} (after {} attempts)", run.attempts);
                    self.fail(run, reason, now, r).await;
                    return;
                }
                Err(e) => {
                    if tries >= per_capacity {
                        let reason = format!("{e} (after {} attempts)", run.attempts);
                        self.fail(run, reason, now, r).await;
                        return;
                    }
                    let base =
                        spec.retries.backoff.as_secs().max(1) as f64 * 2f64.powi(tries as i32 - 1);
                    let wait =
                        StdDuration::from_secs_f64(base * dispatch::jitter(&run.id, run.attempts));
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

    async fn launched(
        &self,
        mut run: Run,
        launched: Launched,
        spec: &JobSpec,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        run.status = RunStatus::Pending;
        run.task_arn = Some(launched.task_arn);
        run.cluster = Some(spec.cluster.clone());
        run.capacity = Some(launched.capacity);
        run.launched_at = Some(now);
        run.timeout_at = spec.max_runtime.map(|m| now + m.to_chrono());
        run.check_at = Some(next_check(now, run.timeout_at));
        run.reason = None;
        if self.save(&mut run, r).await {
            r.launched.push(run.id.to_string());
            r.event("Run Started", &run, now, json!({}));
        }
    }

    async fn fail(&self, mut run: Run, reason: String, now: DateTime<Utc>, r: &mut TickReport) {
        run.status = RunStatus::LaunchFailed;
        run.reason = Some(reason);
        run.check_at = None;
        if self.save(&mut run, r).await {
            r.launch_failed.push(run.id.to_string());
            r.event("Run Launch Failed", &run, now, json!({}));
        }
    }

    /// Out of time (or pacing): the run stays claimed, with its attempts so far, for the next tick.
    async fn defer(
        &self,
        mut run: Run,
        last: Option<LaunchError>,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        run.check_at = Some(now + chrono::Duration::minutes(1));
        run.reason = last.map(|e| format!("launch pending: {e}"));
        if self.save(&mut run, r).await {
            r.deferred.push(run.id.to_string());
        }
    }
}

/// When to look at a launched run again: at its `max_runtime` limit, or after `CHECK_EVERY`, whichever is first.
fn next_check(now: DateTime<Utc>, timeout_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let regular = now + dispatch::CHECK_EVERY;
    timeout_at.map_or(regular, |t| t.min(regular))
}
