//! Event-triggered runs end to end: rules kept by the same code `fsched apply` uses, events put on the bus, matched
//! and delivered by the emulator's EventBridge to the trigger queue (with the rule's input transformer), received
//! from SQS and handed to the trigger's handler as Lambda's SQS poller would. Simulated: the poller, and what ECS
//! reports (fixtures). Real: the rules, the matching, the queue, the handler, the launch path and the records.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DurationRound, TimeZone, Utc};
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::aws::rules::EventBridgeRules;
use fsched_core::domain::clock::{Receipt, DEFAULT_SKEW};
use fsched_core::domain::job::{ContainerOverride, JobName, JobSpec, OnInterruption};
use fsched_core::domain::run::{Run, RunStatus, Trigger};
use fsched_core::domain::trigger::{desired_rules, stack_tag, RuleChange, COMMAND_SOURCE, RUN_JOB};
use fsched_core::ports::JobStore;
use fsched_core::ports::RunStore;
use fsched_core::service::record::{send_outbox, Recorder};
use fsched_core::service::rules::{apply_rules, rule_plan, RuleScope};
use fsched_tests::world::{world, World};
use fsched_trigger::handler;
use serde_json::json;
use tokio::time::Instant;

fn until() -> Instant {
    Instant::now() + StdDuration::from_secs(60)
}

/// A job that runs on uploads, passing the object's key to its container.
fn on_upload(w: &World) -> JobSpec {
    let mut spec = w.spec("rate(1 day)");
    spec.schedule = None;
    spec.on_event = Some(json!({"source": ["acme.uploads"], "detail-type": ["File Uploaded"]}));
    spec.containers = BTreeMap::from([(
        "app".to_owned(),
        ContainerOverride {
            environment: BTreeMap::from([
                ("FILE".to_owned(), "$.detail.object.key".to_owned()),
                ("MODE".to_owned(), "import".to_owned()),
            ]),
            command: Some(vec![
                "import".into(),
                "--size={{ $.detail.object.size }}".into(),
            ]),
            ..ContainerOverride::default()
        },
    )]);
    spec
}

/// Keeps the jobs' rules on the world's bus pointing at `queue`, as `fsched apply` does; returns the changes made.
async fn keep_rules(w: &World, queue: &str, jobs: &[(&JobName, &JobSpec)]) -> Vec<RuleChange> {
    let rules = EventBridgeRules::new(aws_sdk_eventbridge::Client::new(&w.config));
    let scope = RuleScope {
        stack: stack_tag(w.store.table()),
        buses: vec![w.bus.clone()],
        queue: queue.to_owned(),
    };
    let desired = desired_rules(jobs.iter().copied(), &scope.stack, &w.bus);
    let changes = rule_plan(&rules, &scope, &desired).await.unwrap();
    for (change, result) in apply_rules(&rules, &scope, changes.clone()).await {
        result.unwrap_or_else(|e| panic!("{change}: {e}"));
    }
    changes
}

async fn task_env(w: &World, run: &Run) -> (BTreeMap<String, String>, Vec<String>) {
    let ecs = aws_sdk_ecs::Client::new(&w.config);
    let out = ecs
        .describe_tasks()
        .cluster(&w.sandbox.cluster)
        .tasks(run.task_arn.clone().unwrap())
        .send()
        .await
        .unwrap();
    let o = out.tasks()[0].overrides().unwrap().container_overrides()[0].clone();
    (
        o.environment()
            .iter()
            .map(|kv| {
                (
                    kv.name().unwrap().to_owned(),
                    kv.value().unwrap().to_owned(),
                )
            })
            .collect(),
        o.command().to_vec(),
    )
}

