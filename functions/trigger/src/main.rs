//! Wiring only: configuration from the environment, adapters built once, the handler run by the Lambda runtime.

use fsched_core::lambda::Wiring;
use fsched_core::service::trigger::Triggers;
use fsched_trigger::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();
    let wiring = Wiring::load().await?;
    let triggers = Triggers::new(
        wiring.dispatcher(fsched_core::lambda::dispatch_settings()?),
        wiring.sleeper(),
        wiring.store(),
    );
    let skew = wiring.env.skew;
    let table = wiring.env.table.clone();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        let result = handler::handle(&triggers, skew, event).await;
        handler::metrics(&table, &result, chrono::Utc::now()).emit();
        result
    }))
    .await
}
