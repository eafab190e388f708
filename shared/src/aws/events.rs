//! The EventBridge publisher: lifecycle events onto the stack's bus with PutEvents. A "successful" PutEvents can
//! still reject entries (`FailedEntryCount`): those are retried, and reported when they keep failing.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::sdk_error::{classify, Failure};
use crate::ports::{EventPublisher, LifecycleEvent, PublishError};

/// The `source` of every event fsched publishes.
pub const SOURCE: &str = "fsched";

/// PutEvents takes at most 10 entries per call.
const BATCH: usize = 10;
/// Calls per batch, the first included, while entries fail for reasons that may pass.
const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(200);

/// Entry error codes worth another try: the rest (malformed entry, access denied) will fail again.
const RETRYABLE_ENTRY_CODES: &[&str] = &["ThrottlingException", "InternalFailure"];

#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridgePublisher {
            client,
            bus: bus.into(),
        }
    }

    fn entry(&self, event: &LifecycleEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .time(aws_smithy_types::DateTime::from_millis(
                event.time.timestamp_millis(),
            ))
            .build()
    }

    /// Publishes one batch; returns why each entry that could not be published failed.
    async fn batch(&self, events: &[LifecycleEvent]) -> Vec<String> {
        let mut pending: Vec<&LifecycleEvent> = events.iter().collect();
        let mut permanent = Vec::new();
        for attempt in 1..=ATTEMPTS {
            let entries = pending.iter().map(|e| self.entry(e)).collect();
            let mut retry = Vec::new();
            let mut retry_errors = Vec::new();
            match self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) if out.failed_entry_count() == 0 => return permanent,
                // Results are in request order, one per entry.
                Ok(out) => {
                    for (event, result) in pending.iter().zip(out.entries()) {
                        let Some(code) = result.error_code() else {
                            continue;
                        };
                        let message = format!(
                            "{}: {code}: {}",
                            event.detail_type,
                            result.error_message().unwrap_or(code)
                        );
                        if RETRYABLE_ENTRY_CODES.contains(&code) {
                            retry.push(*event);
                            retry_errors.push(message);
                        } else {
                            permanent.push(message);
                        }
                    }
                }
                Err(e) => {
                    let (transient, message) = match classify(&e) {
                        Failure::Transient { message } => (true, message),
                        Failure::Service { code, message } => (false, format!("{code}: {message}")),
                    };
                    let messages = pending
                        .iter()
                        .map(|ev| format!("{}: {message}", ev.detail_type));
                    if transient {
                        retry = pending.clone();
                        retry_errors = messages.collect();
                    } else {
                        permanent.extend(messages);
                    }
                }
            }
            if retry.is_empty() {
                return permanent;
            }
            if attempt == ATTEMPTS {
                permanent.extend(retry_errors);
                return permanent;
            }
            pending = retry;
            tokio::time::sleep(BACKOFF * attempt).await;
        }
        permanent
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<(), PublishError> {
        let mut errors = Vec::new();
        for batch in events.chunks(BATCH) {
            errors.extend(self.batch(batch).await);
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(PublishError {
            failed: errors.len(),
            total: events.len(),
            message: format!("bus `{}`: {}", self.bus, errors.join("; ")),
        })
    }
}
