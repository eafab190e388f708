//! ECS in memory: `TaskLauncher` with the behaviour of RunTask that fsched relies on, and tasks that play their
//! lifecycle on a clock the test moves. RunTask is idempotent on `clientToken` for 24 hours (the same token answers
//! the same task); ListTasks finds a task by `startedBy`, running or stopped; ECS forgets a stopped task an hour
//! after it stopped (DescribeTasks then leaves it out). Each task's fate (how long it takes to start, how long it
//! runs, its exit code, a Spot reclaim) is decided at launch by a function the test gives; launches can be made to
//! fail (throttling, `failures[]` of no capacity, a rejected request) one by one.
//! Every change of a task's status is kept as a report, as ECS sends "ECS Task State Change" events: the test takes
//! them with `take_reports` and delivers them (or loses, repeats, reorders them) to the recorder.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

use crate::domain::dispatch::started_by;
use crate::domain::fargate::{Capacity, TaskStatus};
use crate::domain::run::RunId;
use crate::domain::task::{ContainerSnapshot, TaskSnapshot};
use crate::ports::{
    EcsError, LaunchError, LaunchRequest, Launched, TaskDefinitionFacts, TaskLauncher,
};

/// How long RunTask remembers a client token.
pub const TOKEN_MEMORY: Duration = Duration::hours(24);
/// How long DescribeTasks and ListTasks still know a stopped task.
pub const STOPPED_MEMORY: Duration = Duration::hours(1);
/// From StopTask to the task's STOPPED report.
pub const STOP_TAKES: Duration = Duration::seconds(30);
/// The one container every fake task runs.
pub const CONTAINER: &str = "app";

pub use super::fate::Fate;

type Fates = Box<dyn FnMut(&LaunchRequest) -> Fate + Send>;

