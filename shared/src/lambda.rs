//! What every fsched function does before its handler runs: JSON logs for CloudWatch, the settings template.yaml
//! gives every function in its environment, the adapters built once from the standard AWS configuration, and the
//! time an invocation has left. The functions' `main.rs` files are this, and the runtime loop.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::aws::dynamo::DynamoStore;
use crate::aws::ecs::EcsLauncher;
use crate::aws::events::EventBridgePublisher;
use crate::aws::services::{CloudWatchMetrics, EcsServices};
use crate::domain::clock::DEFAULT_SKEW;
use crate::domain::duration::Span;
use crate::service::dispatch::{Dispatcher, Settings};
use crate::service::scale::Sleeper;

/// Logs as JSON lines (CloudWatch Logs keeps them as they are), filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
}

/// An environment variable the function cannot work without.
pub fn required(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

/// The settings every function gets from template.yaml's Globals.
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    /// `FSCHED_TABLE`: the table.
    pub table: String,
    /// `FSCHED_EVENT_BUS`: the stack's bus.
    pub bus: String,
    /// `FSCHED_MAX_CLOCK_SKEW` (template parameter `MaxClockSkew`): how far ahead of the function's clock a tick's or
    /// an event's time may be (`domain::clock`); 5 minutes when unset.
    pub skew: Span,
    /// `FSCHED_WAKER_TARGET_GROUP`: the stack's waker target group, where the rules of sleeping services woken by
    /// requests forward (the dispatcher's and the trigger's; unset for the others).
    pub waker: Option<String>,
}

impl FunctionEnv {
    pub fn from_env() -> Result<FunctionEnv, String> {
        Ok(FunctionEnv {
            table: required("FSCHED_TABLE")?,
            bus: required("FSCHED_EVENT_BUS")?,
            skew: match std::env::var("FSCHED_MAX_CLOCK_SKEW") {
                Ok(text) => text
                    .parse()
                    .map_err(|e| format!("FSCHED_MAX_CLOCK_SKEW: {e}"))?,
                Err(_) => DEFAULT_SKEW,
            },
            waker: std::env::var("FSCHED_WAKER_TARGET_GROUP")
                .ok()
                .filter(|w| !w.is_empty()),
        })
    }
}

/// The dispatcher's settings a function launches with: the defaults, and `FSCHED_RUN_TASK_RATE` (template parameter
/// `RunTaskRate`) when set.
pub fn dispatch_settings() -> Result<Settings, String> {
    let mut settings = Settings::default();
    if let Ok(rate) = std::env::var("FSCHED_RUN_TASK_RATE") {
        settings.run_task_rate = run_task_rate(&rate)?;
    }
    Ok(settings)
}

fn run_task_rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("FSCHED_RUN_TASK_RATE=`{text}` is not a number of calls per second"))
}

/// How long an invocation may still run, from the Lambda context's deadline (milliseconds since the Unix epoch);
/// `fallback` when it carries none or one that has already passed (local runtimes send 0, or a deadline computed on
/// another clock: Lambda itself never starts a handler after its deadline).
pub fn remaining(deadline_ms: u64, now: SystemTime, fallback: Duration) -> Duration {
    if deadline_ms == 0 {
        return fallback;
    }
    (UNIX_EPOCH + Duration::from_millis(deadline_ms))
        .duration_since(now)
        .unwrap_or(fallback)
}

/// The adapters a function uses, each built once at start-up from the standard AWS configuration.
pub struct Wiring {
    pub config: SdkConfig,
    pub env: FunctionEnv,
}

/// The dispatcher as the functions build it.
pub type AwsDispatcher = Dispatcher<DynamoStore, EcsLauncher, EventBridgePublisher>;
/// The sleeper as the functions build it.
pub type AwsSleeper = Sleeper<DynamoStore, EcsServices, CloudWatchMetrics, EventBridgePublisher>;

impl Wiring {
    /// Reads the environment and the AWS configuration.
    pub async fn load() -> Result<Wiring, String> {
        Ok(Wiring {
            env: FunctionEnv::from_env()?,
            config: aws_config::load_defaults(BehaviorVersion::latest()).await,
        })
    }

    /// The stack's discriminator, from its table's name (the CLI derives the same for the stack's rules).
    fn stack(&self) -> String {
        crate::domain::trigger::stack_tag(&self.env.table)
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.config), &self.env.table)
    }

    pub fn publisher(&self) -> EventBridgePublisher {
        EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&self.config),
            &self.env.bus,
        )
    }

    /// ECS with the SDK's own retries, for reading (DescribeTasks, DescribeTaskDefinition).
    pub fn ecs(&self) -> EcsLauncher {
        EcsLauncher::new(aws_sdk_ecs::Client::new(&self.config), self.stack())
    }

    /// ECS for launching: RunTask retries are the dispatcher's own (paced, with the job's back-off, within the
    /// invocation's time), so the SDK's would multiply them.
    pub fn ecs_launcher(&self) -> EcsLauncher {
        let ecs = aws_sdk_ecs::config::Builder::from(&self.config)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build();
        EcsLauncher::new(aws_sdk_ecs::Client::from_conf(ecs), self.stack())
    }

    pub fn dispatcher(&self, settings: Settings) -> AwsDispatcher {
        Dispatcher::new(
            self.store(),
            self.ecs_launcher(),
            self.publisher(),
            settings,
        )
    }

    pub fn sleeper(&self) -> AwsSleeper {
        Sleeper::new(
            self.store(),
            EcsServices::new(&self.config),
            CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&self.config)),
            self.publisher(),
        )
        .with_waker(self.env.waker.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_task_rate_is_a_positive_number_of_calls_a_second() {
        assert_eq!(run_task_rate("40"), Ok(40.0));
        assert_eq!(run_task_rate(" 12.5 "), Ok(12.5));
        for bad in ["", "0", "-3", "fast", "NaN", "inf"] {
            let err = run_task_rate(bad).unwrap_err();
            assert!(err.contains("FSCHED_RUN_TASK_RATE"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_time_left_comes_from_the_deadline_or_the_fallback() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let fallback = Duration::from_secs(60);
        assert_eq!(remaining(0, now, fallback), fallback);
        assert_eq!(
            remaining(1_000_000 + 2_500, now, fallback),
            Duration::from_millis(2_500)
        );
        assert_eq!(
            remaining(999_000, now, fallback),
            fallback,
            "past: not Lambda's"
        );
    }
}
