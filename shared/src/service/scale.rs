//! The sleeper: puts declared ECS services to sleep and wakes them, at their period boundaries, on demand and when
//! idle, restoring exactly what was there, and records every change.
//!
//! Sleep saves the desired count and the Application Auto Scaling bounds in the service's record *before* changing
//! anything (a conditional write), then sets the bounds to 0/0 (or autoscaling would scale it straight back up) and
//! the desired count to 0. Wake restores the bounds, then the count. A failure half-way leaves the saved scale in the
//! record and the service due again, so the next tick finishes the job; nothing is ever saved over by a 0.
//!
//! A service woken by requests (`wake_on_request`) has its listener rule pointed at the stack's waker before it is
//! scaled down (so nobody is sent to an empty group), and back at its own target group only once a check finds one
//! of its targets healthy after it woke (`domain::service::route`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::domain::event::{BusEvent, Lifecycle};
use crate::domain::service::{
    check_after, wanted, Phase, Routing, Saved, ScaleAction, ScaleTrigger, ServiceName,
    ServiceState,
};
use crate::ports::{EventPublisher, Metrics, ScaleError, ServiceScaler, ServiceStore, StoreError};

mod command;
mod race;
mod route;

/// How long scale action records are kept.
const ACTION_HISTORY_DAYS: i64 = 400;

/// What one service check or command did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScaleReport {
    pub slept: Vec<ServiceName>,
    pub woke: Vec<ServiceName>,
    /// Changes found made outside fsched (reported, and undone with `enforce`).
    pub drift: Vec<String>,
    pub errors: Vec<String>,
}

impl ScaleReport {
    pub fn merge(&mut self, other: ScaleReport) {
        self.slept.extend(other.slept);
        self.woke.extend(other.woke);
        self.drift.extend(other.drift);
        self.errors.extend(other.errors);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SleepError {
    #[error("no service `{0}` is declared (see `fsched services`)")]
    Unknown(ServiceName),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("service `{service}`: {source}")]
    Scale { service: String, source: ScaleError },
}

impl SleepError {
    pub fn is_retryable(&self) -> bool {
        match self {
            SleepError::Unknown(_) => false,
            SleepError::Store(e) => e.is_retryable() || matches!(e, StoreError::Conflict { .. }),
            SleepError::Scale { source, .. } => !matches!(source, ScaleError::Rejected { .. }),
        }
    }
}

pub struct Sleeper<S, C, M, P> {
    store: S,
    scaler: C,
    metrics: M,
    publisher: P,
    /// The stack's waker target group (its `WakerTargetGroupArn`): where the rule of a sleeping service woken by
    /// requests forwards.
    waker: Option<String>,
    /// The function's own clock, for leases only (`race`): a command redelivered carries its first time.
    clock: crate::service::dispatch::Clock,
}

fn trigger_name(t: &ScaleTrigger) -> String {
    match t {
        ScaleTrigger::Schedule => "schedule".to_owned(),
        ScaleTrigger::Event { source, .. } => format!("event from {source}"),
        ScaleTrigger::Cli { by } => format!("on demand by {by}"),
        ScaleTrigger::Idle { metric } => format!("idle ({metric})"),
        ScaleTrigger::Enforce => "enforce".to_owned(),
        ScaleTrigger::Request { by } => format!("a request ({by})"),
    }
}

impl<S: ServiceStore, C: ServiceScaler, M: Metrics, P: EventPublisher> Sleeper<S, C, M, P> {
    pub fn new(store: S, scaler: C, metrics: M, publisher: P) -> Self {
        Sleeper {
            store,
            scaler,
            metrics,
            publisher,
            waker: None,
            clock: Default::default(),
        }
    }

