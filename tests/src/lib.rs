//! Shared harness for fsched's integration tests and the demo's set-up: SDK configuration from the standard AWS
//! environment (pointed at the local emulator by scripts/local-aws), and fresh tables made from template.yaml.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context};
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use fsched_core::aws::table::TableSpec;

/// The product's template: the only definition of the table.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// Loads the SDK configuration the way the product does, after checking it points at a local emulator: these tests
/// create and delete resources and must never reach a real account.
pub async fn local_sdk_config() -> anyhow::Result<aws_config::SdkConfig> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context(
        "AWS_ENDPOINT_URL is not set: run the tests through scripts/test (or scripts/local-aws cargo test), \
         which starts the local AWS emulator",
    )?;
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) {
        bail!("AWS_ENDPOINT_URL={endpoint} is not a local emulator; refusing to run integration tests against it");
    }
    // One attempt: the emulator answers unsupported calls with HTTP 500, which would otherwise be retried slowly.
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await)
}

/// A table name unique to this process and call, so tests can run in parallel against one emulator.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a fresh table from template.yaml's definition and returns its name.
pub async fn fresh_table(client: &aws_sdk_dynamodb::Client) -> anyhow::Result<String> {
    let name = unique_name("fsched-test");
    TableSpec::from_template(TEMPLATE)?
        .create(client, &name)
        .await?;
    Ok(name)
}

pub mod counting;
pub mod ecs;
pub mod elb;
pub mod faults;
pub mod logs;
pub mod world;

pub use fsched_core::testing::contract::job_spec;

/// Creates an SQS queue (a trigger queue, as the stack's `TriggerQueue`) and returns its URL and ARN.
pub async fn sqs_queue(
    config: &aws_config::SdkConfig,
    name: &str,
) -> anyhow::Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(config);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .context("no queue URL")?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .context("no queue ARN")?;
    Ok((url, arn))
}

/// A JSON value as snapshot text: pretty, every object's keys sorted, whichever order serde_json keeps (its
/// `preserve_order` feature is on or off depending on what else is built with it).
pub fn sorted_json(v: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut pairs: Vec<(&String, &serde_json::Value)> = m.iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&sorted(v)).unwrap_or_default()
}
