//! The command protocol: what people, scripts and fsched itself ask of fsched through the stack's bus (source
//! `fsched.commands`). One type, whose variant is the event's `detail-type` and whose fields are its `detail`; one
//! encoder (`Command::to_event`) and one decoder (`Command::from_event`), kept in agreement by a round-trip property
//! test. The CLI, the recorder and the trigger use nothing else.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{de, Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::path::check_value;
use crate::domain::duration::Span;
use crate::domain::event::BusEvent;
pub use crate::domain::event::COMMAND_SOURCE;
use crate::domain::name::{JobName, ServiceName};

pub const RUN_JOB: &str = "Run Job";
pub const PAUSE_JOB: &str = "Pause Job";
pub const RESUME_JOB: &str = "Resume Job";
pub const WAKE_SERVICE: &str = "Wake Service";
pub const SLEEP_SERVICE: &str = "Sleep Service";
/// Every command's detail-type.
pub const KINDS: [&str; 5] = [RUN_JOB, PAUSE_JOB, RESUME_JOB, WAKE_SERVICE, SLEEP_SERVICE];
/// The longest `requested_by` and `request_id` kept.
pub const LABEL_MAX: usize = 128;
/// Who asked, when a command does not say.
pub const UNKNOWN_REQUESTER: &str = "unknown";

/// A command to fsched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detail-type", content = "detail")]
pub enum Command {
    /// Run the job now, with `values` for variables it declares.
    #[serde(rename = "Run Job")]
    RunJob {
        job: JobName,
        #[serde(rename = "env", default, deserialize_with = "env")]
        values: BTreeMap<String, String>,
        /// Makes the run's id: the same request delivered twice is one run. Empty in a command that gives none:
        /// the event's own id is used then.
        #[serde(default, deserialize_with = "request_id")]
        request_id: String,
        #[serde(default = "unknown", deserialize_with = "requested_by")]
        requested_by: String,
    },
    #[serde(rename = "Pause Job")]
    PauseJob {
        job: JobName,
        #[serde(default = "unknown", deserialize_with = "requested_by")]
        requested_by: String,
    },
    #[serde(rename = "Resume Job")]
    ResumeJob {
        job: JobName,
        #[serde(default, deserialize_with = "replay")]
        replay: bool,
        #[serde(default = "unknown", deserialize_with = "requested_by")]
        requested_by: String,
    },
    /// Wake the service now; with `hold`, keep it awake that long at least.
    #[serde(rename = "Wake Service")]
    WakeService {
        service: ServiceName,
        #[serde(
            rename = "for",
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "hold"
        )]
        hold: Option<Span>,
        #[serde(default = "unknown", deserialize_with = "requested_by")]
        requested_by: String,
        /// Sent by the waker for a request to the service's load balancer (`wake_on_request`): recorded as the
        /// wake's trigger. A label its sender chooses, like `requested_by`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        request: bool,
    },
    #[serde(rename = "Sleep Service")]
    SleepService {
        service: ServiceName,
        #[serde(default = "unknown", deserialize_with = "requested_by")]
        requested_by: String,
    },
}

/// Why a command cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error(
        "unknown command `{0}`: expected `{RUN_JOB}`, `{PAUSE_JOB}`, `{RESUME_JOB}`, `{WAKE_SERVICE}` or \
         `{SLEEP_SERVICE}`"
    )]
    Unknown(String),
    #[error("\"{kind}\": {problem}")]
    Detail { kind: String, problem: String },
    #[error("command cannot be encoded: {0}")]
    Encode(String),
}

fn unknown() -> String {
    UNKNOWN_REQUESTER.to_owned()
}

impl Command {
    /// The event's `detail-type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RunJob { .. } => RUN_JOB,
            Command::PauseJob { .. } => PAUSE_JOB,
            Command::ResumeJob { .. } => RESUME_JOB,
            Command::WakeService { .. } => WAKE_SERVICE,
            Command::SleepService { .. } => SLEEP_SERVICE,
        }
    }

    /// Who asked.
    pub fn requested_by(&self) -> &str {
        match self {
            Command::RunJob { requested_by, .. }
            | Command::PauseJob { requested_by, .. }
            | Command::ResumeJob { requested_by, .. }
            | Command::WakeService { requested_by, .. }
            | Command::SleepService { requested_by, .. } => requested_by,
        }
    }

    /// The event that carries this command to the stack's bus.
    pub fn to_event(&self, time: DateTime<Utc>) -> Result<BusEvent, CommandError> {
        let encoded =
            serde_json::to_value(self).map_err(|e| CommandError::Encode(e.to_string()))?;
        let detail = match encoded {
            Value::Object(mut map) => map.remove("detail").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Ok(BusEvent {
            source: COMMAND_SOURCE,
            detail_type: self.kind().to_owned(),
            detail,
            time,
        })
    }

    /// Reads a command from its event's `detail-type` and `detail`. A "Run Job" without a `request_id` takes
    /// `event_id`, so a redelivery of the same event is the same request.
    pub fn from_event(kind: &str, detail: &Value, event_id: &str) -> Result<Command, CommandError> {
        if !KINDS.contains(&kind) {
            return Err(CommandError::Unknown(kind.to_owned()));
        }
        let tagged = serde_json::json!({"detail-type": kind, "detail": detail});
        let mut command = Command::deserialize(tagged).map_err(|e| CommandError::Detail {
            kind: kind.to_owned(),
            problem: explain(&e.to_string()),
        })?;
        if let Command::RunJob { request_id, .. } = &mut command {
            if request_id.is_empty() {
                event_id.clone_into(request_id);
            }
        }
        Ok(command)
    }
}

