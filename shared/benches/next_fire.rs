//! Next-fire evaluation over 100,000 mixed, pre-parsed schedules (the mix is shared with scripts/bench-croniter.py).
//! Goal: one pass in at most 25 ms on a 2-core machine. Run with `scripts/bench`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fsched_core::domain::schedule::Schedule;

pub const COUNT: usize = 100_000;

fn workload() -> Vec<(Schedule, DateTime<Utc>)> {
    let mix: Vec<Schedule> = include_str!("schedules.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Schedule::parse(cols[0], cols[2]).expect("benchmark schedules are valid")
        })
        .collect();
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    (0..COUNT)
        .map(|i| {
            // Spread the starting instants over two years, the same way the croniter script does.
            let after = base + Duration::minutes((i as i64 * 7919) % (2 * 365 * 24 * 60));
            (mix[i % mix.len()].clone(), after)
        })
        .collect()
}

fn next_fire(c: &mut Criterion) {
    let work = workload();
    let mut group = c.benchmark_group("next_fire");
    group.throughput(Throughput::Elements(COUNT as u64));
    group.sample_size(30);
    group.bench_function("100k_mixed", |b| {
        b.iter_batched_ref(
            || (),
            |_| {
                work.iter()
                    .filter_map(|(s, after)| s.next_after(*after))
                    .map(|t| t.timestamp())
                    .sum::<i64>()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, next_fire);
criterion_main!(benches);
