//! The simulator's fixed seeds, in `scripts/test`: each seed's world (50 jobs of the busy fleet, 5 services) for
//! two simulated days under the default fault plan, with every invariant checked. The busy fleet puts the most runs
//! through the invariants in the test's time. A failure prints the seed, the violations and the port calls that led
//! to the first one; `scripts/simulate --seed N --days 2 --fleet busy` replays it.

use fsched_sim::{simulate, Fleet, Settings, Summary};

/// Seeds 0..SEEDS, each for DAYS simulated days (about a minute on two cores in a debug build).
const SEEDS: u64 = 12;
const DAYS: u32 = 2;

#[test]
fn the_fixed_seeds_keep_every_invariant() {
    let results: Vec<Summary> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|half| {
                s.spawn(move || {
                    (0..SEEDS)
                        .filter(|seed| seed % 2 == half)
                        .map(|seed| {
                            simulate(Settings {
                                fleet: Fleet::Busy,
                                ..Settings::new(seed, DAYS)
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    assert_eq!(results.len() as u64, SEEDS, "every seed ran");
    let mut report = String::new();
    for r in results.iter().filter(|r| !r.violations.is_empty()) {
        report.push_str(&format!(
            "\nseed {}: {} violation(s)\n",
            r.seed,
            r.violations.len()
        ));
        for v in r.violations.iter().take(5) {
            report.push_str(&format!("  - {v}\n"));
        }
        for line in &r.trace {
            report.push_str(&format!("    {line}\n"));
        }
        report.push_str(&format!(
            "  replay: scripts/simulate --seed {} --days {DAYS} --fleet busy\n",
            r.seed
        ));
    }
    assert!(report.is_empty(), "{report}");
    // The seeds did something worth checking: runs launched, faults injected.
    let tasks: usize = results.iter().map(|r| r.tasks).sum();
    let faults: u64 = results.iter().flat_map(|r| r.faults.values()).sum();
    let retries: usize = results.iter().map(|r| r.retries).sum();
    // Rollups were written by the worlds' cost reports and held against their days' runs.
    let rollups: usize = results.iter().map(|r| r.rollups).sum();
    assert!(
        rollups >= SEEDS as usize / 2,
        "{rollups} rollups in {SEEDS} seeds"
    );
    assert!(
        tasks > 1000 && faults > 100 && retries > 20,
        "tasks {tasks}, faults {faults}, retries {retries}"
    );
}
