//! Wiring only: configuration from the environment, SDK clients built once, the handler run by the Lambda runtime.

use aws_config::BehaviorVersion;
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::service::record::Recorder;
use fsched_recorder::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

fn required(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set").into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();

    let table = required("FSCHED_TABLE")?;
    let bus = required("FSCHED_EVENT_BUS")?;
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let recorder = Recorder::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table),
        EcsLauncher::new(aws_sdk_ecs::Client::new(&config)),
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), bus),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&recorder, event.payload)
    }))
    .await
}
