//! A job's health: whether it succeeds as often as its `expect` says (a dead man's switch, as Cronitor and
//! Healthchecks.io keep for cron jobs). The window counts from the end of the job's latest success, or from its
//! first fire after `expect` was applied. The moment it runs out is part of the job's timer, so the dispatcher
//! finds an overdue job through the same one query that finds due jobs: an idle tick reads nothing more.
//!
//! "Job Overdue" is announced once, when the window runs out; "Job Recovered" at the next success. Both are written
//! into the job's outbox with the change that causes them, then sent, then cleared (as a run's end is), so an
//! invocation that dies in between leaves them for the dispatcher instead of losing them.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::event::{BusEvent, Lifecycle};
pub use super::job::Health;
use super::job::{next_fire, Job, JobSpec};
use super::notify::address;
use super::outbox::Pending;
use super::run::Run;

/// The health a job has once `apply` stores `spec` at `now`: without `expect`, nothing to watch (unsent
/// announcements stay); with it, the window kept, or started at the job's first fire after `now` (at `now` for a
/// job without a schedule).
pub fn applied(old: Option<&Health>, spec: &JobSpec, now: DateTime<Utc>) -> Health {
    let outbox = old.map(|h| h.outbox.clone()).unwrap_or_default();
    if spec.expect.is_none() {
        return Health {
            outbox,
            ..Health::default()
        };
    }
    Health {
        since: old
            .and_then(|h| h.since)
            .or_else(|| Some(next_fire(spec, now).unwrap_or(now))),
        overdue_since: old.and_then(|h| h.overdue_since),
        outbox,
    }
}

/// Whether the job became overdue by `now`: if so, marks it and owes "Job Overdue".
pub fn watch(job: &mut Job, now: DateTime<Utc>) -> bool {
    let Some(deadline) = job.health.deadline(&job.spec).filter(|d| *d <= now) else {
        return false;
    };
    job.health.overdue_since = Some(deadline);
    let detail = json!({
        "job": job.name.as_str(),
        "since": job.health.since,
        "success_within": job.spec.expect.map(|e| e.success_within.to_string()),
        "overdue_since": deadline,
    });
    owe(job, Lifecycle::JobOverdue, detail, now);
    true
}

/// Moves the window to a success found among the job's runs (one whose note on the job was lost), if it ended after
/// the window's start; whether it moved.
pub fn found_success(job: &mut Job, ended: Option<DateTime<Utc>>) -> bool {
    match ended {
        Some(ended) if job.spec.expect.is_some() && job.health.since.is_some_and(|s| s < ended) => {
            job.health.since = Some(ended);
            true
        }
        _ => false,
    }
}

/// Whether a run that succeeded changes the job's health: the window starts again at its end and, if the job was
/// overdue, it recovers (owing "Job Recovered").
pub fn succeeded(job: &mut Job, run: &Run, now: DateTime<Utc>) -> bool {
    if job.spec.expect.is_none() {
        return false;
    }
    let ended = run.stopped_at.unwrap_or(now);
    let mut changed = false;
    if job.health.since.is_none_or(|since| since < ended) {
        job.health.since = Some(ended);
        changed = true;
    }
    if let Some(overdue_since) = job.health.overdue_since.take() {
        let detail = json!({
            "job": job.name.as_str(),
            "run": run.id.to_string(),
            "overdue_since": overdue_since,
            "since": ended,
        });
        owe(job, Lifecycle::JobRecovered, detail, now);
        changed = true;
    }
    changed
}

fn owe(job: &mut Job, kind: Lifecycle, detail: serde_json::Value, now: DateTime<Utc>) {
    let mut event = BusEvent::lifecycle(kind, detail, now);
    address(&mut event, &job.spec);
    job.health.outbox.push(Pending::from(&event));
}

