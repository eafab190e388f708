//! The rollups' port in the simulator: the in-memory rollups under the fault plan, like every other store call.

use chrono::NaiveDate;
use fsched_core::domain::rollup::{DayTally, Rollup};
use fsched_core::ports::{RollupStore, StoreError};

use crate::ports::Store;

fn transient(message: String) -> StoreError {
    StoreError::Transient { message }
}

impl RollupStore for Store {
    async fn rollups(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Rollup>, StoreError> {
        self.guard(
            || "Query rollups".to_owned(),
            false,
            transient,
            self.inner.rollups(from, to),
        )
        .await
    }

    async fn put_rollup(&self, tally: &DayTally, generation: u64) -> Result<(), StoreError> {
        let op = || format!("PutItem rollup {} g{generation}", tally.day);
        self.guard(
            op,
            true,
            transient,
            self.inner.put_rollup(tally, generation),
        )
        .await
    }
}

/// How often the world reads its cost report (as `fsched cost` or the cost page would), in hours.
const REPORT_EVERY: u32 = 3;

impl crate::world::Sim {
    /// Every few hours, the report `fsched cost` makes over the world's whole days so far, under the fault plan: it
    /// writes the settled days' rollups, which later writes into those days (retries, corrections) must reopen.
    pub(crate) async fn report(&self, now: chrono::DateTime<chrono::Utc>) {
        use chrono::Timelike;
        if now.minute() != 0 || !now.hour().is_multiple_of(REPORT_EVERY) {
            return;
        }
        let from = fsched_core::domain::rollup::day_start(self.world.start.date_naive());
        // A report that fails (a throttled read, a crash) is one a user runs again: nothing to check here.
        let _ = crate::chaos::invocation(
            &self.faults,
            || format!("cost report {now}"),
            Box::pin(fsched_core::service::report::day_tallies(
                &self.store,
                from,
                now,
                now,
            )),
        )
        .await;
    }
}

/// Every stored rollup says what its day's runs say at the end: a write into a rolled-up day reopened it.
pub fn check(rollups: &[Rollup], runs: &[fsched_core::domain::run::Run]) -> Vec<String> {
    let mut found = Vec::new();
    for rollup in rollups {
        let Some(stored) = &rollup.tally else {
            continue;
        };
        let day: Vec<_> = runs
            .iter()
            .filter(|r| r.scheduled_at.date_naive() == rollup.day)
            .cloned()
            .collect();
        let actual = DayTally::of(rollup.day, &day);
        let same = stored.jobs.len() == actual.jobs.len()
            && stored
                .jobs
                .iter()
                .zip(&actual.jobs)
                .all(|((j, a), (k, b))| {
                    j == k
                        && (a.runs, a.ended, a.succeeded, a.priced, a.billed_seconds)
                            == (b.runs, b.ended, b.succeeded, b.priced, b.billed_seconds)
                        && (a.usd - b.usd).abs() < 1e-9
                });
        if !same {
            found.push(format!(
                "the rollup of {} (generation {}) says {:?}; its runs say {:?}",
                rollup.day,
                rollup.generation,
                stored.total(),
                actual.total()
            ));
        }
    }
    found
}
