//! What the sleeper needs from AWS: an ECS service's scale (with its autoscaling bounds), the listener rule and
//! target group of a service woken by requests, and the metric that says whether it is used.

use std::future::Future;

use chrono::{DateTime, Utc};

/// An ECS service as fsched finds it: its scale, and its task size (for savings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceNow {
    pub desired_count: u32,
    pub running_count: u32,
    /// Application Auto Scaling min and max, when the service has a scalable target.
    pub autoscaling: Option<(u32, u32)>,
    /// CPU units and MiB of one task, from its task definition.
    pub task_cpu: Option<u32>,
    pub task_memory: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaleError {
    #[error("service `{service}` not found in cluster `{cluster}`")]
    NotFound { cluster: String, service: String },
    #[error("ECS, Application Auto Scaling or Elastic Load Balancing is throttling or unavailable: {message}")]
    Transient { message: String },
    #[error("{message}")]
    Rejected { message: String },
}

/// Reads and sets an ECS service's scale.
pub trait ServiceScaler: Send + Sync + 'static {
    fn current(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<ServiceNow, ScaleError>> + Send;

    /// Sets the Application Auto Scaling bounds (when `autoscaling` is given), then the desired count.
    fn set(
        &self,
        cluster: &str,
        service: &str,
        desired_count: u32,
        autoscaling: Option<(u32, u32)>,
    ) -> impl Future<Output = Result<(), ScaleError>> + Send;

    /// Points an ALB listener rule's forward action at `target_group` (a service's own, or the waker's).
    fn forward(
        &self,
        rule: &str,
        target_group: &str,
    ) -> impl Future<Output = Result<(), ScaleError>> + Send;

    /// How many of a target group's targets are healthy.
    fn healthy(&self, target_group: &str) -> impl Future<Output = Result<u32, ScaleError>> + Send;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MetricError {
    pub message: String,
}

/// Reads the metrics that tell whether a service is used.
pub trait Metrics: Send + Sync + 'static {
    /// The metric's sum over `[from, to)`; `None` when CloudWatch has no data points in it.
    fn sum(
        &self,
        metric: &crate::domain::service::IdleMetric,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<f64>, MetricError>> + Send;
}