/// A launch made to go wrong.
enum Scripted {
    /// Fails with the error; no task starts.
    Fail(LaunchError),
    /// The task starts, but the caller gets the error instead of the answer.
    LoseAnswer(LaunchError),
}
/// When a task stops, ECS's stop code, and the reason it gives.
type End = (DateTime<Utc>, &'static str, String);

struct Task {
    cluster: String,
    run: RunId,
    snapshot: TaskSnapshot,
    fate: Fate,
    launched_at: DateTime<Utc>,
    /// StopTask's time and reason, when asked.
    stop: Option<(DateTime<Utc>, String)>,
}

impl Task {
    /// Its status and stop details at `now` (asked every minute: a reason is made only for an end that has come).
    fn at(&self, now: DateTime<Utc>) -> (TaskStatus, Option<End>) {
        let running = self.launched_at + self.fate.starts_after;
        // The earliest of its ends: its container exits, Spot reclaims it, StopTask stops it.
        let mut first = (running + self.fate.runs_for, 0);
        if let (Some(after), Some(Capacity::FargateSpot)) =
            (self.fate.reclaimed_after, self.snapshot.capacity)
        {
            first = first.min((running + after, 1));
        }
        if let Some((at, _)) = &self.stop {
            first = first.min((*at + STOP_TAKES, 2));
        }
        let end = (first.0 <= now).then(|| match first.1 {
            0 => (
                first.0,
                "EssentialContainerExited",
                "Essential container in task exited".to_owned(),
            ),
            1 => (
                first.0,
                "SpotInterruption",
                "Your Spot Task was interrupted.".to_owned(),
            ),
            _ => (
                first.0,
                "UserInitiated",
                self.stop
                    .as_ref()
                    .map(|(_, r)| r.clone())
                    .unwrap_or_default(),
            ),
        });
        let status = match &end {
            Some(_) => TaskStatus::Stopped,
            None if now >= running => TaskStatus::Running,
            None => TaskStatus::Provisioning,
        };
        (status, end)
    }
}

#[derive(Default)]
struct Ecs {
    now: DateTime<Utc>,
    /// Every task started, in order (a task's ARN ends with its place here, plus one).
    tasks: Vec<Task>,
    /// Each task's place by ARN. (The hash maps are only looked up, never iterated: nothing depends on order.)
    by_arn: HashMap<String, usize>,
    /// Tasks not stopped yet: the only ones whose status can still change.
    active: BTreeSet<usize>,
    /// Tasks by `startedBy`, as ListTasks finds them.
    by_started: HashMap<String, Vec<usize>>,
    tokens: HashMap<String, (usize, DateTime<Utc>)>,
    /// What the next launches do instead of answering normally, in order.
    script: VecDeque<Scripted>,
    fates: Option<Fates>,
    reports: Vec<TaskSnapshot>,
    definitions: BTreeMap<String, TaskDefinitionFacts>,
    run_task_calls: usize,
}

impl Ecs {
    /// Moves every task to its status at `now`, reporting each change (started and stopped since: both, as ECS).
    fn play(&mut self) {
        let now = self.now;
        let mut stopped = Vec::new();
        for &i in &self.active {
            let Some(task) = self.tasks.get_mut(i) else {
                continue;
            };
            let (status, end) = task.at(now);
            if status == TaskStatus::Stopped {
                stopped.push(i);
            }
            if status == task.snapshot.last_status {
                continue;
            }
            let running = task.launched_at + task.fate.starts_after;
            let s = &mut task.snapshot;
            let ran = end.as_ref().is_some_and(|(at, _, _)| running < *at);
            if ran && s.started_at.is_none() {
                s.started_at = Some(running);
                if status == TaskStatus::Stopped {
                    s.version += 1;
                    s.last_status = TaskStatus::Running;
                    self.reports.push(s.clone());
                }
            }
            if status == TaskStatus::Running {
                s.started_at = Some(running);
            }
            s.version += 1;
            s.last_status = status;
            if let Some((at, code, reason)) = end {
                s.stopped_at = Some(at);
                // Stopping from when StopTask asked (ECS's `stoppingAt`), else from the stop.
                s.stopping_at.get_or_insert(at);
                s.stop_code = Some(code.to_owned());
                s.stopped_reason = Some(reason);
                let exit = if code == "EssentialContainerExited" {
                    task.fate.exit_code
                } else {
                    137
                };
                s.containers = vec![ContainerSnapshot {
                    name: CONTAINER.to_owned(),
                    exit_code: s.started_at.map(|_| exit),
                    reason: None,
                    essential: None,
                }];
            }
            self.reports.push(s.clone());
        }
        for i in stopped {
            self.active.remove(&i);
        }
    }

    fn known(&self, arn: &str) -> Option<&Task> {
        self.known_at(*self.by_arn.get(arn)?)
    }

    fn known_at(&self, i: usize) -> Option<&Task> {
        let task = self.tasks.get(i)?;
        match task.snapshot.stopped_at {
            Some(at) if self.now - at > STOPPED_MEMORY => None,
            _ => Some(task),
        }
    }
}

/// The fake ECS. Clones share it.
#[derive(Clone)]
pub struct FakeEcs {
    ecs: Arc<Mutex<Ecs>>,
    stack: String,
}

impl FakeEcs {
    pub fn new(now: DateTime<Utc>) -> Self {
        FakeEcs {
            ecs: Arc::new(Mutex::new(Ecs {
                now,
                ..Ecs::default()
            })),
            stack: "fsched-test".to_owned(),
        }
    }

    fn ecs(&self) -> MutexGuard<'_, Ecs> {
        self.ecs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides each launched task's fate (default: `Fate::default()`).
    pub fn with_fates(self, fates: impl FnMut(&LaunchRequest) -> Fate + Send + 'static) -> Self {
        self.ecs().fates = Some(Box::new(fates));
        self
    }

    /// Moves ECS's clock: tasks start and stop as their fates say.
    pub fn set_now(&self, now: DateTime<Utc>) {
        let mut ecs = self.ecs();
        ecs.now = now;
        ecs.play();
    }

    /// The next launch fails with `error` (queued: one per launch).
    pub fn fail_next_launch(&self, error: LaunchError) {
        self.ecs().script.push_back(Scripted::Fail(error));
    }

    /// The next launch starts its task, but the caller gets `error` instead of its answer (a lost answer).
    pub fn lose_next_answer(&self, error: LaunchError) {
        self.ecs().script.push_back(Scripted::LoseAnswer(error));
    }

    /// Reports of status changes since the last call, in the order they happened.
    pub fn take_reports(&self) -> Vec<TaskSnapshot> {
        std::mem::take(&mut self.ecs().reports)
    }

    /// Every task ever started, with the run whose `startedBy` it carries.
    pub fn tasks(&self) -> Vec<(RunId, TaskSnapshot)> {
        let ecs = self.ecs();
        ecs.tasks
            .iter()
            .map(|t| (t.run.clone(), t.snapshot.clone()))
            .collect()
    }

    /// Whether RunTask still remembers `token` (it answers it with the task it started, whatever capacity says).
    pub fn knows_token(&self, token: &str) -> bool {
        let ecs = self.ecs();
        ecs.tokens
            .get(token)
            .is_some_and(|(_, at)| ecs.now - *at < TOKEN_MEMORY)
    }

    /// RunTask calls made, including failed and idempotent ones.
    pub fn run_task_calls(&self) -> usize {
        self.ecs().run_task_calls
    }

    /// What DescribeTaskDefinition answers for `arn` (default: one essential container, no architecture).
    pub fn define(&self, arn: &str, facts: TaskDefinitionFacts) {
        self.ecs().definitions.insert(arn.to_owned(), facts);
    }
}

impl TaskLauncher for FakeEcs {
    async fn launch(&self, request: &LaunchRequest) -> Result<Launched, LaunchError> {
        let by = self.started_by(&request.run);
        let mut ecs = self.ecs();
        ecs.run_task_calls += 1;
        let lost = match ecs.script.pop_front() {
            Some(Scripted::Fail(error)) => return Err(error),
            Some(Scripted::LoseAnswer(error)) => Some(error),
            None => None,
        };
        let now = ecs.now;
        if let Some((i, at)) = ecs.tokens.get(&request.client_token).copied() {
            if let (true, Some(task)) = (now - at < TOKEN_MEMORY, ecs.tasks.get(i)) {
                if let Some(error) = lost {
                    return Err(error);
                }
                return Ok(Launched {
                    task_arn: task.snapshot.task_arn.clone(),
                    capacity: task.snapshot.capacity.unwrap_or(request.capacity),
                });
            }
        }
        let fates = ecs.fates.as_mut();
        let fate = fates.map_or_else(Fate::default, |f| f(request));
        let arn = format!(
            "arn:aws:ecs:us-east-1:123456789012:task/{}/{:032x}",
            request.spec.cluster,
            ecs.tasks.len() + 1
        );
        let snapshot = TaskSnapshot {
            task_arn: arn.clone(),
            last_status: TaskStatus::Provisioning,
            started_by: Some(by),
            version: 1,
            capacity: Some(request.capacity),
            task_definition_arn: Some(request.spec.task_definition.clone()),
            created_at: Some(now),
            cpu: Some(request.spec.cpu.unwrap_or(256)), // Fargate's smallest size: for the price
            memory: Some(request.spec.memory.unwrap_or(512)),
            pull_started_at: Some(now),
            ..TaskSnapshot::default()
        };
        ecs.reports.push(snapshot.clone());
        let task = Task {
            cluster: request.spec.cluster.clone(),
            run: request.run.clone(),
            snapshot,
            fate,
            launched_at: now,
            stop: None,
        };
        let i = ecs.tasks.len();
        ecs.tasks.push(task);
        ecs.by_arn.insert(arn.clone(), i);
        ecs.active.insert(i);
        let by = self.started_by(&request.run);
        ecs.by_started.entry(by).or_default().push(i);
        ecs.tokens.insert(request.client_token.clone(), (i, now));
        ecs.play();
        if let Some(error) = lost {
            return Err(error);
        }
        Ok(Launched {
            task_arn: arn,
            capacity: request.capacity,
        })
    }

    async fn stop(&self, _cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        let mut ecs = self.ecs();
        let now = ecs.now;
        let place = ecs.by_arn.get(task_arn).copied();
        let Some(task) = place.and_then(|i| ecs.tasks.get_mut(i)) else {
            return Err(EcsError::Rejected {
                message: format!("StopTask for {task_arn}: InvalidParameterException: The referenced task was not found."),
            });
        };
        if task.stop.is_none() && task.snapshot.last_status != TaskStatus::Stopped {
            task.stop = Some((now, reason.to_owned()));
            task.snapshot.stopping_at = Some(now);
        }
        ecs.play();
        Ok(())
    }

    fn started_by(&self, run: &RunId) -> String {
        started_by(run, &self.stack)
    }

    async fn find(&self, cluster: &str, run: &RunId) -> Result<Option<Launched>, EcsError> {
        let by = self.started_by(run);
        let ecs = self.ecs();
        let found = ecs
            .by_started
            .get(&by)
            .into_iter()
            .flatten()
            .filter_map(|i| ecs.known_at(*i))
            .find(|t| t.cluster == cluster);
        Ok(found.map(|t| Launched {
            task_arn: t.snapshot.task_arn.clone(),
            capacity: t.snapshot.capacity.unwrap_or(Capacity::Fargate),
        }))
    }

    async fn describe(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<TaskSnapshot>, EcsError> {
        let ecs = self.ecs();
        Ok(task_arns
            .iter()
            .filter_map(|arn| ecs.known(arn))
            .filter(|t| t.cluster == cluster)
            .map(|t| t.snapshot.clone())
            .collect())
    }

    async fn definition(&self, arn: &str) -> Result<TaskDefinitionFacts, EcsError> {
        let ecs = self.ecs();
        Ok(ecs
            .definitions
            .get(arn)
            .cloned()
            .unwrap_or_else(|| TaskDefinitionFacts {
                arn: Some(arn.to_owned()),
                roles: Vec::new(),
                essential: vec![(CONTAINER.to_owned(), true)],
                architecture: None,
                logs: Vec::new(),
            }))
    }
}
