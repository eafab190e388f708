//! The overlap policy applied against what is really running: a job's open runs checked with ECS (closing those
//! it reports stopped), the policy's decision for the due times, and the runs `overlap: replace` stops.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::{expiry, not_launched, owe, owe_end, Dispatcher, Start, TickReport};
use crate::domain::dispatch::{decide, Action, Decision};
use crate::domain::event::Lifecycle;
use crate::domain::job::{Job, Overlap};
use crate::domain::run::{Run, RunId, RunStatus};
use crate::domain::task::TaskSnapshot;
use crate::ports::{Claim, EventPublisher, Store, StoreError, TaskLauncher};
use crate::service::follow::release;

/// How many of a job's newest runs are looked through for the ones still going.
const IN_PROGRESS_READ: usize = 20;

/// The runs that `overlap: replace` stops for `newest`, each with the reason recorded on it.
pub(super) fn replaced(
    in_progress: Vec<Run>,
    decision: &Decision,
    newest: &RunId,
) -> Vec<(Run, String)> {
    let reason = format!("replaced by run {newest} (overlap: replace)");
    in_progress
        .into_iter()
        .filter(|run| decision.stop.contains(&run.id))
        .map(|run| (run, reason.clone()))
        .collect()
}

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// The job's overlap policy applied to `due`: the decision, and the job's runs still going. `None` (with the
    /// error in the report) when what runs cannot be read.
    pub(super) async fn overlap(
        &self,
        job: &Job,
        due: &[DateTime<Utc>],
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) -> Option<(Decision, Vec<Run>)> {
        let in_progress = match job.spec.overlap {
            Overlap::Allow if job.spec.max_running.is_none() => Vec::new(),
            _ => match self.in_progress(job, now, r).await {
                Ok(runs) => runs,
                Err(e) => {
                    r.errors.push(format!("job `{}`: {e}", job.name));
                    return None;
                }
            },
        };
        // A queued run whose run ahead has ended lost its release (its writer died before linking it): released
        // now, and still the one that waits. The open runs read are the newest few, so a run ahead not among them
        // is read to be sure it ended.
        let going: Vec<RunId> = in_progress.iter().map(|run| run.id.clone()).collect();
        for run in in_progress.iter().filter(|run| run.is_queued()) {
            let Some(ahead) = run.queued_behind.as_ref().filter(|a| !going.contains(a)) else {
                continue;
            };
            let ended = match self.store.get_run(ahead).await {
                Ok(found) => found.is_none_or(|a| !a.status.is_open()),
                Err(e) => {
                    r.errors.push(format!("run {ahead}: {e}"));
                    false
                }
            };
            if ended {
                if let Err(e) = release(&self.store, &run.id, now).await {
                    r.errors.push(format!("run {}: releasing it: {e}", run.id));
                }
            }
        }
        // Newest first; a queued run is not ahead of anything, but says one already waits.
        let ids: Vec<RunId> = in_progress
            .iter()
            .filter(|run| !run.is_queued())
            .map(|run| run.id.clone())
            .collect();
        let queued = in_progress.iter().any(Run::is_queued);
        // What a skip names as in the way: the queued run if one waits, else the newest run going.
        r.blocker = in_progress
            .iter()
            .find(|run| run.is_queued())
            .or_else(|| in_progress.iter().find(|run| !run.is_queued()))
            .map(|run| run.id.clone());
        Some((
            decide(
                &job.name,
                (job.spec.overlap, job.spec.max_running),
                due,
                &ids,
                queued,
            ),
            in_progress,
        ))
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
                let Some((decision, in_progress)) =
                    self.overlap(job, &[run.scheduled_at], now, &mut r).await
                else {
                    return r;
                };
                match decision.actions.first().map(|(_, a)| a) {
                    Some(Action::Skip(reason)) => {
                        run.status = RunStatus::Skipped;
                        run.reason = Some(reason.clone());
                        run.blocked_by = r.blocker.clone();
                    }
                    Some(Action::Queue(ahead)) => run.queue_behind(ahead.clone(), now),
                    _ => {
                        run.check_at = Some(self.lease(now, until));
                        to_stop = replaced(in_progress, &decision, &run.id);
                    }
                }
            }
        }
        if !run.status.is_open() {
            owe_end(&mut run, spec, now);
        }
        match self.store.claim_run(&run).await {
            Ok(Claim::Won) => {}
            Ok(Claim::Lost(_)) => {
                r.duplicates.push(run.id.clone());
                return r;
            }
            Err(e) => {
                r.errors.push(e.to_string());
                return r;
            }
        }
        if run.is_queued() {
            self.link(run, now, &mut r).await;
        } else if run.status.is_open() {
            for (old, reason) in to_stop {
                self.stop_run(old, RunStatus::Stopped, &reason, now, &mut r)
                    .await;
            }
            self.launch(run, spec, now, until, &mut r).await;
        } else {
            not_launched(run, &mut r);
        }
        self.publish(&mut r).await;
        r
    }

    /// Links a just-claimed queued run to the stored run ahead of it (`then`), so that one's end releases it. If
    /// that run ended meanwhile, the queued one is released at once; if another run is linked there already, this
    /// one is SKIPPED (`overlap: queue` keeps one). A link not made is caught by the queued run's timer.
    pub(super) async fn link(&self, mut queued: Run, now: DateTime<Utc>, r: &mut TickReport) {
        let Some(ahead_id) = queued.queued_behind.clone() else {
            return;
        };
        for _ in 0..5 {
            let ahead = match self.store.get_run(&ahead_id).await {
                Ok(found) => found,
                Err(e) => {
                    r.errors.push(format!("run {}: linking it: {e}", queued.id));
                    return;
                }
            };
            match ahead {
                Some(mut ahead) if ahead.status.is_open() && ahead.then.is_none() => {
                    ahead.then = Some(queued.id.clone());
                    ahead.revision += 1;
                    match self.store.update_run(&ahead).await {
                        Ok(()) => {
                            r.queued.push(queued.id.clone());
                            return;
                        }
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => {
                            r.errors.push(format!("run {}: linking it: {e}", queued.id));
                            return;
                        }
                    }
                }
                Some(ahead) if ahead.status.is_open() => {
                    queued.status = RunStatus::Skipped;
                    queued.reason = Some(format!(
                        "a run ({}) was already queued behind run {ahead_id} (overlap: queue keeps one)",
                        ahead.then.map(|t| t.to_string()).unwrap_or_default()
                    ));
                    queued.check_at = None;
                    queued.queued_behind = None;
                    // Announced like any skip; addressed to the job's alerts when the job can be read.
                    let job = self.store.get_job(queued.id.job()).await.ok().flatten();
                    owe(
                        &mut queued,
                        job.as_ref().map(|j| &j.spec),
                        Lifecycle::RunSkipped,
                        now,
                        serde_json::json!({}),
                    );
                    if self.save(&mut queued, r).await {
                        not_launched(queued, r);
                    }
                    return;
                }
                // Ended (or gone) before it could be linked: nothing will release the queued run, so now.
                _ => {
                    queued.release(now);
                    if self.save(&mut queued, r).await {
                        r.queued.push(queued.id.clone());
                    }
                    return;
                }
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
        let newest = self
            .store
            .open_runs_of_job(&job.name, IN_PROGRESS_READ)
            .await?;
        // A run going for longer than the newest runs read reach back (each fire meanwhile SKIPPED) is the one the
        // newest skip names, or, when that one is queued, the run it waits for: read directly.
        let mut further = Vec::new();
        if !newest.iter().any(|run| run.status.is_open()) {
            let mut next = newest.iter().find_map(|run| run.blocked_by.clone());
            while let Some(id) = next.take().filter(|_| further.len() < 2) {
                if let Some(run) = self.store.get_run(&id).await? {
                    next = run.queued_behind.clone();
                    further.push(run);
                }
            }
        }
        // A parallel run's tasks are its own: the run stands for them.
        let open: Vec<Run> = newest
            .into_iter()
            .chain(further)
            .filter(|run| run.status.is_open() && run.fan.part.is_none())
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
