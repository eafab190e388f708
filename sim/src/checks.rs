//! The guarantees, checked: during the run (services) and at its end (tasks, runs, fires, announcements). Each check
//! returns sentences naming what broke; the world adds when.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::attempt::ending;
use fsched_core::domain::job::{due_at, next_fire, JobName, JobSpec};
use fsched_core::domain::record::outcome;
use fsched_core::domain::run::{Run, RunStatus};
use fsched_core::domain::service::{Phase, ServiceSpec};
use fsched_core::domain::task::TaskSnapshot;
use fsched_core::ports::TaskDefinitionFacts;

use crate::Window;

/// A run whose task stopped is closed within this (plus any dispatcher outage in between).
pub const CLOSE_WITHIN: Duration = Duration::hours(1);
/// A service's phase is judged once what it should be has held this long (the sleeper acts at the next tick; a
/// failed scale is retried by Lambda within minutes).
pub const SETTLE: Duration = Duration::minutes(20);

fn overlap(outages: &[Window], from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    outages
        .iter()
        .map(|(a, b)| ((*b).min(to) - (*a).max(from)).max(Duration::zero()))
        .fold(Duration::zero(), |x, y| x + y)
}

/// Never two tasks for one run; every run whose task stopped is closed, in time, with what ECS says happened.
pub fn tasks(
    tasks: &[(fsched_core::domain::run::RunId, TaskSnapshot)],
    runs: &BTreeMap<String, &Run>,
    closed_at: &BTreeMap<fsched_core::domain::run::RunId, DateTime<Utc>>,
    outages: &[Window],
    end: DateTime<Utc>,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut per_run: BTreeMap<String, usize> = BTreeMap::new();
    for (run, _) in tasks {
        *per_run.entry(run.to_string()).or_default() += 1;
    }
    for (run, n) in per_run.iter().filter(|(_, n)| **n > 1) {
        found.push(format!("run {run} has {n} tasks"));
    }
    for (run_id, task) in tasks {
        let id = run_id.to_string();
        let Some(stopped) = task.stopped_at.filter(|t| *t <= end - CLOSE_WITHIN) else {
            continue;
        };
        let Some(run) = runs.get(&id) else {
            found.push(format!(
                "task {} of run {id} has no run record",
                task.task_arn
            ));
            continue;
        };
        if run.status.is_open() {
            found.push(format!(
                "run {id}: its task stopped at {stopped}, the run is still {}",
                run.status.as_str()
            ));
            continue;
        }
        if let Some(at) = closed_at.get(run_id) {
            let allowed = CLOSE_WITHIN + overlap(outages, stopped, *at);
            if *at - stopped > allowed {
                found.push(format!(
                    "run {id}: its task stopped at {stopped}, the run closed only at {at}"
                ));
            }
        }
        // What ECS says happened, with the fake's one essential container, is what the run records.
        let mut truth = task.clone();
        TaskDefinitionFacts {
            essential: vec![(fsched_core::testing::CONTAINER.to_owned(), true)],
            ..TaskDefinitionFacts::default()
        }
        .apply(&mut truth);
        // LOST is the honest end when ECS forgot the task before anyone could look: its stopped report lost and
        // the dispatcher down for the hour ECS remembers stopped tasks.
        let forgotten = overlap(
            outages,
            stopped,
            stopped + fsched_core::testing::STOPPED_MEMORY,
        ) > Duration::zero();
        if run.status == RunStatus::Unknown && forgotten {
            continue;
        }
        if let Some((status, _)) = outcome(&truth) {
            let expected = [status, RunStatus::TimedOut, RunStatus::Stopped];
            let replaced_or_timed_out =
                matches!(run.status, RunStatus::TimedOut | RunStatus::Stopped);
            if run.status != status && !(replaced_or_timed_out && expected.contains(&run.status)) {
                found.push(format!(
                    "run {id} recorded {} but ECS says {} ({:?})",
                    run.status.as_str(),
                    status.as_str(),
                    task.stop_code
                ));
            }
        }
    }
    found
}

