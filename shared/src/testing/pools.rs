//! `PoolStore` in memory: each pool's holders as a set, taken and given back as the DynamoDB item's string set is
//! (idempotent both ways; a full pool answers with its holders).

use super::store::MemoryStore;
use crate::domain::fan::Pool;
use crate::domain::job::PoolName;
use crate::domain::run::RunId;
use crate::ports::{PoolStore, Slot, StoreError};

impl PoolStore for MemoryStore {
    async fn take_slot(&self, pool: &Pool, run: &RunId) -> Result<Slot, StoreError> {
        let mut table = self.open("take_slot")?;
        let holders = table.pools.entry(pool.name.clone()).or_default();
        if holders.contains(run) || holders.len() < pool.size as usize {
            holders.insert(run.clone());
            return Ok(Slot::Taken);
        }
        Ok(Slot::Full {
            holders: holders.iter().cloned().collect(),
        })
    }

    async fn give_slot(&self, pool: &PoolName, run: &RunId) -> Result<(), StoreError> {
        let mut table = self.open("give_slot")?;
        if let Some(holders) = table.pools.get_mut(pool) {
            holders.remove(run);
        }
        Ok(())
    }

    async fn holders(&self, pool: &PoolName) -> Result<Vec<RunId>, StoreError> {
        let table = self.open("holders")?;
        Ok(table
            .pools
            .get(pool)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default())
    }
}
