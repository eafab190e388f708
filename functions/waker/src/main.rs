//! Wiring only: configuration from the environment, adapters built once, the handler run by the Lambda runtime.
// The handler's future nests the store's and the bus's SDK futures deeply: past the compiler's default query depth.
#![recursion_limit = "256"]

use fsched_core::lambda::Wiring;
use fsched_core::service::waker::Waker;
use fsched_waker::handler;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    fsched_core::lambda::init_logging();
    let wiring = Wiring::load().await?;
    let waker = Waker::new(wiring.store(), wiring.publisher());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<_, Error>(handler::handle(&waker, event.payload, chrono::Utc::now()).await)
    }))
    .await
}