#[tokio::test]
async fn an_upload_runs_the_import_once_with_only_the_values_it_declares() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    let spec = on_upload(&w);
    let job = w.add("import", spec.clone(), Utc::now()).await;
    let created = keep_rules(&w, &queue, &[(&job, &spec)]).await;
    assert!(
        matches!(created.as_slice(), [RuleChange::Create(_)]),
        "{created:?}"
    );
    assert!(
        keep_rules(&w, &queue, &[(&job, &spec)]).await.is_empty(),
        "applying again changes nothing"
    );

    w.put_event(
        "acme.uploads",
        "File Uploaded",
        json!({"object": {"key": "in/2026-11-29.csv", "size": 2048}, "bucket": "inbox"}),
    )
    .await;
    w.put_event(
        "acme.other",
        "File Uploaded",
        json!({"object": {"key": "nope"}}),
    )
    .await;
    let delivered = w.receive(&queue_url).await;
    assert_eq!(
        delivered.records.len(),
        1,
        "only the matching event is delivered"
    );

    // At-least-once: the same delivery twice is one run.
    let triggers = w.triggers();
    let first = handler::batch(&triggers, delivered.clone(), DEFAULT_SKEW, until()).await;
    let again = handler::batch(&triggers, delivered, DEFAULT_SKEW, until()).await;
    assert!(first.batch_item_failures.is_empty() && again.batch_item_failures.is_empty());
    assert_eq!(w.tasks().await.len(), 1);
    let runs = w.runs(&job).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Pending);
    assert!(
        matches!(&run.trigger, Trigger::Event { source, .. } if source == "acme.uploads"),
        "{:?}",
        run.trigger
    );
    assert!(run.id.key().contains("-e"), "{}", run.id);

    let (env, command) = task_env(&w, run).await;
    assert_eq!(
        env,
        BTreeMap::from([
            ("FILE".to_owned(), "in/2026-11-29.csv".to_owned()),
            ("MODE".to_owned(), "import".to_owned())
        ])
    );
    assert_eq!(command, ["import", "--size=2048"]);
    assert_eq!(w.events("Run Started").len(), 1);
}

#[tokio::test]
async fn an_event_without_the_declared_value_is_rejected_and_nothing_is_launched() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    let spec = on_upload(&w);
    let job = w.add("import", spec.clone(), Utc::now()).await;
    keep_rules(&w, &queue, &[(&job, &spec)]).await;
    // Hostile: the key is an object carrying an injection attempt; the size is missing.
    w.put_event(
        "acme.uploads",
        "File Uploaded",
        json!({"object": {"key": {"$(curl evil)": "x"}, "FILE": "in/other"}}),
    )
    .await;
    let response = handler::batch(
        &w.triggers(),
        w.receive(&queue_url).await,
        DEFAULT_SKEW,
        until(),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a rejection is recorded, not retried"
    );
    assert!(w.tasks().await.is_empty());
    let run = w.runs(&job).await.pop().unwrap();
    assert_eq!(run.status, RunStatus::Rejected);
    assert_eq!(
        run.reason.as_deref(),
        Some("`$.detail.object.key` is an object in the event, not a single value")
    );
    assert_eq!(w.events("Run Rejected").len(), 1);
}

#[tokio::test]
async fn run_job_commands_take_declared_values_and_refuse_others() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let mut spec = on_upload(&w);
    spec.on_event = None;
    spec.schedule = Some("cron(0 2 * * ? *)".parse().unwrap());
    spec.containers.get_mut("app").unwrap().command = None;
    let job = w.add("report", spec, Utc::now()).await;
    for (request, env) in [
        ("r-1", json!({"FILE": "manual.csv"})),
        ("r-2", json!({"AWS_SECRET_ACCESS_KEY": "x", "FILE": "a"})),
    ] {
        w.put_event(
            COMMAND_SOURCE,
            RUN_JOB,
            json!({"job": "report", "env": env, "request_id": request, "requested_by": "ana"}),
        )
        .await;
    }
    // A malformed command and a command for a job that does not exist fail: SQS redelivers them, then parks them.
    w.put_event(COMMAND_SOURCE, RUN_JOB, json!({"job": "no-such-job"}))
        .await;
    w.put_event(COMMAND_SOURCE, "Delete Job", json!({"job": "report"}))
        .await;
    let delivered = w.receive(&queue_url).await;
    assert_eq!(delivered.records.len(), 4);
    let response = handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until()).await;
    assert_eq!(response.batch_item_failures.len(), 2, "{response:?}");

    let runs = w.runs(&job).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let launched = runs.iter().find(|r| r.id.key().ends_with("-mr-1")).unwrap();
    assert_eq!(launched.status, RunStatus::Pending);
    assert_eq!(launched.trigger, Trigger::Manual { by: "ana".into() });
    let (env, _) = task_env(&w, launched).await;
    assert_eq!(env["FILE"], "manual.csv");
    let refused = runs.iter().find(|r| r.id.key().ends_with("-mr-2")).unwrap();
    assert_eq!(refused.status, RunStatus::Rejected);
    assert!(refused
        .reason
        .as_deref()
        .unwrap()
        .contains("does not declare the variable `AWS_SECRET_ACCESS_KEY`"));
}

