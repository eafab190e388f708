//! Wake on request over the in-memory ports: the rule to the waker before the scale goes to 0, a burst of requests
//! asking for one wake, the rule back only once a target is healthy, the end of a hold leaving the service to its
//! idle rule, and a stack without a waker said plainly.

use chrono::Duration;
use fsched_core::domain::service::{
    Awake, Idle, IdleMetric, Phase, Progress, Routing, ServiceName, ServiceSpec, ServiceState,
    WakeOnRequest, DEFAULT_HOLD,
};
use fsched_core::ports::ServiceStore;
use fsched_core::service::waker::{Answer, Waker};
use fsched_core::testing::{FakeMetrics, FakeScaler};

mod common;
use common::{t, Fakes, WAKER};

const RULE: &str = "arn:aws:elasticloadbalancing:eu-central-1:1:listener-rule/app/web/1/2/3";
const GROUP: &str = "arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/api/4";
const HOST: &str = "staging.example.com";

fn spec() -> ServiceSpec {
    let wake = WakeOnRequest {
        hosts: vec![HOST.into()],
        listener_rule: RULE.into(),
        target_group: GROUP.into(),
        hold: DEFAULT_HOLD,
    };
    ServiceSpec {
        cluster: "staging".into(),
        service: "api".into(),
        timezone: "UTC".parse().unwrap(),
        awake: Awake::Periods(Vec::new()),
        awake_count: None,
        enforce: false,
        idle: Some(Idle {
            after: fsched_core::domain::service::DEFAULT_IDLE,
            metric: wake.request_count().unwrap(),
        }),
        wake_on: None,
        event_bus: None,
        wake_on_request: Some(wake),
    }
}

async fn declared(f: &Fakes) -> ServiceName {
    f.scaler.add("staging", "api", 2, Some((2, 4)));
    let name = ServiceName::new("api").unwrap();
    let state = ServiceState::declared(name.clone(), spec(), t(9, 0));
    f.store.put_service(&state, None).await.unwrap();
    name
}

async fn state(f: &Fakes, name: &ServiceName) -> ServiceState {
    f.store.get_service(name).await.unwrap().unwrap()
}

#[tokio::test]
async fn asleep_its_rule_points_at_the_waker_and_a_burst_of_requests_asks_once() {
    let f = Fakes::new();
    let name = declared(&f).await;
    f.services_due(t(9, 0)).await;
    let asleep = state(&f, &name).await;
    assert_eq!(
        (asleep.phase, asleep.routing),
        (Phase::Asleep, Some(Routing::Waker))
    );
    assert_eq!(f.scaler.forwards_to(RULE).as_deref(), Some(WAKER));
    assert_eq!(f.scaler.get("staging", "api").unwrap().desired_count, 0);

    let waker = Waker::new(f.store.clone(), f.bus.clone());
    let answers =
        futures_util::future::join_all((0..10).map(|_| waker.request(HOST, t(9, 5)))).await;
    let asked = answers
        .iter()
        .filter(|a| matches!(a, Ok(Answer::Starting { asked: true, .. })))
        .count();
    assert_eq!(asked, 1, "{answers:?}");
    assert!(answers.iter().all(|a| matches!(
        a,
        Ok(Answer::Starting {
            progress: Progress::Waking,
            ..
        })
    )));
    assert_eq!(f.announced("Wake Service"), 1);
    // Within the minute no other request asks; after it, the next one does (a lost command is asked for again).
    waker
        .request(HOST, t(9, 5) + Duration::seconds(59))
        .await
        .unwrap();
    assert_eq!(f.announced("Wake Service"), 1);
    waker
        .request(HOST, t(9, 6) + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(f.announced("Wake Service"), 2);
    // A host nobody declares.
    assert!(matches!(
        waker.request("other.example.com", t(9, 6)).await.unwrap(),
        Answer::Unknown { .. }
    ));
}

#[tokio::test]
async fn woken_its_rule_comes_back_only_once_a_target_is_healthy_and_idleness_puts_it_back_to_sleep(
) {
    let f = Fakes::new();
    let name = declared(&f).await;
    f.services_due(t(9, 0)).await;
    let sleeper = f.sleeper();
    let by = fsched_core::domain::service::ScaleTrigger::Request {
        by: format!("a request for {HOST}"),
    };
    sleeper
        .command(
            &name,
            Phase::Awake,
            Some(t(9, 5) + DEFAULT_HOLD.to_chrono()),
            by,
            t(9, 5),
        )
        .await
        .unwrap();
    let woken = state(&f, &name).await;
    assert_eq!(
        (woken.phase, woken.routing),
        (Phase::Awake, Some(Routing::Waker))
    );
    assert_eq!(f.scaler.get("staging", "api").unwrap().desired_count, 2);
    let waker = Waker::new(f.store.clone(), f.bus.clone());
    assert!(matches!(
        waker.request(HOST, t(9, 5)).await.unwrap(),
        Answer::Starting {
            progress: Progress::Starting,
            asked: false,
            ..
        }
    ));

    // No healthy target yet: the rule stays at the waker, and the next check is within a minute.
    f.services_due(t(9, 6)).await;
    assert_eq!(f.scaler.forwards_to(RULE).as_deref(), Some(WAKER));
    assert!(state(&f, &name).await.check_at <= Some(t(9, 7)));
    f.scaler.set_healthy(GROUP, 1);
    f.services_due(t(9, 7)).await;
    assert_eq!(f.scaler.forwards_to(RULE).as_deref(), Some(GROUP));
    assert_eq!(state(&f, &name).await.routing, Some(Routing::Service));

    // Its hold ends while requests still come: it stays awake (the idle rule decides, not the hold).
    let metric = spec().idle.unwrap().metric;
    let metrics = FakeMetrics::new();
    metrics.set(&metric, Some(12.0));
    let watched = fsched_core::service::scale::Sleeper::new(
        f.store.clone(),
        f.scaler.clone(),
        metrics.clone(),
        f.bus.clone(),
    )
    .with_waker(Some(WAKER.to_owned()));
    watched.check(state(&f, &name).await, t(9, 40)).await;
    assert_eq!(state(&f, &name).await.phase, Phase::Awake);
    // Then nobody for its idle time: asleep, the rule to the waker first.
    metrics.set(&metric, None);
    let r = watched.check(state(&f, &name).await, t(10, 20)).await;
    assert_eq!(r.slept, std::slice::from_ref(&name), "{r:?}");
    assert_eq!(f.scaler.forwards_to(RULE).as_deref(), Some(WAKER));
    assert!(matches!(metric, IdleMetric::TargetGroup { .. }));
}

#[tokio::test]
async fn a_stack_without_a_waker_says_so_and_changes_nothing() {
    let f = Fakes::new();
    let name = declared(&f).await;
    let sleeper = fsched_core::service::scale::Sleeper::new(
        f.store.clone(),
        FakeScaler::clone(&f.scaler),
        FakeMetrics::new(),
        f.bus.clone(),
    );
    let r = sleeper.check(state(&f, &name).await, t(9, 0)).await;
    assert!(r.slept.is_empty());
    assert!(r.errors[0].contains("no waker"), "{r:?}");
    assert_eq!(
        f.scaler.get("staging", "api").unwrap().desired_count,
        2,
        "not scaled down"
    );
    assert_eq!(f.scaler.forwards_to(RULE), None);
}
