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
