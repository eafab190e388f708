//! Wiring only: configuration from the environment, SDK clients built once, the handler run by the Lambda runtime.

use aws_config::BehaviorVersion;
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::ecs::EcsLauncher;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::lambda::FunctionEnv;
use fsched_core::service::record::Recorder;
use fsched_recorder::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();

    let FunctionEnv { table, bus } = FunctionEnv::from_env()?;
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