/// Every fire time of every job, from its first fire to an hour before the end, has a run, unless the job was
/// paused then, or a dispatcher outage made it later than `catch_up` (then only the latest few are recorded
/// MISSED, the rest counted).
pub fn fires(
    jobs: &[(String, fsched_core::domain::job::JobSpec, DateTime<Utc>)],
    runs: &BTreeMap<String, &Run>,
    paused: &BTreeMap<String, Vec<Window>>,
    outages: &[Window],
    end: DateTime<Utc>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (name, spec, first) in jobs {
        let mut at = Some(*first);
        while let Some(scheduled) = at.filter(|t| *t < end - Duration::hours(1)) {
            at = next_fire(spec, scheduled);
            // With `jitter`, the fire is due (so late, or paused) from its offset time.
            let t = match JobName::new(name) {
                Ok(job) => due_at(&job, spec, scheduled),
                Err(_) => scheduled,
            };
            let is_paused = paused.get(name).is_some_and(|v| {
                v.iter()
                    .any(|(a, b)| *a - Duration::minutes(1) <= t && t <= *b + Duration::minutes(2))
            });
            // Paused after the fire but before the dispatcher, down since before it, came back to it (up to the
            // minute it came back, when the pause and the first tick run together): the pause takes the job off the
            // timers, and `resume` does not replay (docs/jobs-file.md).
            let paused_before_caught_up = paused.get(name).is_some_and(|v| {
                v.iter().any(|(a, _)| {
                    *a >= t
                        && outages
                            .iter()
                            .any(|(o1, o2)| *o1 - Duration::minutes(1) <= t && t < *o2 && *a <= *o2)
                })
            });
            let id = crate::world::run_id(name, scheduled).to_string();
            if is_paused || paused_before_caught_up || runs.contains_key(&id) {
                continue;
            }
            let late = outages.iter().any(|(a, b)| {
                *a - Duration::minutes(1) <= t && t < *b && *b - t > spec.catch_up.to_chrono()
            });
            if late {
                continue;
            }
            found.push(format!(
                "job {name}: the fire at {scheduled} has no run (not paused, no outage)"
            ));
        }
    }
    found
}

/// Retries: every attempt follows the one before it, which names it (`retried_as`), and only as many as the job's
/// `retry` allows; every run whose end asked for a retry has it (unless that end is still in its outbox, to be sent);
/// only endings `retry.on` names are retried. So no failure is retried twice, and none asked for is lost.
pub fn attempts(
    runs: &BTreeMap<String, &Run>,
    specs: &BTreeMap<String, JobSpec>,
    corrected: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (id, run) in runs {
        let policy = specs
            .get(run.id.job().as_str())
            .and_then(|s| s.retry.as_ref());
        if let Some(next) = &run.retried_as {
            match (ending(run.status), policy) {
                (Some(e), Some(p)) if p.on.contains(&e) => {}
                // Retried as LOST or TIMED_OUT, then corrected by the task's own report.
                _ if corrected.contains(id) => {}
                _ => found.push(format!(
                    "run {id} ended {} and was retried, which its job's retry does not ask for",
                    run.status.as_str()
                )),
            }
            if !runs.contains_key(&next.run.to_string()) && run.outbox.is_empty() {
                found.push(format!(
                    "run {id} was retried as {}, which does not exist",
                    next.run
                ));
            }
        }
        if run.attempt <= 1 {
            continue;
        }
        if policy.is_some_and(|p| run.attempt > p.attempts) {
            found.push(format!(
                "run {id} is attempt {}: more than retry.attempts",
                run.attempt
            ));
        }
        let Some(first) = &run.retry_of else {
            found.push(format!("run {id} is attempt {} of nothing", run.attempt));
            continue;
        };
        let previous = if run.attempt == 2 {
            first.clone()
        } else {
            fsched_core::domain::run::RunId::attempt(first, run.attempt - 1)
        };
        let named = runs
            .get(&previous.to_string())
            .and_then(|p| p.retried_as.as_ref())
            .is_some_and(|n| n.run == run.id);
        if !named {
            found.push(format!(
                "run {id} (attempt {}) does not follow {previous}, which never asked for it",
                run.attempt
            ));
        }
    }
    found
}

/// WAITING runs: none is left behind its timer (the dispatcher takes each at its time: a retry after its back-off,
/// a released or orphaned queued run at its check), and a job never has two queued at once (`overlap: queue` keeps
/// one).
pub fn waiting(
    runs: &BTreeMap<String, &Run>,
    specs: &BTreeMap<String, JobSpec>,
    outages: &[Window],
    end: DateTime<Utc>,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut queued: BTreeMap<String, usize> = BTreeMap::new();
    for (id, run) in runs.iter().filter(|(_, r)| r.status == RunStatus::Waiting) {
        if run.is_queued() {
            *queued.entry(run.id.job().to_string()).or_default() += 1;
        }
        let Some(mut at) = run.check_at else {
            found.push(format!("run {id} is WAITING with no timer"));
            continue;
        };
        // A run waiting for a pool slot keeps its timer (every tick asks for it) up to its job's `catch_up`.
        let pooled = specs
            .get(run.id.job().as_str())
            .filter(|s| s.together.pool.is_some());
        if let Some(spec) = pooled {
            at = at.max(run.due_at() + spec.catch_up.to_chrono());
        }
        let late = end - at - overlap(outages, at, end);
        if late > Duration::minutes(10) {
            found.push(format!(
                "run {id} is still WAITING, {late} after its timer ({at})"
            ));
        }
    }
    for (job, n) in queued.into_iter().filter(|(_, n)| *n > 1) {
        found.push(format!("job {job} has {n} runs queued at once"));
    }
    found
}

