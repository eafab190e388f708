//! A world for end-to-end tests: a fresh table, event bus, cluster and task definition in the local emulator, the
//! real adapters over SDK clients that count their requests, and a publisher that keeps a copy of what it sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::types::MessageSystemAttributeName;

use chrono::{DateTime, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::aws::services::{CloudWatchMetrics, EcsServices};
use fsched_core::domain::duration::Span;
use fsched_core::domain::job::next_fire;
use fsched_core::domain::job::{Job, JobName, JobSpec, Network, Retries};
use fsched_core::domain::run::{Run, RunId};
use fsched_core::ports::{
    BusEvent, EventPublisher, JobStore, PublishError, RunStore, TaskLauncher,
};
use fsched_core::ports::{Metrics, ServiceScaler};
use fsched_core::service::dispatch::{Clock, Dispatcher, Settings};
use fsched_core::service::record::Recorder;
use fsched_core::service::scale::Sleeper;
use fsched_core::service::trigger::Triggers;

use crate::counting::Counter;
use crate::ecs::{sandbox, task_definition, task_event, tasks, Sandbox};
use crate::{fresh_table, job_spec, local_sdk_config, unique_name};

/// Publishes for real and keeps a copy, so tests can read what was sent to the bus.
#[derive(Clone)]
pub struct Recording {
    pub inner: EventBridgePublisher,
    pub seen: Arc<Mutex<Vec<BusEvent>>>,
}

impl EventPublisher for Recording {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        self.seen.lock().unwrap().extend(events.iter().cloned());
        self.inner.publish(events).await
    }
}

pub struct World {
    pub config: aws_config::SdkConfig,
    pub counter: Counter,
    pub store: DynamoStore,
    pub ecs: EcsLauncher,
    pub events: Recording,
    pub sandbox: Sandbox,
    pub task_definition: String,
    /// The stack's bus (lifecycle events and commands).
    pub bus: String,
}

/// A fresh world; panics (failing the test) when the emulator is not reachable.
pub async fn world() -> World {
    let config = local_sdk_config().await.unwrap();
    let counter = Counter::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let table = fresh_table(&ddb).await.unwrap();
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let bus = unique_name("fsched-bus");
    let eb = aws_sdk_eventbridge::Client::new(&config);
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let sandbox = sandbox(&config, &unique_name("cluster")).await.unwrap();
    let task_definition = task_definition(&config, &unique_name("etl")).await.unwrap();
    counter.reset();
    World {
        counter,
        store: DynamoStore::new(ddb, table.clone()),
        ecs: EcsLauncher::new(ecs, fsched_core::domain::trigger::stack_tag(&table)),
        events: Recording {
            inner: EventBridgePublisher::new(eb, bus.clone()),
            seen: Arc::default(),
        },
        sandbox,
        task_definition,
        bus,
        config,
    }
}

impl World {
    pub fn dispatcher(&self) -> Dispatcher<DynamoStore, EcsLauncher, Recording> {
        self.dispatcher_with(self.ecs.clone(), Settings::default())
    }

