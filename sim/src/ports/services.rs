//! The sleeper's ports in the simulator: the in-memory ECS services (with their load balancer rules) and metrics,
//! wrapped in the fault plan, each scale change reported to the ledger.

use chrono::{DateTime, Utc};
use fsched_core::domain::service::IdleMetric;
use fsched_core::ports::*;

use super::{Scaler, Watch};
use crate::chaos::lock;

impl ServiceScaler for Scaler {
    async fn current(&self, cluster: &str, service: &str) -> Result<ServiceNow, ScaleError> {
        let error = |message| ScaleError::Transient { message };
        self.guard(
            || "DescribeServices".to_owned(),
            false,
            error,
            self.inner.current(cluster, service),
        )
        .await
    }

    async fn set(
        &self,
        cluster: &str,
        service: &str,
        desired: u32,
        autoscaling: Option<(u32, u32)>,
    ) -> Result<(), ScaleError> {
        let op = || format!("UpdateService {service} -> {desired} {autoscaling:?}");
        let error = |message| ScaleError::Transient { message };
        let scaler = &self.inner;
        let call = async {
            let before = scaler.get(cluster, service);
            scaler.set(cluster, service, desired, autoscaling).await?;
            if let (Some(before), Some(after)) = (before, scaler.get(cluster, service)) {
                lock(&self.faults).ledger.scaled(service, before, after);
            }
            Ok(())
        };
        self.guard(op, true, error, call).await
    }

    async fn forward(&self, rule: &str, target_group: &str) -> Result<(), ScaleError> {
        let op = || format!("ModifyRule {rule} -> {target_group}");
        let error = |message| ScaleError::Transient { message };
        let call = self.inner.forward(rule, target_group);
        self.guard(op, true, error, call).await
    }

    async fn healthy(&self, target_group: &str) -> Result<u32, ScaleError> {
        let op = || format!("DescribeTargetHealth {target_group}");
        let error = |message| ScaleError::Transient { message };
        let call = self.inner.healthy(target_group);
        self.guard(op, false, error, call).await
    }
}

impl Metrics for Watch {
    async fn sum(
        &self,
        metric: &IdleMetric,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<f64>, MetricError> {
        let error = |message| MetricError { message };
        self.guard(
            || "GetMetricData".to_owned(),
            false,
            error,
            self.inner.sum(metric, from, to),
        )
        .await
    }
}
