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
