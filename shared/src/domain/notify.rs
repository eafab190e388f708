//! Addressing announcements to people: fsched does not send alerts itself. Each announcement it makes about a job
//! names the destinations that want it (`detail.alert_to`) and carries a message a person can act on
//! (`detail.message`); one EventBridge rule per destination (domain::trigger::desired_alert_rules) delivers that
//! message. So the choice of outcomes is made where the job's definition is at hand, and the rules stay the same
//! however many jobs alert.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::event::{BusEvent, Lifecycle};
use super::job::JobSpec;
use super::schedule::Zone;

/// The destinations of `spec` that want to hear about `kind`, each once, in the file's order.
pub fn destinations(spec: &JobSpec, kind: Lifecycle) -> Vec<&str> {
    let Some(outcome) = kind.outcome() else {
        return Vec::new();
    };
    let mut out: Vec<&str> = Vec::new();
    for alert in spec.alerts.iter().filter(|a| a.on.contains(&outcome)) {
        if !out.contains(&alert.to.as_str()) {
            out.push(&alert.to);
        }
    }
    out
}

/// Addresses an announcement about one of `spec`'s runs (or about the job) to the destinations that want it:
/// `detail.alert_to` lists them and `detail.message` says what happened. Unchanged when none wants it.
pub fn address(event: &mut BusEvent, spec: &JobSpec) {
    let Some(kind) = Lifecycle::ALL
        .into_iter()
        .find(|k| k.detail_type() == event.detail_type)
    else {
        return;
    };
    let to = destinations(spec, kind);
    if to.is_empty() {
        return;
    }
    let text = message(kind, &event.detail, spec.timezone);
    if let Value::Object(map) = &mut event.detail {
        map.insert("alert_to".to_owned(), serde_json::json!(to));
        map.insert("message".to_owned(), Value::String(text));
    }
}

