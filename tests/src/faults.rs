//! Failures the emulator cannot make, put in front of the real adapters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fsched_core::aws::services::EcsServices;
use fsched_core::ports::{ScaleError, ServiceNow, ServiceScaler};

/// The emulator's ECS services, whose first `set` fails as a throttled API would: a sleep or wake stops half-way
/// (after the scale was saved, and after a request-woken service's rule was pointed at the waker).
#[derive(Clone)]
pub struct FailsOnce {
    inner: EcsServices,
    failed: Arc<AtomicBool>,
}

impl FailsOnce {
    pub fn new(inner: EcsServices) -> Self {
        FailsOnce {
            inner,
            failed: Arc::default(),
        }
    }
}

impl ServiceScaler for FailsOnce {
    async fn current(&self, cluster: &str, service: &str) -> Result<ServiceNow, ScaleError> {
        self.inner.current(cluster, service).await
    }

    async fn set(
        &self,
        cluster: &str,
        service: &str,
        n: u32,
        a: Option<(u32, u32)>,
    ) -> Result<(), ScaleError> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Err(ScaleError::Transient {
                message: "ThrottlingException: Rate exceeded".into(),
            });
        }
        self.inner.set(cluster, service, n, a).await
    }

    async fn forward(&self, rule: &str, target_group: &str) -> Result<(), ScaleError> {
        self.inner.forward(rule, target_group).await
    }

    async fn healthy(&self, target_group: &str) -> Result<u32, ScaleError> {
        self.inner.healthy(target_group).await
    }
}
