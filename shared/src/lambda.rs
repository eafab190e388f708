//! What every fsched function does before its handler runs: JSON logs for CloudWatch, and the settings
//! template.yaml gives every function in its environment.

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
}

impl FunctionEnv {
    pub fn from_env() -> Result<FunctionEnv, String> {
        Ok(FunctionEnv {
            table: required("FSCHED_TABLE")?,
            bus: required("FSCHED_EVENT_BUS")?,
        })
    }
}
