//! Wiring only: configuration from the environment, SDK clients built once, the handler run by the Lambda runtime.

use fsched_dispatcher::handler;

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::aws::services::{CloudWatchMetrics, EcsServices};
use fsched_core::lambda::FunctionEnv;
use fsched_core::service::dispatch::{Dispatcher, Settings};
use fsched_core::service::scale::Sleeper;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();

    let FunctionEnv { table, bus } = FunctionEnv::from_env()?;
    let mut settings = Settings::default();
    if let Ok(rate) = std::env::var("FSCHED_RUN_TASK_RATE") {
        settings.run_task_rate = rate.parse().map_err(|_| {
            format!("FSCHED_RUN_TASK_RATE=`{rate}` is not a number of calls per second")
        })?;
    }

    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    // RunTask retries are the dispatcher's own (paced, with the job's backoff, within the invocation's time): the
    // SDK's retries would multiply them.
    let ecs = aws_sdk_ecs::config::Builder::from(&config)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), bus);
    let dispatcher = Dispatcher::new(
        store.clone(),
        EcsLauncher::new(aws_sdk_ecs::Client::from_conf(ecs)),
        publisher.clone(),
        settings,
    );
    let sleeper = Sleeper::new(
        store,
        EcsServices::new(
            aws_sdk_ecs::Client::new(&config),
            aws_sdk_applicationautoscaling::Client::new(&config),
        ),
        CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config)),
        publisher,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&dispatcher, &sleeper, event)
    }))
    .await
}
