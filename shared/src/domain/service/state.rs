//! What fsched keeps about a service between ticks: its phase, the scale saved before sleeping, holds, the next
//! transition and check, and the scale actions it recorded.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Phase, Routing, ServiceName, ServiceSpec};

/// A service's scale as fsched saves it before sleeping, to restore on waking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub desired_count: u32,
    /// Application Auto Scaling min and max, when the service has a scalable target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<(u32, u32)>,
}

/// What fsched keeps about a service: its definition, its phase, what to restore, and when to look at it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: ServiceName,
    pub spec: ServiceSpec,
    /// Bumped by every write; writes are conditional on the version they read.
    pub version: u64,
    pub phase: Phase,
    /// Saved when put to sleep, before anything is changed; cleared once woken. Present while asleep (or while a
    /// sleep is half done), so a failure never loses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<Saved>,
    /// Woken on demand: awake until then at least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<DateTime<Utc>>,
    /// When the dispatcher must look at it next (a transition, the end of a hold, an idle check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_at: Option<DateTime<Utc>>,
    /// The last scale change fsched made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// How many scale changes fsched has made: a writer whose record write lost tells from it whether another
    /// writer changed the phase in between (`service::scale`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub changes: u64,
    /// Held until then by the invocation acting on it (a check or a command): the others leave it alone meanwhile,
    /// so their calls to ECS and the load balancer never cross. Cleared by the holder's last write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_until: Option<DateTime<Utc>>,
    /// The period boundary the service waits for: at it, the service takes the phase its periods want. Between
    /// boundaries, changes made by hand (or on demand) stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_at: Option<DateTime<Utc>>,
    /// The count it last woke to: what to save if it is found at 0 when put to sleep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_awake_count: Option<u32>,
    /// With `wake_on_request`: what its listener rule forwards to, as fsched last set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// With `wake_on_request`: when the waker last asked for a wake (a burst of requests asks once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_requested_at: Option<DateTime<Utc>>,
}

impl ServiceState {
    /// A newly declared service: taken as awake, with its first boundary now, so the first tick gives it the phase
    /// its periods want.
    pub fn declared(name: ServiceName, spec: ServiceSpec, now: DateTime<Utc>) -> ServiceState {
        ServiceState {
            name,
            spec,
            version: 1,
            phase: Phase::Awake,
            saved: None,
            hold_until: None,
            check_at: Some(now),
            changed_at: None,
            changes: 0,
            busy_until: None,
            transition_at: Some(now),
            last_awake_count: None,
            routing: None,
            wake_requested_at: None,
        }
    }

    /// Whether its idle rule applies now: awake outside its periods (woken on demand or by hand), or awake at all
    /// when requests wake it (it sleeps again whenever nobody uses it).
    pub fn awake_off_hours(&self, now: DateTime<Utc>) -> bool {
        self.phase == Phase::Awake
            && (self.spec.phase_at(now) == Phase::Asleep || self.spec.wake_on_request.is_some())
    }
}

/// What asked for a scale change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScaleTrigger {
    Schedule,
    Event {
        source: String,
        id: String,
    },
    Cli {
        by: String,
    },
    Idle {
        metric: String,
    },
    /// A tick with `enforce: true` undid a change made outside fsched.
    Enforce,
    /// A request to its load balancer woke it (`wake_on_request`), through the waker.
    Request {
        by: String,
    },
}

/// One recorded scale change (or a change found made outside fsched).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleAction {
    pub service: ServiceName,
    pub at: DateTime<Utc>,
    pub to: Phase,
    /// Desired count before and after.
    pub from_count: u32,
    pub to_count: u32,
    pub trigger: ScaleTrigger,
    /// The task size of the service, for savings: CPU units and MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_memory: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When DynamoDB may delete the record, as Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// When the dispatcher must look at a service next: its boundary, the end of a hold, and (with `enforce`, or an idle
/// rule while awake off hours) within a few minutes.
pub fn check_after(state: &ServiceState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut at = state.transition_at.filter(|t| *t > now);
    let mut consider = |t: DateTime<Utc>| at = Some(at.map_or(t, |a| a.min(t)));
    if let Some(h) = state.hold_until.filter(|h| *h > now) {
        consider(h);
    }
    if state.spec.enforce {
        consider(now + Duration::minutes(1));
    }
    if state.spec.idle.is_some() && state.awake_off_hours(now) {
        consider(now + Duration::minutes(5));
    }
    if let Some(t) = super::health_check_after(state, now) {
        consider(t);
    }
    // Asleep, its rule not yet at the waker (a sleep that failed half-way): soon, to finish it.
    if super::route(state, None).is_some() {
        consider(now + Duration::minutes(1));
    }
    at
}

/// The phase a service should have at `now`: its periods, unless held awake on demand.
pub fn wanted(state: &ServiceState, now: DateTime<Utc>) -> Phase {
    if state.hold_until.is_some_and(|h| h > now) {
        return Phase::Awake;
    }
    state.spec.phase_at(now)
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
