//! Writers of one service at once. An invocation acting on a service (a check, a command) takes it first with a
//! conditional write of `busy_until` (`take`, held for `LEASE`), and its last write clears it; another that finds it
//! taken leaves it (a command is retried by its queue). So two invocations never call ECS and the load balancer for
//! one service at the same time: a rule pointed back at the service by a late check could otherwise land after a
//! sleep pointed it at the waker, sending requests to an empty target group (found by the simulator). An invocation
//! that fails gives the service back (`release`); one that dies holds it until `LEASE` has passed.
//!
//! Other writers do not take it (a request's `wake_requested_at`, an `apply`), so a holder's write can still lose.
//! ECS applies UpdateService calls in the order they arrive, not the order their writers read the record, so the
//! loser's scale call may have landed after the winner's (a retried tick putting a service to sleep while a command
//! wakes it: the wake's count set first, the sleep's 0 last, and the record saying awake). The loser looks at the
//! record again:
//! - another writer changed the phase since the loser read it (its `changes` moved on): that change stands, and the
//!   loser sets the service to what the record now says, so the last writer of the record decides;
//! - the other write changed something else: the loser's change stands, and is written onto the record as it is now.

use chrono::{DateTime, Duration, Utc};

use super::{SleepError, Sleeper};
use crate::domain::service::{Phase, ServiceName, ServiceState};
use crate::ports::{EventPublisher, Metrics, ServiceScaler, ServiceStore, StoreError};

/// Record writes lost in a row before giving up (each loss means someone else just wrote the service).
const ATTEMPTS: usize = 3;
/// How long an invocation holds a service it acts on: longer than any invocation runs (the dispatcher's timeout is
/// 120 seconds, template.yaml), and shorter than the trigger queue's redelivery (360 seconds), so a command that
/// found the service held by a holder that died finds it free when it comes back.
pub const LEASE: Duration = Duration::minutes(3);

impl<S: ServiceStore, C: ServiceScaler, M: Metrics, P: EventPublisher> Sleeper<S, C, M, P> {
    /// Takes the service for this invocation until `LEASE` from now (the later of `now`, which a redelivered
    /// command carries from its first delivery, and the function's clock): the state as written and the lease, or
    /// `None` when another invocation holds it or wrote it first.
    pub(super) async fn take(
        &self,
        mut state: ServiceState,
        now: DateTime<Utc>,
    ) -> Result<Option<(ServiceState, DateTime<Utc>)>, SleepError> {
        let now = now.max((self.clock.0)());
        if state.busy_until.is_some_and(|until| until > now) {
            return Ok(None);
        }
        let lease = now + LEASE;
        state.busy_until = Some(lease);
        let expected = state.version;
        state.version += 1;
        match self.store.put_service(&state, Some(expected)).await {
            Ok(()) => Ok(Some((state, lease))),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the service back after a failure, if this invocation still holds it (best effort: a lost release
    /// runs out with its lease).
    pub(super) async fn release(&self, name: &ServiceName, lease: DateTime<Utc>) {
        let Ok(Some(mut state)) = self.store.get_service(name).await else {
            return;
        };
        if state.busy_until != Some(lease) {
            return;
        }
        state.busy_until = None;
        let expected = state.version;
        state.version += 1;
        if let Err(e) = self.store.put_service(&state, Some(expected)).await {
            tracing::warn!(service = %name, error = %e, "could not give the service back: its lease runs out");
        }
    }

    /// Writes `ours`, the change just made to ECS (read when the service had made `read_changes` changes), onto the
    /// record: `true` when it stands, `false` when another writer's phase does (and the service was set to it). A
    /// write that fails without losing (a throttle, a timeout) is made again from a fresh read: given up, the
    /// service would be given back with the phase before a scale that happened (found by the simulator: a wake's
    /// write throttled, its command's retries used up, the service awake for hours while recorded asleep).
    pub(super) async fn commit(
        &self,
        ours: &ServiceState,
        read_changes: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, SleepError> {
        match self.reschedule(ours.clone(), now).await {
            Ok(true) => Ok(true),
            Ok(false) => self.carry(ours, read_changes, now).await,
            Err(e) => {
                tracing::warn!(service = %ours.name, error = %e, "the service was scaled and its record not written: writing it again");
                match self.store.get_service(&ours.name).await? {
                    // The write landed after all (a timeout after success): nobody else changes the phase of a
                    // service this invocation holds, so the version after ours with our change is ours.
                    Some(fresh)
                        if fresh.version == ours.version + 1
                            && fresh.changes == ours.changes
                            && fresh.changed_at == ours.changed_at =>
                    {
                        Ok(true)
                    }
                    _ => self.carry(ours, read_changes, now).await,
                }
            }
        }
    }

    /// After `ours` (the change just scaled, read when the service had made `read_changes` changes) lost its write:
    /// `true` when it was written onto the record after all, `false` when another writer's phase stands (and the
    /// service was set to it).
    pub(super) async fn carry(
        &self,
        ours: &ServiceState,
        read_changes: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, SleepError> {
        for _ in 0..ATTEMPTS {
            let Some(mut fresh) = self.store.get_service(&ours.name).await? else {
                // Removed from the jobs file meanwhile: nothing to keep in line.
                return Ok(false);
            };
            if fresh.changes != read_changes {
                self.settle(&fresh, ours).await?;
                return Ok(false);
            }
            fresh.phase = ours.phase;
            fresh.changed_at = ours.changed_at;
            fresh.changes = ours.changes;
            fresh.saved = ours.saved;
            fresh.last_awake_count = ours.last_awake_count;
            fresh.hold_until = ours.hold_until;
            fresh.routing = ours.routing;
            if self.reschedule(fresh, now).await? {
                return Ok(true);
            }
        }
        Err(SleepError::Store(StoreError::Conflict {
            what: format!("service `{}` ({ATTEMPTS} writes in a row lost)", ours.name),
        }))
    }

    /// Sets the service to the phase `fresh` records, as its writer set it: asleep at 0 (bounds 0/0 when it has
    /// some saved), or awake at the count it woke to with the bounds it had (the record's saved scale, else the one
    /// `ours` saved before it lost).
    async fn settle(&self, fresh: &ServiceState, ours: &ServiceState) -> Result<(), SleepError> {
        let saved = fresh.saved.or(ours.saved);
        let (count, bounds) = match fresh.phase {
            Phase::Asleep => (0, saved.and_then(|s| s.autoscaling).map(|_| (0, 0))),
            Phase::Awake => (
                fresh
                    .last_awake_count
                    .or(fresh.spec.awake_count)
                    .or(saved.map(|s| s.desired_count))
                    .unwrap_or(1),
                saved.and_then(|s| s.autoscaling),
            ),
        };
        tracing::info!(service = %fresh.name, phase = %fresh.phase, count, "another writer changed the service meanwhile: set to what its record says");
        self.set_scale(fresh, count, bounds).await
    }
}