/// `t` as a person in `zone` reads it: `Sun 2026-11-29 02:00 CET`.
pub fn local(t: DateTime<Utc>, zone: Zone) -> String {
    t.with_timezone(&zone.tz())
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The message of an alert: one line a person can act on (what, which run, when it was due in the job's zone, why,
/// and the command that shows more). It goes through an EventBridge input transformer as a JSON string, so it holds
/// no double quote, backslash or control character.
pub fn message(kind: Lifecycle, detail: &Value, zone: Zone) -> String {
    let field = |k: &str| detail.get(k).and_then(Value::as_str).unwrap_or_default();
    let time = |k: &str| {
        detail
            .get(k)
            .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok())
            .map(|t| local(t, zone))
    };
    let job = field("job");
    let mut text = match kind {
        Lifecycle::JobOverdue => format!(
            "fsched: job {job} is OVERDUE: no successful run since {} (expected within {}).",
            time("since").unwrap_or_else(|| "it was set up".to_owned()),
            field("success_within"),
        ),
        Lifecycle::JobRecovered => format!(
            "fsched: job {job} RECOVERED: run {} succeeded after the job was overdue since {}.",
            field("run"),
            time("overdue_since").unwrap_or_default(),
        ),
        _ => {
            let mut text = format!(
                "fsched: job {job} {}",
                kind.detail_type()
                    .trim_start_matches("Run ")
                    .to_uppercase()
                    .replace(' ', "_")
            );
            if let Some(due) = time("scheduled_at") {
                text.push_str(&format!(", due {due}"));
            }
            if let Some(code) = detail.get("exit_code").and_then(Value::as_i64) {
                text.push_str(&format!(", exit code {code}"));
            }
            if !field("reason").is_empty() {
                text.push_str(&format!(": {}", field("reason")));
            }
            text.push('.');
            let number = |k: &str| detail.get(k).and_then(Value::as_u64);
            match (number("next_attempt"), time("retry_at")) {
                (Some(n), Some(at)) => text.push_str(&format!(" Attempt {n} starts {at}.")),
                _ => {
                    if let Some(n) = number("attempt").filter(|n| *n > 1) {
                        text.push_str(&format!(" That was attempt {n}."));
                    }
                }
            }
            text
        }
    };
    let command = match field("run") {
        "" => format!("fsched runs --job {job}"),
        run => format!("fsched show {run}"),
    };
    text.push_str(&format!(" Details: {command}"));
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::{Alert, Outcome};
    use serde_json::json;

    fn spec_alerting(alerts: Vec<Alert>) -> JobSpec {
        JobSpec {
            alerts,
            timezone: "Europe/Berlin".parse().unwrap(),
            ..JobSpec::placeholder()
        }
    }

    #[test]
    fn every_outcome_is_one_announcement() {
        for o in Outcome::ALL {
            assert_eq!(Lifecycle::of(o).outcome(), Some(o));
        }
        assert_eq!(Lifecycle::ServiceSlept.outcome(), None);
    }

    #[test]
    fn a_failure_is_addressed_to_each_destination_that_wants_it_once() {
        let pager = "arn:aws:sns:eu-west-1:123456789012:pager";
        let team = "arn:aws:sqs:eu-west-1:123456789012:team";
        let spec = spec_alerting(vec![
            Alert {
                to: pager.to_owned(),
                on: vec![Outcome::Failed, Outcome::TimedOut],
            },
            Alert {
                to: team.to_owned(),
                on: vec![Outcome::Failed],
            },
            Alert {
                to: pager.to_owned(),
                on: vec![Outcome::Failed],
            },
        ]);
        let at: DateTime<Utc> = "2026-11-29T01:00:00Z".parse().unwrap();
        let detail = json!({
            "job": "nightly-etl", "run": "nightly-etl@20261129T010000Z", "scheduled_at": at,
            "exit_code": 1, "reason": "Essential container in task exited: \"etl\"\nline two",
        });
        let mut event = BusEvent::lifecycle(Lifecycle::RunFailed, detail.clone(), at);
        address(&mut event, &spec);
        assert_eq!(event.detail["alert_to"], json!([pager, team]));
        assert_eq!(
            event.detail["message"],
            "fsched: job nightly-etl FAILED, due Sun 2026-11-29 02:00 CET, exit code 1: Essential container in \
             task exited: 'etl' line two. Details: fsched show nightly-etl@20261129T010000Z"
        );

        let mut succeeded = BusEvent::lifecycle(Lifecycle::RunSucceeded, detail, at);
        address(&mut succeeded, &spec);
        assert!(succeeded.detail.get("alert_to").is_none());
        assert!(succeeded.detail.get("message").is_none());
    }

    #[test]
    fn overdue_says_since_when_in_the_jobs_zone() {
        let detail = json!({
            "job": "nightly-etl", "since": "2026-07-01T00:05:00Z", "success_within": "1d 2h",
        });
        assert_eq!(
            message(
                Lifecycle::JobOverdue,
                &detail,
                "Europe/Berlin".parse().unwrap()
            ),
            "fsched: job nightly-etl is OVERDUE: no successful run since Wed 2026-07-01 02:05 CEST (expected \
             within 1d 2h). Details: fsched runs --job nightly-etl"
        );
    }

    #[test]
    fn a_retry_says_when_the_next_attempt_starts_and_a_last_attempt_says_which_it_was() {
        let zone = "Europe/Berlin".parse().unwrap();
        let detail = json!({
            "job": "etl", "run": "etl/20261129T010000Z", "scheduled_at": "2026-11-29T01:00:00Z", "exit_code": 1,
            "next_attempt": 2, "retry_at": "2026-11-29T01:12:00Z", "attempt": 1,
        });
        assert_eq!(
            message(Lifecycle::RunRetrying, &detail, zone),
            "fsched: job etl RETRYING, due Sun 2026-11-29 02:00 CET, exit code 1. Attempt 2 starts Sun 2026-11-29 \
             02:12 CET. Details: fsched show etl/20261129T010000Z"
        );
        let last = json!({
            "job": "etl", "run": "etl/20261129T010000Z-r3", "scheduled_at": "2026-11-29T01:00:00Z",
            "exit_code": 1, "attempt": 3,
        });
        assert_eq!(
            message(Lifecycle::RunFailed, &last, zone),
            "fsched: job etl FAILED, due Sun 2026-11-29 02:00 CET, exit code 1. That was attempt 3. Details: fsched \
             show etl/20261129T010000Z-r3"
        );
    }
}
