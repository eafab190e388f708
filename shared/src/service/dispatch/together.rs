//! Launching what goes together: a run of a job in a pool takes one of the pool's slots first (or waits for one,
//! asking again each tick, at most `catch_up`), and a run of a `parallel` job starts its tasks, each a run of its
//! own with `FSCHED_INDEX` and `FSCHED_COUNT` in its environment, launched (and pooled) like any run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::time::Instant;

use super::{not_launched, owe, Dispatcher, TickReport};
use crate::domain::dispatch::CHECK_EVERY;
use crate::domain::event::Lifecycle;
use crate::domain::fan::{Pool, POOL_CHECK, POOL_HEAL};
use crate::domain::job::{ContainerOverride, JobSpec};
use crate::domain::run::{Part, Parts, Run, RunId, RunStatus};
use crate::ports::{EventPublisher, Slot, Store, TaskLauncher};

/// The environment that tells a parallel run's tasks apart.
pub const INDEX_VAR: &str = "FSCHED_INDEX";
pub const COUNT_VAR: &str = "FSCHED_COUNT";

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// Launches a claimed run: a parallel run's tasks, or the run itself once its pool (if any) gave it a slot.
    pub(super) async fn launch(
        &self,
        run: Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) {
        if run.fan.part.is_none() && spec.together.tasks() > 1 {
            for task in self.fan_out(run, spec, now, until, r).await {
                self.launch_pooled(task, spec, now, until, r).await;
            }
            return;
        }
        self.launch_pooled(run, spec, now, until, r).await;
    }

    async fn launch_pooled(
        &self,
        mut run: Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) {
        // A run that took its slot before it was claimed (`slot_first`) holds it already.
        if let Some(pool) = spec
            .together
            .pool
            .as_ref()
            .filter(|_| run.fan.pool.is_none())
        {
            match self.slot(pool, &run.id, true, r).await {
                Some(Slot::Taken) => run.fan.pool = Some(pool.name.clone()),
                Some(Slot::Full { holders }) => {
                    self.wait_for_slot(run, spec, pool, holders, now, r).await;
                    return;
                }
                // The pool could not be read: the run stays claimed, for a later tick.
                None => {
                    self.defer(run, None, now, r).await;
                    return;
                }
            }
        }
        self.launch_one(run, spec, now, until, r).await;
    }

    /// A WAITING run of a pooled job takes its slot first: the run back when it has one (or takes none: a parallel
    /// run's tasks take theirs), `None` when it goes on waiting (unwritten) or was skipped for waiting too long.
    pub(super) async fn slot_first(
        &self,
        mut run: Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) -> Option<Run> {
        let takes = run.fan.part.is_some() || spec.together.tasks() <= 1;
        let Some(pool) = spec.together.pool.as_ref().filter(|_| takes) else {
            return Some(run);
        };
        // Every `POOL_HEAL` of its wait, counted from its timer, it also looks for lost give-backs.
        let waited = now - run.check_at.unwrap_or(now);
        let heal = waited.num_minutes() % POOL_HEAL.num_minutes() == 0;
        match self.slot(pool, &run.id, heal, r).await? {
            Slot::Taken => {
                run.fan.pool = Some(pool.name.clone());
                Some(run)
            }
            Slot::Full { holders } => {
                self.wait_for_slot(run, spec, pool, holders, now, r).await;
                None
            }
        }
    }

    /// Takes a slot of `pool` for `run`. With `heal`, a full pool's holders whose runs have ended (their writer
    /// died before giving the slot back) are let go first, so a lost give-back cannot shrink the pool for good.
    async fn slot(&self, pool: &Pool, run: &RunId, heal: bool, r: &mut TickReport) -> Option<Slot> {
        let slot = match self.store.take_slot(pool, run).await {
            Ok(slot) => slot,
            Err(e) => {
                r.errors
                    .push(format!("run {run}: pool `{}`: {e}", pool.name));
                return None;
            }
        };
        let Slot::Full { holders } = &slot else {
            return Some(slot);
        };
        if !heal {
            return Some(slot);
        }
        let mut freed = false;
        for holder in holders {
            let ended = match self.store.get_run(holder).await {
                Ok(found) => found.is_none_or(|h| !h.status.is_open() && h.outbox.is_empty()),
                Err(_) => false,
            };
            if ended && self.store.give_slot(&pool.name, holder).await.is_ok() {
                freed = true;
            }
        }
        if !freed {
            return Some(slot);
        }
        match self.store.take_slot(pool, run).await {
            Ok(slot) => Some(slot),
            Err(e) => {
                r.errors
                    .push(format!("run {run}: pool `{}`: {e}", pool.name));
                None
            }
        }
    }

    /// Every slot of the run's pool is held: it waits (WAITING, asking again at every tick), at most the job's
    /// `catch_up` after it was due; then it is SKIPPED with why. A run already waiting is written again only when
    /// the holders its reason names have changed: its timer has passed, so each tick finds it anyway.
    async fn wait_for_slot(
        &self,
        mut run: Run,
        spec: &JobSpec,
        pool: &Pool,
        holders: Vec<RunId>,
        now: DateTime<Utc>,
        r: &mut TickReport,
    ) {
        let held = format!(
            "pool `{}` is full ({} of {} slots held, by {})",
            pool.name,
            holders.len(),
            pool.size,
            holders
                .iter()
                .map(RunId::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if now - run.due_at() >= spec.catch_up.to_chrono() {
            run.status = RunStatus::Skipped;
            run.reason = Some(format!(
                "{held} for longer than catch_up ({}) allows",
                spec.catch_up
            ));
            run.check_at = None;
            owe(&mut run, Some(spec), Lifecycle::RunSkipped, now, json!({}));
            if self.save(&mut run, r).await {
                not_launched(run, r);
            }
            return;
        }
        let reason = format!("waiting: {held}");
        if run.status == RunStatus::Waiting && run.reason.as_deref() == Some(reason.as_str()) {
            r.pooled.push(run.id);
            return;
        }
        run.status = RunStatus::Waiting;
        run.reason = Some(reason);
        run.check_at = Some(now + POOL_CHECK);
        if self.save(&mut run, r).await {
            r.pooled.push(run.id.clone());
        }
    }

    /// A parallel run: marked RUNNING with its tasks' count (first, so that its check finds them all even if this
    /// invocation dies half-way), then each task claimed as a run of its own. Returns the tasks this invocation
    /// claimed, to launch; a task claimed already has its own timer.
    async fn fan_out(
        &self,
        mut run: Run,
        spec: &JobSpec,
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) -> Vec<Run> {
        let count = spec.together.tasks();
        let resolved = run.spec(spec);
        let containers = match self.containers(&resolved).await {
            Ok(c) => c,
            Err(e) => {
                self.defer(run, Some(e.into()), now, r).await;
                return Vec::new();
            }
        };
        if run.fan.parts.is_none() {
            run.fan.parts = Some(Parts {
                count,
                ended: Vec::new(),
            });
            run.status = RunStatus::Running;
            run.launched_at = Some(now);
            run.check_at = Some(now + CHECK_EVERY);
            if !self.save(&mut run, r).await {
                return Vec::new();
            }
            r.launched.push(run.id.clone());
            r.event(Lifecycle::RunStarted, &run, spec, now, json!({}));
        }
        let mut tasks = Vec::new();
        for index in 0..count {
            let mut task = task_of(&run, index, count, &containers, now);
            task.check_at = Some(self.lease(now, until));
            match self.store.claim_run(&task).await {
                Ok(crate::ports::Claim::Won) => tasks.push(task),
                Ok(crate::ports::Claim::Lost(_)) => {}
                Err(e) => r.errors.push(format!("run {}: {e}", task.id)),
            }
        }
        tasks
    }

    /// The containers a task's index goes to, with what the run gives them: the job's (or the run's) overrides,
    /// else every container of the task definition.
    async fn containers(
        &self,
        spec: &JobSpec,
    ) -> Result<BTreeMap<String, ContainerOverride>, crate::ports::EcsError> {
        if !spec.containers.is_empty() {
            return Ok(spec.containers.clone());
        }
        let facts = self.launcher.definition(&spec.task_definition).await?;
        Ok(facts
            .essential
            .into_iter()
            .map(|(name, _)| (name, ContainerOverride::default()))
            .collect())
    }
}

/// Task `index` of `run`, claimed: the run's time, trigger and history, and its index in every container's
/// environment.
pub(super) fn task_of(
    run: &Run,
    index: u32,
    count: u32,
    containers: &BTreeMap<String, ContainerOverride>,
    now: DateTime<Utc>,
) -> Run {
    let mut task = Run::claimed(
        RunId::task(&run.id, index),
        run.trigger.clone(),
        run.scheduled_at,
        now,
    );
    task.expires_at = run.expires_at;
    task.not_before = run.not_before;
    task.fan.part = Some(Part {
        of: run.id.clone(),
        index,
        count,
    });
    let mut overrides = containers.clone();
    for c in overrides.values_mut() {
        c.environment
            .insert(INDEX_VAR.to_owned(), index.to_string());
        c.environment
            .insert(COUNT_VAR.to_owned(), count.to_string());
    }
    task.overrides = Some(overrides);
    task
}

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// A parallel run's check (a backstop: each task's end tells it as it comes): tasks never claimed (its
    /// launcher died half-way) are claimed and launched, and the final end of every task that has one is counted,
    /// which closes the run once all have.
    pub(super) async fn tasks(
        &self,
        mut run: Run,
        now: DateTime<Utc>,
        until: Instant,
        r: &mut TickReport,
    ) {
        let Some(parts) = run.fan.parts.clone() else {
            return;
        };
        run.check_at = Some(now + CHECK_EVERY);
        if !self.save(&mut run, r).await {
            return;
        }
        let mut unclaimed = false;
        let mut closed = None;
        for index in (0..parts.count).filter(|i| !parts.ended.iter().any(|e| e.index == *i)) {
            let first = RunId::task(&run.id, index);
            let task = match self.last_attempt(&first).await {
                Ok(task) => task,
                Err(e) => {
                    r.errors.push(format!("run {first}: {e}"));
                    return;
                }
            };
            match task {
                None => unclaimed = true,
                Some(t) if !t.status.is_open() && t.outbox.is_empty() => {
                    if let Some(part) = &t.fan.part {
                        match crate::service::follow::tally(&self.store, part, &t, now).await {
                            Ok(Some(ended)) => closed = Some(ended),
                            Ok(None) => {}
                            Err(e) => r.errors.push(format!("run {}: {e}", run.id)),
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(ended) = closed {
            r.closed.push(ended.id.clone());
            r.unsent.push(ended);
        }
        if unclaimed {
            match self.store.get_job(run.id.job()).await {
                Ok(Some(job)) => {
                    for task in self.fan_out(run, &job.spec, now, until, r).await {
                        self.launch_pooled(task, &job.spec, now, until, r).await;
                    }
                }
                Ok(None) => {}
                Err(e) => r.errors.push(format!("run {}: {e}", run.id)),
            }
        }
    }
}

impl<S: Store, L: TaskLauncher, P: EventPublisher> Dispatcher<S, L, P> {
    /// The last attempt of task `first` of a parallel run that exists (the task itself when it was not retried, or
    /// whose retry is not claimed yet); `None` when the task was never claimed.
    pub(super) async fn last_attempt(
        &self,
        first: &RunId,
    ) -> Result<Option<Run>, crate::ports::StoreError> {
        let mut id = first.clone();
        let mut last = None;
        while let Some(t) = self.store.get_run(&id).await? {
            match &t.retried_as {
                Some(next) => id = next.run.clone(),
                None => return Ok(Some(t)),
            }
            last = Some(t);
        }
        Ok(last)
    }
}
