//! The dispatcher's handler: a scheduled event in, one tick at the event's time, a report out.
//! "Now" is the event's `time`, not the clock, so a retried or late delivery replays the same tick; a tick ahead of
//! the clock by more than the allowed skew is refused (`domain::clock`).
//!
//! The tick comes from EventBridge Scheduler, which fires at the minute: its `Input` in template.yaml builds the
//! shape of an EventBridge scheduled event (source `aws.scheduler`) with `time` set to the scheduled time. The
//! scheduled event of an EventBridge rule (source `aws.events`) is read the same way, so a stack still ticked by a
//! rule keeps working.

use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use fsched_core::domain::clock::{ClockSkew, Receipt};
use fsched_core::emf::{Emf, Unit};
use fsched_core::lambda::{remaining, FunctionEnv};
use fsched_core::ports::{EventPublisher, Metrics, ServiceScaler, Store, TaskLauncher};
use fsched_core::service::dispatch::{tick_deadline, Dispatcher, TickError, TickReport};
use fsched_core::service::scale::{ScaleReport, Sleeper};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

/// Used when an invocation carries no deadline: the function's timeout in template.yaml.
const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Not a scheduled event: retrying the same input cannot help.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The tick is from the future: refused before anything is read. Lambda's retries of it are refused too until
    /// the clock catches up; then the undelivered-ticks queue and its alarm tell an operator.
    #[error(transparent)]
    ClockSkew(#[from] ClockSkew),
    /// The table could not be read: a retry of the same tick will do the work.
    #[error(transparent)]
    Store(#[from] TickError),
    /// The tick ran but left work for a later tick (or a retry of this one); `report` is what it did.
    #[error("the tick at {now} left work undone: {errors}")]
    Incomplete {
        now: DateTime<Utc>,
        errors: String,
        report: Box<TickReport>,
    },
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        let error_type = match &e {
            HandlerError::Malformed(_) => "fsched.MalformedEvent",
            HandlerError::ClockSkew(_) => "fsched.ClockSkew",
            HandlerError::Store(_) => "fsched.StoreUnavailable",
            HandlerError::Incomplete { .. } => "fsched.TickIncomplete",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Who may send a tick: EventBridge Scheduler (through the template's `Input`) and an EventBridge rule.
const TICK_SOURCES: [&str; 2] = ["aws.scheduler", "aws.events"];

/// The tick's time: the `time` of a scheduled event, if `receipt` believes it.
pub fn tick_time(payload: Value, receipt: Receipt) -> Result<DateTime<Utc>, HandlerError> {
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload)
        .map_err(|e| HandlerError::Malformed(format!("not an EventBridge event ({e})")))?;
    if !TICK_SOURCES.contains(&event.source.as_str()) || event.detail_type != "Scheduled Event" {
        return Err(HandlerError::Malformed(format!(
            "expected a scheduled event (source `aws.scheduler` or `aws.events`, detail-type `Scheduled Event`), \
             got source `{}`, detail-type `{}`",
            event.source, event.detail_type
        )));
    }
    let claimed = event
        .time
        .ok_or_else(|| HandlerError::Malformed("the scheduled event has no `time`".to_owned()))?;
    receipt.tick(claimed).map_err(|e| {
        tracing::error!(%claimed, clock = %receipt.at, "clock skew: {e}");
        HandlerError::ClockSkew(e)
    })
}

/// Runs one tick for `payload`, with work stopping before `deadline`.
pub async fn tick<S: Store, L: TaskLauncher, P: EventPublisher>(
    dispatcher: &Dispatcher<S, L, P>,
    payload: Value,
    receipt: Receipt,
    deadline: Instant,
) -> Result<TickReport, HandlerError> {
    let now = tick_time(payload, receipt)?;
    let report = dispatcher.tick(now, deadline).await?;
    log(now, &report);
    if !report.errors.is_empty() {
        return Err(HandlerError::Incomplete {
            now,
            errors: report.errors.join("; "),
            report: Box::new(report),
        });
    }
    Ok(report)
}

fn log(now: DateTime<Utc>, report: &TickReport) {
    tracing::info!(
        %now,
        due = report.due,
        launched = report.launched.len(),
        skipped = report.skipped.len(),
        missed = report.missed_total,
        launch_failed = report.launch_failed.len(),
        deferred = report.deferred.len(),
        closed = report.closed.len(),
        not_started = report.not_started,
        "tick"
    );
    for error in &report.errors {
        tracing::error!(%now, error, "tick incomplete");
    }
}

/// One tick for jobs and runs, then the services whose time has come, all within the invocation's time.
pub async fn tick_all<
    S: Store,
    L: TaskLauncher,
    P: EventPublisher,
    C: ServiceScaler,
    M: Metrics,
>(
    dispatcher: &Dispatcher<S, L, P>,
    sleeper: &Sleeper<S, C, M, P>,
    payload: Value,
    receipt: Receipt,
    deadline: Instant,
) -> Result<(TickReport, ScaleReport), HandlerError> {
    let now = tick_time(payload, receipt)?;
    let mut report = dispatcher.tick(now, deadline).await?;
    log(now, &report);
    let mut scaled = ScaleReport::default();
    for state in std::mem::take(&mut report.services) {
        scaled.merge(sleeper.check(state, now).await);
    }
    if !scaled.slept.is_empty() || !scaled.woke.is_empty() || !scaled.drift.is_empty() {
        tracing::info!(%now, slept = ?scaled.slept, woke = ?scaled.woke, drift = ?scaled.drift, "services");
    }
    let errors: Vec<String> = report
        .errors
        .iter()
        .chain(&scaled.errors)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(HandlerError::Incomplete {
            now,
            errors: errors.join("; "),
            report: Box::new(report),
        });
    }
    Ok((report, scaled))
}

/// What a tick did, as metrics (fsched_core::emf): printed with the invocation's log, no call made.
pub fn metrics(table: &str, report: &TickReport, scaled: &ScaleReport, took: Duration) -> Emf {
    let now = report.now.unwrap_or_else(Utc::now);
    Emf::new(table, now)
        .count("Due", report.due)
        .count("RunsLaunched", report.launched.len())
        .count("RunsSkipped", report.skipped.len())
        .count("RunsMissed", report.missed_total as usize)
        .count("LaunchFailures", report.launch_failed.len())
        .count("RunsDeferred", report.deferred.len())
        .count("JobsOverdue", report.overdue)
        .count("TickErrors", report.errors.len() + scaled.errors.len())
        .count("ServicesSlept", scaled.slept.len())
        .count("ServicesWoken", scaled.woke.len())
        .samples("LaunchDelay", Unit::Seconds, report.launch_delays.clone())
        .samples(
            "TickDuration",
            Unit::Milliseconds,
            vec![took.as_secs_f64() * 1000.0],
        )
}

pub async fn handle<S: Store, L: TaskLauncher, P: EventPublisher, C: ServiceScaler, M: Metrics>(
    dispatcher: &Dispatcher<S, L, P>,
    sleeper: &Sleeper<S, C, M, P>,
    env: &FunctionEnv,
    event: LambdaEvent<Value>,
) -> Result<serde_json::Value, HandlerError> {
    let remaining = remaining(event.context.deadline, SystemTime::now(), DEFAULT_BUDGET);
    let started = Instant::now();
    let result = tick_all(
        dispatcher,
        sleeper,
        event.payload,
        Receipt::new(Utc::now(), env.skew),
        tick_deadline(started, started + remaining),
    )
    .await;
    let took = started.elapsed();
    match &result {
        Ok((report, scaled)) => metrics(&env.table, report, scaled, took).emit(),
        Err(HandlerError::Incomplete { report, .. }) => {
            metrics(&env.table, report, &ScaleReport::default(), took).emit()
        }
        Err(_) => {}
    }
    let (report, services) = result?;
    let mut out = serde_json::to_value(&report).unwrap_or_default();
    if let Some(map) = out.as_object_mut() {
        map.insert(
            "services".to_owned(),
            serde_json::to_value(&services).unwrap_or_default(),
        );
    }
    Ok(out)
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
    fn the_tick_is_the_scheduled_time_from_scheduler_or_a_rule() {
        for sent in ["scheduler-tick.json", "scheduled-event.json"] {
            let at = tick_time(fixture(sent), clock("2026-11-29T02:00:30Z")).unwrap();
            assert_eq!(at.to_rfc3339(), "2026-11-29T02:00:00+00:00", "{sent}");
        }
    }

    fn clock(at: &str) -> Receipt {
        let at = DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&Utc);
        Receipt::new(at, fsched_core::domain::clock::DEFAULT_SKEW)
    }

    #[test]
    fn a_tick_from_the_future_is_refused_as_clock_skew() {
        let mut event = fixture("scheduler-tick.json");
        event["time"] = Value::from("9999-12-31T23:59:00Z");
        let err = tick_time(event, clock("2026-11-29T02:00:00Z")).unwrap_err();
        assert!(matches!(err, HandlerError::ClockSkew(_)), "{err}");
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "fsched.ClockSkew");
        assert!(
            d.error_message.contains("ahead of this function's clock"),
            "{}",
            d.error_message
        );
    }

    #[test]
    fn other_events_are_malformed_with_what_was_expected() {
        let err =
            tick_time(fixture("ecs/running.json"), clock("2026-11-29T02:00:00Z")).unwrap_err();
        assert!(matches!(err, HandlerError::Malformed(_)));
        assert!(err.to_string().contains("got source `aws.ecs`"), "{err}");
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "fsched.MalformedEvent");

        for bad in [
            serde_json::json!("tick"),
            serde_json::json!({}),
            serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
            serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "time": "yesterday", "detail": {}}),
        ] {
            let err = tick_time(bad.clone(), clock("2026-11-29T02:00:00Z")).unwrap_err();
            assert!(matches!(err, HandlerError::Malformed(_)), "{bad}: {err}");
        }
    }
}