    /// With `clock` for its leases (tests and the simulator give the world's).
    pub fn with_clock(mut self, clock: crate::service::dispatch::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// With the stack's waker target group, for services woken by requests.
    pub fn with_waker(mut self, target_group: Option<String>) -> Self {
        self.waker = target_group;
        self
    }

    /// Looks at a service whose check time has come: a boundary (take the phase the periods want), the end of a
    /// hold, an idle check, or an `enforce` reconciliation.
    /// It is taken first (`take`): a service another invocation is acting on is left to it.
    pub async fn check(&self, state: ServiceState, now: DateTime<Utc>) -> ScaleReport {
        let mut r = ScaleReport::default();
        let name = state.name.clone();
        let result = match self.take(state, now).await {
            Ok(Some((state, lease))) => {
                let result = self.check_inner(state, now, &mut r).await;
                if result.is_err() {
                    self.release(&name, lease).await;
                }
                result
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            r.errors.push(format!("service `{name}`: {e}"));
        }
        r
    }

    async fn check_inner(
        &self,
        mut state: ServiceState,
        now: DateTime<Utc>,
        r: &mut ScaleReport,
    ) -> Result<(), SleepError> {
        self.reroute(&mut state).await?;
        let at_boundary = state.transition_at.is_some_and(|t| t <= now);
        // A request-woken service sleeps by its idle rule, not at the end of its hold.
        if state.spec.wake_on_request.is_some() && !at_boundary {
            state.hold_until = state.hold_until.filter(|h| *h > now);
        }
        let hold_ended = state.hold_until.is_some_and(|h| h <= now);
        if at_boundary || hold_ended {
            let mut after = state.clone();
            if hold_ended {
                after.hold_until = None;
            }
            let target = wanted(&after, now);
            // The boundary and an ended hold go only with the write after the change succeeded (`reschedule`): if
            // the change fails half-way (after the scale was saved), the service stays due, still at its boundary
            // or the end of its hold, and the retry makes the same change.
            if target != state.phase {
                return self
                    .change(state, target, ScaleTrigger::Schedule, now, r)
                    .await;
            }
            state = after;
        } else if let Some(idle) = state
            .spec
            .idle
            .clone()
            .filter(|_| state.awake_off_hours(now))
        {
            let since = now - idle.after.to_chrono();
            let awake_long_enough = state.changed_at.is_none_or(|c| c <= since);
            if awake_long_enough {
                let sum = self
                    .metrics
                    .sum(&idle.metric, since, now)
                    .await
                    .map_err(|e| SleepError::Scale {
                        service: state.name.to_string(),
                        source: ScaleError::Transient { message: e.message },
                    })?;
                // No data points: nothing was counted (an ALB reports no RequestCount without requests).
                if sum.unwrap_or(0.0) == 0.0 {
                    let metric = format!("no activity for {}", idle.after);
                    state.hold_until = None;
                    return self
                        .change(state, Phase::Asleep, ScaleTrigger::Idle { metric }, now, r)
                        .await;
                }
            }
        } else if state.spec.enforce {
            let current = self.current(&state).await?;
            let off = match state.phase {
                Phase::Asleep => current.desired_count != 0,
                Phase::Awake => current.desired_count == 0,
            };
            if off {
                r.drift.push(format!(
                    "{}: desired count {} while {}",
                    state.name, current.desired_count, state.phase
                ));
                // Re-apply the phase the record says (`change` does not skip a phase the record already has).
                let phase = state.phase;
                return self
                    .change(state, phase, ScaleTrigger::Enforce, now, r)
                    .await;
            }
        }
        self.reschedule(state, now).await.map(|_| ())
    }

    /// Sets the service's desired count (and its autoscaling bounds, when given).
    async fn set_scale(
        &self,
        state: &ServiceState,
        count: u32,
        bounds: Option<(u32, u32)>,
    ) -> Result<(), SleepError> {
        self.scaler
            .set(&state.spec.cluster, &state.spec.service, count, bounds)
            .await
            .map_err(|source| SleepError::Scale {
                service: state.name.to_string(),
                source,
            })
    }

    async fn current(&self, state: &ServiceState) -> Result<crate::ports::ServiceNow, SleepError> {
        self.scaler
            .current(&state.spec.cluster, &state.spec.service)
            .await
            .map_err(|source| SleepError::Scale {
                service: state.name.to_string(),
                source,
            })
    }

    /// Writes the state with its next check: `false` when another writer wrote first (it handled the service, or
    /// changed something else about it: `change` tells which).
    async fn reschedule(
        &self,
        mut state: ServiceState,
        now: DateTime<Utc>,
    ) -> Result<bool, SleepError> {
        if state.transition_at.is_none_or(|t| t <= now) {
            state.transition_at = state.spec.next_transition(now).map(|(t, _)| t);
        }
        state.check_at = check_after(&state, now);
        state.busy_until = None;
        let expected = state.version;
        state.version += 1;
        match self.store.put_service(&state, Some(expected)).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves a service to `target` (or re-applies it), saving first when it goes to sleep.
    async fn change(
        &self,
        mut state: ServiceState,
        target: Phase,
        trigger: ScaleTrigger,
        now: DateTime<Utc>,
        r: &mut ScaleReport,
    ) -> Result<(), SleepError> {
        let current = self.current(&state).await?;
        let read_changes = state.changes;
        let (count, bounds, note) = match target {
            Phase::Asleep => {
                if state.saved.is_none() {
                    let desired = if current.desired_count == 0 {
                        state
                            .last_awake_count
                            .or(state.spec.awake_count)
                            .unwrap_or(1)
                    } else {
                        current.desired_count
                    };
                    state.saved = Some(Saved {
                        desired_count: desired,
                        autoscaling: current.autoscaling,
                    });
                    // Saved before anything changes: a failure from here on loses nothing.
                    let expected = state.version;
                    state.version += 1;
                    self.store.put_service(&state, Some(expected)).await?;
                }
                // Requests go to the waker before the service has no tasks to take them.
                self.point(&mut state, Routing::Waker).await?;
                let bounds = state.saved.and_then(|s| s.autoscaling).map(|_| (0, 0));
                (0, bounds, None)
            }
            Phase::Awake => {
                let saved = state.saved;
                let count = state
                    .spec
                    .awake_count
                    .or(saved.map(|s| s.desired_count))
                    .or(state.last_awake_count)
                    .unwrap_or(1);
                let note =
                    (current.desired_count != 0 && state.phase == Phase::Asleep).then(|| {
                        format!(
                            "found at desired count {} while asleep: changed outside fsched",
                            current.desired_count
                        )
                    });
                if let Some(n) = &note {
                    r.drift.push(format!("{}: {n}", state.name));
                }
                (count, saved.and_then(|s| s.autoscaling), note)
            }
        };
        self.set_scale(&state, count, bounds).await?;

        let from = current.desired_count;
        state.phase = target;
        state.changed_at = Some(now);
        if state.hold_until.is_some_and(|h| h <= now) {
            state.hold_until = None;
        }
        if target == Phase::Awake {
            state.saved = None;
            state.last_awake_count = Some(count);
        }
        state.changes = read_changes + 1;
        if !self.commit(&state, read_changes, now).await? {
            // Another writer changed the phase meanwhile: its change stands (it records and announces it).
            return Ok(());
        }
        let action = ScaleAction {
            service: state.name.clone(),
            at: now,
            to: target,
            from_count: from,
            to_count: count,
            trigger: trigger.clone(),
            task_cpu: current.task_cpu,
            task_memory: current.task_memory,
            note,
            expires_at: Some((now + chrono::Duration::days(ACTION_HISTORY_DAYS)).timestamp()),
        };
        self.store.record_action(&action).await?;
        let (kind, list) = match target {
            Phase::Asleep => (Lifecycle::ServiceSlept, &mut r.slept),
            Phase::Awake => (Lifecycle::ServiceWoke, &mut r.woke),
        };
        list.push(state.name.clone());
        let event = BusEvent::lifecycle(
            kind,
            json!({
                "service": state.name.as_str(),
                "cluster": state.spec.cluster,
                "ecs_service": state.spec.service,
                "from_count": from,
                "to_count": count,
                "trigger": trigger,
                "why": trigger_name(&trigger),
                "note": action.note,
            }),
            now,
        );
        if let Err(e) = self.publisher.publish(&[event]).await {
            r.errors.push(format!("service `{}`: {e}", state.name));
        }
        Ok(())
    }
}