/// A nightly `etl` and a `report` chained on its success, with the report's rule; returns the two jobs.
async fn etl_and_report(w: &World, queue: &str) -> (JobName, JobName) {
    // Due three days ago, by the real clock: its end is announced three days late, as after a long outage of the
    // bus. A chained run is keyed by the announcement's time, which stands for a week (`ANNOUNCEMENT_LATE_MAX`;
    // another sender's for a day), so every copy of the announcement keys the same run.
    let due = (Utc::now() - chrono::Duration::days(3))
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    let schedule = format!("cron({} {} * * ? *)", due.format("%M"), due.format("%H"));
    let etl = w
        .add("etl", w.spec(&schedule), due - chrono::Duration::hours(1))
        .await;
    let mut report_spec = w.spec("rate(1 day)");
    report_spec.schedule = None;
    report_spec.on_event = Some(json!({
        "source": ["fsched"], "detail-type": ["Run Succeeded"], "detail": {"job": ["etl"]}
    }));
    report_spec.containers = BTreeMap::from([(
        "app".to_owned(),
        ContainerOverride {
            environment: BTreeMap::from([("AFTER_RUN".to_owned(), "$.detail.run".to_owned())]),
            ..ContainerOverride::default()
        },
    )]);
    let report = w.add("report", report_spec.clone(), Utc::now()).await;
    keep_rules(w, queue, &[(&report, &report_spec)]).await;
    (etl, report)
}

/// The ETL's run, launched by the tick at its due time; returns the ECS event saying it succeeded.
async fn etl_succeeds(w: &World, etl: &JobName) -> (Run, serde_json::Value) {
    let job = w.store.get_job(etl).await.unwrap().unwrap();
    let at = job.next_fire.expect("the ETL is due");
    fsched_dispatcher::handler::tick(
        &w.dispatcher(),
        tick_at(at),
        Receipt::new(Utc::now(), DEFAULT_SKEW),
        until(),
    )
    .await
    .unwrap();
    let etl_run = w.runs(etl).await.pop().unwrap();
    let done = w.report(&etl_run, "stopped-success").await;
    (etl_run, done)
}

fn tick_at(t: chrono::DateTime<Utc>) -> serde_json::Value {
    json!({"version": "0", "id": format!("t{}", t.timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "1", "time": t.to_rfc3339(), "region": "us-east-1", "resources": [],
        "detail": {}})
}

#[tokio::test]
async fn a_job_chained_on_another_runs_when_its_run_succeeds() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    let (etl, report) = etl_and_report(&w, &queue).await;

    // The ETL runs at 02:00; ECS reports it succeeded; the recorder announces it on the bus.
    let (etl_run, done) = etl_succeeds(&w, &etl).await;
    fsched_recorder::handler::handle(&w.recorder(), done)
        .await
        .unwrap();

    // EventBridge matched "Run Succeeded" for etl against the report's rule and delivered it.
    let delivered = w.receive(&queue_url).await;
    assert_eq!(delivered.records.len(), 1);
    handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until()).await;
    let chained = w.runs(&report).await.pop().unwrap();
    assert_eq!(chained.status, RunStatus::Pending);
    assert!(matches!(&chained.trigger, Trigger::Event { source, .. } if source == "fsched"));
    let (env, _) = task_env(&w, &chained).await;
    assert_eq!(env["AFTER_RUN"], etl_run.id.to_string());
}

