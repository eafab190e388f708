//! Pacing of RunTask calls within ECS's rate.

use std::sync::Mutex;
use std::time::Duration as StdDuration;

use tokio::time::Instant;

/// Paces calls to stay within `rate` per second as the service counts them: calls are spaced evenly with 5% to
/// spare (a call that wakes late must not bunch up with the next ones), and no call starts within one second of the
/// call `rate` places before it, measured when each call actually started.
#[derive(Debug)]
pub(super) struct Pacer {
    interval: StdDuration,
    window: usize,
    state: Mutex<PacerState>,
}

#[derive(Debug, Default)]
struct PacerState {
    next: Option<Instant>,
    started: std::collections::VecDeque<Instant>,
}

impl Pacer {
    pub(super) fn new(rate: f64) -> Self {
        let rate = rate.max(0.01);
        Pacer {
            interval: StdDuration::from_secs_f64(1.05 / rate),
            window: (rate.floor() as usize).max(1),
            state: Mutex::new(PacerState::default()),
        }
    }

    /// Waits for the next slot; `false` (and no slot taken) when it would come after `until`.
    pub(super) async fn wait(&self, until: Instant) -> bool {
        let slot = {
            let Ok(mut state) = self.state.lock() else {
                return false;
            };
            let mut slot = state.next.map_or(Instant::now(), |n| n.max(Instant::now()));
            if state.started.len() >= self.window {
                let oldest = state.started[state.started.len() - self.window];
                slot = slot.max(oldest + StdDuration::from_secs(1));
            }
            if slot > until {
                return false;
            }
            state.next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        if let Ok(mut state) = self.state.lock() {
            state.started.push_back(Instant::now());
            while state.started.len() > self.window {
                state.started.pop_front();
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At most `rate` starts in any second, on tokio's simulated clock (time only moves when every task waits), so
    /// the guarantee is checked exactly and does not depend on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_starts_than_the_rate() {
        let pacer = std::sync::Arc::new(Pacer::new(20.0));
        let until = Instant::now() + StdDuration::from_secs(3600);
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    assert!(pacer.wait(until).await);
                    Instant::now()
                })
            })
            .collect();
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.unwrap());
        }
        starts.sort();
        let busiest = (0..starts.len())
            .map(|i| {
                starts[i..]
                    .iter()
                    .take_while(|t| t.duration_since(starts[i]) < StdDuration::from_secs(1))
                    .count()
            })
            .max()
            .unwrap();
        assert!(busiest <= 20, "{busiest} starts within one second");
        assert!(
            busiest >= 18,
            "paced close to the rate, not far below it: {busiest}"
        );
        let span = starts[starts.len() - 1].duration_since(starts[0]);
        assert!(
            span >= StdDuration::from_secs_f64(199.0 * 1.05 / 20.0),
            "{span:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_slot_is_taken_past_the_deadline() {
        let pacer = Pacer::new(2.0);
        let until = Instant::now() + StdDuration::from_secs(2);
        let mut granted = 0;
        while pacer.wait(until).await {
            granted += 1;
        }
        // Slots at 0, 0.525 s, 1.05 s, 1.575 s; the next (2.1 s) is past the deadline.
        assert_eq!(granted, 4);
    }
}