/// serde's words for a missing field, in the words the rest of fsched's messages use.
fn explain(message: &str) -> String {
    match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        Some(field) => format!("`{field}` is missing"),
        None => message.to_owned(),
    }
}

fn env<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k, v)),
                other => Err(de::Error::custom(format!(
                    "env `{k}` must be a string, found {other}"
                ))),
            })
            .collect(),
        other => Err(de::Error::custom(format!(
            "`env` must be an object of strings, found {other}"
        ))),
    }
}

fn label<E: de::Error>(key: &str, value: Value) -> Result<String, E> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => {
            check_value(&format!("`{key}`"), &s).map_err(E::custom)?;
            if s.len() > LABEL_MAX {
                return Err(E::custom(format!(
                    "`{key}` is longer than {LABEL_MAX} bytes"
                )));
            }
            Ok(s)
        }
        other => Err(E::custom(format!(
            "`{key}` must be a string, found {other}"
        ))),
    }
}

fn request_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    label("request_id", Value::deserialize(d)?)
}

fn requested_by<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let who = label("requested_by", Value::deserialize(d)?)?;
    Ok(if who.is_empty() { unknown() } else { who })
}

fn replay<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(b),
        other => Err(de::Error::custom(format!(
            "`replay` must be true or false, found {other}"
        ))),
    }
}

fn hold<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Span>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => s
            .parse::<Span>()
            .map(Some)
            .map_err(|e| de::Error::custom(format!("`for`: {e}"))),
        other => Err(de::Error::custom(format!(
            "`for` must be a duration such as \"2h\", found {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ()._:-]{1,40}"
    }

    fn job() -> impl Strategy<Value = JobName> {
        "[a-z0-9][a-z0-9_-]{0,20}".prop_map(|n| JobName::new(n).unwrap())
    }

    fn service() -> impl Strategy<Value = ServiceName> {
        "[a-z0-9][a-z0-9_-]{0,20}".prop_map(|n| ServiceName::new(n).unwrap())
    }

    fn command() -> impl Strategy<Value = Command> {
        prop_oneof![
            (
                job(),
                prop::collection::btree_map("[A-Z_]{1,12}", ".{0,30}", 0..4),
                "[a-z0-9-]{1,20}",
                label()
            )
                .prop_map(|(job, values, request_id, requested_by)| Command::RunJob {
                    job,
                    values: values
                        .into_iter()
                        .filter(|(_, v)| !v.chars().any(char::is_control))
                        .collect(),
                    request_id,
                    requested_by,
                }),
            (job(), label())
                .prop_map(|(job, requested_by)| Command::PauseJob { job, requested_by }),
            (job(), any::<bool>(), label()).prop_map(|(job, replay, requested_by)| {
                Command::ResumeJob {
                    job,
                    replay,
                    requested_by,
                }
            }),
            (
                service(),
                prop::option::of(0u64..10_000_000),
                label(),
                any::<bool>()
            )
                .prop_map(|(service, hold, requested_by, request)| {
                    Command::WakeService {
                        service,
                        hold: hold.map(Span::from_secs),
                        requested_by,
                        request,
                    }
                }),
            (service(), label()).prop_map(|(service, requested_by)| Command::SleepService {
                service,
                requested_by
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_command_reads_back_as_it_was_sent(command in command()) {
            let event = command.to_event(DateTime::UNIX_EPOCH).unwrap();
            prop_assert_eq!(event.source, COMMAND_SOURCE);
            let read = Command::from_event(&event.detail_type, &event.detail, "other-id").unwrap();
            prop_assert_eq!(read, command);
        }
    }

    #[test]
    fn the_wire_shape_is_the_documented_one() {
        let run = Command::RunJob {
            job: JobName::new("report").unwrap(),
            values: BTreeMap::from([("ID".to_owned(), "7".to_owned())]),
            request_id: "r-1".to_owned(),
            requested_by: "ana".to_owned(),
        };
        let event = run.to_event(DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(event.detail_type, "Run Job");
        assert_eq!(
            event.detail,
            serde_json::json!({"job": "report", "env": {"ID": "7"}, "request_id": "r-1", "requested_by": "ana"})
        );
        let wake = Command::WakeService {
            service: ServiceName::new("api").unwrap(),
            hold: Some(Span::from_secs(7200)),
            requested_by: "ana".to_owned(),
            request: false,
        };
        let event = wake.to_event(DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            event.detail,
            serde_json::json!({"service": "api", "for": "2h", "requested_by": "ana"})
        );
    }

    #[test]
    fn defaults_fill_what_a_sender_may_leave_out() {
        let read = Command::from_event(RUN_JOB, &serde_json::json!({"job": "a"}), "ev-9").unwrap();
        assert_eq!(
            read,
            Command::RunJob {
                job: JobName::new("a").unwrap(),
                values: BTreeMap::new(),
                request_id: "ev-9".to_owned(),
                requested_by: UNKNOWN_REQUESTER.to_owned(),
            }
        );
        let err = Command::from_event(WAKE_SERVICE, &serde_json::json!({"service": "-x"}), "e")
            .unwrap_err()
            .to_string();
        assert!(err.contains("service name `-x`"), "{err}");
    }
}
