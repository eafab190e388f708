//! The ports: what the domain needs from the outside world, as traits. Adapters in `aws/` implement them with the
//! SDK; tests implement them with in-memory fakes. Every method is async and `Send`, so handlers stay generic.

use std::future::Future;

mod pools;
mod rollups;
mod services;
pub use pools::{PoolStore, Slot};
pub use rollups::RollupStore;
pub use services::{MetricError, Metrics, ScaleError, ServiceNow, ServiceScaler};

use chrono::{DateTime, Utc};

pub use crate::domain::event::BusEvent;
use crate::domain::fargate::{Architecture, Capacity};
use crate::domain::job::{Job, JobName};
use crate::domain::run::{Run, RunId};
use crate::domain::service::{ScaleAction, ServiceName, ServiceState};
use crate::domain::task::TaskSnapshot;

/// Errors of the store, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: someone else wrote the item since it was read.
    #[error("{what} was changed by someone else since it was read: re-read and try again")]
    Conflict { what: String },
    /// DynamoDB is throttling or briefly unavailable: the caller may retry.
    #[error("the table is busy or unavailable ({message}); retrying later will succeed")]
    Transient { message: String },
    /// DynamoDB could not be reached at all (no connection, or no answer in time): the network, the endpoint or the
    /// region is wrong, or down. Retryable, like `Transient`, but said as what it is.
    #[error("cannot reach DynamoDB ({message}): check the network, the region and AWS_ENDPOINT_URL if set")]
    Unreachable { message: String },
    /// The table or its indexes are missing, or access is denied: retrying will not help.
    #[error("cannot use the table: {message}")]
    Unusable { message: String },
    /// An item does not have the shape this version of fsched expects.
    #[error("stored item {key} cannot be read: {message}")]
    Corrupt { key: String, message: String },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Transient { .. } | StoreError::Unreachable { .. }
        )
    }
}

/// The outcome of claiming a run's key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This caller owns the run and must carry it out.
    Won,
    /// The key was already claimed (a duplicate or concurrent delivery); here is what is stored.
    Lost(Box<Run>),
}

/// Something the dispatcher must look at by a given time: found through the timers index.
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    /// A job whose next fire is at or before the tick.
    Job(Box<Job>),
    /// An open run whose check time has come (max_runtime, a launch left half-done, a lost event).
    Run(Box<Run>),
    /// A service whose check time has come (a transition, the end of a hold, an idle check).
    Service(Box<ServiceState>),
}

