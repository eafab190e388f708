//! The ports the use cases get in the simulator: the in-memory fakes wrapped in the fault plan (`Chaos`), with the
//! writes that invariants judge (scale changes, announcements) reported to the ledger as they happen. Run writes
//! reach the ledger from the table itself (`MemoryStore::watch_runs`), with what each one replaced.

use chrono::{DateTime, Utc};
use fsched_core::domain::event::BusEvent;
use fsched_core::domain::fargate::Capacity;
use fsched_core::domain::job::{Job, JobName};
use fsched_core::domain::run::{Run, RunId};
use fsched_core::domain::service::{ScaleAction, ServiceName, ServiceState};
use fsched_core::domain::task::TaskSnapshot;
use fsched_core::ports::*;
use fsched_core::testing::{FakeBus, FakeEcs, FakeMetrics, FakeScaler, MemoryStore};

use crate::chaos::{lock, Chaos};

mod services;

pub type Store = Chaos<MemoryStore>;
pub type Ecs = Chaos<FakeEcs>;
pub type Bus = Chaos<FakeBus>;
pub type Scaler = Chaos<FakeScaler>;
pub type Watch = Chaos<FakeMetrics>;

fn transient(message: String) -> StoreError {
    StoreError::Transient { message }
}

impl JobStore for Store {
    async fn get_job(&self, name: &JobName) -> Result<Option<Job>, StoreError> {
        self.guard(
            || "GetItem job".to_owned(),
            false,
            transient,
            self.inner.get_job(name),
        )
        .await
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.guard(
            || "Query jobs".to_owned(),
            false,
            transient,
            self.inner.list_jobs(),
        )
        .await
    }

    async fn put_job(&self, job: &Job, expected: Option<u64>) -> Result<(), StoreError> {
        let op = || format!("PutItem job {} v{}", job.name, job.version);
        self.guard(op, true, transient, self.inner.put_job(job, expected))
            .await
    }

    async fn delete_job(&self, name: &JobName, expected: u64) -> Result<(), StoreError> {
        let op = || format!("DeleteItem job {name}");
        self.guard(op, true, transient, self.inner.delete_job(name, expected))
            .await
    }

    async fn advance_job(
        &self,
        read: &Job,
        next_fire: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let op = || format!("UpdateItem job {} next {next_fire:?}", read.name);
        let call = self.inner.advance_job(read, next_fire, last_fire);
        self.guard(op, true, transient, call).await
    }
}

impl RunStore for Store {
    async fn claim_run(&self, run: &Run) -> Result<Claim, StoreError> {
        let op = || format!("PutItem claim {} {}", run.id, run.status.as_str());
        self.guard(&op, true, transient, self.inner.claim_run(run))
            .await
    }

    async fn update_run(&self, run: &Run) -> Result<(), StoreError> {
        let op = || {
            format!(
                "PutItem run {} r{} {}",
                run.id,
                run.revision,
                run.status.as_str()
            )
        };
        self.guard(op, true, transient, self.inner.update_run(run))
            .await
    }

    async fn correct_run(&self, run: &Run, now: DateTime<Utc>) -> Result<(), StoreError> {
        let op = || {
            format!(
                "PutItem correct {} r{} {}",
                run.id,
                run.revision,
                run.status.as_str()
            )
        };
        self.guard(op, true, transient, self.inner.correct_run(run, now))
            .await
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.guard(
            || "GetItem run".to_owned(),
            false,
            transient,
            self.inner.get_run(id),
        )
        .await
    }

    async fn runs_of_job(&self, job: &JobName, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.guard(
            || "Query runs of job".to_owned(),
            false,
            transient,
            self.inner.runs_of_job(job, limit),
        )
        .await
    }

    async fn open_runs_of_job(&self, job: &JobName, reach: usize) -> Result<Vec<Run>, StoreError> {
        self.guard(
            || "Query open runs of job".to_owned(),
            false,
            transient,
            self.inner.open_runs_of_job(job, reach),
        )
        .await
    }

    async fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Run>, StoreError> {
        let call = self.inner.runs_between(from, to, limit);
        self.guard(|| "Query runs by time".to_owned(), false, transient, call)
            .await
    }

