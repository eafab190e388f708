//! The pools' port in the simulator: the in-memory pools under the fault plan, like every other store call.

use fsched_core::domain::fan::Pool;
use fsched_core::domain::job::PoolName;
use fsched_core::domain::run::RunId;
use fsched_core::ports::{PoolStore, Slot, StoreError};

use crate::ports::Store;

fn transient(message: String) -> StoreError {
    StoreError::Transient { message }
}

impl PoolStore for Store {
    async fn take_slot(&self, pool: &Pool, run: &RunId) -> Result<Slot, StoreError> {
        let op = || format!("UpdateItem take {} {run}", pool.name);
        self.guard(op, true, transient, self.inner.take_slot(pool, run))
            .await
    }

    async fn give_slot(&self, pool: &PoolName, run: &RunId) -> Result<(), StoreError> {
        let op = || format!("UpdateItem give {pool} {run}");
        self.guard(op, true, transient, self.inner.give_slot(pool, run))
            .await
    }

    async fn holders(&self, pool: &PoolName) -> Result<Vec<RunId>, StoreError> {
        self.guard(
            || "GetItem pool".to_owned(),
            false,
            transient,
            self.inner.holders(pool),
        )
        .await
    }
}
