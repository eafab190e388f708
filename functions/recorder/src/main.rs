//! Wiring only: configuration from the environment, adapters built once, the handler run by the Lambda runtime.
// The recorder's future (runtime, handler, record, the SDK calls within) nests deeper than the default limit lets
// the compiler compute its layout.
#![recursion_limit = "256"]

use fsched_core::lambda::Wiring;
use fsched_core::service::record::Recorder;
use fsched_recorder::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();
    let wiring = Wiring::load().await?;
    let recorder = Recorder::new(wiring.store(), wiring.ecs(), wiring.publisher());
    let table = wiring.env.table.clone();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        let result = handler::handle(&recorder, event.payload).await;
        handler::metrics(&table, &result, chrono::Utc::now()).emit();
        result
    }))
    .await
}
