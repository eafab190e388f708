//! Wiring only: configuration from the environment, adapters built once, the handler run by the Lambda runtime.

use fsched_core::lambda::Wiring;
use fsched_dispatcher::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();
    let wiring = Wiring::load().await?;
    let dispatcher = wiring.dispatcher(fsched_core::lambda::dispatch_settings()?);
    let sleeper = wiring.sleeper();
    let env = wiring.env.clone();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handler::handle(&dispatcher, &sleeper, &env, event)
    }))
    .await
}
