//! Retries. The one retry schedule fsched uses for calls that may pass on another try (RunTask, PutEvents):
//! exponential from a base, doubling per attempt, capped, with a jitter in [0.5, 1.0) drawn from a seed instead of a
//! random number generator, so retries of different runs spread apart and every schedule is repeatable in tests.
//! And what a job's `retry` says about running a run again that ended badly (domain::attempt decides).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::Span;
use super::hash::fnv128;

/// An ending of a run that `retry` can run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    Failed,
    TimedOut,
    Interrupted,
    /// ECS no longer knows the task and no final state was recorded (UNKNOWN).
    Lost,
}

impl Ending {
    pub const ALL: [Ending; 4] = [
        Ending::Failed,
        Ending::TimedOut,
        Ending::Interrupted,
        Ending::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Failed => "failed",
            Ending::TimedOut => "timed_out",
            Ending::Interrupted => "interrupted",
            Ending::Lost => "lost",
        }
    }
}

/// A job's `retry`: a run that ended in one of `on` is run again, as a new run (an attempt) linked to the first,
/// `backoff` after it ended (doubling per attempt, up to `max_backoff`), while fewer than `attempts` runs were made
/// and no later than `max_age` after the first was due. Exit codes narrow which FAILED runs qualify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Runs in all, the first included.
    pub attempts: u32,
    pub backoff: Span,
    pub max_backoff: Span,
    pub max_age: Span,
    pub on: Vec<Ending>,
    /// When not empty, a FAILED run is retried only if its exit code is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_exit_codes: Vec<i32>,
    /// A FAILED run with one of these exit codes is never retried (a code meaning "bad input", say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never_exit_codes: Vec<i32>,
    /// When not empty, a run is retried only if one of its stop reasons matches one of these patterns (`*` is any
    /// text), as AWS Batch's `evaluateOnExit.onReason`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_reasons: Vec<String>,
    /// A run with a stop reason matching one of these is never retried (`CannotPullContainerError*`, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never_reasons: Vec<String>,
}

/// Whether `text` matches `pattern`, where `*` stands for any text (none included) and everything else for itself.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl RetryPolicy {
    pub const DEFAULT_BACKOFF: Span = Span::from_secs(60);
    pub const DEFAULT_MAX_BACKOFF: Span = Span::from_secs(3600);
    pub const DEFAULT_MAX_AGE: Span = Span::from_secs(86_400);

    /// `attempts` runs with every other setting at its default.
    pub fn new(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff: Self::DEFAULT_BACKOFF,
            max_backoff: Self::DEFAULT_MAX_BACKOFF,
            max_age: Self::DEFAULT_MAX_AGE,
            on: Ending::ALL.to_vec(),
            only_exit_codes: Vec::new(),
            never_exit_codes: Vec::new(),
            only_reasons: Vec::new(),
            never_reasons: Vec::new(),
        }
    }

    /// The wait after the end of attempt `attempt` (1 for the first run) before the next starts: `backoff`,
    /// doubled per attempt, capped at `max_backoff`. No jitter: the dispatcher starts it at its first tick after.
    pub fn wait_after(&self, attempt: u32) -> Span {
        let doubled = self
            .backoff
            .as_secs()
            .saturating_mul(2u64.saturating_pow(attempt.saturating_sub(1)));
        Span::from_secs(doubled.min(self.max_backoff.as_secs().max(self.backoff.as_secs())))
    }
}

/// Exponential back-off with deterministic jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the second try (before jitter).
    pub base: Duration,
    /// No wait is longer than this (before jitter).
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// How long to wait after the `retry`-th failure in a row (1 for the first), for the thing named by `seed`.
    pub fn delay(&self, retry: u32, seed: &str) -> Duration {
        let doubled = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.max);
        doubled.mul_f64(jitter(seed, retry))
    }
}

/// A deterministic jitter factor in [0.5, 1.0) for the `retry`-th retry of what `seed` names.
pub fn jitter(seed: &str, retry: u32) -> f64 {
    let h = fnv128(&[seed, &retry.to_string()]);
    0.5 + ((h >> 64) as u64 % 1000) as f64 / 2000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_patterns_match_with_stars_anywhere() {
        let oom = "OutOfMemoryError: Container killed due to memory usage";
        for (pattern, want) in [
            ("OutOfMemoryError*", true),
            ("*memory usage", true),
            ("*killed*", true),
            (
                "OutOfMemoryError: Container killed due to memory usage",
                true,
            ),
            ("*", true),
            ("OutOfMemory", false),
            ("*Pull*", false),
            ("Out*Error*x", false),
        ] {
            assert_eq!(matches(pattern, oom), want, "{pattern}");
        }
        assert!(matches("a*a", "aa") && !matches("a*a", "a"));
    }

    #[test]
    fn delays_double_stay_under_the_cap_and_spread_by_seed() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        for retry in 1..=6 {
            let d = b.delay(retry, "etl/20261129T020000Z");
            let ceiling = Duration::from_secs(1 << (retry - 1).min(3));
            assert!(d >= ceiling / 2 && d < ceiling, "retry {retry}: {d:?}");
            assert_eq!(d, b.delay(retry, "etl/20261129T020000Z"), "repeatable");
        }
        let spread: std::collections::BTreeSet<_> = (0..20)
            .map(|i| b.delay(1, &format!("run-{i}")).as_millis())
            .collect();
        assert!(
            spread.len() > 10,
            "different seeds wait differently: {spread:?}"
        );
    }
}
