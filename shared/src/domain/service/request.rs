//! Wake on request: a service behind an Application Load Balancer that sleeps while nobody uses it and wakes when
//! someone opens it. While it sleeps, its listener rule forwards to fsched's waker (a Lambda target group), which
//! answers with a "starting" page and asks for a wake; once the woken service's targets are healthy, the rule
//! forwards to the service's own target group again. Pure: what the rule should point at, the page's progress, which
//! service a request is for.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{IdleMetric, Phase, ServiceState};
use crate::domain::duration::Span;

/// How long a service woken by a request stays awake at least, unless the jobs file says (`hold`).
pub const DEFAULT_HOLD: Span = Span::from_secs(30 * 60);
/// How long a request-woken service may go without requests before it sleeps again, unless `idle.after` says.
pub const DEFAULT_IDLE: Span = Span::from_secs(30 * 60);
/// Requests within this long of a wake asked for ask for no other: a burst sends one command.
pub const DEBOUNCE: Span = Span::from_secs(60);
/// How often a woken service's targets are looked at until they are healthy.
pub const HEALTH_CHECK: Span = Span::from_secs(60);
/// What the waiting page and the API answer tell clients: ask again after this many seconds.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// `wake_on_request:` in the jobs file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeOnRequest {
    /// The `Host` names whose requests are this service's (the listener rule's host condition).
    pub hosts: Vec<String>,
    /// The ALB listener rule that forwards to the service: fsched points it at the waker while the service sleeps.
    pub listener_rule: String,
    /// The service's own target group, which the rule forwards to while it is awake.
    pub target_group: String,
    /// Awake at least this long after a request woke it.
    #[serde(default = "default_hold")]
    pub hold: Span,
}

fn default_hold() -> Span {
    DEFAULT_HOLD
}

impl WakeOnRequest {
    /// Whether a request with this `Host` header is for the service (case does not matter, nor a port).
    pub fn serves(&self, host: &str) -> bool {
        let host = host.split(':').next().unwrap_or(host);
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// The idle metric a request-woken service sleeps by when `idle` names none: its target group's RequestCount,
    /// the dimensions read from the ARNs (`app/NAME/ID` from the rule's, `targetgroup/NAME/ID` from the group's).
    pub fn request_count(&self) -> Option<IdleMetric> {
        let rule = self.listener_rule.split_once(":listener-rule/")?.1;
        let mut parts = rule.split('/');
        let load_balancer = format!("{}/{}/{}", parts.next()?, parts.next()?, parts.next()?);
        let target_group = self
            .target_group
            .split_once(":targetgroup/")
            .map(|(_, rest)| format!("targetgroup/{rest}"))?;
        Some(IdleMetric::TargetGroup {
            load_balancer,
            target_group,
        })
    }
}

/// What a service's listener rule forwards to, as fsched last set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// The service's own target group.
    Service,
    /// fsched's waker.
    Waker,
}

/// Where a request-woken service is, as the waiting page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// Asleep, and nobody asked for it yet.
    Asleep,
    /// A wake was asked for; the service is not scaled up yet.
    Waking,
    /// Scaled up; its targets are not healthy yet.
    Starting,
    /// Healthy: the rule forwards to it again (a reload reaches it).
    Ready,
}

impl Progress {
    pub fn of(state: &ServiceState, now: DateTime<Utc>) -> Progress {
        match (state.phase, state.routing) {
            (Phase::Awake, Some(Routing::Waker)) => Progress::Starting,
            (Phase::Awake, _) => Progress::Ready,
            (Phase::Asleep, _) if wake_asked(state, now) => Progress::Waking,
            (Phase::Asleep, _) => Progress::Asleep,
        }
    }

    /// The step in words, for the page.
    pub fn words(self) -> &'static str {
        match self {
            Progress::Asleep => "asleep",
            Progress::Waking => "waking up",
            Progress::Starting => "starting",
            Progress::Ready => "ready",
        }
    }
}

/// Whether a wake was asked for within the debounce window.
pub fn wake_asked(state: &ServiceState, now: DateTime<Utc>) -> bool {
    state
        .wake_requested_at
        .is_some_and(|at| at <= now && now - at < DEBOUNCE.to_chrono())
}

/// What the rule of a service should forward to now, when that differs from what fsched last set: the waker while
/// it sleeps (set before it is scaled down, so nobody is sent to an empty group), its own group once it is awake and
/// `healthy` (how many of its targets are). `None`: nothing to change.
pub fn route(state: &ServiceState, healthy: Option<u32>) -> Option<Routing> {
    state.spec.wake_on_request.as_ref()?;
    match state.phase {
        Phase::Asleep => (state.routing != Some(Routing::Waker)).then_some(Routing::Waker),
        Phase::Awake => (state.routing == Some(Routing::Waker) && healthy.is_some_and(|n| n > 0))
            .then_some(Routing::Service),
    }
}

/// When a woken service's targets should be looked at again (its rule still forwards to the waker).
pub fn health_check_after(state: &ServiceState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (state.spec.wake_on_request.is_some()
        && state.phase == Phase::Awake
        && state.routing == Some(Routing::Waker))
    .then(|| now + Duration::seconds(HEALTH_CHECK.as_secs() as i64))
}
