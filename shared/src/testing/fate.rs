//! How a fake ECS task goes, decided at its launch (`FakeEcs::with_fates`).

use chrono::Duration;

/// How a launched task will go.
#[derive(Debug, Clone, PartialEq)]
pub struct Fate {
    /// From RunTask to RUNNING.
    pub starts_after: Duration,
    /// From RUNNING to STOPPED, unless stopped earlier.
    pub runs_for: Duration,
    pub exit_code: i32,
    /// Fargate Spot reclaims it after it ran this long (on Spot capacity only).
    pub reclaimed_after: Option<Duration>,
}

impl Default for Fate {
    fn default() -> Self {
        Fate {
            starts_after: Duration::seconds(40),
            runs_for: Duration::minutes(5),
            exit_code: 0,
            reclaimed_after: None,
        }
    }
}
