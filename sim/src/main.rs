//! `fsched-sim`: runs seeds of the simulator and prints a summary; exits 1 when any seed breaks an invariant,
//! printing how to replay it. `scripts/simulate` is the entry point.

use std::process::ExitCode;
use std::time::Instant;

use fsched_sim::{simulate, Fleet, Settings, Summary};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    seeds: u64,
    first: u64,
    days: u32,
    jobs: usize,
    services: usize,
    fleet: Fleet,
    threads: usize,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: fsched-sim [--seeds N] [--seed FIRST] [--days D] [--jobs N] [--services N] [--fleet typical|busy]\n\
         \x20                 [--threads N]\n\
         runs seeds FIRST..FIRST+N (default 0..100) of D simulated days (default 7), on every core"
    );
    ExitCode::from(2)
}

fn parse() -> Option<Args> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut a = Args {
        seeds: 100,
        first: 0,
        days: 7,
        jobs: 50,
        services: 5,
        fleet: Fleet::Typical,
        threads: cores,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next()?;
        match flag.as_str() {
            "--seeds" => a.seeds = value.parse().ok()?,
            "--seed" => {
                a.first = value.parse().ok()?;
                a.seeds = 1;
            }
            "--days" => a.days = value.parse().ok()?,
            "--jobs" => a.jobs = value.parse().ok()?,
            "--services" => a.services = value.parse().ok()?,
            "--fleet" => a.fleet = value.parse().ok()?,
            "--threads" => a.threads = value.parse().ok()?,
            _ => return None,
        }
    }
    Some(a)
}

fn main() -> ExitCode {
    let Some(args) = parse() else { return usage() };
    let started = Instant::now();
    let next = std::sync::atomic::AtomicU64::new(args.first);
    let end = args.first + args.seeds;
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..args.threads.max(1) {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if seed >= end {
                    break;
                }
                let summary = simulate(Settings {
                    jobs: args.jobs,
                    services: args.services,
                    fleet: args.fleet,
                    ..Settings::new(seed, args.days)
                });
                if !summary.violations.is_empty() {
                    report_failure(&summary, &args);
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(summary);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let elapsed = started.elapsed().as_secs_f64();
    print_table(&results, &args, elapsed);
    if results.iter().any(|r| !r.violations.is_empty()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn report_failure(s: &Summary, args: &Args) {
    eprintln!(
        "\nseed {} broke {} invariant(s):",
        s.seed,
        s.violations.len()
    );
    let show = std::env::var("FSCHED_SIM_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for v in s.violations.iter().take(show) {
        eprintln!("  - {v}");
    }
    eprintln!("  the last port calls before the first one:");
    for line in &s.trace {
        eprintln!("    {line}");
    }
    eprintln!(
        "  replay: scripts/simulate --seed {} --days {} --jobs {} --services {} --fleet {}",
        s.seed,
        args.days,
        args.jobs,
        args.services,
        fleet_name(args.fleet)
    );
}

fn print_table(results: &[Summary], args: &Args, elapsed: f64) {
    let mut faults = std::collections::BTreeMap::<String, u64>::new();
    for r in results {
        for (k, v) in &r.faults {
            *faults.entry(k.clone()).or_default() += v;
        }
    }
    let sum = |f: fn(&Summary) -> u64| results.iter().map(f).sum::<u64>();
    let days = results.len() as f64 * f64::from(args.days);
    let violations = sum(|r| r.violations.len() as u64);
    println!("seeds                 {}", results.len());
    println!(
        "simulated days        {days:.0} ({} jobs of a {} fleet, {} services each)",
        args.jobs,
        fleet_name(args.fleet),
        args.services
    );
    println!("runs recorded         {}", sum(|r| r.runs as u64));
    println!("  of which retries    {}", sum(|r| r.retries as u64));
    println!("tasks launched        {}", sum(|r| r.tasks as u64));
    println!("days rolled up        {}", sum(|r| r.rollups as u64));
    println!("invocations           {}", sum(|r| r.invocations));
    println!("port calls            {}", sum(|r| r.port_calls));
    for (k, v) in &faults {
        println!("fault: {k:<22} {v}");
    }
    println!("invariant violations  {violations}");
    println!(
        "wall time             {elapsed:.1} s ({:.1} simulated days per second, {} threads)",
        days / elapsed.max(1e-9),
        args.threads
    );
}

fn fleet_name(fleet: Fleet) -> &'static str {
    match fleet {
        Fleet::Typical => "typical",
        Fleet::Busy => "busy",
    }
}
