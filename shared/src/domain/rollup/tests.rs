use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::domain::cost::Cost;
use crate::domain::fargate::{Architecture, Capacity};
use crate::domain::job::JobName;
use crate::domain::run::{RunId, Trigger};

fn t(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn run(job: &str, at: DateTime<Utc>, status: RunStatus, usd: Option<f64>) -> Run {
    let id = RunId::scheduled(&JobName::new(job).unwrap(), at);
    let mut run = Run::claimed(id, Trigger::Schedule, at, at);
    run.status = status;
    run.cost = usd.map(|usd| Cost {
        usd,
        billed_seconds: 60,
        vcpu: 0.25,
        memory_gb: 0.5,
        architecture: Architecture::X86_64,
        capacity: Capacity::Fargate,
    });
    run
}

#[test]
fn a_tally_counts_runs_ends_successes_and_what_the_priced_ones_cost() {
    let runs = [
        run("etl", t(10, 2, 0), RunStatus::Succeeded, Some(0.5)),
        run("etl", t(10, 3, 0), RunStatus::Failed, Some(0.25)),
        run("etl", t(10, 4, 0), RunStatus::Skipped, None),
        run("report", t(10, 5, 0), RunStatus::LaunchFailed, None),
    ];
    let tally = DayTally::of(day(10), &runs);
    assert_eq!(
        tally.jobs["etl"],
        Tally {
            runs: 3,
            ended: 2,
            succeeded: 1,
            priced: 2,
            billed_seconds: 120,
            usd: 0.75
        }
    );
    assert_eq!(tally.jobs["report"].ended, 1);
    assert_eq!(tally.total().runs, 4);
    assert_eq!(tally.total().usd, 0.75);
}

#[test]
fn a_day_settles_two_hours_after_it_ends_and_only_with_every_run_closed_and_announced() {
    let closed = [run("etl", t(10, 2, 0), RunStatus::Succeeded, None)];
    assert!(DayTally::settled(day(10), &closed, t(11, 1, 59)).is_none());
    assert!(DayTally::settled(day(10), &closed, t(11, 2, 0)).is_some());

    let open = [
        run("etl", t(10, 2, 0), RunStatus::Succeeded, None),
        run("etl", t(10, 3, 0), RunStatus::Running, None),
    ];
    assert!(DayTally::settled(day(10), &open, t(20, 0, 0)).is_none());

    // A closed run whose end is still to be announced (and its retry claimed) keeps the day open too.
    let mut unsent = run("etl", t(10, 2, 0), RunStatus::Failed, None);
    unsent.announce(
        [crate::domain::outbox::Pending {
            source: "fsched".into(),
            detail_type: "Run Failed".into(),
            detail: serde_json::json!({}),
            time: t(10, 2, 5),
        }],
        t(10, 2, 5),
    );
    assert!(DayTally::settled(day(10), &[unsent.clone()], t(20, 0, 0)).is_none());
    unsent.announced();
    assert!(DayTally::settled(day(10), &[unsent], t(20, 0, 0)).is_some());
}

#[test]
fn a_write_reopens_its_runs_day_from_an_hour_after_it_ended_before_the_day_settles() {
    let scheduled = t(10, 23, 30);
    assert!(!reopens(scheduled, t(11, 0, 59)));
    assert!(reopens(scheduled, t(11, 1, 0)));
    // Writes reopen a day before it can be rolled up: an hour's margin for the index a report reads.
    assert!(!settled(day(10), t(11, 1, 0)));
}

#[test]
fn a_window_reads_its_settled_whole_days_by_rollup_and_the_rest_by_runs() {
    let now = t(20, 12, 0);
    let plan = plan(t(10, 6, 0), now, now);
    // The 10th is partial; the 11th..19th are whole and settled; the 20th is today.
    assert_eq!(plan.days, (11..=19).map(day).collect::<Vec<_>>());
    assert_eq!(
        plan.ranges,
        vec![(t(10, 6, 0), t(11, 0, 0)), (t(20, 0, 0), now)]
    );
    // At 01:00 yesterday is not settled yet.
    let early = super::plan(t(10, 6, 0), t(20, 1, 0), t(20, 1, 0));
    assert_eq!(early.days.last(), Some(&day(18)));
}

#[test]
fn a_window_of_midnights_reads_no_partial_day() {
    let plan = plan(t(1, 0, 0), t(5, 0, 0), t(29, 0, 0));
    assert_eq!(plan.days, (1..=4).map(day).collect::<Vec<_>>());
    assert!(plan.ranges.is_empty());
    assert_eq!(
        super::plan(t(5, 0, 0), t(5, 0, 0), t(29, 0, 0)),
        Plan {
            days: vec![],
            ranges: vec![]
        }
    );
}

proptest! {
    /// The plan covers the window exactly: its days and ranges are disjoint, in order, and together the window.
    #[test]
    fn a_plan_covers_its_window_once(from in 0i64..40 * 24 * 60, len in 0i64..40 * 24 * 60, now in 0i64..80 * 24 * 60) {
        let base = t(1, 0, 0);
        let from = base + Duration::minutes(from);
        let to = from + Duration::minutes(len);
        let plan = plan(from, to, base + Duration::minutes(now));
        let mut pieces: Vec<(DateTime<Utc>, DateTime<Utc>)> = plan
            .days
            .iter()
            .map(|d| (day_start(*d), day_start(*d) + Duration::days(1)))
            .chain(plan.ranges.iter().copied())
            .collect();
        pieces.sort();
        let mut at = from;
        for (a, b) in pieces {
            prop_assert_eq!(a, at);
            prop_assert!(b > a);
            at = b;
        }
        prop_assert_eq!(at, to.max(from));
        for d in &plan.days {
            prop_assert!(settled(*d, base + Duration::minutes(now)));
        }
    }
}
