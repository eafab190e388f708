//! Reports over long windows read days, not runs: a settled day is read from its runs once and from its rollup after
//! that, and whatever lands in a day late (a backfill, a correction of a closed run) is in the next report. Counts
//! of runs read are asserted here; how long reports take is measured by scripts/bench-scale.

use chrono::{DateTime, TimeZone, Utc};
use fsched_core::domain::cost::Cost;
use fsched_core::domain::job::{Job, JobName};
use fsched_core::domain::rollup::{DayTally, Tally};
use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
use fsched_core::ports::{JobStore, RollupStore, RunStore, StoreError};
use fsched_core::service::{backfill, report::day_tallies};
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::MemoryStore;

mod common;

/// Day `d` of November 2026 at `h` o'clock, UTC.
fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
}

fn priced(usd: f64) -> Cost {
    fsched_core::testing::contract::cost(usd, 60)
}

/// `per_day` closed runs of `etl` on each day of `days`, hourly from midnight, each costing a cent.
async fn history(
    store: &MemoryStore,
    days: std::ops::RangeInclusive<u32>,
    per_day: u32,
) -> Vec<Run> {
    let etl = JobName::new("etl").unwrap();
    let mut runs = Vec::new();
    for d in days {
        for h in 0..per_day {
            let t = at(d, h);
            let mut run = Run::claimed(RunId::scheduled(&etl, t), Trigger::Schedule, t, t);
            run.status = RunStatus::Succeeded;
            run.cost = Some(priced(0.01));
            store.claim_run(&run).await.unwrap();
            runs.push(run);
        }
    }
    runs
}

fn total(days: &[DayTally]) -> Tally {
    let mut total = Tally::default();
    for day in days {
        total.add(&day.total());
    }
    total
}

#[tokio::test]
async fn a_settled_day_is_read_from_its_runs_once_and_from_its_rollup_after() {
    let store = MemoryStore::new();
    let runs = history(&store, 1..=20, 10).await;
    let now = at(20, 12);
    let (from, to) = (at(1, 0), now);

    let first = day_tallies(&store, from, to, now).await.unwrap();
    assert_eq!(
        (first.from_rollups, first.written, first.runs_read),
        (0, 19, 200)
    );
    let first = first.days;
    assert_eq!(
        store.runs_listed(),
        runs.len(),
        "the first report reads every run"
    );
    assert_eq!(first.len(), 20);
    assert_eq!(total(&first).runs, 200);
    assert!((total(&first).usd - 2.0).abs() < 1e-9);

    // The 1st..19th are settled: 19 rollups. Today, the 20th, is read from its runs again.
    assert_eq!(
        store
            .rollups(at(1, 0).date_naive(), now.date_naive())
            .await
            .unwrap()
            .len(),
        19
    );
    let second = day_tallies(&store, from, to, now).await.unwrap();
    assert_eq!(
        (second.from_rollups, second.written, second.runs_read),
        (19, 0, 10)
    );
    let second = second.days;
    assert_eq!(store.runs_listed() - runs.len(), 10);
    assert_eq!(second, first);
}

#[tokio::test]
async fn a_partial_first_day_is_read_from_its_runs_in_the_window_only() {
    let store = MemoryStore::new();
    history(&store, 1..=10, 10).await;
    let now = at(28, 0);
    day_tallies(&store, at(1, 0), now, now).await.unwrap();

    let before = store.runs_listed();
    let window = day_tallies(&store, at(3, 5), now, now).await.unwrap().days;
    // From 05:00 on the 3rd: 5 runs of that day from the runs, then 7 rollups.
    assert_eq!(store.runs_listed() - before, 5);
    assert_eq!(window[0].total().runs, 5);
    assert_eq!(total(&window).runs, 5 + 70);
}

