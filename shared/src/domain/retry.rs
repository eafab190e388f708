//! The one retry schedule fsched uses for calls that may pass on another try (RunTask, PutEvents): exponential
//! from a base, doubling per attempt, capped, with a jitter in [0.5, 1.0) drawn from a seed instead of a random
//! number generator, so retries of different runs spread apart and every schedule is repeatable in tests.

use std::time::Duration;

use super::hash::fnv128;

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
