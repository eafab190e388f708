//! The in-memory fakes held to the ports' contracts: the same functions `tests/` runs against the AWS adapters on the
//! emulator (`fsched_core::testing::contract`), and what only the fakes can be checked for here.

use chrono::{Duration, TimeZone, Utc};
use fsched_core::ports::{ServiceScaler, TaskLauncher};
use fsched_core::testing::contract::job_spec;
use fsched_core::testing::contract::tests::launcher::{request, run};
use fsched_core::testing::contract::tests::scaler::{ScalerPlace, ScalerWorld};
use fsched_core::testing::{FakeEcs, FakeScaler, MemoryStore, STOP_TAKES, TOKEN_MEMORY};

fsched_core::store_contract!(MemoryStore::new());

/// A fake ECS at a fixed time; settling moves its clock past a stop's delay.
fn fake_ecs() -> (FakeEcs, fsched_core::domain::job::JobSpec, impl Fn()) {
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
    let ecs = FakeEcs::new(now);
    let clock = ecs.clone();
    (ecs, job_spec("cron(0 2 * * ? *)"), move || {
        clock.set_now(now + STOP_TAKES)
    })
}

fsched_core::launcher_contract!(fake_ecs());

/// RunTask's idempotency, which the emulator does not have (so it is not in the shared contract): within 24 hours
/// a client token ECS has seen is answered with the task it started, and no second task starts; after that, a new
/// one does (docs/simulation.md).
#[tokio::test]
async fn a_repeated_client_token_answers_the_task_it_started_for_24_hours() {
    let (ecs, spec, _) = fake_ecs();
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
    let req = request(&run(0), &spec);
    let first = ecs.launch(&req).await.unwrap();
    let again = ecs.launch(&req).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(ecs.tasks().len(), 1);
    ecs.set_now(now + TOKEN_MEMORY + Duration::minutes(1));
    let later = ecs.launch(&req).await.unwrap();
    assert_ne!(later.task_arn, first.task_arn);
    assert_eq!(ecs.tasks().len(), 2);
}

struct FakeScalerWorld {
    scaler: FakeScaler,
    place: ScalerPlace,
}

impl ScalerWorld for FakeScalerWorld {
    type Scaler = FakeScaler;
    fn scaler(&self) -> &FakeScaler {
        &self.scaler
    }
    fn place(&self) -> &ScalerPlace {
        &self.place
    }
    async fn forwards_to(&self, rule: &str) -> String {
        self.scaler.forwards_to(rule).unwrap_or_default()
    }
}

fn fake_scaler() -> FakeScalerWorld {
    let scaler = FakeScaler::new();
    scaler.add("batch", "api", 3, Some((2, 6)));
    scaler.add("batch", "worker", 1, None);
    let place = ScalerPlace {
        cluster: "batch".into(),
        scaled: "api".into(),
        plain: "worker".into(),
        rule: "arn:aws:elasticloadbalancing:eu-central-1:1:listener-rule/app/lb/1/2/3".into(),
        service_group: "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api/1".into(),
        waker_group: "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/waker/2".into(),
    };
    // The rule forwards to the service's group, as the load balancer was set up.
    futures_ready(scaler.forward(&place.rule, &place.service_group)).unwrap();
    FakeScalerWorld { scaler, place }
}

/// The fake's futures are ready at once.
fn futures_ready<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("a fake's future was not ready"),
    }
}

fsched_core::scaler_contract!(fake_scaler());