/// What a service should be at `t`: its periods, unless a hold asked for keeps it awake.
pub fn wanted(spec: &ServiceSpec, holds: &[Window], t: DateTime<Utc>) -> Phase {
    if holds.iter().any(|(a, b)| *a <= t && t < *b) {
        Phase::Awake
    } else {
        spec.phase_at(t)
    }
}

/// Whether the phase a service should have has held since `SETTLE` ago, with no hold beginning or ending and no
/// outage in between: only then is a difference a fault of fsched's.
pub fn settled(
    spec: &ServiceSpec,
    holds: &[Window],
    outages: &[Window],
    now: DateTime<Utc>,
) -> Option<Phase> {
    let from = now - SETTLE;
    if overlap(outages, from, now) > Duration::zero() {
        return None;
    }
    if holds
        .iter()
        .any(|(a, b)| (from <= *a && *a <= now) || (from <= *b && *b <= now))
    {
        return None;
    }
    let want = wanted(spec, holds, now);
    let mut t = from;
    while t < now {
        if wanted(spec, holds, t) != want {
            return None;
        }
        t += Duration::minutes(5);
    }
    Some(want)
}

/// How soon a task no run records is stopped (by the launch that lost its write, else by the recorder at its
/// next report).
pub const ORPHAN_STOPPED: Duration = Duration::minutes(5);

/// Pools: never more of their jobs' recorded tasks going at once than their size. A task goes from its launch until
/// ECS begins to stop it (a StopTask's stop completes a moment after fsched closed the run and gave its slot back).
/// A task its run does not record (RunTask answered as `overlap: replace` closed the claimed run) holds no slot: it
/// must be stopped within `ORPHAN_STOPPED` instead.
pub fn pools(
    tasks: &[(fsched_core::domain::run::RunId, TaskSnapshot)],
    runs: &BTreeMap<String, &Run>,
    specs: &BTreeMap<String, JobSpec>,
    end: DateTime<Utc>,
) -> Vec<String> {
    let mut found = Vec::new();
    // Per pool: its size, and each task's start (+1) and end (-1) with its run.
    type Edges = (u32, Vec<(DateTime<Utc>, i32, String)>);
    let mut edges: BTreeMap<String, Edges> = BTreeMap::new();
    for (run, task) in tasks {
        let pool = specs
            .get(run.job().as_str())
            .and_then(|s| s.together.pool.as_ref());
        let (Some(pool), Some(from)) = (pool, task.created_at) else {
            continue;
        };
        let to = task.stopping_at.or(task.stopped_at);
        let recorded = runs
            .get(&run.to_string())
            .is_some_and(|r| r.task_arn.as_deref() == Some(task.task_arn.as_str()));
        if !recorded {
            let went = to.unwrap_or(end) - from;
            if went > ORPHAN_STOPPED {
                found.push(format!(
                    "task {} of run {run}, which does not record it, went {went}",
                    task.task_arn
                ));
            }
            continue;
        }
        // Stopped as it started: it never went.
        if to.is_some_and(|to| to <= from) {
            continue;
        }
        let (_, e) = edges
            .entry(pool.name.to_string())
            .or_insert((pool.size, Vec::new()));
        e.push((from, 1, run.to_string()));
        if let Some(to) = to {
            e.push((to, -1, run.to_string()));
        }
    }
    for (pool, (size, mut e)) in edges {
        // At one instant, ends (-1) before starts.
        e.sort();
        let mut going: Vec<String> = Vec::new();
        for (t, d, run) in e {
            if d > 0 {
                going.push(run);
            } else {
                going.retain(|r| *r != run);
            }
            if going.len() > size as usize {
                found.push(format!(
                    "pool {pool}: {} tasks going at {t} ({}), more than its size {size}",
                    going.len(),
                    going.join(", ")
                ));
                break;
            }
        }
    }
    found
}
