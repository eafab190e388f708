//! Per-day rollups: what the runs scheduled on a UTC day came to, per job. Reports over long windows (`fsched cost`,
//! the cost page) read one rollup per settled day instead of every run of it, so what they read grows with days,
//! not runs (docs/scaling.md).
//!
//! A day's rollup is written by the first report that finds the day settled: the day ended `SETTLED_AFTER` ago and
//! every run of it is closed, its announcements sent. Nothing on a run's path writes it. A write that lands in a day that may be rolled up
//! already (a late claim: catch-up, retry or backfill; a correction of a closed run) reopens the day's rollup in the
//! same write, which bumps its generation; a rollup is only stored over the generation its reader saw, so a report
//! racing a late write cannot store what it read before it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::run::{Run, RunStatus};

/// How long after a day ends its rollup may be written (given every run of it is closed).
pub const SETTLED_AFTER: Duration = Duration::hours(2);

/// How long after a day ends a write to one of its runs reopens the day's rollup. Shorter than `SETTLED_AFTER`, so
/// a write made just before a day settles is one a report already sees when the day does: the listing index a
/// report reads is eventually consistent (its lag is well under a second), and a claim is written moments after the
/// `claimed_at` it carries.
pub const REOPENED_AFTER: Duration = Duration::hours(1);

/// How long a rollup is kept: past the runs it sums (a job's `history`), so cost reports reach back a year.
pub const KEPT: Duration = Duration::days(400);

/// What some runs came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub runs: u64,
    /// Runs that ended, other than skipped: the ones a success rate counts. `ended` and `succeeded` are read by no
    /// report yet (the jobs page's success rate reads its 7 days of runs); they are kept because a rollup written
    /// without them could not give them later.
    pub ended: u64,
    pub succeeded: u64,
    /// Runs whose task stopped with a known size: the ones with a cost.
    pub priced: u64,
    pub billed_seconds: u64,
    pub usd: f64,
}

impl Tally {
    pub fn count(&mut self, run: &Run) {
        self.runs += 1;
        if !run.status.is_open() && run.status != RunStatus::Skipped {
            self.ended += 1;
        }
        if run.status == RunStatus::Succeeded {
            self.succeeded += 1;
        }
        if let Some(cost) = &run.cost {
            self.priced += 1;
            self.billed_seconds += cost.billed_seconds;
            self.usd += cost.usd;
        }
    }

    pub fn add(&mut self, other: &Tally) {
        self.runs += other.runs;
        self.ended += other.ended;
        self.succeeded += other.succeeded;
        self.priced += other.priced;
        self.billed_seconds += other.billed_seconds;
        self.usd += other.usd;
    }
}

/// A day's runs (all of them, or those of a part of it), per job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayTally {
    pub day: NaiveDate,
    pub jobs: BTreeMap<String, Tally>,
}

impl DayTally {
    pub fn of(day: NaiveDate, runs: &[Run]) -> DayTally {
        let mut jobs: BTreeMap<String, Tally> = BTreeMap::new();
        for run in runs {
            jobs.entry(run.id.job().to_string()).or_default().count(run);
        }
        DayTally { day, jobs }
    }

    /// The day's tally to keep, if it may be kept: the day is settled at `now`, none of its runs is open, and none
    /// has announcements still to send. What a run's end asks of others (a retry's claim, a queued run's release, a
    /// fan-in run) is done when its outbox is sent, and stamped with the time of the end, not of the send: until
    /// then the day may still change without a write that reopens it.
    pub fn settled(day: NaiveDate, runs: &[Run], now: DateTime<Utc>) -> Option<DayTally> {
        let done = |r: &Run| !r.status.is_open() && r.outbox.is_empty();
        (settled(day, now) && runs.iter().all(done)).then(|| DayTally::of(day, runs))
    }

    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for tally in self.jobs.values() {
            total.add(tally);
        }
        total
    }
}

/// A day's stored rollup: its generation (bumped by every write that reopened it) and its tally, unless reopened.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    pub day: NaiveDate,
    pub generation: u64,
    pub tally: Option<DayTally>,
}

/// A UTC day's first instant.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Whether a day's rollup may be written at `now`.
pub fn settled(day: NaiveDate, now: DateTime<Utc>) -> bool {
    now >= day_start(day) + Duration::days(1) + SETTLED_AFTER
}

/// Whether a write made at `at` to a run scheduled at `scheduled` must reopen the run's day.
pub fn reopens(scheduled: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    at >= day_start(scheduled.date_naive()) + Duration::days(1) + REOPENED_AFTER
}

/// When a rollup of `day` may be deleted, as Unix seconds.
pub fn expires_at(day: NaiveDate) -> i64 {
    (day_start(day) + KEPT).timestamp()
}

/// How a report reads the window `[from, to)` at `now`: the whole days in it that are settled, by their rollups, and
/// the rest (the window's partial first and last days, the days not settled yet) by their runs, as time ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub days: Vec<NaiveDate>,
    pub ranges: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

pub fn plan(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Plan {
    let mut plan = Plan {
        days: Vec::new(),
        ranges: Vec::new(),
    };
    let mut at = from;
    while at < to {
        let day = at.date_naive();
        let end = (day_start(day) + Duration::days(1)).min(to);
        if at == day_start(day) && end == day_start(day) + Duration::days(1) && settled(day, now) {
            plan.days.push(day);
        } else {
            match plan.ranges.last_mut() {
                Some((_, last)) if *last == at => *last = end,
                _ => plan.ranges.push((at, end)),
            }
        }
        at = end;
    }
    plan
}

#[cfg(test)]
mod tests;