#[tokio::test]
async fn a_day_with_a_run_still_open_is_not_rolled_up() {
    let store = MemoryStore::new();
    history(&store, 1..=1, 3).await;
    let etl = JobName::new("etl").unwrap();
    let t = at(1, 20);
    let open = Run::claimed(RunId::scheduled(&etl, t), Trigger::Schedule, t, t);
    store.claim_run(&open).await.unwrap();
    let now = at(10, 0);

    let report = day_tallies(&store, at(1, 0), at(2, 0), now)
        .await
        .unwrap()
        .days;
    assert_eq!(report[0].total().runs, 4);
    assert_eq!(report[0].total().ended, 3);
    assert!(store
        .rollups(t.date_naive(), t.date_naive())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_backfill_into_a_rolled_up_day_is_in_the_next_report() {
    let store = MemoryStore::new();
    let job = Job {
        name: JobName::new("etl").unwrap(),
        spec: job_spec("cron(0 * * * ? *)"),
        version: 1,
        next_fire: Some(at(20, 1)),
        last_fire: None,
        health: Default::default(),
    };
    store.put_job(&job, None).await.unwrap();
    history(&store, 1..=5, 10).await;
    let now = at(20, 0);
    let before = day_tallies(&store, at(1, 0), at(6, 0), now)
        .await
        .unwrap()
        .days;
    assert_eq!(total(&before).runs, 50);

    // The 3rd's hours 10..14 were never run: a backfill claims them now.
    let plan = backfill::plan(&store, &job.name, at(3, 10), at(3, 15), now)
        .await
        .unwrap();
    backfill::start(&store, &plan, 2, "ops", now).await.unwrap();

    let after = day_tallies(&store, at(1, 0), at(6, 0), now)
        .await
        .unwrap()
        .days;
    assert_eq!(total(&after).runs, 55);
    assert_eq!(after[2].total().runs, 15);
    // The backfilled runs are still open: the day stays reopened, read from its runs, until they end.
    assert_eq!(after[2].total().ended, 10);
    let third = at(3, 0).date_naive();
    let stored = store.rollups(third, third).await.unwrap();
    // Each of the five claims reopened it.
    assert_eq!((stored[0].generation, stored[0].tally.is_none()), (5, true));
}

#[tokio::test]
async fn a_late_correction_of_a_closed_run_is_in_the_next_report() {
    let store = MemoryStore::new();
    let runs = history(&store, 1..=3, 2).await;
    let now = at(20, 0);
    day_tallies(&store, at(1, 0), at(4, 0), now).await.unwrap();

    let mut corrected = runs[2].clone();
    corrected.revision += 1;
    corrected.cost = Some(priced(1.0));
    store.correct_run(&corrected, now).await.unwrap();

    let after = day_tallies(&store, at(1, 0), at(4, 0), now)
        .await
        .unwrap()
        .days;
    assert!((after[1].total().usd - 1.01).abs() < 1e-9, "{:?}", after[1]);
}

#[tokio::test]
async fn a_report_is_right_when_its_rollups_cannot_be_stored() {
    let store = MemoryStore::new();
    history(&store, 1..=3, 2).await;
    let now = at(20, 0);
    store.fail_next(
        "put_rollup",
        StoreError::Unusable {
            message: "AccessDeniedException: not allowed to write".into(),
        },
    );
    let report = day_tallies(&store, at(1, 0), at(4, 0), now).await.unwrap();
    assert_eq!(report.refused.len(), 1);
    assert!(
        report.refused[0].contains("AccessDeniedException"),
        "{report:?}"
    );
    assert_eq!(total(&report.days).runs, 6);
    // One day went unrolled; the next report rolls it.
    let days = (at(1, 0).date_naive(), at(3, 0).date_naive());
    assert_eq!(store.rollups(days.0, days.1).await.unwrap().len(), 2);
    day_tallies(&store, at(1, 0), at(4, 0), now).await.unwrap();
    assert_eq!(store.rollups(days.0, days.1).await.unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_run_job_command_received_late_into_a_rolled_up_day_reopens_it() {
    use fsched_core::domain::trigger::{Command, Inbound};
    use fsched_core::service::trigger::Triggers;

    let f = common::Fakes::new();
    // The 29th: two closed runs, rolled up by a report at noon on the 30th.
    history(&f.store, 29..=29, 2).await;
    let etl = f
        .job("etl", job_spec("cron(0 2 1 1 ? 2199)"), at(29, 0))
        .await;
    let now = at(30, 12);
    day_tallies(&f.store, at(29, 0), at(30, 0), now)
        .await
        .unwrap();
    let yesterday = at(29, 0).date_naive();
    assert!(f.store.rollups(yesterday, yesterday).await.unwrap()[0]
        .tally
        .is_some());

    // A "Run Job" sent at 20:00 on the 29th reaches the trigger at noon on the 30th (EventBridge retried it): its run
    // is due on the 29th, claimed on the 30th.
    let triggers = Triggers::new(f.dispatcher(), f.sleeper(), f.store.clone());
    let command = Inbound::Command {
        command: Command::RunJob {
            job: etl.clone(),
            values: Default::default(),
            request_id: "r-1".into(),
            requested_by: "test".into(),
        },
        id: "evt-1".into(),
        time: at(29, 20),
        received: now,
        event: serde_json::json!({}),
    };
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    triggers.handle(command, until).await.unwrap();

    let stored = f.store.rollups(yesterday, yesterday).await.unwrap();
    assert_eq!((stored[0].generation, stored[0].tally.is_none()), (1, true));
    let after = day_tallies(&f.store, at(29, 0), at(30, 0), now)
        .await
        .unwrap();
    assert_eq!(total(&after.days).runs, 3);
}