/// The job once the announcements `sent` are out of its outbox (the version is the caller's to bump).
pub fn sent(job: &Job, sent: &[Pending]) -> Job {
    let mut out = job.clone();
    out.health.outbox.retain(|p| !sent.contains(p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::{Alert, Expect, Outcome};
    use crate::domain::duration::Span;
    use crate::domain::run::{RunId, RunStatus, Trigger};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn daily_expecting(within: u64) -> Job {
        let spec = JobSpec {
            schedule: Some("cron(0 2 * * ? *)".parse().unwrap()),
            expect: Some(Expect {
                success_within: Span::from_secs(within),
            }),
            alerts: vec![Alert {
                to: "arn:aws:sns:eu-west-1:123456789012:oncall".to_owned(),
                on: vec![Outcome::Overdue, Outcome::Recovered],
            }],
            ..JobSpec::placeholder()
        };
        let now = t("2026-11-28T12:00:00Z");
        Job {
            name: crate::domain::job::JobName::new("etl").unwrap(),
            next_fire: next_fire(&spec, now),
            health: applied(None, &spec, now),
            spec,
            version: 1,
            last_fire: None,
        }
    }

    fn success(job: &Job, ended: &str) -> Run {
        let at = t("2026-11-29T02:00:00Z");
        let mut run = Run::claimed(RunId::scheduled(&job.name, at), Trigger::Schedule, at, at);
        run.status = RunStatus::Succeeded;
        run.stopped_at = Some(t(ended));
        run
    }

    #[test]
    fn the_window_starts_at_the_first_fire_after_apply_and_is_on_the_timer() {
        let job = daily_expecting(26 * 3600);
        assert_eq!(job.health.since, Some(t("2026-11-29T02:00:00Z")));
        assert_eq!(
            job.health.deadline(&job.spec),
            Some(t("2026-11-30T04:00:00Z"))
        );
        // The next fire comes first; once it is handled the deadline is the timer.
        assert_eq!(job.timer(), Some(t("2026-11-29T02:00:00Z")));
        let mut later = job.clone();
        later.next_fire = Some(t("2026-12-01T02:00:00Z"));
        assert_eq!(later.timer(), Some(t("2026-11-30T04:00:00Z")));
    }

    #[test]
    fn overdue_is_announced_once_and_recovery_once() {
        let mut job = daily_expecting(26 * 3600);
        job.next_fire = Some(t("2026-12-01T02:00:00Z"));
        assert!(!watch(&mut job, t("2026-11-30T03:59:00Z")));
        assert!(watch(&mut job, t("2026-11-30T04:00:30Z")));
        assert!(!watch(&mut job, t("2026-11-30T05:00:00Z")), "once");
        assert_eq!(job.health.overdue_since, Some(t("2026-11-30T04:00:00Z")));
        assert_eq!(job.health.outbox.len(), 1);
        assert_eq!(job.health.outbox[0].detail_type, "Job Overdue");
        assert_eq!(
            job.health.outbox[0].detail["alert_to"][0],
            "arn:aws:sns:eu-west-1:123456789012:oncall"
        );
        // Unsent, it keeps the job on the timer; sent, the job waits for its next fire only.
        assert_eq!(job.timer(), Some(t("2026-11-30T04:00:30Z")));
        let outbox = job.health.outbox.clone();
        job = sent(&job, &outbox);
        assert_eq!(job.timer(), Some(t("2026-12-01T02:00:00Z")));

        let run = success(&job, "2026-12-01T02:10:00Z");
        assert!(succeeded(&mut job, &run, t("2026-12-01T02:10:01Z")));
        assert_eq!(job.health.overdue_since, None);
        assert_eq!(job.health.since, Some(t("2026-12-01T02:10:00Z")));
        assert_eq!(job.health.outbox.len(), 1);
        assert_eq!(job.health.outbox[0].detail_type, "Job Recovered");
        // The same report again changes nothing.
        let outbox = job.health.outbox.clone();
        job = sent(&job, &outbox);
        assert!(!succeeded(&mut job, &run, t("2026-12-01T02:11:00Z")));
        assert!(job.health.outbox.is_empty());
    }

    #[test]
    fn an_older_success_never_moves_the_window_back() {
        let mut job = daily_expecting(3600);
        job.health.since = Some(t("2026-11-29T05:00:00Z"));
        let older = success(&job, "2026-11-29T04:00:00Z");
        assert!(!succeeded(&mut job, &older, t("2026-11-29T06:00:00Z")));
        assert_eq!(job.health.since, Some(t("2026-11-29T05:00:00Z")));
    }

    #[test]
    fn removing_expect_stops_the_watch_but_keeps_unsent_announcements() {
        let mut job = daily_expecting(3600);
        assert!(watch(&mut job, t("2026-12-02T00:00:00Z")));
        let spec = JobSpec {
            expect: None,
            ..job.spec.clone()
        };
        let h = applied(Some(&job.health), &spec, t("2026-12-02T00:01:00Z"));
        assert_eq!((h.since, h.overdue_since), (None, None));
        assert_eq!(h.outbox.len(), 1);
        // A job without a schedule counts from when `expect` is applied.
        let event_only = JobSpec {
            schedule: None,
            ..job.spec.clone()
        };
        let now = t("2026-12-02T00:01:00Z");
        assert_eq!(applied(None, &event_only, now).since, Some(now));
    }
}
