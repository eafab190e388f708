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

/// What the runs scheduled in `[from, to)` came to, per UTC day (oldest first; a day without runs is left out) and
/// job.
pub async fn day_tallies<S: RunStore + RollupStore>(
    store: &S,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<DayTally>, StoreError> {
    let plan = rollup::plan(from, to, now);
    let mut out: BTreeMap<NaiveDate, DayTally> = BTreeMap::new();
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
                }
                Some(reopened) => missing.push((*day, reopened.generation)),
                None => missing.push((*day, 0)),
            }
        }
        let rolled: Vec<DayTally> = stream::iter(missing)
            .map(|(day, generation)| roll(store, day, generation, now))
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        out.extend(rolled.into_iter().map(|t| (t.day, t)));
    }
    for (a, b) in plan.ranges {
        let runs = store.runs_between(a, b, usize::MAX).await?;
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
    Ok(out.into_values().collect())
}

/// A settled day read from its runs, its rollup written if every run of it is closed.
async fn roll<S: RunStore + RollupStore>(
    store: &S,
    day: NaiveDate,
    generation: u64,
    now: DateTime<Utc>,
) -> Result<DayTally, StoreError> {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let runs = store
        .runs_between(start, start + Duration::days(1), usize::MAX)
        .await?;
    let Some(tally) = DayTally::settled(day, &runs, now) else {
        return Ok(DayTally::of(day, &runs));
    };
    match store.put_rollup(&tally, generation).await {
        Ok(()) => {}
        // A late run write reopened the day since its rollup was read: what was read stands for this report, and
        // the next one rolls the day again.
        Err(StoreError::Conflict { .. }) => {}
        // The report is right without the rollup (a role that may only read, a busy table): the next one tries again.
        Err(e) => tracing::warn!(%day, error = %e, "the day's rollup was not stored"),
    }
    Ok(tally)
}
