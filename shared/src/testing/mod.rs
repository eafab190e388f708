//! In-memory implementations of every port, for tests of the use cases and for the simulator (behind the `testing`
//! feature; never in a Lambda). Each fake keeps the semantics of the AWS service that fsched relies on, and passes the
//! same contract tests (`contract`) as the adapter it stands in for does against the emulator, so a fake that drifts
//! from AWS fails a test instead of hiding a bug.

mod aws;
pub mod contract;
mod ecs;
mod fate;
mod pools;
mod rollups;
mod store;
mod table;

pub use aws::{FakeBus, FakeMetrics, FakeRules, FakeScaler};
pub use ecs::{FakeEcs, Fate, CONTAINER, STOPPED_MEMORY, STOP_TAKES, TOKEN_MEMORY};
pub use store::MemoryStore;
pub use table::RunWatch;
