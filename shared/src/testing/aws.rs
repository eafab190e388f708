//! The other AWS ports in memory: ECS services with Application Auto Scaling bounds and ALB listener rules and
//! target groups (`ServiceScaler`), CloudWatch
//! sums (`Metrics`), the event bus (`EventPublisher`) and EventBridge rules (`EventRules`). Each keeps what was done to
//! it for the test to look at, and can be made to fail its next calls.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::domain::event::BusEvent;
use crate::domain::service::IdleMetric;
use crate::domain::trigger::{EventRule, FoundRule};
use crate::ports::{
    EventPublisher, EventRules, MetricError, Metrics, PublishError, RuleError, ScaleError,
    ServiceNow, ServiceScaler,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Scaling {
    services: BTreeMap<(String, String), ServiceNow>,
    failures: VecDeque<ScaleError>,
    sets: usize,
    /// Listener rule -> the target group it forwards to.
    rules: BTreeMap<String, String>,
    /// Target group -> its healthy targets.
    healthy: BTreeMap<String, u32>,
}

/// ECS services and their scalable targets. A service's running count follows its desired count at once.
#[derive(Clone, Default)]
pub struct FakeScaler {
    inner: Arc<Mutex<Scaling>>,
}

impl FakeScaler {
    pub fn new() -> Self {
        FakeScaler::default()
    }

    /// Creates (or replaces) a service as ECS would find it.
    pub fn add(&self, cluster: &str, service: &str, desired: u32, autoscaling: Option<(u32, u32)>) {
        let now = ServiceNow {
            desired_count: desired,
            running_count: desired,
            autoscaling,
            task_cpu: Some(256),
            task_memory: Some(512),
        };
        lock(&self.inner)
            .services
            .insert((cluster.to_owned(), service.to_owned()), now);
    }

    pub fn get(&self, cluster: &str, service: &str) -> Option<ServiceNow> {
        lock(&self.inner)
            .services
            .get(&(cluster.to_owned(), service.to_owned()))
            .copied()
    }

    /// The next call (`current` or `set`) fails with `error` (queued: one per call).
    pub fn fail_next(&self, error: ScaleError) {
        lock(&self.inner).failures.push_back(error);
    }

    /// `set` calls that changed something.
    pub fn sets(&self) -> usize {
        lock(&self.inner).sets
    }

    /// The target group a listener rule forwards to (`None`: never set).
    pub fn forwards_to(&self, rule: &str) -> Option<String> {
        lock(&self.inner).rules.get(rule).cloned()
    }

    /// From now on, `target_group` has `n` healthy targets.
    pub fn set_healthy(&self, target_group: &str, n: u32) {
        lock(&self.inner).healthy.insert(target_group.to_owned(), n);
    }

    /// How many healthy targets `target_group` has (what the load balancer sends requests to).
    pub fn healthy_now(&self, target_group: &str) -> u32 {
        lock(&self.inner)
            .healthy
            .get(target_group)
            .copied()
            .unwrap_or(0)
    }
}

impl ServiceScaler for FakeScaler {
    async fn current(&self, cluster: &str, service: &str) -> Result<ServiceNow, ScaleError> {
        let mut s = lock(&self.inner);
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        s.services
            .get(&(cluster.to_owned(), service.to_owned()))
            .copied()
            .ok_or_else(|| ScaleError::NotFound {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
            })
    }

    async fn set(
        &self,
        cluster: &str,
        service: &str,
        desired_count: u32,
        autoscaling: Option<(u32, u32)>,
    ) -> Result<(), ScaleError> {
        let mut s = lock(&self.inner);
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        s.sets += 1;
        let now = s
            .services
            .get_mut(&(cluster.to_owned(), service.to_owned()))
            .ok_or_else(|| ScaleError::NotFound {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
            })?;
        // Application Auto Scaling only for a service that has a scalable target, as RegisterScalableTarget would
        // create one: fsched passes bounds back only when it read some.
        if autoscaling.is_some() {
            now.autoscaling = autoscaling;
        }
        now.desired_count = desired_count;
        now.running_count = desired_count;
        Ok(())
    }

    async fn forward(&self, rule: &str, target_group: &str) -> Result<(), ScaleError> {
        let mut s = lock(&self.inner);
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        s.rules.insert(rule.to_owned(), target_group.to_owned());
        Ok(())
    }

    async fn healthy(&self, target_group: &str) -> Result<u32, ScaleError> {
        let mut s = lock(&self.inner);
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        Ok(s.healthy.get(target_group).copied().unwrap_or(0))
    }
}

/// CloudWatch sums, set by the test per metric (`None`: no data points, which is what an unused metric has).
#[derive(Clone, Default)]
pub struct FakeMetrics {
    sums: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl FakeMetrics {
    pub fn new() -> Self {
        FakeMetrics::default()
    }

    /// From now on, `metric` sums to `value` over any window (`None`: no data).
    pub fn set(&self, metric: &IdleMetric, value: Option<f64>) {
        let key = format!("{metric:?}");
        let mut sums = lock(&self.sums);
        match value {
            Some(v) => sums.insert(key, v),
            None => sums.remove(&key),
        };
    }
}

impl Metrics for FakeMetrics {
    async fn sum(
        &self,
        metric: &IdleMetric,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Option<f64>, MetricError> {
        Ok(lock(&self.sums).get(&format!("{metric:?}")).copied())
    }
}

#[derive(Default)]
struct Bus {
    published: Vec<BusEvent>,
    failures: VecDeque<String>,
}

/// The stack's bus: every event published, in order.
#[derive(Clone, Default)]
pub struct FakeBus {
    inner: Arc<Mutex<Bus>>,
}

impl FakeBus {
    pub fn new() -> Self {
        FakeBus::default()
    }

    pub fn published(&self) -> Vec<BusEvent> {
        lock(&self.inner).published.clone()
    }

    /// Events published since the last call.
    pub fn take(&self) -> Vec<BusEvent> {
        std::mem::take(&mut lock(&self.inner).published)
    }

    /// The next PutEvents fails as a whole with `message` (queued: one per call).
    pub fn fail_next(&self, message: &str) {
        lock(&self.inner).failures.push_back(message.to_owned());
    }
}

impl EventPublisher for FakeBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        let mut bus = lock(&self.inner);
        if let Some(message) = bus.failures.pop_front() {
            return Err(PublishError {
                failed: events.len(),
                total: events.len(),
                message,
            });
        }
        bus.published.extend(events.iter().cloned());
        Ok(())
    }
}

/// EventBridge rules by (bus, name), with their pattern and the one target fsched gives them.
#[derive(Clone, Default)]
pub struct FakeRules {
    rules: Arc<Mutex<BTreeMap<(String, String), FoundRule>>>,
}

impl FakeRules {
    pub fn new() -> Self {
        FakeRules::default()
    }

    pub fn names(&self) -> Vec<String> {
        lock(&self.rules).keys().map(|(_, n)| n.clone()).collect()
    }
}

impl EventRules for FakeRules {
    async fn list(&self, bus: &str, prefix: &str) -> Result<Vec<FoundRule>, RuleError> {
        Ok(lock(&self.rules)
            .iter()
            .filter(|((b, n), _)| b == bus && n.starts_with(prefix))
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn put(&self, rule: &EventRule, queue: &str) -> Result<(), RuleError> {
        let found = FoundRule {
            name: rule.name.clone(),
            bus: rule.bus.clone(),
            pattern: Some(rule.pattern.clone()),
            targets: vec![(queue.to_owned(), Some(rule.input_template()))],
        };
        lock(&self.rules).insert((rule.bus.clone(), rule.name.clone()), found);
        Ok(())
    }

    async fn delete(&self, bus: &str, name: &str) -> Result<(), RuleError> {
        lock(&self.rules).remove(&(bus.to_owned(), name.to_owned()));
        Ok(())
    }
}
