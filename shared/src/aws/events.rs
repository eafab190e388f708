//! The EventBridge publisher: lifecycle events onto the stack's bus with PutEvents. A "successful" PutEvents can
//! still reject entries (`FailedEntryCount`): those are retried, and reported when they keep failing.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::sdk_error::{classify, Failure};
use crate::domain::retry::Backoff;
use crate::ports::{BusEvent, EventPublisher, PublishError};

/// PutEvents takes at most 10 entries per call.
const BATCH: usize = 10;
/// Calls per batch, the first included, while entries fail for reasons that may pass.
const ATTEMPTS: u32 = 3;
/// Waits between calls: 200 ms doubling, with jitter.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

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

    fn entry(&self, event: &BusEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .time(aws_smithy_types::DateTime::from_millis(
                event.time.timestamp_millis(),
            ))
            .build()
    }

    /// Publishes one batch; returns why each entry that could not be published failed.
    async fn batch(&self, events: &[BusEvent]) -> Vec<String> {
        let mut pending: Vec<&BusEvent> = events.iter().collect();
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
            let seed = retry.first().map_or("", |e| e.detail_type.as_str());
            let wait = BACKOFF.delay(attempt, seed);
            pending = retry;
            tokio::time::sleep(wait).await;
        }
        permanent
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use chrono::{TimeZone, Utc};

    use super::*;

    fn events(n: usize) -> Vec<BusEvent> {
        (0..n)
            .map(|i| BusEvent {
                source: "fsched",
                detail_type: format!("Run Started {i}"),
                detail: serde_json::json!({ "run": format!("etl/{i}") }),
                time: Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap(),
            })
            .collect()
    }

    fn ok() -> PutEventsResultEntry {
        PutEventsResultEntry::builder().event_id("id").build()
    }

    fn failed(code: &str) -> PutEventsResultEntry {
        PutEventsResultEntry::builder()
            .error_code(code)
            .error_message("entry refused")
            .build()
    }

    /// A PutEvents rule that records each call's detail types and answers with `answer(call number, entries)`.
    fn rule(
        calls: Arc<Mutex<Vec<Vec<String>>>>,
        answer: fn(usize, usize) -> Vec<PutEventsResultEntry>,
    ) -> Rule {
        mock!(aws_sdk_eventbridge::Client::put_events).then_compute_output(move |req| {
            let mut calls = calls.lock().unwrap();
            let types: Vec<String> = req
                .entries()
                .iter()
                .map(|e| e.detail_type().unwrap_or_default().to_owned())
                .collect();
            let entries = answer(calls.len(), types.len());
            calls.push(types);
            let failures = entries.iter().filter(|e| e.error_code().is_some()).count();
            PutEventsOutput::builder()
                .failed_entry_count(failures as i32)
                .set_entries(Some(entries))
                .build()
        })
    }

    fn publisher(rule: &Rule) -> EventBridgePublisher {
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [rule]);
        EventBridgePublisher::new(client, "fsched")
    }

    #[tokio::test]
    async fn entries_refused_for_throttling_are_sent_again_alone() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rule = rule(calls.clone(), |call, n| match call {
            0 => vec![ok(), failed("ThrottlingException"), ok()],
            _ => (0..n).map(|_| ok()).collect(),
        });
        publisher(&rule).publish(&events(3)).await.unwrap();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1], ["Run Started 1"]);
    }

    #[tokio::test]
    async fn entries_that_cannot_pass_are_reported_not_retried_and_not_ignored() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rule = rule(calls.clone(), |_, _| vec![failed("MalformedDetail"), ok()]);
        let err = publisher(&rule).publish(&events(2)).await.unwrap_err();
        assert_eq!((err.failed, err.total), (1, 2));
        assert!(
            err.message.contains("Run Started 0: MalformedDetail"),
            "{err}"
        );
        assert_eq!(calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn entries_still_throttled_after_the_last_attempt_are_reported() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rule = rule(calls.clone(), |_, n| {
            (0..n).map(|_| failed("ThrottlingException")).collect()
        });
        let err = publisher(&rule).publish(&events(1)).await.unwrap_err();
        assert_eq!((err.failed, err.total), (1, 1));
        assert_eq!(calls.lock().unwrap().len(), ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn events_go_in_batches_of_ten() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rule = rule(calls.clone(), |_, n| (0..n).map(|_| ok()).collect());
        publisher(&rule).publish(&events(23)).await.unwrap();
        let sizes: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
    }
}
