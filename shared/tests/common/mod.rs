//! What the use-case tests share: the in-memory ports wired into the dispatcher, recorder and sleeper, and the
//! few steps every test takes (a job stored, a tick at a time, a run read back, announcements counted).

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use fsched_core::domain::job::{Job, JobName, JobSpec};
use fsched_core::domain::run::{Run, RunId};
use fsched_core::ports::{JobStore, RunStore, Timers};
use fsched_core::service::dispatch::{Dispatcher, Settings, TickReport};
use fsched_core::service::record::Recorder;
use fsched_core::service::scale::Sleeper;
use fsched_core::testing::{FakeBus, FakeEcs, FakeMetrics, FakeScaler, MemoryStore};
use tokio::time::Instant;

/// The stack's waker target group, as the sleeper is given it.
pub const WAKER: &str = "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/fsched-waker/0";

pub fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
}

pub struct Fakes {
    pub store: MemoryStore,
    pub ecs: FakeEcs,
    pub bus: FakeBus,
    pub scaler: FakeScaler,
}

impl Fakes {
    pub fn new() -> Fakes {
        Fakes {
            store: MemoryStore::new(),
            ecs: FakeEcs::new(t(0, 0)),
            bus: FakeBus::new(),
            scaler: FakeScaler::new(),
        }
    }

    /// Fakes whose tasks each run `runs_for` (the fakes' other defaults kept).
    pub fn running(runs_for: chrono::Duration) -> Fakes {
        let f = Fakes::new();
        Fakes {
            ecs: f.ecs.with_fates(move |_| fsched_core::testing::Fate {
                runs_for,
                ..fsched_core::testing::Fate::default()
            }),
            ..f
        }
    }

    pub fn dispatcher(&self) -> Dispatcher<MemoryStore, FakeEcs, FakeBus> {
        let settings = Settings {
            run_task_rate: 1000.0,
            ..Settings::default()
        };
        Dispatcher::new(
            self.store.clone(),
            self.ecs.clone(),
            self.bus.clone(),
            settings,
        )
    }

    /// The sleeper, with the stack's waker target group (`WAKER`).
    pub fn sleeper(&self) -> Sleeper<MemoryStore, FakeScaler, FakeMetrics, FakeBus> {
        Sleeper::new(
            self.store.clone(),
            self.scaler.clone(),
            FakeMetrics::new(),
            self.bus.clone(),
        )
        .with_waker(Some(WAKER.to_owned()))
    }

    pub fn recorder(&self) -> Recorder<MemoryStore, FakeEcs, FakeBus> {
        Recorder::new(self.store.clone(), self.ecs.clone(), self.bus.clone())
    }

    pub async fn job(&self, name: &str, spec: JobSpec, next_fire: DateTime<Utc>) -> JobName {
        let job = Job {
            name: JobName::new(name).unwrap(),
            spec,
            version: 1,
            next_fire: Some(next_fire),
            last_fire: None,
            health: Default::default(),
        };
        self.store.put_job(&job, None).await.unwrap();
        job.name
    }

    pub async fn tick(&self, now: DateTime<Utc>) -> TickReport {
        self.ecs.set_now(now);
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        self.dispatcher().tick(now, deadline).await.unwrap()
    }

    pub async fn run(&self, job: &JobName, at: DateTime<Utc>) -> Run {
        self.store
            .get_run(&RunId::scheduled(job, at))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no run of {job} at {at}"))
    }

    /// What the dispatcher does with the services due at `now`: the sleeper's check of each.
    pub async fn services_due(&self, now: DateTime<Utc>) {
        for due in self.store.due(now).await.unwrap() {
            if let fsched_core::ports::Due::Service(s) = due {
                self.sleeper().check(*s, now).await;
            }
        }
    }

    pub fn announced(&self, detail_type: &str) -> usize {
        self.bus
            .published()
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .count()
    }
}
