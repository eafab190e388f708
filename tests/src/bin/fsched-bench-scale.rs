//! scripts/bench-scale's measurements: what one stack does with many jobs, counted in requests and timed.
//!
//! Against the local emulator (the real SDK and adapters, DynamoDB's 1 MB pages; every request counted per attempt,
//! retries included): one run's life, for the requests per run; `apply` of 10,000 new jobs, then of more up to
//! `--jobs`; `plan` of the unchanged file (what it reads: the listing of every job); an idle tick.
//!
//! Against the emulator too: `--history-runs` closed runs over `--history-days` days, and the report `fsched cost`
//! makes over them, twice (the first writes the days' rollups, the next reads them).
//!
//! Over the in-memory ports with tokio's clock paused (so ECS's RunTask rate and the ticks' windows play out in
//! virtual time, exactly): `--burst` jobs due at the same minute on each of `--days` days, ticked a minute apart
//! until every one is launched.
//!
//! Prints a table; `--json FILE` writes the figures. Refuses to run against anything but a local endpoint.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use anyhow::{bail, Context};
use chrono::{Duration, TimeZone, Utc};
use fsched_core::domain::job::{JobName, JobSpec};
use fsched_core::domain::plan::plan;
use fsched_core::ports::{JobStore, RunStore};
use fsched_core::service::apply::{apply_jobs, APPLY_CONCURRENCY};
use fsched_core::service::dispatch::{tick_deadline, Clock, Dispatcher, Settings, TICK_WINDOW};
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::{FakeBus, FakeEcs, MemoryStore};
use fsched_tests::world::world;
use serde_json::{json, Value};
use tokio::time::Instant;

struct Args {
    jobs: usize,
    burst: usize,
    days: u32,
    history_runs: usize,
    history_days: u32,
    json: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        jobs: 100_000,
        burst: 10_000,
        days: 3,
        history_runs: 20_000,
        history_days: 90,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--jobs" => a.jobs = value.parse()?,
            "--burst" => a.burst = value.parse()?,
            "--days" => a.days = value.parse()?,
            "--history-runs" => a.history_runs = value.parse()?,
            "--history-days" => a.history_days = value.parse()?,
            "--json" => a.json = Some(value),
            _ => bail!(
                "usage: fsched-bench-scale [--jobs N] [--burst N] [--days D] [--history-runs N] \
                 [--history-days D] [--json FILE]"
            ),
        }
    }
    Ok(a)
}

