//! One seed's world, minute by minute: EventBridge's tick to the dispatcher (with Lambda's retries, duplicates and
//! outages), ECS's task reports to the recorder (late, repeated, reordered, lost), commands through the trigger's
//! queue (redelivered until handled), and `apply` now and then, all through the real use cases over the fakes with
//! the fault plan around every port call. Each simulated minute's invocations run concurrently.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::job::JobSpec;
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::run::RunId;
use fsched_core::domain::service::{Phase, ServiceSpec};
use fsched_core::domain::task::TaskSnapshot;
use fsched_core::domain::trigger::Inbound;
use fsched_core::ports::{JobStore, ServiceScaler, ServiceStore};
use fsched_core::service::apply::{apply_file, plan_file};
use fsched_core::service::dispatch::{Clock, Dispatcher, Settings as DispatchSettings};
use fsched_core::service::record::Recorder;
use fsched_core::service::scale::Sleeper;
use fsched_core::service::trigger::{Handled, Triggers};
use fsched_core::service::waker::Waker;
use fsched_core::testing::{
    FakeBus, FakeEcs, FakeMetrics, FakeRules, FakeScaler, Fate, MemoryStore,
};

use crate::chaos::{invocation, lock, Chaos, Faults, Rates, Shared};
use crate::deliver::job_name;
use crate::gen::World;
use crate::ports::{Bus, Ecs, Scaler, Store, Watch};
use crate::rng::Rng;
use crate::{Settings, Window};

/// Lambda's asynchronous invocations (EventBridge to the dispatcher and the recorder): two retries, then dropped.
pub(crate) const LAMBDA_RETRIES: [i64; 2] = [1, 3];
/// The trigger queue, as template.yaml's TriggerQueue: redelivered after the visibility timeout (minutes), to the
/// dead-letter queue after this many receives.
pub(crate) const SQS_RECEIVES: u32 = 3;
pub(crate) const SQS_VISIBILITY: i64 = 6;
/// The last hours run without faults, so everything left open can settle before the end checks.
pub const QUIET_HOURS: i64 = 6;
/// An invocation's time.
pub(crate) const BUDGET: StdDuration = StdDuration::from_secs(120);

pub(crate) enum Work {
    Tick(DateTime<Utc>),
    /// `fsched apply` of a jobs file (a person's, concurrent with whatever else runs that minute).
    Apply(String),
    Report(Box<TaskSnapshot>, DateTime<Utc>),
    Command(Box<Inbound>),
    /// A request to a request-woken service's host, which its rule forwards to the waker.
    Request(String),
}

pub(crate) struct Pending {
    pub(crate) work: Work,
    pub(crate) attempt: u32,
}

pub struct Sim {
    pub settings: Settings,
    pub rng: Rng,
    pub faults: Shared,
    pub world: World,
    pub mem: MemoryStore,
    pub ecs: FakeEcs,
    pub scaler: FakeScaler,
    pub(crate) store: Store,
    pub(crate) dispatcher: Dispatcher<Store, Ecs, Bus>,
    pub(crate) sleeper: Sleeper<Store, Scaler, Watch, Bus>,
    pub(crate) recorder: Recorder<Store, Ecs, Bus>,
    pub(crate) triggers: Triggers<Store, Ecs, Bus, Scaler, Watch>,
    pub(crate) waker: Waker<Store, Bus>,
    /// The fakes behind the metrics and the bus (the world sets the one and takes commands from the other).
    pub(crate) metrics: FakeMetrics,
    pub(crate) bus: FakeBus,
    /// The request-woken services.
    pub(crate) served: BTreeMap<String, crate::services::Served>,
    pub(crate) queue: BTreeMap<(DateTime<Utc>, u64), Pending>,
    pub(crate) seq: u64,
    pub now: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Windows in which no tick reaches the dispatcher.
    pub outages: Vec<Window>,
    /// Per job: from a pause command's sending to its resume's last handling.
    pub paused: BTreeMap<String, Vec<Window>>,
    pub(crate) pause_open: BTreeMap<String, DateTime<Utc>>,
    /// Per service: holds asked for (sent at, until).
    pub holds: BTreeMap<String, Vec<Window>>,
    /// Each job's spec and first fire after the first apply (a one-off already past has none).
    pub first_fires: BTreeMap<String, (JobSpec, DateTime<Utc>)>,
    /// Every job's spec, as first applied (runs can be asked for a job that has no fire left).
    pub job_specs: BTreeMap<String, JobSpec>,
    /// The services' specs, as applied.
    pub specs: BTreeMap<String, ServiceSpec>,
    pub reports_lost: u64,
    pub commands: u64,
    /// Commands that failed every receive (the dead-letter queue), and the ids of those handled.
    pub dead_lettered: u64,
    pub(crate) delivered: std::collections::BTreeSet<String>,
    pub(crate) file: String,
}

