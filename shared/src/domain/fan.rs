//! Runs that go together, as a job declares them: a pool whose slots several jobs share (`pool`), a run fanned
//! out over parallel tasks (`parallel`), and a job run once others have succeeded for the same day (`after`).
//! The runs' side of it (a task's place in its run, a run's tally, what a fan-in run waits for) is `run::fan`.

use serde::{Deserialize, Serialize};

use super::duration::Span;
use super::name::{JobName, PoolName};

/// The most runs a pool lets go at once: its holders are kept in one item.
pub const MAX_POOL_SIZE: u32 = 100;
/// The most tasks one run fans out to.
pub const MAX_PARALLEL: u32 = 100;
/// A run waiting for a slot of a full pool asks again this often (the dispatcher's tick).
pub const POOL_CHECK: chrono::Duration = chrono::Duration::minutes(1);
/// A run waiting for a slot looks for holders whose runs ended without giving theirs back this often (a lost
/// give-back costs a pool a slot for at most this long; each look reads every holder).
pub const POOL_HEAL: chrono::Duration = chrono::Duration::minutes(10);
/// How long a fan-in run waits for the rest of its jobs, unless `after.window` says.
pub const DEFAULT_AFTER_WINDOW: Span = Span::from_secs(24 * 3600);

/// A cap on the runs going at once across the jobs in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub name: PoolName,
    /// Runs (tasks, for a parallel run) going at once at most.
    pub size: u32,
}

/// Run once every one of `jobs` has succeeded for the same day (in this job's zone), waiting at most `window`
/// after the first of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    pub jobs: Vec<JobName>,
    pub window: Span,
}

/// What a job shares with others or fans out to (in the stored spec, flattened among its other keys).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Together {
    /// The pool whose slot each of its runs (each task of a parallel run) takes while it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    /// Each run starts this many tasks, told apart by `FSCHED_INDEX` (0-based) and `FSCHED_COUNT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
    /// The jobs whose `after` names this one (worked out from the whole file): a success of this job is news to
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<JobName>,
}

impl Together {
    /// How many tasks a run of the job starts.
    pub fn tasks(&self) -> u32 {
        self.parallel.unwrap_or(1).max(1)
    }
}
