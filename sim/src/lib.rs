//! fsched's deterministic simulator. One seed makes one world (a jobs file of N jobs and S services, a start date,
//! how each task behaves) and one fault plan (crashes between port calls, throttles, timeouts after success, lost,
//! repeated, late and reordered ECS events, duplicate ticks, dispatcher outages, concurrent `apply`, pause, resume
//! and wake commands). The real use cases (dispatcher, recorder, trigger, sleeper) run over the in-memory ports
//! (`fsched_core::testing`) for simulated days, on a simulated clock; the guarantees are checked as invariants while
//! it runs and at its end. A failing seed prints itself and the trace of port calls that led to the first
//! violation, so `fsched-sim --seed N` replays it exactly.

mod chaos;
mod checks;
mod deliver;
mod gen;
mod join;
mod ledger;
mod pools;
mod ports;
mod rng;
mod rollups;
mod services;
mod world;

use std::collections::BTreeMap;

pub use chaos::Rates;
pub use gen::Fleet;

/// A span of simulated time: an outage, a pause, a hold.
pub type Window = (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>);

/// One simulation's size and fault plan.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    pub days: u32,
    pub jobs: usize,
    pub services: usize,
    /// How busy the jobs are (which schedules they are drawn from).
    pub fleet: Fleet,
    /// Whether faults are injected (the last `QUIET_HOURS` are always without).
    pub chaos: bool,
    pub rates: Rates,
    /// Trace every port call (a seed that breaks an invariant is run again with this, for its trace).
    pub trace: bool,
}

impl Settings {
    /// The default world: 50 jobs of a typical fleet and 5 services for `days`, under the default fault plan.
    pub fn new(seed: u64, days: u32) -> Settings {
        Settings {
            seed,
            days,
            jobs: 50,
            services: 5,
            fleet: Fleet::Typical,
            chaos: true,
            rates: Rates::DEFAULT,
            trace: false,
        }
    }
}

/// What one seed did, and what broke.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub seed: u64,
    pub days: u32,
    pub runs: usize,
    /// Runs that are retries of another (attempt 2 or later).
    pub retries: usize,
    pub tasks: usize,
    /// Days whose rollup stood at the end (written by the world's cost reports, checked against the day's runs).
    pub rollups: usize,
    pub invocations: u64,
    pub port_calls: u64,
    pub faults: BTreeMap<String, u64>,
    pub violations: Vec<String>,
    /// The port calls that led to the first violation (the last `TRACE_LEN`).
    pub trace: Vec<String>,
}

/// Runs one seed to its end and checks it. A seed that breaks an invariant is run again, traced, for the port calls
/// that led to the first violation; the replay must break the same ones (the simulator is deterministic).
pub fn simulate(settings: Settings) -> Summary {
    let first = simulate_once(settings.clone());
    if first.violations.is_empty() || settings.trace {
        return first;
    }
    let mut traced = simulate_once(Settings {
        trace: true,
        ..settings
    });
    if traced.violations != first.violations {
        traced.violations.push(format!(
            "the traced replay differs from the first run ({} violations then): the simulator is not deterministic",
            first.violations.len()
        ));
    }
    traced
}

fn simulate_once(settings: Settings) -> Summary {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            return Summary {
                seed: settings.seed,
                violations: vec![format!("no runtime: {e}")],
                ..Summary::default()
            }
        }
    };
    runtime.block_on(run(settings))
}

async fn run(settings: Settings) -> Summary {
    let (seed, days) = (settings.seed, settings.days);
    let mut sim = world::Sim::new(settings);
    let mut summary = Summary {
        seed,
        days,
        ..Summary::default()
    };
    if let Err(e) = sim.run().await {
        summary.violations.push(e);
    }
    let start = sim.world.start.date_naive();
    let rollups = fsched_core::ports::RollupStore::rollups(&sim.mem, start, sim.end.date_naive())
        .await
        .unwrap_or_default();
    let runs = sim.mem.take_runs();
    let tasks = sim.ecs.tasks();
    let mut faults = chaos::lock(&sim.faults);
    let first_trace = faults.first_violation_trace.clone();
    let ledger = &mut faults.ledger;
    ledger.check_announcements(&runs);
    let by_id: BTreeMap<String, &fsched_core::domain::run::Run> =
        runs.iter().map(|r| (r.id.to_string(), r)).collect();
    let mut found = checks::tasks(&tasks, &by_id, &ledger.closed_at, &sim.outages, sim.end);
    let jobs = sim.jobs();
    found.extend(checks::fires(
        &jobs,
        &by_id,
        &sim.pauses(),
        &sim.outages,
        sim.end,
    ));
    let specs = &sim.job_specs;
    found.extend(checks::attempts(&by_id, specs, &ledger.corrected));
    found.extend(checks::waiting(&by_id, specs, &sim.outages, sim.end));
    found.extend(checks::pools(&tasks, &by_id, specs, sim.end));
    found.extend(rollups::check(&rollups, &runs));
    for f in found {
        ledger.violation(f);
    }
    summary.violations.extend(ledger.violations.iter().cloned());
    summary.runs = runs.len();
    summary.retries = runs.iter().filter(|r| r.attempt > 1).count();
    summary.tasks = tasks.len();
    summary.rollups = rollups.iter().filter(|r| r.tally.is_some()).count();
    summary.invocations = faults.invocations;
    summary.port_calls = faults.calls;
    summary.faults = faults
        .injected
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    summary
        .faults
        .insert("ECS event lost".into(), sim.reports_lost);
    summary
        .faults
        .insert("dispatcher outage".into(), sim.outages.len() as u64);
    summary
        .faults
        .insert("command dead-lettered".into(), sim.dead_lettered);
    summary.trace = first_trace.unwrap_or_else(|| faults.trace());
    summary
}
