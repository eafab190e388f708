//! Commands: a service put to sleep or woken now (`fsched sleep`/`wake`, the trigger's "Sleep Service" and "Wake
//! Service", a request through the waker), taken first like any change (`race`), with a wake's hold kept.

use chrono::{DateTime, Utc};

use super::{ScaleReport, SleepError, Sleeper};
use crate::domain::service::{Phase, ScaleTrigger, ServiceName, ServiceState};
use crate::ports::{EventPublisher, Metrics, ServiceScaler, ServiceStore, StoreError};

impl<S: ServiceStore, C: ServiceScaler, M: Metrics, P: EventPublisher> Sleeper<S, C, M, P> {
    /// Puts a service to sleep now, or wakes it (`hold`: awake until then at least).
    pub async fn command(
        &self,
        name: &ServiceName,
        target: Phase,
        hold_until: Option<DateTime<Utc>>,
        trigger: ScaleTrigger,
        now: DateTime<Utc>,
    ) -> Result<ScaleReport, SleepError> {
        let read = self
            .store
            .get_service(name)
            .await?
            .ok_or_else(|| SleepError::Unknown(name.clone()))?;
        let Some((state, lease)) = self.take(read, now).await? else {
            return Err(SleepError::Store(StoreError::Conflict {
                what: format!(
                    "service `{name}` (another invocation is changing it; the command is retried)"
                ),
            }));
        };
        let result = self
            .command_taken(state, target, hold_until, trigger, now)
            .await;
        if result.is_err() {
            self.release(name, lease).await;
        }
        result
    }

    async fn command_taken(
        &self,
        mut state: ServiceState,
        target: Phase,
        hold_until: Option<DateTime<Utc>>,
        trigger: ScaleTrigger,
        now: DateTime<Utc>,
    ) -> Result<ScaleReport, SleepError> {
        let mut r = ScaleReport::default();
        // A wake never shortens a hold already in force (someone else may have asked for longer).
        state.hold_until = match target {
            Phase::Awake => [hold_until, state.hold_until.filter(|h| *h > now)]
                .into_iter()
                .flatten()
                .max(),
            Phase::Asleep => None,
        };
        if state.phase == target && (target == Phase::Awake || state.saved.is_some()) {
            // Already there: only the hold moves (sleeping again never overwrites the saved scale).
            self.reschedule(state, now).await?;
            return Ok(r);
        }
        self.change(state, target, trigger, now, &mut r).await?;
        if let Some(e) = r.errors.first() {
            return Err(SleepError::Store(StoreError::Transient {
                message: e.clone(),
            }));
        }
        Ok(r)
    }
}