    async fn run_by_task(&self, task_arn: &str) -> Result<Option<Run>, StoreError> {
        self.guard(
            || "Query by-task".to_owned(),
            false,
            transient,
            self.inner.run_by_task(task_arn),
        )
        .await
    }
}

impl ServiceStore for Store {
    async fn get_service(&self, name: &ServiceName) -> Result<Option<ServiceState>, StoreError> {
        self.guard(
            || "GetItem service".to_owned(),
            false,
            transient,
            self.inner.get_service(name),
        )
        .await
    }

    async fn list_services(&self) -> Result<Vec<ServiceState>, StoreError> {
        self.guard(
            || "Query services".to_owned(),
            false,
            transient,
            self.inner.list_services(),
        )
        .await
    }

    async fn put_service(
        &self,
        state: &ServiceState,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let op = || {
            format!(
                "PutItem service {} v{} {:?}",
                state.name, state.version, state.phase
            )
        };
        self.guard(
            &op,
            true,
            transient,
            self.inner.put_service(state, expected),
        )
        .await
    }

    async fn delete_service(&self, name: &ServiceName, expected: u64) -> Result<(), StoreError> {
        self.guard(
            || "DeleteItem service".to_owned(),
            true,
            transient,
            self.inner.delete_service(name, expected),
        )
        .await
    }

    async fn record_action(&self, action: &ScaleAction) -> Result<(), StoreError> {
        self.guard(
            || "PutItem action".to_owned(),
            true,
            transient,
            self.inner.record_action(action),
        )
        .await
    }

    async fn actions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScaleAction>, StoreError> {
        self.guard(
            || "Query actions".to_owned(),
            false,
            transient,
            self.inner.actions_between(from, to),
        )
        .await
    }
}

impl Timers for Store {
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, StoreError> {
        self.guard(
            || "Query timers".to_owned(),
            false,
            transient,
            self.inner.due(now),
        )
        .await
    }
}

fn ecs_transient(message: String) -> EcsError {
    EcsError::Transient { message }
}

impl TaskLauncher for Ecs {
    async fn launch(&self, request: &LaunchRequest) -> Result<Launched, LaunchError> {
        let op = || format!("RunTask {} {:?}", request.run, request.capacity);
        // A token ECS remembers is answered with its task, whatever the capacity now: no shortage to inject.
        let known = self.inner.knows_token(&request.client_token);
        if request.capacity == Capacity::FargateSpot
            && !known
            && lock(&self.faults).spot_is_short(op)
        {
            return Err(LaunchError::NoCapacity {
                capacity: request.capacity,
                message: "RESOURCE:FARGATE_SPOT (injected)".to_owned(),
            });
        }
        let error = |message| LaunchError::Transient { message };
        self.guard(op, true, error, self.inner.launch(request))
            .await
    }

    async fn stop(&self, cluster: &str, task_arn: &str, reason: &str) -> Result<(), EcsError> {
        let op = || format!("StopTask {task_arn}");
        self.guard(
            &op,
            true,
            ecs_transient,
            self.inner.stop(cluster, task_arn, reason),
        )
        .await
    }

    fn started_by(&self, run: &RunId) -> String {
        self.inner.started_by(run)
    }

    async fn find(&self, cluster: &str, run: &RunId) -> Result<Option<Launched>, EcsError> {
        self.guard(
            || "ListTasks".to_owned(),
            false,
            ecs_transient,
            self.inner.find(cluster, run),
        )
        .await
    }

    async fn describe(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> Result<Vec<TaskSnapshot>, EcsError> {
        self.guard(
            || "DescribeTasks".to_owned(),
            false,
            ecs_transient,
            self.inner.describe(cluster, task_arns),
        )
        .await
    }

    async fn definition(&self, arn: &str) -> Result<TaskDefinitionFacts, EcsError> {
        self.guard(
            || "DescribeTaskDefinition".to_owned(),
            false,
            ecs_transient,
            self.inner.definition(arn),
        )
        .await
    }
}

impl EventPublisher for Bus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        let op = || {
            format!(
                "PutEvents {}",
                events
                    .iter()
                    .map(|e| e.detail_type.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let error = |message| PublishError {
            failed: events.len(),
            total: events.len(),
            message,
        };
        let call = async {
            self.inner.publish(events).await?;
            lock(&self.faults).published(events);
            Ok(())
        };
        self.guard(op, true, error, call).await
    }
}
