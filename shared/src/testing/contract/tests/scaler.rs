//! The scaler's contract: what the sleeper relies on from ECS services, Application Auto Scaling and Elastic Load
//! Balancing, as tests any `ServiceScaler` must pass. `FakeScaler` runs them in `cargo test -p fsched-core`;
//! `EcsServices` runs the same functions against the emulator in `tests/tests/contracts.rs` (through
//! `scaler_contract!`). Each function is given a world made for it (`ScalerWorld`).

use std::future::Future;

use crate::ports::{ScaleError, ServiceScaler};

/// What a scaler contract runs in: the scaler, and the services, rule and target groups it made.
pub struct ScalerPlace {
    pub cluster: String,
    /// A service with 3 tasks and an Application Auto Scaling target of 2 to 6.
    pub scaled: String,
    /// A service with 1 task and no scalable target.
    pub plain: String,
    /// A listener rule that forwards to `service_group` (with no targets registered); `waker_group` is another
    /// target group.
    pub rule: String,
    pub service_group: String,
    pub waker_group: String,
}

pub trait ScalerWorld {
    type Scaler: ServiceScaler;
    fn scaler(&self) -> &Self::Scaler;
    fn place(&self) -> &ScalerPlace;
    /// The target group the rule's forward action points at, read from the load balancer itself.
    fn forwards_to(&self, rule: &str) -> impl Future<Output = String> + Send;
}

pub async fn a_services_scale_and_bounds_are_read_set_and_restored(w: impl ScalerWorld) {
    let (s, p) = (w.scaler(), w.place());
    let before = s.current(&p.cluster, &p.scaled).await.unwrap();
    assert_eq!(
        (before.desired_count, before.autoscaling),
        (3, Some((2, 6)))
    );
    s.set(&p.cluster, &p.scaled, 0, Some((0, 0))).await.unwrap();
    let asleep = s.current(&p.cluster, &p.scaled).await.unwrap();
    assert_eq!(
        (asleep.desired_count, asleep.autoscaling),
        (0, Some((0, 0)))
    );
    s.set(&p.cluster, &p.scaled, 3, Some((2, 6))).await.unwrap();
    let after = s.current(&p.cluster, &p.scaled).await.unwrap();
    assert_eq!(
        (after.desired_count, after.autoscaling),
        (before.desired_count, before.autoscaling)
    );
}

pub async fn a_service_without_a_scalable_target_has_no_bounds(w: impl ScalerWorld) {
    let (s, p) = (w.scaler(), w.place());
    let before = s.current(&p.cluster, &p.plain).await.unwrap();
    assert_eq!((before.desired_count, before.autoscaling), (1, None));
    s.set(&p.cluster, &p.plain, 0, None).await.unwrap();
    let after = s.current(&p.cluster, &p.plain).await.unwrap();
    assert_eq!((after.desired_count, after.autoscaling), (0, None));
}

pub async fn an_unknown_service_is_not_found(w: impl ScalerWorld) {
    let (s, p) = (w.scaler(), w.place());
    let missing = s.current(&p.cluster, "no-such-service").await;
    assert!(
        matches!(missing, Err(ScaleError::NotFound { .. })),
        "{missing:?}"
    );
}

pub async fn a_rules_forward_action_is_pointed_at_a_group_and_back(w: impl ScalerWorld) {
    let (s, p) = (w.scaler(), w.place());
    s.forward(&p.rule, &p.waker_group).await.unwrap();
    assert_eq!(w.forwards_to(&p.rule).await, p.waker_group);
    s.forward(&p.rule, &p.service_group).await.unwrap();
    assert_eq!(w.forwards_to(&p.rule).await, p.service_group);
    assert_eq!(s.healthy(&p.service_group).await.unwrap(), 0, "no targets");
}