/// No lost announcements: the bus is unreachable between the write that ends the ETL's run and the send of "Run
/// Succeeded". The end is written with its announcement (the run's outbox); the dispatcher's next check sends it,
/// and the report runs. A second send of the same announcement (a writer that lost the write emptying the outbox)
/// does not run the report twice.
#[tokio::test]
async fn a_run_ended_while_the_bus_is_unreachable_still_starts_its_chained_job_once() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    let (etl, report) = etl_and_report(&w, &queue).await;
    let (etl_run, done) = etl_succeeds(&w, &etl).await;

    // Nothing listens where this recorder's EventBridge client sends: every PutEvents fails to connect.
    let nowhere = aws_sdk_eventbridge::config::Builder::from(&w.config)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let cut_off = Recorder::new(
        w.store.clone(),
        w.ecs.clone(),
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::from_conf(nowhere), &w.bus),
    );
    fsched_recorder::handler::handle(&cut_off, done)
        .await
        .expect("the end is recorded; its announcement waits in the outbox");
    let ended = w.store.get_run(&etl_run.id).await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Succeeded);
    assert_eq!(ended.outbox.len(), 1, "{ended:?}");
    assert_eq!(ended.outbox[0].detail_type, "Run Succeeded");
    assert!(
        w.receive(&queue_url).await.records.is_empty(),
        "nothing was sent"
    );

    // The outbox's timer brings the dispatcher to it at the next tick.
    let retry_at = ended.check_at.expect("an unsent outbox keeps a timer");
    let report_of_tick = fsched_dispatcher::handler::tick(
        &w.dispatcher(),
        tick_at(retry_at),
        Receipt::new(retry_at, DEFAULT_SKEW),
        until(),
    )
    .await
    .unwrap();
    assert!(report_of_tick.launched.is_empty(), "{report_of_tick:?}");
    let sent = w.store.get_run(&etl_run.id).await.unwrap().unwrap();
    assert!(
        sent.outbox.is_empty() && sent.check_at.is_none(),
        "{sent:?}"
    );

    // Sent again, as a new event with its own id, by a writer that did not see the outbox emptied.
    send_outbox(&w.store, &w.events, &ended).await.unwrap();
    let delivered = w.receive(&queue_url).await;
    assert_eq!(delivered.records.len(), 2, "the announcement, twice");
    let response = handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let chained = w.runs(&report).await;
    assert_eq!(chained.len(), 1, "one report per ETL run: {chained:?}");
    let (env, _) = task_env(&w, &chained[0]).await;
    assert_eq!(env["AFTER_RUN"], etl_run.id.to_string());
}

#[tokio::test]
async fn rules_follow_the_jobs_created_changed_and_removed() {
    let w = world().await;
    let (_, queue) = w.trigger_queue().await;
    let mut spec = on_upload(&w);
    let job = JobName::new("import").unwrap();
    assert!(matches!(
        keep_rules(&w, &queue, &[(&job, &spec)]).await.as_slice(),
        [RuleChange::Create(_)]
    ));
    spec.on_event = Some(json!({"source": ["acme.uploads"], "detail-type": ["File Replaced"]}));
    let changed = keep_rules(&w, &queue, &[(&job, &spec)]).await;
    assert!(
        matches!(&changed[..], [RuleChange::Update { why, .. }] if why == "its pattern changed"),
        "{changed:?}"
    );
    let eb = aws_sdk_eventbridge::Client::new(&w.config);
    let rules = eb.list_rules().event_bus_name(&w.bus).send().await.unwrap();
    assert_eq!(rules.rules().len(), 1);
    assert!(rules.rules()[0]
        .event_pattern()
        .unwrap()
        .contains("File Replaced"));
    let removed = keep_rules(&w, &queue, &[]).await;
    assert!(
        matches!(removed.as_slice(), [RuleChange::Delete { .. }]),
        "{removed:?}"
    );
    let rules = eb.list_rules().event_bus_name(&w.bus).send().await.unwrap();
    assert!(rules.rules().is_empty());
}

