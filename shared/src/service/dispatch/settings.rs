//! What a dispatcher is given: its limits (`Settings`), its own clock, and how long one tick may work.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// How long one tick may go on starting work (less its `margin`), however long its invocation may run: it ends
/// before the next minute's tick begins, so consecutive ticks hand work on (a run claimed and not launched is
/// deferred to the next minute, a job not reached stays due) instead of launching side by side, each at ECS's
/// RunTask rate, which would double what ECS allows.
pub const TICK_WINDOW: StdDuration = StdDuration::from_secs(55);

/// The deadline a tick that starts at `started` works to: its invocation's, or the end of `TICK_WINDOW` if sooner.
pub fn tick_deadline(started: Instant, invocation: Instant) -> Instant {
    invocation.min(started + TICK_WINDOW)
}

/// The function's own clock, for leases only: decisions use the tick's or event's time, which a retried delivery
/// carries unchanged, but how long a claimer may still be launching is counted from when it really runs.
#[derive(Clone)]
pub struct Clock(pub std::sync::Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// A clock that always says `t` (for tests and the simulator, which give each call its time).
    pub fn fixed(t: DateTime<Utc>) -> Clock {
        Clock(std::sync::Arc::new(move || t))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock(std::sync::Arc::new(Utc::now))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", (self.0)())
    }
}

/// Limits of one dispatcher.
#[derive(Debug, Clone)]
pub struct Settings {
    /// RunTask calls per second at most (ECS throttles RunTask at about 20 per second per account and Region).
    pub run_task_rate: f64,
    /// Jobs and runs handled at once.
    pub concurrency: usize,
    /// Time kept in hand before the invocation's deadline: no new work starts after it.
    pub margin: StdDuration,
    pub clock: Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            run_task_rate: 20.0,
            concurrency: 32,
            margin: StdDuration::from_secs(5),
            clock: Clock::default(),
        }
    }
}