fn fates(
    world: &World,
    mut rng: Rng,
) -> impl FnMut(&fsched_core::ports::LaunchRequest) -> Fate + Send + 'static {
    let profiles = world.profiles.clone();
    move |request| {
        let Some(p) = profiles.get(request.run.job().as_str()) else {
            return Fate::default();
        };
        let spread = (p.runs_for / 3).max(1) as u64;
        let runs_for = p.runs_for - spread as i64 / 2 + rng.below(spread) as i64;
        Fate {
            starts_after: Duration::seconds(20 + rng.below(70) as i64),
            runs_for: Duration::seconds(runs_for.max(5)),
            exit_code: if rng.chance(p.fails) { 1 } else { 0 },
            reclaimed_after: rng
                .chance(p.reclaimed)
                .then(|| Duration::seconds(rng.below(runs_for.max(2) as u64) as i64)),
        }
    }
}

impl Sim {
    pub fn new(settings: Settings) -> Sim {
        let mut rng = Rng::new(settings.seed);
        let world = crate::gen::world(
            &mut rng,
            settings.fleet,
            settings.days,
            settings.jobs,
            settings.services,
        );
        let faults = Faults::new(rng.fork(), settings.rates);
        lock(&faults).tracing = settings.trace || std::env::var_os("FSCHED_SIM_LOG").is_some();
        let start = world.start;
        let mem = MemoryStore::new();
        // Every run write is judged against what it replaced, as the table makes it.
        let watched = faults.clone();
        mem.watch_runs(std::sync::Arc::new(move |before, after| {
            lock(&watched).ledger.run_written(before, after);
        }));
        let ecs = FakeEcs::new(start).with_fates(fates(&world, rng.fork()));
        let scaler = FakeScaler::new();
        for s in &world.services {
            scaler.add("batch", &s.name, s.desired, s.autoscaling);
        }
        let c = |faults: &Shared| faults.clone();
        let store = Chaos::new(mem.clone(), c(&faults));
        let launcher = Chaos::new(ecs.clone(), c(&faults));
        let (fake_bus, metrics) = (FakeBus::new(), FakeMetrics::new());
        let bus: Bus = Chaos::new(fake_bus.clone(), c(&faults));
        let scale: Scaler = Chaos::new(scaler.clone(), c(&faults));
        let watch: Watch = Chaos::new(metrics.clone(), c(&faults));
        // The functions' clock is the simulated minute: the world's time, kept in the ledger.
        let clock_faults = faults.clone();
        let dispatch_settings = DispatchSettings {
            clock: Clock(std::sync::Arc::new(move || lock(&clock_faults).ledger.now)),
            ..DispatchSettings::default()
        };
        let dispatch = || {
            Dispatcher::new(
                store.clone(),
                launcher.clone(),
                bus.clone(),
                dispatch_settings.clone(),
            )
        };
        let sleep = || {
            Sleeper::new(store.clone(), scale.clone(), watch.clone(), bus.clone())
                .with_waker(Some(crate::gen::WAKER_GROUP.to_owned()))
                .with_clock(dispatch_settings.clock.clone())
        };
        let end = start + Duration::days(i64::from(settings.days));
        let mut outages = Vec::new();
        if settings.chaos {
            for _ in 0..rng.below(3) {
                let from = start
                    + Duration::minutes(rng.below(u64::from(settings.days) * 1440 - 60 * 12) as i64);
                outages.push((from, from + Duration::minutes(10 + rng.below(240) as i64)));
            }
        }
        let outages = merged(outages);
        Sim {
            dispatcher: dispatch(),
            sleeper: sleep(),
            recorder: Recorder::new(store.clone(), launcher.clone(), bus.clone()),
            triggers: Triggers::new(dispatch(), sleep(), store.clone()),
            waker: Waker::new(store.clone(), bus.clone()),
            metrics,
            bus: fake_bus,
            served: crate::services::served(&world),
            file: world.jobs_file.clone(),
            settings,
            rng,
            faults,
            world,
            mem,
            ecs,
            scaler,
            store,
            queue: BTreeMap::new(),
            seq: 0,
            now: start,
            end,
            outages,
            paused: BTreeMap::new(),
            pause_open: BTreeMap::new(),
            holds: BTreeMap::new(),
            first_fires: BTreeMap::new(),
            job_specs: BTreeMap::new(),
            specs: BTreeMap::new(),
            reports_lost: 0,
            commands: 0,
            dead_lettered: 0,
            delivered: Default::default(),
        }
    }

    pub(crate) fn push(&mut self, at: DateTime<Utc>, work: Work, attempt: u32) {
        self.seq += 1;
        self.queue.insert((at, self.seq), Pending { work, attempt });
    }

    pub(crate) fn quiet(&self) -> bool {
        !self.settings.chaos || self.now >= self.end - Duration::hours(QUIET_HOURS)
    }