    /// A dispatcher whose own clock never runs ahead of the times the test gives it: tests drive time through
    /// their ticks' and events' times, which are not today's, so leases count from those alone.
    pub fn dispatcher_with<L: TaskLauncher>(
        &self,
        launcher: L,
        settings: Settings,
    ) -> Dispatcher<DynamoStore, L, Recording> {
        let settings = Settings {
            clock: Clock::fixed(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            ..settings
        };
        Dispatcher::new(self.store.clone(), launcher, self.events.clone(), settings)
    }

    pub fn triggers(
        &self,
    ) -> Triggers<DynamoStore, EcsLauncher, Recording, EcsServices, CloudWatchMetrics> {
        Triggers::new(self.dispatcher(), self.sleeper(), self.store.clone())
    }

    /// The sleeper over the emulator's ECS services, Application Auto Scaling and CloudWatch.
    pub fn sleeper(&self) -> Sleeper<DynamoStore, EcsServices, CloudWatchMetrics, Recording> {
        self.sleeper_with(
            self.services(),
            CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&self.config)),
        )
    }

    pub fn sleeper_with<C: ServiceScaler, M: Metrics>(
        &self,
        scaler: C,
        metrics: M,
    ) -> Sleeper<DynamoStore, C, M, Recording> {
        Sleeper::new(self.store.clone(), scaler, metrics, self.events.clone())
    }

    pub fn services(&self) -> EcsServices {
        EcsServices::new(&self.config)
    }

    /// A trigger queue, as the stack's: returns its URL and ARN.
    pub async fn trigger_queue(&self) -> (String, String) {
        crate::sqs_queue(&self.config, &unique_name("trigger"))
            .await
            .unwrap()
    }

    /// What EventBridge delivered to a queue, as Lambda's SQS poller hands it to a function (and deleted from the
    /// queue, as Lambda does after a successful batch).
    pub async fn receive(&self, queue_url: &str) -> aws_lambda_events::sqs::SqsEvent {
        let sqs = aws_sdk_sqs::Client::new(&self.config);
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .unwrap();
        let mut records = Vec::new();
        for m in out.messages() {
            records.push(serde_json::json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect::<BTreeMap<_, _>>()).unwrap_or_default(),
                "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:trigger"
            }));
            sqs.delete_message()
                .queue_url(queue_url)
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .send()
                .await
                .unwrap();
        }
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    /// A rule for fsched's commands on the bus to `queue`, as template.yaml's CommandsRule.
    pub async fn commands_rule(&self, queue: &str) {
        let eb = aws_sdk_eventbridge::Client::new(&self.config);
        eb.put_rule()
            .name("commands")
            .event_bus_name(&self.bus)
            .event_pattern(
                serde_json::json!({"source": [fsched_core::domain::trigger::COMMAND_SOURCE]})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        eb.put_targets()
            .rule("commands")
            .event_bus_name(&self.bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("fsched-trigger")
                    .arn(queue)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Puts an event on the stack's bus, as another system would.
    pub async fn put_event(&self, source: &str, detail_type: &str, detail: serde_json::Value) {
        self.put_event_at(source, detail_type, detail, None).await
    }

    /// Puts an event on the stack's bus with the `time` its sender claims (PutEvents' `Time`).
    pub async fn put_event_at(
        &self,
        source: &str,
        detail_type: &str,
        detail: serde_json::Value,
        time: Option<DateTime<Utc>>,
    ) {
        let out = aws_sdk_eventbridge::Client::new(&self.config)
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(source)
                    .detail_type(detail_type)
                    .detail(detail.to_string())
                    .set_time(time.map(|t| aws_smithy_types::DateTime::from_secs(t.timestamp())))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 0, "{out:?}");
    }

    pub fn recorder(&self) -> Recorder<DynamoStore, EcsLauncher, Recording> {
        Recorder::new(self.store.clone(), self.ecs.clone(), self.events.clone())
    }

    pub fn spec(&self, schedule: &str) -> JobSpec {
        JobSpec {
            cluster: self.sandbox.cluster.clone(),
            task_definition: self.task_definition.clone(),
            network: Network {
                subnets: self.sandbox.subnets.clone(),
                security_groups: vec![self.sandbox.security_group.clone()],
                assign_public_ip: false,
            },
            tags: BTreeMap::from([("team".into(), "data".into())]),
            retries: Retries {
                attempts: 2,
                backoff: Span::from_secs(1),
            },
            ..job_spec(schedule)
        }
    }

    /// Stores a job as `apply` would at `now`: its next fire is the first after `now`.
    pub async fn add(&self, name: &str, spec: JobSpec, now: DateTime<Utc>) -> JobName {
        let name = JobName::new(name).unwrap();
        let job = Job {
            name: name.clone(),
            next_fire: next_fire(&spec, now),
            spec,
            version: 1,
            last_fire: None,
            health: Default::default(),
        };
        self.store.put_job(&job, None).await.unwrap();
        name
    }

    pub async fn runs(&self, job: &JobName) -> Vec<Run> {
        let mut runs = self.store.runs_of_job(job, 10_000).await.unwrap();
        runs.reverse();
        runs
    }

    pub async fn run(&self, job: &JobName, at: DateTime<Utc>) -> Run {
        self.store
            .get_run(&RunId::scheduled(job, at))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no run of {job} at {at}"))
    }

    /// A fixture event (tests/events/ecs/`fixture`.json) about the task the run launched, as ECS would send it:
    /// the task's ARN and task definition, container `app`, times moved to the time the run was due.
    pub async fn report(&self, run: &Run, fixture: &str) -> serde_json::Value {
        let arn = run.task_arn.clone().unwrap();
        let task = self
            .ecs
            .describe(&self.sandbox.cluster, std::slice::from_ref(&arn))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let definition = task.task_definition_arn.unwrap();
        task_event(fixture, &arn, &definition, "app", run.due_at()).unwrap()
    }

    pub async fn tasks(&self) -> Vec<String> {
        tasks(&self.config, &self.sandbox.cluster).await.unwrap()
    }

    pub fn events(&self, detail_type: &str) -> Vec<serde_json::Value> {
        let seen = self.events.seen.lock().unwrap();
        seen.iter()
            .filter(|e| e.detail_type == detail_type)
            .map(|e| e.detail.clone())
            .collect()
    }
}
