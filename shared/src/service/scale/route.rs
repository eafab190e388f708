//! Where the listener rule of a service woken by requests forwards: the stack's waker while it sleeps (set before
//! the scale-down), its own target group once a check finds a healthy target after a wake (`domain::service::route`).

use super::{SleepError, Sleeper};
use crate::domain::service::{route, Phase, Routing, ServiceState};
use crate::ports::{EventPublisher, Metrics, ScaleError, ServiceScaler, ServiceStore};

impl<S: ServiceStore, C: ServiceScaler, M: Metrics, P: EventPublisher> Sleeper<S, C, M, P> {
    /// Points the service's rule where `to` says (a service without `wake_on_request` has none to point).
    pub(super) async fn point(
        &self,
        state: &mut ServiceState,
        to: Routing,
    ) -> Result<(), SleepError> {
        let Some(w) = state.spec.wake_on_request.as_ref() else {
            return Ok(());
        };
        let group = match to {
            Routing::Service => w.target_group.clone(),
            Routing::Waker => self.waker.clone().ok_or_else(|| SleepError::Scale {
                service: state.name.to_string(),
                source: ScaleError::Rejected {
                    message: "it is woken by requests, but this stack has no waker (FSCHED_WAKER_TARGET_GROUP): \
                              deploy template.yaml as it is now"
                        .to_owned(),
                },
            })?,
        };
        self.scaler
            .forward(&w.listener_rule, &group)
            .await
            .map_err(|source| SleepError::Scale {
                service: state.name.to_string(),
                source,
            })?;
        state.routing = Some(to);
        Ok(())
    }

    /// Brings the rule of a service woken by requests where its phase wants it: back to the service once a target
    /// is healthy after a wake, to the waker if a sleep left it elsewhere. `true` when it changed the rule.
    pub(super) async fn reroute(&self, state: &mut ServiceState) -> Result<bool, SleepError> {
        let Some(w) = state.spec.wake_on_request.as_ref() else {
            return Ok(false);
        };
        let healthy = match (state.phase, state.routing) {
            (Phase::Awake, Some(Routing::Waker)) => Some(
                self.scaler
                    .healthy(&w.target_group)
                    .await
                    .map_err(|source| SleepError::Scale {
                        service: state.name.to_string(),
                        source,
                    })?,
            ),
            _ => None,
        };
        match route(state, healthy) {
            Some(to) => self.point(state, to).await.map(|()| true),
            None => Ok(false),
        }
    }
}
