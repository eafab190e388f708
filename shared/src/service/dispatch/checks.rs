//! Runs whose check time has come: claimed runs whose launch never finished, runs past `max_runtime`, runs whose
//! task ECS reports stopped or no longer knows, and closed runs whose end was not announced yet (their outbox).

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::{not_launched, owe_end, Dispatcher, TickReport};
use crate::domain::dispatch::next_check;
use crate::domain::duration::Span;
use crate::domain::record::{stop_reason, TIMEOUT_WORDS};
use crate::domain::run::{Pending, Run, RunId, RunStatus, QUEUE_CHECK};
use crate::domain::task::TaskSnapshot;
use crate::ports::{EventPublisher, Store, StoreError, TaskLauncher};
use crate::service::record::{apply_report, closing, send_outbox};

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// Looks at an open run whose check time has come.
    pub(super) async fn check(&self, run: Run, now: DateTime<Utc>, until: Instant) -> TickReport {
        let mut r = TickReport::default();
        match run.status {
            RunStatus::Waiting => self.begin(run, now, until, &mut r).await,
            RunStatus::Claimed => self.recover(run, now, until, &mut r).await,
            RunStatus::Running if run.fan.parts.is_some() => {
                self.tasks(run, now, until, &mut r).await
            }
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
                            self.still_going(run, task, now, &mut r).await
                        }
                        found => self.close_from(run, found, now, &mut r).await,
                    },
                }
            }
            // A closed run has a timer only while its end is unannounced (an old index entry may show one
            // briefly after that).
            _ => self.send(&run, &mut r).await,
        }
        r
    }

    /// Sends a run's outbox; a failure leaves it for the next check.
    async fn send(&self, run: &Run, r: &mut TickReport) {
        if let Err(e) = send_outbox(&self.store, &self.publisher, run).await {
            r.errors
                .push(format!("run {}: announcing its end: {e}", run.id));
        }
    }

    /// A claimed run whose launch did not finish (the invocation died or ran out of time): launch it now, with the
    /// same tokens, after making sure no task was started for it already.
    async fn recover(&self, mut run: Run, now: DateTime<Utc>, until: Instant, r: &mut TickReport) {
        // Two invocations can find the same claimed run (a retried tick beside the next one, each in time for its
        // check): the one whose write of the run wins recovers it, the other leaves it, so it is launched once. The
        // write moves its timer on: if this invocation dies too, a later tick recovers it again.
        run.check_at = Some(self.lease(now, until));
        if !self.save(&mut run, r).await {
            return;
        }
        let job = match self.store.get_job(run.id.job()).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                let reason = "the job was removed before its run was launched".to_owned();
                self.fail(run, None, reason, now, r).await;
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

    /// A WAITING run whose time has come (a retry after its back-off, a released queued run, a backfill's, a run
    /// waiting for a pool slot): taken with a conditional write (of two ticks that find it, one launches it), then
    /// launched like a claimed run. A run of a pooled job takes its slot before that (taking is idempotent per run,
    /// so two ticks share the one slot and one of them wins the run); while the pool stays full the run is not
    /// written at all. Nothing was launched for it before it was taken, so there is no task to look for; if this
    /// invocation dies after taking it, it is a claimed run whose launch did not finish (`recover`). A run of a job
    /// paused or removed since is closed SKIPPED or LAUNCH_FAILED, with why. A queued run still behind a run going
    /// (its release was lost, or this is the hourly backstop) waits another `QUEUE_CHECK`.
    async fn begin(&self, mut run: Run, now: DateTime<Utc>, until: Instant, r: &mut TickReport) {
        // A queued run whose release did not come (yet): started only once the run ahead has ended.
        if let Some(ahead) = run.queued_behind.clone() {
            match self.store.get_run(&ahead).await {
                Ok(Some(a)) if a.status.is_open() => {
                    run.check_at = Some(now + QUEUE_CHECK);
                    self.save(&mut run, r).await;
                    return;
                }
                Ok(_) => run.queued_behind = None,
                Err(e) => {
                    r.errors.push(format!("run {}: {e}", run.id));
                    return;
                }
            }
        }
        // A fan-in run whose window ended before every job it waits for succeeded.
        if let Some(missing) = run
            .fan
            .waits
            .as_ref()
            .map(|w| w.missing())
            .filter(|m| !m.is_empty())
        {
            let names: Vec<String> = missing.iter().map(|j| format!("`{j}`")).collect();
            run.status = RunStatus::Skipped;
            run.reason = Some(format!(
                "waited for {} to succeed that day; the window ended first",
                names.join(" and ")
            ));
            run.check_at = None;
            let job = self.store.get_job(run.id.job()).await.ok().flatten();
            super::owe(
                &mut run,
                job.as_ref().map(|j| &j.spec),
                crate::domain::event::Lifecycle::RunSkipped,
                now,
                serde_json::json!({}),
            );
            if self.save(&mut run, r).await {
                not_launched(run, r);
            }
            return;
        }
        let job = match self.store.get_job(run.id.job()).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                let reason = "the job was removed before this run could start".to_owned();
                self.fail(run, None, reason, now, r).await;
                return;
            }
            Err(e) => {
                r.errors.push(format!("run {}: {e}", run.id));
                return;
            }
        };
        if job.spec.paused {
            run.status = RunStatus::Skipped;
            run.reason = Some("the job was paused before this run could start".to_owned());
            run.check_at = None;
            owe_end(&mut run, &job.spec, now);
            if self.save(&mut run, r).await {
                not_launched(run, r);
            }
            return;
        }
        // A run that takes a pool slot takes it before it is taken itself: a run still waiting for one costs a
        // failed take and no write.
        let Some(mut run) = self.slot_first(run, &job.spec, now, r).await else {
            return;
        };
        run.status = RunStatus::Claimed;
        run.check_at = Some(self.lease(now, until));
        if self.save(&mut run, r).await {
            self.launch(run, &job.spec, now, until, r).await;
        }
    }

    async fn still_going(
        &self,
        run: Run,
        task: TaskSnapshot,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        if let Some(limit) = run.timeout_at.filter(|t| *t <= now) {
            // The limit is `max_runtime` after the launch, so the two give it back as the job had it then.
            let reason = match run.launched_at {
                Some(l) => format!("{TIMEOUT_WORDS} ({})", Span::from_chrono(limit - l)),
                None => TIMEOUT_WORDS.to_owned(),
            };
            self.stop_run(run, RunStatus::TimedOut, &reason, now, r)
                .await;
            return;
        }
        match apply_report(&self.store, &self.launcher, run.clone(), task, now).await {
            Ok(Some(_)) => {}
            // Nothing new since the last report: only the next check moves.
            Ok(None) => self.check_later(run, now, r).await,
            Err(e) => r.errors.push(format!("run {}: {e}", run.id)),
        }
    }

    async fn check_later(&self, mut run: Run, now: DateTime<Utc>, r: &mut TickReport) {
        if run.status.is_open() {
            run.check_at = Some(next_check(now, run.timeout_at));
            self.save(&mut run, r).await;
        }
    }

    /// Stops a run's task (if it has one) and closes the run with `status`. A claimed run may have a task its launch
    /// did not get to record (its write failed after RunTask): that one is looked for, and stopped too.
    pub(super) async fn stop_run(
        &self,
        mut run: Run,
        status: RunStatus,
        reason: &str,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        // A parallel run stops with its tasks: each one still going (or waiting) is stopped and closed first. The
        // last one's end may close the run itself (with its tasks' combined outcome).
        if let Some(parts) = run.fan.parts.clone() {
            for index in 0..parts.count {
                let first = RunId::task(&run.id, index);
                match self.last_attempt(&first).await {
                    Ok(Some(task)) if task.status.is_open() => {
                        Box::pin(self.stop_run(task, status, reason, now, r)).await
                    }
                    Ok(_) => {}
                    Err(e) => {
                        r.errors.push(format!("run {first}: {e}"));
                        return;
                    }
                }
            }
            match self.store.get_run(&run.id).await {
                Ok(Some(fresh)) if fresh.status.is_open() => run = fresh,
                Ok(_) => return,
                Err(e) => {
                    r.errors.push(format!("run {}: {e}", run.id));
                    return;
                }
            }
        }
        let task = match (&run.task_arn, &run.cluster, run.status) {
            (Some(arn), Some(cluster), _) => Some((arn.clone(), cluster.clone())),
            (None, _, RunStatus::Claimed) => match self.unrecorded_task(&run).await {
                Ok(found) => found,
                Err(e) => {
                    r.errors.push(format!("run {}: {e}", run.id));
                    return;
                }
            },
            _ => None,
        };
        if let Some((arn, cluster)) = task {
            let message = stop_reason(&run.id, reason);
            if let Err(e) = self.launcher.stop(&cluster, &arn, &message).await {
                // Keep the run open: its timer brings it back to try again.
                r.errors.push(format!("run {}: {e}", run.id));
                return;
            }
        }
        self.close(run, status, reason.to_owned(), now, None, r)
            .await;
    }

    /// The task (and its cluster) a claimed run's launch started without recording it, if ECS lists one.
    async fn unrecorded_task(&self, run: &Run) -> Result<Option<(String, String)>, String> {
        let job = self
            .store
            .get_job(run.id.job())
            .await
            .map_err(|e| e.to_string());
        let Some(job) = job? else {
            return Ok(None);
        };
        let found = self.launcher.find(&job.spec.cluster, &run.id).await;
        Ok(found
            .map_err(|e| e.to_string())?
            .map(|l| (l.task_arn, job.spec.cluster)))
    }

    /// Closes a run from what ECS reports of its stopped task (`None`: ECS no longer knows it).
    pub(super) async fn close_from(
        &self,
        run: Run,
        task: Option<TaskSnapshot>,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        let Some(task) = task else {
            let reason = "ECS no longer knows the task and no final state was recorded".to_owned();
            self.close(run, RunStatus::Unknown, reason, now, None, r)
                .await;
            return;
        };
        match apply_report(&self.store, &self.launcher, run.clone(), task, now).await {
            Ok(Some(o)) => {
                if o.announces() {
                    r.closed.push(o.run.id.clone());
                }
                // Its end, just written, or an earlier end whose announcement is still unsent.
                if !o.run.outbox.is_empty() {
                    self.send(&o.run, r).await;
                }
            }
            // Nothing new: look again later rather than at every tick.
            Ok(None) => self.check_later(run, now, r).await,
            Err(e) => r.errors.push(format!("run {}: {e}", run.id)),
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
        // Who is alerted, and whether it is retried, is the job's to say: one read, on this rare path only (a
        // timeout, a lost task).
        let job = match self.store.get_job(run.id.job()).await {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(run = %run.id, error = %e, "job unreadable: its end is announced without alerts or retry");
                None
            }
        };
        let events = closing(&mut run, job.as_ref(), now);
        run.announce(events.iter().map(Pending::from), now);
        if self.save(&mut run, r).await {
            r.closed.push(run.id.clone());
            self.send(&run, r).await;
        }
    }

    /// Writes the run at its next revision; `false` when someone else wrote it first (they handled it) or it failed.
    pub(super) async fn save(&self, run: &mut Run, r: &mut TickReport) -> bool {
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
}
