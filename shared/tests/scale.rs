//! At scale, over the in-memory ports: many new jobs are applied a bounded number at a time, each once, in the plan's
//! order; many jobs due at the same minute are launched across consecutive ticks, each tick within its window and at
//! ECS's RunTask rate, every fire once. (Times are measured by scripts/bench-scale, never asserted here.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use fsched_core::domain::job::{Job, JobName};
use fsched_core::domain::plan::plan;
use fsched_core::ports::{JobStore, StoreError};
use fsched_core::service::apply::{apply_jobs, Outcome, APPLY_CONCURRENCY};
use fsched_core::service::dispatch::{tick_deadline, Dispatcher, Settings, TICK_WINDOW};
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::MemoryStore;
use tokio::time::Instant;

mod common;
use common::{t, Fakes};

/// The memory store, counting the writes in flight: each write yields once, as a request to DynamoDB would.
#[derive(Default)]
struct InFlight {
    store: MemoryStore,
    now: AtomicUsize,
    most: AtomicUsize,
    writes: AtomicUsize,
}

impl JobStore for InFlight {
    async fn get_job(&self, name: &JobName) -> Result<Option<Job>, StoreError> {
        self.store.get_job(name).await
    }

    async fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.store.list_jobs().await
    }

    async fn put_job(&self, job: &Job, expected: Option<u64>) -> Result<(), StoreError> {
        let at_once = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(at_once, Ordering::SeqCst);
        self.writes.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        let out = self.store.put_job(job, expected).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }

    async fn delete_job(&self, name: &JobName, expected: u64) -> Result<(), StoreError> {
        self.store.delete_job(name, expected).await
    }

    async fn advance_job(
        &self,
        read: &Job,
        next_fire: Option<DateTime<Utc>>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.store.advance_job(read, next_fire, last_fire).await
    }
}

#[tokio::test]
async fn a_thousand_new_jobs_are_written_a_bounded_number_at_a_time_each_once_in_order() {
    let store = InFlight::default();
    let desired: BTreeMap<JobName, _> = (0..1000)
        .map(|i| {
            let name = JobName::new(format!("job-{i:04}")).unwrap();
            (name, job_spec("cron(0 2 * * ? *)"))
        })
        .collect();
    let changes = plan(&desired, &[], false);
    let applied = apply_jobs(&store, &changes, t(1, 0)).await;

    assert_eq!(store.writes.load(Ordering::SeqCst), 1000);
    let most = store.most.load(Ordering::SeqCst);
    assert!(
        most > 1 && most <= APPLY_CONCURRENCY,
        "{most} writes in flight at once"
    );
    let names: Vec<&JobName> = applied.iter().map(|(name, _)| name).collect();
    assert_eq!(names, desired.keys().collect::<Vec<_>>());
    assert!(applied.iter().all(|(_, o)| *o == Outcome::Created));
    assert_eq!(store.list_jobs().await.unwrap().len(), 1000);
}

#[tokio::test(start_paused = true)]
async fn two_thousand_jobs_due_at_once_launch_across_consecutive_ticks_each_once() {
    let f = Fakes::new();
    for i in 0..2000 {
        f.job(
            &format!("job-{i:04}"),
            job_spec("cron(0 2 * * ? *)"),
            t(2, 0),
        )
        .await;
    }
    // As in AWS: RunTask at ECS's 20 a second, each tick in an invocation that may run 120 s.
    let d = Dispatcher::new(
        f.store.clone(),
        f.ecs.clone(),
        f.bus.clone(),
        Settings::default(),
    );
    let rate = Settings::default().run_task_rate;
    let window = (TICK_WINDOW - Settings::default().margin).as_secs_f64();
    let mut launched = Vec::new();
    for minute in 0..5 {
        f.ecs.set_now(t(2, minute));
        let started = Instant::now();
        let report = d
            .tick(
                t(2, minute),
                tick_deadline(started, started + std::time::Duration::from_secs(120)),
            )
            .await
            .unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        // Each tick stops starting launches at its window's end, before the next minute's tick begins.
        assert!(
            report.launched.len() as f64 <= window * rate + rate,
            "minute {minute}: {} launched",
            report.launched.len()
        );
        launched.extend(report.launched);
    }
    assert!(launched.len() == 2000, "{} launched", launched.len());
    launched.sort();
    launched.dedup();
    assert_eq!(launched.len(), 2000, "a run was launched twice");
    assert_eq!(f.ecs.tasks().len(), 2000, "one task per fire");
}