/// Job definitions and their scheduling state.
pub trait JobStore: Send + Sync + 'static {
    fn get_job(
        &self,
        name: &JobName,
    ) -> impl Future<Output = Result<Option<Job>, StoreError>> + Send;

    /// Every stored job, by name.
    fn list_jobs(&self) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;

    /// Writes `job` if the stored version is `expected` (`None`: the job must not exist yet). The stored version
    /// becomes `job.version`, which the caller sets to `expected + 1`.
    fn put_job(
        &self,
        job: &Job,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the job definition if its stored version is `expected`. Its runs stay, to expire with their TTL.
    fn delete_job(
        &self,
        name: &JobName,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves a job's scheduling state after a tick handled its due times: `next_fire` (its timer) and `last_fire`.
    /// Conditional on the job still being at the version and next fire it was read with, and bumps the version: an
    /// `apply`, `pause` or `resume` that read the job before the tick then conflicts instead of writing back the old
    /// fire times (which would move `last_fire` backwards).
    fn advance_job(
        &self,
        read: &Job,
        next_fire: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Run records: claimed once per scheduled time or request, then updated as the run goes.
pub trait RunStore: Send + Sync + 'static {
    /// Creates the run record only if no run with its id exists. A claim made late into its day
    /// (`rollup::reopens(run.scheduled_at, run.claimed_at)`: a catch-up, a retry, a backfill) reopens the day's
    /// rollup in the same write.
    fn claim_run(&self, run: &Run) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Writes `run` if the stored revision is `run.revision - 1`.
    fn update_run(&self, run: &Run) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes a change to a run that was closed already (a later report corrected it), as `update_run` does. If the
    /// change lands late into the run's day (`rollup::reopens(run.scheduled_at, now)`), the day's rollup is reopened
    /// in the same write.
    fn correct_run(
        &self,
        run: &Run,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_run(&self, id: &RunId) -> impl Future<Output = Result<Option<Run>, StoreError>> + Send;

    /// A job's runs, newest first.
    fn runs_of_job(
        &self,
        job: &JobName,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Run>, StoreError>> + Send;

    /// Of a job's newest `reach` runs, the ones still open and the ones naming a run they were blocked by (a
    /// skip), newest first: what the overlap policy looks at, read consistently. Closed runs are left out by the
    /// store, so they are neither sent nor decoded.
    fn open_runs_of_job(
        &self,
        job: &JobName,
        reach: usize,
    ) -> impl Future<Output = Result<Vec<Run>, StoreError>> + Send;

    /// Runs of every job scheduled in `[from, to)`, newest first.
    fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Run>, StoreError>> + Send;

    /// The run that launched an ECS task.
    fn run_by_task(
        &self,
        task_arn: &str,
    ) -> impl Future<Output = Result<Option<Run>, StoreError>> + Send;
}

/// Declared services, their state, and the scale actions taken on them.
pub trait ServiceStore: Send + Sync + 'static {
    fn get_service(
        &self,
        name: &ServiceName,
    ) -> impl Future<Output = Result<Option<ServiceState>, StoreError>> + Send;

    /// Every declared service, by name.
    fn list_services(&self) -> impl Future<Output = Result<Vec<ServiceState>, StoreError>> + Send;

    /// Writes `state` if the stored version is `expected` (`None`: it must not exist yet).
    fn put_service(
        &self,
        state: &ServiceState,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn delete_service(
        &self,
        name: &ServiceName,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a scale action (idempotent: the same service, time and phase is one record).
    fn record_action(
        &self,
        action: &ScaleAction,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Scale actions of every service in `[from, to)`, oldest first.
    fn actions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<ScaleAction>, StoreError>> + Send;
}

/// The timers index: what the dispatcher must look at, in one read.
pub trait Timers: Send + Sync + 'static {
    /// Everything due at or before `now`, oldest first, in one query of the timers index.
    fn due(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Vec<Due>, StoreError>> + Send;
}

/// The whole table: what the functions wire up. Use cases name the narrower ports they use.
pub trait Store: JobStore + RunStore + ServiceStore + PoolStore + RollupStore + Timers {}

impl<T: JobStore + RunStore + ServiceStore + PoolStore + RollupStore + Timers> Store for T {}

/// What to launch: everything RunTask needs, resolved from the job and the run.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRequest {
    pub run: RunId,
    pub spec: crate::domain::job::JobSpec,
    /// Idempotency token: the same for every attempt of the same run, so ECS starts at most one task for it.
    pub client_token: String,
    /// Capacity to ask for on this attempt.
    pub capacity: Capacity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Launched {
    pub task_arn: String,
    pub capacity: Capacity,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LaunchError {
    /// No capacity of the asked kind right now (Spot capacity, account limits): another capacity may work.
    #[error("no {capacity:?} capacity: {message}")]
    NoCapacity { capacity: Capacity, message: String },
    /// Throttling or a transient service error: the same request may succeed later.
    #[error("ECS is throttling or unavailable: {message}")]
    Transient { message: String },
    /// The request itself is wrong (missing task definition, bad network, access denied): retrying will not help.
    #[error("{message}")]
    Rejected { message: String },
}

/// Errors of ECS calls other than launching (StopTask, ListTasks, DescribeTasks, DescribeTaskDefinition).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EcsError {
    /// Throttling or a transient service error: the same call may succeed later.
    #[error("ECS is throttling or unavailable: {message}")]
    Transient { message: String },
    /// The call itself is wrong (a missing cluster or definition, access denied): retrying will not help.
    #[error("{message}")]
    Rejected { message: String },
}

impl From<EcsError> for LaunchError {
    fn from(e: EcsError) -> LaunchError {
        match e {
            EcsError::Transient { message } => LaunchError::Transient { message },
            EcsError::Rejected { message } => LaunchError::Rejected { message },
        }
    }
}

/// What the recorder needs from a task definition: which containers are essential (they decide a run's outcome) and
/// the CPU architecture (it decides the price).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskDefinitionFacts {
    /// Its full ARN, with the revision (when asked by family alone: the latest active one).
    pub arn: Option<String>,
    /// The roles its tasks get: the task role and the task execution role, where it names them.
    pub roles: Vec<String>,
    pub essential: Vec<(String, bool)>,
    /// `None` when the definition does not say (Fargate then runs x86_64).
    pub architecture: Option<Architecture>,
    /// Where each container's output goes (domain::logs).
    pub logs: Vec<crate::domain::logs::ContainerLogs>,
}

impl TaskDefinitionFacts {
    /// Marks a task report's containers essential or not, and sets its architecture: what the report says the
    /// task ran on, else what the definition asks for, else Fargate's default.
    pub fn apply(&self, task: &mut TaskSnapshot) {
        for c in &mut task.containers {
            if let Some((_, essential)) = self.essential.iter().find(|(n, _)| *n == c.name) {
                c.essential = Some(*essential);
            }
        }
        task.architecture = Some(task.architecture.or(self.architecture).unwrap_or_default());
    }
}

/// Starts and stops Fargate tasks.
pub trait TaskLauncher: Send + Sync + 'static {
    fn launch(
        &self,
        request: &LaunchRequest,
    ) -> impl Future<Output = Result<Launched, LaunchError>> + Send;

    fn stop(
        &self,
        cluster: &str,
        task_arn: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), EcsError>> + Send;

    /// The `startedBy` this launcher gives a run's task (`domain::dispatch::started_by` with its stack's
    /// discriminator): how the recorder tells its own tasks from another stack's in a shared cluster.
    fn started_by(&self, run: &RunId) -> String;

    /// The task already started for a run, if any (found by the run's `startedBy`, running or stopped): a launch
    /// interrupted between RunTask and recording its result is adopted instead of started twice.
    fn find(
        &self,
        cluster: &str,
        run: &RunId,
    ) -> impl Future<Output = Result<Option<Launched>, EcsError>> + Send;

    /// What ECS knows of these tasks of one cluster; tasks it no longer knows are absent from the answer.
    fn describe(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Vec<TaskSnapshot>, EcsError>> + Send;

    /// What a task definition says about its containers and architecture.
    fn definition(
        &self,
        task_definition_arn: &str,
    ) -> impl Future<Output = Result<TaskDefinitionFacts, EcsError>> + Send;
}

/// Errors of EventBridge rule management.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub message: String,
}

/// Keeps the EventBridge rules of jobs' `on_event`.
pub trait EventRules: Send + Sync + 'static {
    /// The rules on `bus` whose names start with `prefix`, with their patterns and targets.
    fn list(
        &self,
        bus: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<crate::domain::trigger::FoundRule>, RuleError>> + Send;

    /// Creates or replaces a rule and points it at `queue`.
    fn put(
        &self,
        rule: &crate::domain::trigger::EventRule,
        queue: &str,
    ) -> impl Future<Output = Result<(), RuleError>> + Send;

    /// Removes a rule's targets, then the rule.
    fn delete(&self, bus: &str, name: &str) -> impl Future<Output = Result<(), RuleError>> + Send;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{failed} of {total} events were not published: {message}")]
pub struct PublishError {
    pub failed: usize,
    pub total: usize,
    pub message: String,
}

/// Publishes events to the stack's bus. Partial failures are errors, never ignored.
pub trait EventPublisher: Send + Sync + 'static {
    fn publish(&self, events: &[BusEvent])
        -> impl Future<Output = Result<(), PublishError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_architecture_wins_over_the_definitions() {
        let arm = TaskDefinitionFacts {
            architecture: Some(Architecture::Arm64),
            ..TaskDefinitionFacts::default()
        };
        let mut reported = TaskSnapshot {
            architecture: Some(Architecture::Arm64),
            ..TaskSnapshot::default()
        };
        TaskDefinitionFacts::default().apply(&mut reported);
        assert_eq!(reported.architecture, Some(Architecture::Arm64));
        let mut unsaid = TaskSnapshot::default();
        arm.apply(&mut unsaid);
        assert_eq!(unsaid.architecture, Some(Architecture::Arm64));
        let mut neither = TaskSnapshot::default();
        TaskDefinitionFacts::default().apply(&mut neither);
        assert_eq!(neither.architecture, Some(Architecture::X86_64));
    }
}
