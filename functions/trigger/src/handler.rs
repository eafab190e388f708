//! The trigger's handler: a batch of SQS messages from the trigger queue in (each an on_event delivery or a
//! command), each handled on its own, the ones that may succeed later reported back for SQS to deliver again.
//!
//! "Now" for a message is its event's time when the clock check believes it, else the moment SQS received the
//! message (`SentTimestamp`, written by AWS, the same on every redelivery): see `domain::clock`.
//!
//! Messages that fail again and again (malformed, an unknown job) reach the queue's dead-letter queue after
//! `maxReceiveCount` deliveries: nothing is dropped silently. Runs rejected for their values are not failures: they
//! are recorded REJECTED with the reason.

use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use fsched_core::domain::clock::Receipt;
use fsched_core::domain::duration::Span;
use fsched_core::domain::trigger::inbound;
use fsched_core::lambda::remaining;
use fsched_core::service::trigger::{Deliveries, Handled};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

/// Used when an invocation carries no deadline: the function's timeout in template.yaml.
const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[error("malformed invocation: {0}")]
pub struct Malformed(String);

impl From<Malformed> for Diagnostic {
    fn from(e: Malformed) -> Diagnostic {
        Diagnostic {
            error_type: "fsched.MalformedEvent".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What one message came to.
#[derive(Debug)]
pub enum Outcome {
    Done(Handled),
    /// Not handled; `retry` says whether a later delivery can succeed.
    Failed {
        error: String,
        retry: bool,
    },
}

/// When SQS received a message: its `SentTimestamp` attribute (milliseconds since the Unix epoch).
pub fn sent_at(record: &SqsMessage) -> Result<DateTime<Utc>, String> {
    let text = record
        .attributes
        .get("SentTimestamp")
        .ok_or("the message has no SentTimestamp attribute")?;
    text.parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| format!("the message's SentTimestamp `{text}` is not a time"))
}

/// Handles one message body, received at `receipt`.
pub async fn message<T: Deliveries>(
    triggers: &T,
    body: &str,
    receipt: Receipt,
    until: Instant,
) -> Outcome {
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Failed {
                error: format!("the message is not JSON: {e}"),
                retry: false,
            }
        }
    };
    let inbound = match inbound(&value, receipt) {
        Ok(i) => i,
        Err(error) => {
            return Outcome::Failed {
                error: error.to_string(),
                retry: false,
            }
        }
    };
    // Boxed: the launch path's future is deep enough to overflow the compiler's type depth limit in main's.
    match Box::pin(triggers.deliver(inbound, until)).await {
        Ok(handled) => Outcome::Done(handled),
        Err(e) => Outcome::Failed {
            retry: e.is_retryable(),
            error: e.to_string(),
        },
    }
}

/// Handles a batch, allowing senders' clocks `skew` ahead of SQS's; the failures are reported by message id.
pub async fn batch<T: Deliveries>(
    triggers: &T,
    event: SqsEvent,
    skew: Span,
    until: Instant,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let outcome = match (record.body.as_deref(), sent_at(&record)) {
            (Some(body), Ok(at)) => message(triggers, body, Receipt::new(at, skew), until).await,
            (None, _) => Outcome::Failed {
                error: "the message has no body".to_owned(),
                retry: false,
            },
            (_, Err(error)) => Outcome::Failed {
                error,
                retry: false,
            },
        };
        match outcome {
            Outcome::Done(handled) => tracing::info!(sqs_message_id = %id, ?handled, "handled"),
            Outcome::Failed { error, retry } => {
                tracing::error!(sqs_message_id = %id, %error, retry, "not handled");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

pub async fn handle<T: Deliveries>(
    triggers: &T,
    skew: Span,
    event: LambdaEvent<Value>,
) -> Result<SqsBatchResponse, Malformed> {
    let remaining = remaining(event.context.deadline, SystemTime::now(), DEFAULT_BUDGET);
    let sqs: SqsEvent = serde_json::from_value(event.payload)
        .map_err(|e| Malformed(format!("expected an SQS event from the trigger queue: {e}")))?;
    let until = Instant::now() + remaining.saturating_sub(Duration::from_secs(5));
    Ok(batch(triggers, sqs, skew, until).await)
}

/// What a batch did, as metrics (fsched_core::emf): deliveries handed back to SQS for a retry (a whole malformed
/// batch counts once).
pub fn metrics(
    table: &str,
    result: &Result<SqsBatchResponse, Malformed>,
    at: DateTime<Utc>,
) -> fsched_core::emf::Emf {
    let failed = match result {
        Ok(response) => response.batch_item_failures.len(),
        Err(_) => 1,
    };
    fsched_core::emf::Emf::new(table, at).count("TriggerFailures", failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attributes: &[(&str, &str)]) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.attributes = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        m
    }

    #[test]
    fn a_message_is_received_at_its_sent_timestamp_and_one_without_is_refused() {
        let at = sent_at(&record(&[("SentTimestamp", "1796004000250")])).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-30T02:00:00.250+00:00");
        assert!(sent_at(&record(&[]))
            .unwrap_err()
            .contains("no SentTimestamp"));
        assert!(sent_at(&record(&[("SentTimestamp", "soon")]))
            .unwrap_err()
            .contains("`soon` is not a time"));
    }
}
