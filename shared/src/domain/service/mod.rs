//! Services put to sleep and woken: when a service should be awake (periods a person can read, or explicit sleep and
//! wake schedules, in its zone) and its next transition (here), the periods (`period`), the state fsched keeps to
//! restore exactly what was there (`state`), and what sleeping saved (`savings`). Pure: the caller passes the instant.

mod period;
mod request;
mod savings;
mod state;

use std::fmt;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub use self::period::{Period, PeriodError};
pub use self::request::{
    health_check_after, route, wake_asked, Progress, Routing, WakeOnRequest, DEBOUNCE,
    DEFAULT_HOLD, DEFAULT_IDLE, RETRY_AFTER_SECONDS,
};
pub use self::savings::{savings, Saving};
pub use self::state::{check_after, wanted, Saved, ScaleAction, ScaleTrigger, ServiceState};
use super::duration::Span;
use super::schedule::{Expression, Schedule, Zone};

/// A service's name in the jobs file: the same charset as job names.
pub use super::name::ServiceName;

/// When a service should be awake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Awake {
    /// Awake within any of these periods, asleep outside them.
    Periods(Vec<Period>),
    /// Asleep from each `sleep` fire until the next `wake` fire, and the other way round.
    Schedules { sleep: Expression, wake: Expression },
}

/// A metric that says whether a service is being used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleMetric {
    /// An Application Load Balancer target group's `RequestCount` (CloudWatch `AWS/ApplicationELB`).
    TargetGroup {
        load_balancer: String,
        target_group: String,
    },
    /// An SQS queue's `ApproximateNumberOfMessagesVisible` (CloudWatch `AWS/SQS`).
    Queue { queue: String },
}

/// Sleep a service that is awake outside its periods (or, woken by requests, at any time) once its metric has been
/// zero this long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idle {
    pub after: Span,
    pub metric: IdleMetric,
}

/// A service as declared in the jobs file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub cluster: String,
    pub service: String,
    pub timezone: Zone,
    pub awake: Awake,
    /// Tasks to run when woken; `None`: what it had before it slept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awake_count: Option<u32>,
    /// Reconcile every tick instead of only at transitions (manual changes are undone).
    #[serde(default)]
    pub enforce: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<Idle>,
    /// An EventBridge event pattern: each matching event wakes the service (until its next boundary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_on: Option<serde_json::Value>,
    /// The bus `wake_on` listens on (`None`: the stack's bus; `default`: the account's default bus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus: Option<String>,
    /// Woken by a request to its load balancer (`request`): asleep, its listener rule forwards to the waker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_on_request: Option<WakeOnRequest>,
}

/// What a service should be at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    Awake,
    Asleep,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Awake => "AWAKE",
            Phase::Asleep => "ASLEEP",
        })
    }
}

/// How far ahead transitions are looked for: a service whose periods never change state within this window (always
/// awake, or never) has no next transition.
const HORIZON_DAYS: i64 = 8;

impl ServiceSpec {
    /// What the service should be at `t`, by its periods or schedules alone.
    pub fn phase_at(&self, t: DateTime<Utc>) -> Phase {
        match &self.awake {
            Awake::Periods(periods) => {
                let local = t.with_timezone(&self.timezone.tz()).naive_local();
                let awake = periods.iter().any(|p| p.covers(local.date(), local.time()));
                if awake {
                    Phase::Awake
                } else {
                    Phase::Asleep
                }
            }
            Awake::Schedules { sleep, wake } => {
                let last = |expr: &Expression| {
                    let s = Schedule::new(expr, self.timezone);
                    let mut at = s.next_after(t - Duration::days(HORIZON_DAYS));
                    let mut last = None;
                    while let Some(fire) = at.filter(|f| *f <= t) {
                        last = Some(fire);
                        at = s.next_after(fire);
                    }
                    last
                };
                match (last(sleep), last(wake)) {
                    (Some(s), Some(w)) if s > w => Phase::Asleep,
                    (Some(_), None) => Phase::Asleep,
                    _ => Phase::Awake,
                }
            }
        }
    }

    /// The first time after `after` at which the service's phase changes, with the phase it changes to.
    pub fn next_transition(&self, after: DateTime<Utc>) -> Option<(DateTime<Utc>, Phase)> {
        let zone = self.timezone.tz();
        let now = self.phase_at(after);
        let mut candidates: Vec<DateTime<Utc>> = Vec::new();
        match &self.awake {
            Awake::Periods(periods) => {
                let today = after.with_timezone(&zone).date_naive();
                for offset in -1..=HORIZON_DAYS {
                    let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
                        continue;
                    };
                    for p in periods {
                        for at in [p.start, p.end] {
                            // A wall time skipped by DST moves to the first valid instant after it.
                            let local = date.and_time(at);
                            let utc = zone.from_local_datetime(&local).earliest().or_else(|| {
                                zone.from_local_datetime(&(local + Duration::hours(1)))
                                    .earliest()
                            });
                            candidates.extend(utc.map(|u| u.with_timezone(&Utc)));
                        }
                    }
                }
            }
            Awake::Schedules { sleep, wake } => {
                for expr in [sleep, wake] {
                    candidates.extend(Schedule::new(expr, self.timezone).next_after(after));
                }
            }
        }
        candidates.retain(|c| *c > after);
        candidates.sort();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|c| (c, self.phase_at(c)))
            .find(|(_, phase)| *phase != now)
    }
}

impl ServiceSpec {
    /// When it is awake, in the jobs file's words.
    pub fn awake_words(&self) -> String {
        match &self.awake {
            Awake::Periods(p) if p.is_empty() => "on request only".to_owned(),
            Awake::Periods(p) => p
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Awake::Schedules { sleep, wake } => format!("sleep {sleep}, wake {wake}"),
        }
    }
}

#[cfg(test)]
mod tests;
