//! `RollupStore` in memory: each day's rollup with its generation, stored over the generation its writer read and
//! reopened by late run writes, as the DynamoDB items are (`aws::dynamo::rollups`).

use chrono::NaiveDate;

use super::store::MemoryStore;
use crate::domain::rollup::{DayTally, Rollup};
use crate::ports::{RollupStore, StoreError};

impl RollupStore for MemoryStore {
    async fn rollups(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Rollup>, StoreError> {
        let table = self.open("rollups")?;
        Ok(table
            .rollups
            .range(from..=to)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn put_rollup(&self, tally: &DayTally, generation: u64) -> Result<(), StoreError> {
        let mut table = self.open("put_rollup")?;
        let stored = table.rollups.get(&tally.day).map_or(0, |r| r.generation);
        if stored != generation {
            return Err(StoreError::Conflict {
                what: format!("the rollup of {} (reopened since it was read)", tally.day),
            });
        }
        table.rollups.insert(
            tally.day,
            Rollup {
                day: tally.day,
                generation,
                tally: Some(tally.clone()),
            },
        );
        Ok(())
    }
}
