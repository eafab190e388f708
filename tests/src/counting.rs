//! A test-only counting layer over the SDK clients: an interceptor that records every request each client sends
//! (per attempt, so retries count) and how many operations are in flight at once. Budgets are asserted on it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One request as sent: the operation's name and when.
#[derive(Debug, Clone)]
pub struct Request {
    pub operation: String,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<Request>,
    in_flight: usize,
    max_in_flight: usize,
}

/// Clone it into each client's config with `.interceptor(counter.clone())`.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<Mutex<State>>);

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_owned())
        .unwrap_or_else(|| "?".to_owned())
}

impl Counter {
    /// Requests sent for an operation (e.g. "Query", "PutItem", "RunTask").
    pub fn count(&self, operation: &str) -> usize {
        self.requests(operation).len()
    }

    pub fn requests(&self, operation: &str) -> Vec<Request> {
        let state = self.0.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| r.operation == operation)
            .cloned()
            .collect()
    }

    /// All requests, of any operation.
    pub fn total(&self) -> usize {
        self.0.lock().unwrap().requests.len()
    }

    /// The most operations that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.0.lock().unwrap().max_in_flight
    }

    /// The most requests of `operation` sent within any one second.
    pub fn max_per_second(&self, operation: &str) -> usize {
        let times: Vec<Instant> = self.requests(operation).iter().map(|r| r.at).collect();
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .take_while(|t| t.duration_since(times[i]).as_secs_f64() < 1.0)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    pub fn reset(&self) {
        *self.0.lock().unwrap() = State::default();
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "fsched-test-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut state = self.0.lock().unwrap();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = Request {
            operation: operation(cfg),
            at: Instant::now(),
        };
        self.0.lock().unwrap().requests.push(request);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut state = self.0.lock().unwrap();
        state.in_flight = state.in_flight.saturating_sub(1);
        Ok(())
    }
}
