//! Runs asked for by events and people: which values from an event reach the task, and nothing else.
//!
//! A job declares where event values go: a container's environment value or command argument that is exactly a path
//! (`REPORT_ID: $.detail.id`) or contains `{{ $.path }}` placeholders (`--key={{ $.detail.object.key }}`). A run
//! asked for by an event, a "Run Job" command or `fsched run` fills those in; explicit values (`--env K=V`) may
//! replace the values of variables the job declares. Nothing else can change: not the image, task definition,
//! roles, cluster or network, and no variable the job did not declare. Values are text, at most `VALUE_MAX` bytes,
//! without control characters; a missing or ill-typed value rejects the run, and nothing is launched.
//!
//! - `path`: paths into an event and the values they read;
//! - `template`: job values that take parts of an event, and a triggered run's resolution;
//! - `command`: the command protocol ("Run Job", "Wake Service", ...);
//! - `rules`: the EventBridge rules fsched keeps for `on_event` and `wake_on`;
//! - here: what reaches the trigger function (`inbound`).

mod command;
mod path;
mod rules;
mod template;

pub use command::{
    Command, CommandError, COMMAND_SOURCE, KINDS, LABEL_MAX, PAUSE_JOB, RESUME_JOB, RUN_JOB,
    SLEEP_SERVICE, UNKNOWN_REQUESTER, WAKE_SERVICE,
};
pub use path::{check_value, Path, Step, ValueError, PATH_DEPTH_MAX, VALUE_MAX};
pub use rules::{
    desired_alert_rules, desired_rules, desired_service_rules, rule_changes, rule_name,
    rule_prefix, stack_tag, EventRule, FoundRule, RuleChange, RuleTarget, DEFAULT_BUS, TARGET_ID,
};
pub use template::{
    check_templates, is_dynamic, overrides_size, resolve, schedule_event, settable, unfilled,
    Rejection, Template, OVERRIDES_MAX,
};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::clock::Receipt;
use super::event::EVENT_SOURCE;
use super::hash::fnv128;
use super::name::{JobName, ServiceName};
use super::run::RunId;

/// Why a delivery to the trigger cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("{0}")]
    Shape(String),
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// What reached the trigger: an event for a job's `on_event`, or a command. `event` is the whole EventBridge event
/// (templates read from it); `id` is its own, `time` its own when the receipt believes it (`domain::clock`).
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Event {
        job: JobName,
        source: String,
        id: String,
        time: DateTime<Utc>,
        /// When it was received (the receipt's time): when a run it asks for is claimed, which may be long after
        /// `time`, into a day already rolled up (domain::rollup).
        received: DateTime<Utc>,
        event: Value,
    },
    Command {
        command: Command,
        id: String,
        time: DateTime<Utc>,
        received: DateTime<Utc>,
        event: Value,
    },
    /// A service's `wake_on` rule delivered this event.
    WakeOn {
        service: ServiceName,
        source: String,
        id: String,
        time: DateTime<Utc>,
    },
}

fn text_field<'v>(v: &'v Value, key: &str, what: &str) -> Result<&'v str, InboundError> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(InboundError::Shape(format!(
            "{what}: `{key}` must be a non-empty string, found {other}"
        ))),
        None => Err(InboundError::Shape(format!("{what}: `{key}` is missing"))),
    }
}

/// An event's `time`: RFC 3339 as EventBridge writes it (epoch seconds are accepted too).
fn event_time(event: &Value) -> Result<DateTime<Utc>, InboundError> {
    let bad = |why: String| InboundError::Shape(why);
    match event.get("time") {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                bad(format!(
                    "the event's `time` `{s}` is not an RFC 3339 time: {e}"
                ))
            }),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
            .ok_or_else(|| bad(format!("the event's `time` {n} is not a time"))),
        _ => Err(bad("the event has no `time`".to_owned())),
    }
}

/// Who sent an event, its id and its time.
struct Origin {
    source: String,
    id: String,
    time: DateTime<Utc>,
}

