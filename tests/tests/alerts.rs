//! Alerts end to end: a jobs file with `alerts` and `expect` applied by the code `fsched apply` uses (its rules
//! included), runs launched by the real dispatcher, ECS's reports (fixtures) recorded by the real recorder, the
//! announcements published to the stack's bus, matched by the emulator's EventBridge with fsched's alert rule and
//! turned into text by the rule's input transformer, then read from the destination queue.
//!
//! The destination is an SQS queue, which gets `{job, event, message}`: the emulator's EventBridge cannot deliver
//! to SNS topics (moto 5.2 raises NotImplementedError for them). A topic's rule is checked as it is stored (its
//! target, and a template that is the same message as text); the message asserted here is what it would deliver.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fsched_core::aws::rules::EventBridgeRules;
use fsched_core::domain::job::JobName;
use fsched_core::domain::jobs_file::JobsFile;
use fsched_core::domain::run::{Run, RunStatus};
use fsched_core::domain::trigger::stack_tag;
use fsched_core::service::apply::{apply_file, plan_file};
use fsched_core::service::rules::RuleScope;
use fsched_recorder::handler;
use fsched_tests::unique_name;
use fsched_tests::world::{world, World};
use tokio::time::Instant;

fn day(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

/// A jobs file with one daily job at 02:00 Berlin time and the given extra keys (indented for the job).
fn jobs_file(w: &World, extra: &str) -> JobsFile {
    let text = format!(
        "jobs:\n  nightly:\n    schedule: cron(0 2 * * ? *)\n    timezone: Europe/Berlin\n    cluster: {}\n    \
         task_definition: {}\n    network: {{subnets: [{}]}}\n{extra}",
        w.sandbox.cluster, w.task_definition, w.sandbox.subnets[0],
    );
    JobsFile::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
}

/// Applies the file at `now` as `fsched apply` does, rules included; returns the rules' client.
async fn apply(w: &World, file: &JobsFile, now: DateTime<Utc>) -> EventBridgeRules {
    let rules = EventBridgeRules::new(aws_sdk_eventbridge::Client::new(&w.config));
    let (_, trigger_queue) = w.trigger_queue().await;
    let scope = RuleScope {
        stack: stack_tag(w.store.table()),
        buses: vec![w.bus.clone()],
        queue: trigger_queue,
    };
    let plan = plan_file(&w.store, &rules, file, Some(scope), false, now)
        .await
        .unwrap();
    let applied = apply_file(&w.store, &rules, plan, now).await;
    assert_eq!(applied.failures(), (0, 0, 0), "{applied:?}");
    rules
}

async fn tick(w: &World, now: DateTime<Utc>) {
    let report = w
        .dispatcher()
        .tick(now, Instant::now() + StdDuration::from_secs(60))
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{now}: {report:?}");
}

/// Delivers ECS's report that the run's task stopped as `fixture` says, through the recorder's handler.
async fn stop(w: &World, run: &Run, fixture: &str) {
    let event = w.report(run, fixture).await;
    handler::handle(&w.recorder(), event).await.unwrap();
}

/// The messages delivered to the destination queue so far (each body is `{job, event, message}`).
async fn delivered(w: &World, queue_url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let batch = w.receive(queue_url).await;
        if batch.records.is_empty() {
            return out;
        }
        for record in batch.records {
            let body = record.body.unwrap_or_default();
            let alert: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
            assert_eq!(alert["job"], "nightly", "{body}");
            assert!(
                alert["event"].as_str().is_some_and(|e| !e.is_empty()),
                "{body}"
            );
            out.push(alert["message"].as_str().unwrap_or_default().to_owned());
        }
    }
}

#[tokio::test]
async fn a_failed_run_sends_one_readable_alert_to_its_destination() {
    let w = world().await;
    let (queue_url, queue_arn) = fsched_tests::sqs_queue(&w.config, &unique_name("alerts"))
        .await
        .unwrap();
    let topic = "arn:aws:sns:us-east-1:123456789012:oncall";
    let file = jobs_file(
        &w,
        &format!(
            "    alerts:\n      - to: {queue_arn}\n        on: [failed]\n      - to: {topic}\n        on: [timed_out]\n"
        ),
    );
    let rules = apply(&w, &file, day(28, 12, 0)).await;

    // 02:00 in Berlin is 01:00 UTC in November.
    tick(&w, day(29, 1, 0)).await;
    let job = JobName::new("nightly").unwrap();
    let run = w.run(&job, day(29, 1, 0)).await;
    stop(&w, &run, "stopped-exit-code").await;
    assert_eq!(w.run(&job, day(29, 1, 0)).await.status, RunStatus::Failed);

    let texts = delivered(&w, &queue_url).await;
    assert_eq!(
        texts,
        [format!(
            "fsched: job nightly FAILED, due Sun 2026-11-29 02:00 CET, exit code 1: {}. Details: fsched show {}",
            w.run(&job, day(29, 1, 0)).await.reason.unwrap(),
            run.id
        )]
    );

    // One rule per destination, each delivering the announcement's message to its destination.
    let found = fsched_core::ports::EventRules::list(
        &rules,
        &w.bus,
        &fsched_core::domain::trigger::rule_prefix(&stack_tag(w.store.table())),
    )
    .await
    .unwrap();
    let mut targets: Vec<_> = found.iter().flat_map(|r| r.targets.clone()).collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            (topic.to_owned(), Some("\"<message>\"".to_owned())),
            (
                queue_arn.clone(),
                Some(r#"{"job": "<job>", "event": "<kind>", "message": "<message>"}"#.to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn an_overdue_job_alerts_once_and_recovers_once_over_two_days() {
    let w = world().await;
    let (queue_url, queue_arn) = fsched_tests::sqs_queue(&w.config, &unique_name("alerts"))
        .await
        .unwrap();
    let file = jobs_file(
        &w,
        &format!(
            "    expect: {{success_within: 26h}}\n    alerts:\n      - to: {queue_arn}\n        on: [overdue, recovered]\n"
        ),
    );
    apply(&w, &file, day(28, 12, 0)).await;
    let job = JobName::new("nightly").unwrap();

    // Two days of ticks every 20 minutes: each night's run fails, so 26 hours after the first fire (Nov 29 01:00
    // UTC) the job is overdue; the third night's run succeeds and it recovers.
    let third_night = day(30, 1, 0) + Duration::days(1);
    let mut now = day(29, 0, 0);
    while now <= third_night + Duration::hours(1) {
        tick(&w, now).await;
        if now.format("%H:%M").to_string() == "01:00" {
            let run = w.run(&job, now).await;
            let ending = if now == third_night {
                "stopped-success"
            } else {
                "stopped-exit-code"
            };
            stop(&w, &run, ending).await;
        }
        now += Duration::minutes(20);
    }

    let texts = delivered(&w, &queue_url).await;
    let success = w.run(&job, third_night).await;
    assert_eq!(success.status, RunStatus::Succeeded);
    assert_eq!(
        texts,
        [
            "fsched: job nightly is OVERDUE: no successful run since Sun 2026-11-29 02:00 CET (expected within \
             1d 2h). Details: fsched runs --job nightly"
                .to_owned(),
            format!(
                "fsched: job nightly RECOVERED: run {} succeeded after the job was overdue since Mon 2026-11-30 \
                 04:00 CET. Details: fsched show {}",
                success.id, success.id
            ),
        ]
    );
    assert_eq!(w.events("Job Overdue").len(), 1);
    assert_eq!(w.events("Job Recovered").len(), 1);
}