#[tokio::test]
async fn pause_and_resume_commands_and_a_rerun_after_a_spot_interruption() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let mut spec = w.spec("cron(0 2 * * ? *)");
    spec.on_interruption = OnInterruption::Rerun;
    let job = w
        .add(
            "batch",
            spec,
            Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap(),
        )
        .await;

    w.put_event(
        COMMAND_SOURCE,
        "Pause Job",
        json!({"job": "batch", "requested_by": "ops"}),
    )
    .await;
    handler::batch(
        &w.triggers(),
        w.receive(&queue_url).await,
        DEFAULT_SKEW,
        until(),
    )
    .await;
    assert!(w.store.get_job(&job).await.unwrap().unwrap().spec.paused);
    w.put_event(COMMAND_SOURCE, "Resume Job", json!({"job": "batch"}))
        .await;
    handler::batch(
        &w.triggers(),
        w.receive(&queue_url).await,
        DEFAULT_SKEW,
        until(),
    )
    .await;
    let resumed = w.store.get_job(&job).await.unwrap().unwrap();
    assert!(!resumed.spec.paused && resumed.next_fire.is_some());

    // Launch a run by command, then Spot takes it back: the recorder asks for a rerun, which the trigger starts.
    w.put_event(
        COMMAND_SOURCE,
        RUN_JOB,
        json!({"job": "batch", "request_id": "first"}),
    )
    .await;
    handler::batch(
        &w.triggers(),
        w.receive(&queue_url).await,
        DEFAULT_SKEW,
        until(),
    )
    .await;
    let first = w.runs(&job).await.pop().unwrap();
    let reclaimed = w.report(&first, "stopped-spot-interruption").await;
    fsched_recorder::handler::handle(&w.recorder(), reclaimed.clone())
        .await
        .unwrap();
    fsched_recorder::handler::handle(&w.recorder(), reclaimed)
        .await
        .unwrap();
    let delivered = w.receive(&queue_url).await;
    assert_eq!(
        delivered.records.len(),
        1,
        "one rerun asked for, despite the duplicate event"
    );
    handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until()).await;
    let runs = w.runs(&job).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    assert_eq!(runs[1].status, RunStatus::Pending);
    assert!(
        matches!(&runs[1].trigger, Trigger::Manual { by } if by.contains("rerun of")),
        "{:?}",
        runs[1].trigger
    );
}

/// The attacks of a sender's clock: "Resume Job" stamped 9999 used to leave a job shown as not paused that never
/// fired again; "Run Job" stamped 1971 launched a run filed under 1971, where no listing finds it and TTL had
/// already passed. Now both act at the time SQS received them.
#[tokio::test]
async fn commands_stamped_far_from_now_act_at_the_time_they_were_received() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let job = w
        .add("nightly", w.spec("cron(0 2 * * ? *)"), Utc::now())
        .await;
    let far = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 0).unwrap();
    let long_ago = Utc.with_ymd_and_hms(1971, 1, 1, 0, 0, 0).unwrap();

    w.put_event(COMMAND_SOURCE, "Pause Job", json!({"job": "nightly"}))
        .await;
    handler::batch(
        &w.triggers(),
        w.receive(&queue_url).await,
        DEFAULT_SKEW,
        until(),
    )
    .await;
    let before = Utc::now();
    w.put_event_at(
        COMMAND_SOURCE,
        "Resume Job",
        json!({"job": "nightly"}),
        Some(far),
    )
    .await;
    w.put_event_at(
        COMMAND_SOURCE,
        RUN_JOB,
        json!({"job": "nightly", "request_id": "old"}),
        Some(long_ago),
    )
    .await;
    let delivered = w.receive(&queue_url).await;
    assert_eq!(delivered.records.len(), 2);
    let response = handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let after = Utc::now();

    let resumed = w.store.get_job(&job).await.unwrap().unwrap();
    let next = resumed.next_fire.expect("resumed jobs fire again");
    assert!(!resumed.spec.paused);
    assert!(
        next > before && next <= after + chrono::Duration::days(1),
        "{resumed:?}"
    );
    let runs = w.runs(&job).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let slack = chrono::Duration::seconds(5);
    assert!(
        runs[0].scheduled_at >= before - slack && runs[0].scheduled_at <= after + slack,
        "filed under the time it was received: {:?}",
        runs[0]
    );
}
