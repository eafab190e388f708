//! Wiring only: configuration from the environment, SDK clients built once, the handler run by the Lambda runtime.

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::aws::services::{CloudWatchMetrics, EcsServices};
use fsched_core::lambda::FunctionEnv;
use fsched_core::service::dispatch::{Dispatcher, Settings};
use fsched_core::service::scale::Sleeper;
use fsched_core::service::trigger::Triggers;
use fsched_trigger::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();

    let FunctionEnv { table, bus } = FunctionEnv::from_env()?;
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    // RunTask retries are the dispatcher's own (paced, with the job's backoff): the SDK's would multiply them.
    let ecs = aws_sdk_ecs::config::Builder::from(&config)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), bus);
    let triggers = Triggers::new(
        Dispatcher::new(
            store.clone(),
            EcsLauncher::new(aws_sdk_ecs::Client::from_conf(ecs)),
            publisher.clone(),
            Settings::default(),
        ),
        Sleeper::new(
            store.clone(),
            EcsServices::new(
                aws_sdk_ecs::Client::new(&config),
                aws_sdk_applicationautoscaling::Client::new(&config),
            ),
            CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config)),
            publisher,
        ),
        store,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        handler::handle(&triggers, event)
    }))
    .await
}
