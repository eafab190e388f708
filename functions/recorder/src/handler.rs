//! The recorder's handler: an "ECS Task State Change" event in (delivered by the rule in template.yaml, which only
//! matches tasks fsched started), the task's run updated, what happened out.
//!
//! "Now" is the event's `time`. Errors say whether a retry can help: a malformed event never gets better, a stopped
//! task whose run is not found yet (RunTask's answer not recorded yet) or a busy table does.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use fsched_core::domain::run::RunStatus;
use fsched_core::domain::task::TaskSnapshot;
use fsched_core::emf::Emf;
use fsched_core::ports::{EventPublisher, Store, TaskLauncher};
use fsched_core::service::record::{RecordError, Recorded, Recorder};
use lambda_runtime::Diagnostic;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Not a task state change event: retrying the same input cannot help.
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        let error_type = match &e {
            HandlerError::Malformed(_) => "fsched.MalformedEvent",
            HandlerError::Record(RecordError::RunNotFound { .. }) => "fsched.RunNotFoundYet",
            HandlerError::Record(RecordError::Store(_)) => "fsched.StoreUnavailable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Reads an "ECS Task State Change" event: the task report and the event's time.
pub fn task_report(
    payload: Value,
) -> Result<(TaskSnapshot, chrono::DateTime<chrono::Utc>), HandlerError> {
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload)
        .map_err(|e| HandlerError::Malformed(format!("not an EventBridge event ({e})")))?;
    if event.source != "aws.ecs" || event.detail_type != "ECS Task State Change" {
        return Err(HandlerError::Malformed(format!(
            "expected source `aws.ecs`, detail-type `ECS Task State Change`, got source `{}`, detail-type `{}`",
            event.source, event.detail_type
        )));
    }
    let time = event
        .time
        .ok_or_else(|| HandlerError::Malformed("the event has no `time`".to_owned()))?;
    let task = TaskSnapshot::from_event_detail(&event.detail)
        .map_err(|e| HandlerError::Malformed(e.to_string()))?;
    Ok((task, time))
}

pub async fn handle<S: Store, L: TaskLauncher, P: EventPublisher>(
    recorder: &Recorder<S, L, P>,
    payload: Value,
) -> Result<Recorded, HandlerError> {
    let (task, now) = task_report(payload)?;
    let arn = task.task_arn.clone();
    let status = task.last_status.clone();
    let version = task.version;
    match recorder.record(task, now).await {
        Ok(recorded) => {
            tracing::info!(task = %arn, %status, version, ?recorded, "recorded");
            Ok(recorded)
        }
        Err(e) => {
            tracing::error!(task = %arn, %status, version, error = %e, retryable = e.is_retryable(), "not recorded");
            Err(e.into())
        }
    }
}

/// What a report did, as metrics (fsched_core::emf): a run's end counts once, under its status.
pub fn metrics(table: &str, recorded: &Result<Recorded, HandlerError>, at: DateTime<Utc>) -> Emf {
    let emf = Emf::new(table, at);
    match recorded {
        Ok(Recorded::Updated {
            status,
            closed: true,
            ..
        }) => emf.count(ended_metric(*status), 1),
        Ok(_) => emf,
        Err(_) => emf.count("RecordErrors", 1),
    }
}

fn ended_metric(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "RunsSucceeded",
        RunStatus::Failed => "RunsFailed",
        RunStatus::TimedOut => "RunsTimedOut",
        RunStatus::Interrupted => "RunsInterrupted",
        RunStatus::Stopped => "RunsStopped",
        _ => "RunsLost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../tests/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn task_state_changes_are_read_with_the_events_time() {
        let (task, at) = task_report(fixture("ecs/stopped-exit-code.json")).unwrap();
        assert_eq!(at.to_rfc3339(), "2020-01-23T18:04:12+00:00");
        assert_eq!((task.last_status.as_str(), task.version), ("STOPPED", 5));
        assert_eq!(task.containers[0].exit_code, Some(1));
    }

    #[test]
    fn a_runs_end_counts_once_under_its_status() {
        let at = chrono::Utc::now();
        let ended = Ok(Recorded::Updated {
            run: "etl@x".into(),
            status: RunStatus::Failed,
            closed: true,
        });
        let line = metrics("t", &ended, at).line().unwrap();
        assert!(line.contains("\"RunsFailed\":1.0"), "{line}");
        let going = Ok(Recorded::Updated {
            run: "etl@x".into(),
            status: RunStatus::Running,
            closed: false,
        });
        assert_eq!(metrics("t", &going, at).line(), None);
    }

    #[test]
    fn other_and_malformed_events_say_what_was_expected() {
        let err = task_report(fixture("scheduled-event.json")).unwrap_err();
        assert!(err.to_string().contains("got source `aws.events`"), "{err}");
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "fsched.MalformedEvent");

        let mut no_arn = fixture("ecs/running.json");
        no_arn["detail"].as_object_mut().unwrap().remove("taskArn");
        let mut bad_version = fixture("ecs/running.json");
        bad_version["detail"]["version"] = serde_json::json!("four");
        let mut no_time = fixture("ecs/running.json");
        no_time.as_object_mut().unwrap().remove("time");
        for bad in [
            no_arn,
            bad_version,
            no_time,
            serde_json::json!([]),
            serde_json::json!({"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": "x"}),
        ] {
            let err = task_report(bad.clone()).unwrap_err();
            assert!(matches!(err, HandlerError::Malformed(_)), "{bad}: {err}");
        }
    }
}

#[cfg(test)]
mod template {
    use fsched_core::domain::dispatch::STARTED_BY_PREFIX;

    /// The rule in template.yaml picks fsched's tasks by the prefix the dispatcher gives every task's startedBy.
    #[test]
    fn the_rule_matches_the_started_by_the_dispatcher_sets() {
        let template = include_str!("../../../template.yaml");
        let rule = format!("startedBy: [{{ prefix: {STARTED_BY_PREFIX} }}]");
        assert!(template.contains(&rule), "template.yaml lacks `{rule}`");
        assert!(template.contains("Binary: fsched-recorder"));
    }
}