/// The event a rule delivered with its target's name (`fsched_job`, `fsched_service`): the name, where the event
/// came from, and the event. `rule` names the kind of rule in messages (`an on_event`, `a wake_on`).
fn delivery<'v, N>(
    body: &'v Value,
    receipt: Receipt,
    key: &str,
    rule: &str,
    name: impl FnOnce(&str) -> Result<N, String>,
) -> Result<(N, Origin, &'v Value), InboundError> {
    let named = match body.get(key) {
        Some(Value::String(s)) => {
            name(s).map_err(|e| InboundError::Shape(format!("{key}: {e}")))?
        }
        other => {
            return Err(InboundError::Shape(format!(
                "`{key}` must be a {} name, found {}",
                key.trim_start_matches("fsched_"),
                other.unwrap_or(&Value::Null)
            )))
        }
    };
    let event = body.get("event").filter(|e| e.is_object()).ok_or_else(|| {
        InboundError::Shape(format!("{rule} delivery must carry the event as `event`"))
    })?;
    let source = text_field(event, "source", "the event")?.to_owned();
    let mut id = text_field(event, "id", "the event")?.to_owned();
    let sent = event_time(event)?;
    let mut time = receipt.event(sent);
    // fsched's own announcements are sent at least once (a run's outbox may send its end again, as a new event with
    // a new id, days later after an outage of the bus): what identifies one is the run it is about and its kind,
    // and its time is its own for longer, so a chained job runs once per run.
    if source == EVENT_SOURCE {
        if let (Some(Value::String(kind)), Some(Value::String(run))) =
            (event.get("detail-type"), event.pointer("/detail/run"))
        {
            id = format!("{:032x}", fnv128(&[kind, run]));
            time = receipt.announcement(sent);
        }
    }
    let origin = Origin { source, id, time };
    Ok((named, origin, event))
}

/// Reads what an on_event rule, a wake_on rule or the command rule delivered, received at `receipt`. The rules'
/// input is `{"fsched_job": JOB, "event": EVENT}` (or `fsched_service`); commands arrive as the event itself.
pub fn inbound(body: &Value, receipt: Receipt) -> Result<Inbound, InboundError> {
    if body.get("fsched_service").is_some() {
        let (service, Origin { source, id, time }, _) =
            delivery(body, receipt, "fsched_service", "a wake_on", |s| {
                ServiceName::new(s).map_err(|e| e.to_string())
            })?;
        return Ok(Inbound::WakeOn {
            service,
            source,
            id,
            time,
        });
    }
    if body.get("fsched_job").is_some() {
        let (job, Origin { source, id, time }, event) =
            delivery(body, receipt, "fsched_job", "an on_event", |s| {
                JobName::new(s).map_err(|e| e.to_string())
            })?;
        return Ok(Inbound::Event {
            job,
            source,
            id,
            time,
            received: receipt.at,
            event: event.clone(),
        });
    }
    let source = text_field(body, "source", "the event")?;
    if source != COMMAND_SOURCE {
        return Err(InboundError::Shape(format!(
            "expected a command (source `{COMMAND_SOURCE}`) or an on_event delivery (`fsched_job`, `event`), got \
             source `{source}`"
        )));
    }
    let kind = text_field(body, "detail-type", "the command")?;
    let id = text_field(body, "id", "the command")?.to_owned();
    let time = receipt.event(event_time(body)?);
    let detail = body
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| InboundError::Shape("the command has no `detail` object".to_owned()))?;
    let command = Command::from_event(kind, detail, &id)?;
    Ok(Inbound::Command {
        command,
        id,
        time,
        received: receipt.at,
        event: body.clone(),
    })
}

/// The id of a run asked for by an event (`e`) or a "Run Job" request (`m`): its time and the id of what asked.
pub fn triggered_run_id(job: &JobName, time: DateTime<Utc>, manual: bool, unique: &str) -> RunId {
    RunId::triggered(job, time, if manual { 'm' } else { 'e' }, unique)
}

#[cfg(test)]
mod tests;