fn names(range: std::ops::Range<usize>) -> impl Iterator<Item = JobName> {
    range.map(|i| JobName::new(format!("job-{i:06}")).expect("a valid job name"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

/// Part one, against the emulator.
async fn emulator(jobs: usize) -> anyhow::Result<Value> {
    let w = world().await;
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
    let spec = w.spec("cron(0 2 * * ? *)");
    let desired =
        |range| -> BTreeMap<JobName, JobSpec> { names(range).map(|n| (n, spec.clone())).collect() };
    let mut out = serde_json::Map::new();
    // In a table of its own: the counts do not depend on the table's size, the emulator's speed does.
    out.insert("per_run".into(), per_run(&world().await).await?);

    let first_n = jobs.min(10_000);
    let first = desired(0..first_n);
    w.counter.reset();
    let started = std::time::Instant::now();
    let applied = apply_jobs(&w.store, &plan(&first, &[], false), now).await;
    let took = started.elapsed().as_secs_f64();
    if applied.len() != first_n {
        bail!("the first apply wrote {} jobs", applied.len());
    }
    println!(
        "apply {first_n} new jobs: {took:.1} s, {} PutItem requests, at most {} in flight (APPLY_CONCURRENCY {})",
        w.counter.count("PutItem"),
        w.counter.max_in_flight(),
        APPLY_CONCURRENCY
    );
    out.insert(
        "apply_first".into(),
        json!({"jobs": first_n, "s": took, "put_item": w.counter.count("PutItem"), "max_in_flight": w.counter.max_in_flight()}),
    );

    let all = desired(0..jobs);
    let started = std::time::Instant::now();
    let stored = w.store.list_jobs().await?;
    let applied = apply_jobs(&w.store, &plan(&all, &stored, false), now).await;
    let took = started.elapsed().as_secs_f64();
    println!("apply {} more (to {jobs}): {took:.1} s", applied.len());
    out.insert(
        "apply_rest".into(),
        json!({"jobs": applied.len(), "s": took}),
    );

    w.counter.reset();
    let started = std::time::Instant::now();
    let stored = w.store.list_jobs().await?;
    let unchanged = plan(&all, &stored, false);
    let took = started.elapsed().as_secs_f64();
    let pages = w.counter.count("Query");
    if !unchanged.changes.is_empty() || stored.len() != jobs {
        bail!(
            "plan of the unchanged file: {} changes, {} jobs read",
            unchanged.changes.len(),
            stored.len()
        );
    }
    println!(
        "plan of the unchanged file ({jobs} jobs; `fsched jobs` reads the same): {pages} Query requests ({} jobs a \
         page), {} requests in all, {took:.1} s",
        jobs / pages.max(1),
        w.counter.total()
    );
    out.insert(
        "plan_unchanged".into(),
        json!({"query": pages, "requests": w.counter.total(), "s": took}),
    );

    w.counter.reset();
    let started = Instant::now();
    let idle = w
        .dispatcher()
        .tick(
            now + Duration::minutes(1),
            started + StdDuration::from_secs(60),
        )
        .await?;
    let reads = w.counter.count("Query") + w.counter.count("GetItem");
    println!(
        "idle tick with {jobs} jobs: {} due, {reads} read request(s), {} requests in all",
        idle.due,
        w.counter.total()
    );
    out.insert(
        "idle_tick".into(),
        json!({"due": idle.due, "reads": reads, "requests": w.counter.total()}),
    );
    Ok(Value::Object(out))
}

/// Requests per run over a run's whole life, for the cost model (docs/cost.md): 100 jobs due at once, launched by
/// one tick, then each task's four state changes (provisioning, pending, running, stopped) through the recorder.
async fn per_run(w: &fsched_tests::world::World) -> anyhow::Result<Value> {
    const RUNS: usize = 100;
    let due = Utc.with_ymd_and_hms(2026, 12, 1, 4, 0, 0).unwrap();
    let spec = w.spec("cron(0 4 * * ? *)");
    let desired: BTreeMap<JobName, JobSpec> = (0..RUNS)
        .map(|i| {
            (
                JobName::new(format!("life-{i:03}")).expect("a valid job name"),
                spec.clone(),
            )
        })
        .collect();
    apply_jobs(
        &w.store,
        &plan(&desired, &[], false),
        due - Duration::hours(1),
    )
    .await;
    let operations = [
        "Query",
        "GetItem",
        "PutItem",
        "UpdateItem",
        "RunTask",
        "DescribeTaskDefinition",
    ];
    let counts = |w: &fsched_tests::world::World| -> serde_json::Map<String, Value> {
        operations
            .iter()
            .map(|op| {
                (
                    (*op).to_owned(),
                    json!(w.counter.count(op) as f64 / RUNS as f64),
                )
            })
            .collect()
    };

    let published = || w.events.seen.lock().map_or(0, |seen| seen.len());
    w.counter.reset();
    let before = published();
    let started = Instant::now();
    let report = w
        .dispatcher()
        .tick(due, started + StdDuration::from_secs(120))
        .await?;
    if report.launched.len() != RUNS {
        bail!("the tick launched {} of {RUNS}", report.launched.len());
    }
    let mut dispatcher = counts(w);
    dispatcher.insert(
        "PutEvents entries".into(),
        json!((published() - before) as f64 / RUNS as f64),
    );

    let recorder = w.recorder();
    w.counter.reset();
    let before = published();
    for id in &report.launched {
        let run = w.store.get_run(id).await?.context("a launched run")?;
        for fixture in ["provisioning", "pending", "running", "stopped-success"] {
            let event = w.report(&run, fixture).await;
            let detail = event.get("detail").context("an event's detail")?;
            let task = fsched_core::domain::task::TaskSnapshot::from_event_detail(detail)?;
            recorder.record(task, due).await?;
        }
    }
    // `w.report` describes each task to build its event: those requests are the bench's, not the recorder's.
    let mut recorded = counts(w);
    recorded.insert(
        "DescribeTasks (bench's own)".into(),
        json!(w.counter.count("DescribeTasks") as f64 / RUNS as f64),
    );
    recorded.insert(
        "PutEvents entries".into(),
        json!((published() - before) as f64 / RUNS as f64),
    );
    let figures = json!({"dispatcher": dispatcher, "recorder": recorded});
    println!(
        "requests per run: dispatcher {}; recorder (4 task events) {}",
        figures["dispatcher"], figures["recorder"]
    );
    Ok(figures)
}

/// Part three, against the emulator in a table of its own: `runs` closed, priced runs spread over `days` days, then
/// the report `fsched cost --since <days>d` makes, twice: the first reads the runs and writes the settled days'
/// rollups, the next reads the rollups (and today's runs).
async fn history(runs: usize, days: u32) -> anyhow::Result<Value> {
    use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
    use fsched_core::service::report::day_tallies;
    use fsched_core::testing::contract::cost;
    use futures_util::{stream, StreamExt, TryStreamExt};

    let w = world().await;
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let from = now - Duration::days(i64::from(days));
    let step = (now - from).num_milliseconds() / runs.max(1) as i64;
    let jobs: Vec<JobName> = names(0..100).collect();
    let started = std::time::Instant::now();
    stream::iter(0..runs)
        .map(|i| {
            let t = from + Duration::milliseconds(step * i as i64);
            let t = t - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
            let mut run = Run::claimed(
                RunId::scheduled(&jobs[i % jobs.len()], t),
                Trigger::Schedule,
                t,
                t,
            );
            run.status = RunStatus::Succeeded;
            run.cost = Some(cost(0.0013, 380));
            let store = &w.store;
            async move { store.claim_run(&run).await }
        })
        .buffer_unordered(APPLY_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    println!(
        "history: {runs} closed runs over {days} days written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut reports = Vec::new();
    for pass in ["first report", "next report"] {
        w.counter.reset();
        let started = std::time::Instant::now();
        let report = day_tallies(&w.store, from, now, now).await?;
        let took = started.elapsed().as_secs_f64();
        let counted: u64 = report.days.iter().map(|d| d.total().runs).sum();
        if counted != runs as u64 {
            bail!("the {pass} counted {counted} runs of {runs}");
        }
        let (query, put) = (w.counter.count("Query"), w.counter.count("PutItem"));
        println!(
            "cost --since {days}d over {runs} runs, {pass}: {query} Query requests, {put} rollups written, \
             {took:.2} s"
        );
        reports.push(json!({"query": query, "put_item": put, "s": took}));
    }
    Ok(json!({"runs": runs, "days": days, "first": reports[0], "next": reports[1]}))
}

/// Part two, over the in-memory ports in virtual time: `burst` jobs due at 02:00 on each of `days` days.
async fn burst(burst: usize, days: u32) -> anyhow::Result<Value> {
    let day_one = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let origin = Instant::now();
    let clock = Clock(std::sync::Arc::new(move || {
        day_one + Duration::from_std(Instant::now() - origin).unwrap_or_default()
    }));
    let store = MemoryStore::new();
    let ecs = FakeEcs::new(day_one);
    let settings = Settings {
        clock,
        ..Settings::default()
    };
    let rate = settings.run_task_rate;
    let d = Dispatcher::new(store.clone(), ecs.clone(), FakeBus::new(), settings);
    let spec = job_spec("cron(0 2 * * ? *)");
    let desired: BTreeMap<JobName, JobSpec> = names(0..burst).map(|n| (n, spec.clone())).collect();
    apply_jobs(
        &store,
        &plan(&desired, &[], false),
        day_one - Duration::hours(1),
    )
    .await;

    let mut out = Vec::new();
    let mut launched_all = Vec::new();
    for day in 0..days {
        let due = day_one + Duration::days(i64::from(day));
        let mut delays = Vec::new();
        let mut ticks = 0;
        let mut per_tick = Vec::new();
        while delays.len() < burst && ticks < 60 {
            let at = due + Duration::minutes(ticks);
            // Each tick begins at its minute, as Scheduler invokes it.
            tokio::time::sleep_until(origin + (at - day_one).to_std()?).await;
            ecs.set_now(at);
            let started = Instant::now();
            let deadline = tick_deadline(started, started + StdDuration::from_secs(120));
            let report = d.tick(at, deadline).await?;
            if !report.errors.is_empty() {
                bail!("the tick at {at} left errors: {:?}", report.errors);
            }
            per_tick.push(report.launched.len());
            delays.extend(report.launch_delays.iter().copied());
            launched_all.extend(report.launched);
            ticks += 1;
        }
        delays.sort_by(f64::total_cmp);
        let per_second = most_in_one_second(&delays);
        println!(
            "day {}: {} of {burst} launched in {ticks} ticks ({per_tick:?} a tick); launch delay p50 {:.0} s, p99 \
             {:.0} s, max {:.0} s; at most {per_second} RunTask calls in one second (rate {rate})",
            day + 1,
            delays.len(),
            percentile(&delays, 50.0),
            percentile(&delays, 99.0),
            delays.last().copied().unwrap_or(f64::NAN),
        );
        out.push(json!({
            "launched": delays.len(), "ticks": ticks, "per_tick": per_tick,
            "p50_s": percentile(&delays, 50.0), "p99_s": percentile(&delays, 99.0),
            "max_s": delays.last(), "most_in_one_second": per_second,
        }));
    }
    let total = launched_all.len();
    launched_all.sort();
    launched_all.dedup();
    let tasks = ecs.tasks().len();
    println!(
        "{days} days: {total} runs launched, {} distinct, {tasks} tasks started (one per fire: {})",
        launched_all.len(),
        total == launched_all.len() && tasks == total && total == burst * days as usize
    );
    Ok(
        json!({"burst": burst, "days": out, "launched": total, "distinct": launched_all.len(), "tasks": tasks,
              "tick_window_s": TICK_WINDOW.as_secs()}),
    )
}

/// The most launches whose delays fall within one second of each other (`sorted` ascending).
fn most_in_one_second(sorted: &[f64]) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= 1.0 {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    println!(
        "== against the local emulator: {} jobs (requests counted per attempt)",
        args.jobs
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let emulated = runtime.block_on(emulator(args.jobs))?;
    println!(
        "== against the local emulator: {} runs in history over {} days, read by `fsched cost`",
        args.history_runs, args.history_days
    );
    let history = runtime.block_on(history(args.history_runs, args.history_days))?;
    println!(
        "== in memory, virtual time: {} jobs due at 02:00 on {} days, ticks a minute apart",
        args.burst, args.days
    );
    let burst = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?
        .block_on(burst(args.burst, args.days))?;
    if let Some(path) = args.json {
        let figures = json!({"emulator": emulated, "history": history, "burst": burst});
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(())
}
