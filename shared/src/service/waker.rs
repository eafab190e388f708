//! The waker: what a request to a sleeping service's load balancer gets. Its listener rule forwards to the waker
//! while the service sleeps (the sleeper sets that, `domain::service::route`); the waker finds the service by the
//! request's host, asks for a wake once per burst of requests ("Wake Service" with the `request` flag, handled by the
//! trigger like any command), and says where the service is. It never waits for the service: the answer comes at
//! once, and the client asks again (`Retry-After`, or the page refreshing itself).
//!
//! A burst asks once: the first request writes `wake_requested_at` on the service's record, conditional on the
//! version it read; the others find it written (within `DEBOUNCE`) or lose the race. A command lost after that write
//! is asked for again by the first request after `DEBOUNCE`.

use chrono::{DateTime, Utc};

use crate::domain::service::{wake_asked, Phase, Progress, ServiceName, ServiceState};
use crate::domain::trigger::{Command, CommandError};
use crate::ports::{EventPublisher, PublishError, ServiceStore, StoreError};

/// What the waker answers, for the function to render (a page for browsers, JSON for the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// No service declares this host: the rule forwards here for a service fsched does not know (removed from the
    /// jobs file while asleep, or a host missing from its `hosts`).
    Unknown { host: String },
    /// The service is on its way (or, `Ready`, already serving: a reload reaches it).
    Starting {
        service: ServiceName,
        progress: Progress,
        /// Whether this request was the one that asked for the wake.
        asked: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WakerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sending the wake command: {0}")]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Command(#[from] CommandError),
}

pub struct Waker<S, P> {
    store: S,
    publisher: P,
}

impl<S: ServiceStore, P: EventPublisher> Waker<S, P> {
    pub fn new(store: S, publisher: P) -> Self {
        Waker { store, publisher }
    }

    /// Answers a request for `host` (the `Host` header) at `now`, asking for a wake if nobody has lately.
    pub async fn request(&self, host: &str, now: DateTime<Utc>) -> Result<Answer, WakerError> {
        let services = self.store.list_services().await?;
        let found = services.into_iter().find(|s| {
            s.spec
                .wake_on_request
                .as_ref()
                .is_some_and(|w| w.serves(host))
        });
        let Some(state) = found else {
            return Ok(Answer::Unknown {
                host: host.to_owned(),
            });
        };
        let service = state.name.clone();
        let asleep = state.phase == Phase::Asleep && !wake_asked(&state, now);
        let asked = asleep && self.ask(state.clone(), host, now).await?;
        // Asleep, it is waking: this request asked, or another did (the one that won the race).
        let progress = match asleep {
            true => Progress::Waking,
            false => Progress::of(&state, now),
        };
        Ok(Answer::Starting {
            service,
            progress,
            asked,
        })
    }

    /// Writes the ask on the service's record (conditional on the version read) and, if this request won, sends
    /// the command. `false`: another request (or the sleeper) wrote first.
    async fn ask(
        &self,
        mut state: ServiceState,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, WakerError> {
        let Some(hold) = state.spec.wake_on_request.as_ref().map(|w| w.hold) else {
            return Ok(false);
        };
        state.wake_requested_at = Some(now);
        let expected = state.version;
        state.version += 1;
        match self.store.put_service(&state, Some(expected)).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let command = Command::WakeService {
            service: state.name.clone(),
            hold: Some(hold),
            requested_by: format!("a request for {}", printable(host)),
            request: true,
        };
        self.publisher.publish(&[command.to_event(now)?]).await?;
        tracing::info!(service = %state.name, host, "wake asked");
        Ok(true)
    }
}

/// A host name as a label: at most 100 characters a DNS name may have.
fn printable(host: &str) -> String {
    host.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        .take(100)
        .collect()
}
