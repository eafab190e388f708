//! Reports over windows of runs (`fsched cost`, the cost page): what the runs scheduled in a window came to, per day
//! and job. The window's settled whole days are read from their rollups; a settled day without one is read from its
//! runs once, and its rollup written then; the rest of the window (its partial first and last days, the days not
//! settled yet) is read from the runs (domain::rollup, docs/scaling.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::{stream, StreamExt, TryStreamExt};

use crate::domain::rollup::{self, DayTally};
use crate::ports::{RollupStore, RunStore, StoreError};

/// Days read from their runs at once, when their rollups are missing.
pub const READ_CONCURRENCY: usize = 8;

/// What a window's runs came to, and how it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Per UTC day (oldest first; a day without runs is left out) and job.
    pub days: Vec<DayTally>,
    /// Days read from their stored rollups.
    pub from_rollups: usize,
    /// Rollups this report stored.
    pub written: usize,
    /// Runs read.
    pub runs_read: usize,
    /// Why each rollup that could not be stored was refused (a role that may only read, a busy table): the
    /// figures are right all the same, and the next report reads those days' runs again.
    pub refused: Vec<String>,
}

/// What the runs scheduled in `[from, to)` came to, per UTC day and job.
pub async fn day_tallies<S: RunStore + RollupStore>(
    store: &S,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let plan = rollup::plan(from, to, now);
    let mut out: BTreeMap<NaiveDate, DayTally> = BTreeMap::new();
    let (mut from_rollups, mut written, mut runs_read) = (0, 0, 0);
    let mut refused = Vec::new();
    if let (Some(first), Some(last)) = (plan.days.first(), plan.days.last()) {
        let mut stored: BTreeMap<NaiveDate, _> = store
            .rollups(*first, *last)
            .await?
            .into_iter()
            .map(|r| (r.day, r))
            .collect();
        let mut missing = Vec::new();
        for day in &plan.days {
            match stored.remove(day) {
                Some(rollup::Rollup {
                    tally: Some(tally), ..
                }) => {
                    out.insert(*day, tally);
                    from_rollups += 1;
                }
                Some(reopened) => missing.push((*day, reopened.generation)),
                None => missing.push((*day, 0)),
            }
        }
        let rolled: Vec<Rolled> = stream::iter(missing)
            .map(|(day, generation)| roll(store, day, generation, now))
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        for r in rolled {
            written += usize::from(r.written);
            runs_read += r.runs;
            refused.extend(r.refused);
            out.insert(r.tally.day, r.tally);
        }
    }
    for (a, b) in plan.ranges {
        let runs = store.runs_between(a, b, usize::MAX).await?;
        runs_read += runs.len();
        let mut by_day: BTreeMap<NaiveDate, Vec<_>> = BTreeMap::new();
        for run in runs {
            by_day
                .entry(run.scheduled_at.date_naive())
                .or_default()
                .push(run);
        }
        for (day, runs) in by_day {
            out.insert(day, DayTally::of(day, &runs));
        }
    }
    out.retain(|_, t| !t.jobs.is_empty());
    Ok(Report {
        days: out.into_values().collect(),
        from_rollups,
        written,
        runs_read,
        refused,
    })
}

/// A day read from its runs: its tally, whether its rollup was stored (or why it was refused), how many runs it took.
struct Rolled {
    tally: DayTally,
    written: bool,
    refused: Option<String>,
    runs: usize,
}

/// A settled day read from its runs, its rollup written if every run of it is closed.
async fn roll<S: RunStore + RollupStore>(
    store: &S,
    day: NaiveDate,
    generation: u64,
    now: DateTime<Utc>,
) -> Result<Rolled, StoreError> {
    let start = rollup::day_start(day);
    let runs = store
        .runs_between(start, start + Duration::days(1), usize::MAX)
        .await?;
    let Some(tally) = DayTally::settled(day, &runs, now) else {
        return Ok(Rolled {
            tally: DayTally::of(day, &runs),
            written: false,
            refused: None,
            runs: runs.len(),
        });
    };
    let (written, refused) = match store.put_rollup(&tally, generation).await {
        Ok(()) => (true, None),
        // A late run write reopened the day since its rollup was read: what was read stands for this report, and
        // the next one rolls the day again.
        Err(StoreError::Conflict { .. }) => (false, None),
        // The report is right without the rollup: the next one tries again.
        Err(e) => (false, Some(format!("{day}: {e}"))),
    };
    Ok(Rolled {
        tally,
        written,
        refused,
        runs: runs.len(),
    })
}
