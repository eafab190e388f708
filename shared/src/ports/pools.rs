//! Pools' slots: who holds one, kept in one item per pool so that a launch asks one conditional write, never a
//! count over the runs.

use std::future::Future;

use super::StoreError;
use crate::domain::fan::Pool;
use crate::domain::job::PoolName;
use crate::domain::run::RunId;

/// The outcome of asking for a pool's slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// The run holds a slot (it may have held it already: asking twice is harmless).
    Taken,
    /// Every slot is held, by these runs.
    Full { holders: Vec<RunId> },
}

pub trait PoolStore: Send + Sync + 'static {
    /// Gives `run` one of the pool's slots if one is free (or it holds one already), in one conditional write.
    fn take_slot(
        &self,
        pool: &Pool,
        run: &RunId,
    ) -> impl Future<Output = Result<Slot, StoreError>> + Send;

    /// Gives back the slot `run` holds (nothing when it holds none).
    fn give_slot(
        &self,
        pool: &PoolName,
        run: &RunId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The runs holding a slot of the pool.
    fn holders(
        &self,
        pool: &PoolName,
    ) -> impl Future<Output = Result<Vec<RunId>, StoreError>> + Send;
}