    /// `fsched apply` of a jobs file (plan, then apply): whether every change was made. A person whose apply
    /// conflicted with a tick or a command runs it again.
    pub(crate) async fn apply(&self, file: &str) -> Result<bool, String> {
        let parsed = JobsFile::parse(file)
            .map_err(|d| format!("the generated jobs file is invalid: {d:?}"))?;
        let rules = FakeRules::new();
        let now = self.now;
        let store = &self.store;
        let done = invocation(&self.faults, || "fsched apply".to_owned(), async {
            let plan = plan_file(store, &rules, &parsed, None, false, now)
                .await
                .ok()?;
            let applied = apply_file(store, &rules, plan, now).await;
            Some(applied.failures() == (0, 0, 0))
        })
        .await;
        Ok(done == Some(Some(true)))
    }

    pub async fn run(&mut self) -> Result<(), String> {
        lock(&self.faults).ledger.now = self.now;
        // The load balancer as it was set up: each request-woken service's rule forwards to its own group.
        for s in &self.world.services {
            if let Some(r) = &s.request {
                self.scaler
                    .forward(&r.rule, &r.group)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        // The first apply is made without faults: a world must exist before it can be hurt.
        let rates = std::mem::replace(&mut lock(&self.faults).rates, Rates::NONE);
        let file = self.file.clone();
        if !self.apply(&file).await? {
            return Err("the first apply failed without faults".to_owned());
        }
        lock(&self.faults).rates = rates;
        let jobs = self.mem.list_jobs().await.map_err(|e| e.to_string())?;
        for job in jobs {
            self.job_specs
                .insert(job.name.to_string(), job.spec.clone());
            if let Some(at) = job.next_fire {
                self.first_fires
                    .insert(job.name.to_string(), (job.spec, at));
            }
        }
        let services = self.mem.list_services().await.map_err(|e| e.to_string())?;
        for s in services {
            self.specs.insert(s.name.to_string(), s.spec);
        }
        while self.now < self.end {
            self.step().await?;
            self.now += Duration::minutes(1);
        }
        Ok(())
    }

    /// One simulated minute.
    async fn step(&mut self) -> Result<(), String> {
        let now = self.now;
        if self.quiet() {
            lock(&self.faults).rates = Rates::NONE;
        }
        lock(&self.faults).ledger.now = now;
        self.ecs.set_now(now);
        self.queue_reports(now);
        let in_outage = self.outages.iter().any(|(a, b)| *a <= now && now < *b);
        if !in_outage {
            self.push(now, Work::Tick(now), 0);
            if !self.quiet() && self.rng.chance(0.01) {
                // EventBridge delivers a tick twice now and then.
                self.push(now, Work::Tick(now), 0);
            }
        }
        self.send_requests(now);
        if !self.quiet() {
            self.maybe_command(now);
            if self.rng.chance(1.0 / 720.0) {
                let file = self.changed_file();
                self.push(now, Work::Apply(file), 0);
            }
        }
        let due: Vec<(DateTime<Utc>, u64)> = self
            .queue
            .range(..=(now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        let mut batch = Vec::new();
        for key in due {
            if let Some(p) = self.queue.remove(&key) {
                batch.push(p);
            }
        }
        let results = {
            let this = &*self;
            let runs = batch.iter().map(|p| this.handle(p));
            crate::join::all(runs).await
        };
        for (p, outcome) in batch.into_iter().zip(results) {
            self.after(p, outcome, now).await;
        }
        self.route_commands(now);
        self.report(now).await;
        self.check_served(now);
        self.check_services(now);
        lock(&self.faults).keep_trace();
        Ok(())
    }

    /// Every pause, those still in force lasting to the end.
    pub fn pauses(&self) -> BTreeMap<String, Vec<Window>> {
        let mut all = self.paused.clone();
        for (job, from) in &self.pause_open {
            all.entry(job.clone()).or_default().push((*from, self.end));
        }
        all
    }

    /// Each job with its spec and first fire.
    pub fn jobs(&self) -> Vec<(String, JobSpec, DateTime<Utc>)> {
        self.first_fires
            .iter()
            .map(|(n, (s, at))| (n.clone(), s.clone(), *at))
            .collect()
    }
}

/// What became of one delivery.
pub(crate) enum Outcome {
    Done(Option<Handled>),
    /// Failed or crashed: retry if the channel does.
    Retry,
    /// Failed in a way a retry cannot fix.
    Drop,
}

/// Windows that overlap or touch made one: one outage, as the checks see it.
fn merged(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort();
    let mut out: Vec<Window> = Vec::new();
    for (a, b) in windows {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

pub fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Awake => "awake",
        Phase::Asleep => "asleep",
    }
}

pub fn run_id(job: &str, at: DateTime<Utc>) -> RunId {
    RunId::scheduled(&job_name(job), at)
}
