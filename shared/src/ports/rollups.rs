//! Per-day rollups (domain::rollup): one item per settled UTC day, read by reports over long windows instead of the
//! day's runs. The writes that reopen a day are the run writes that land in it late (`RunStore::claim_run`,
//! `RunStore::correct_run`).

use std::future::Future;

use chrono::NaiveDate;

use super::StoreError;
use crate::domain::rollup::{DayTally, Rollup};

pub trait RollupStore: Send + Sync + 'static {
    /// The stored rollups of the days `from ..= to`, oldest first, read consistently: one Query (a page per about
    /// 1 MB of them). A day with no item is left out.
    fn rollups(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<Rollup>, StoreError>> + Send;

    /// Stores a settled day's tally if the day's rollup is still at `generation` (0: there is no item yet), so a
    /// late run write that reopened the day since the caller read it wins: `Conflict` then.
    fn put_rollup(
        &self,
        tally: &DayTally,
        generation: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
