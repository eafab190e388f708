//! Wake on request against the emulator: a service behind an ALB rule put to sleep by the sleeper (the rule to the
//! waker first), ten concurrent requests to the real waker handler asking for one wake, the real trigger handling it,
//! the rule back at the service only once a target is healthy, idle sleep flipping it again, and a sleep that failed
//! half-way finished by the next check. ELBv2 listener rules, target groups and target health are the emulator's;
//! the requests are the ALB's event shape (tests/events/alb). The idle rule's RequestCount comes from the in-memory
//! metrics: the emulator does not serve the CloudWatch protocol the SDK speaks (../shared/notes/local-aws.md; the
//! adapter's request is checked with aws-smithy-mocks in shared/src/aws/services.rs).

use std::time::Duration as StdDuration;

use chrono::{DateTime, SubsecRound, Utc};
use fsched_core::aws::services::CloudWatchMetrics;
use fsched_core::domain::clock::DEFAULT_SKEW;
use fsched_core::domain::service::{
    Awake, Phase, Routing, ServiceName, ServiceSpec, ServiceState, WakeOnRequest,
};
use fsched_core::ports::{ServiceScaler, ServiceStore};
use fsched_core::service::trigger::Triggers;
use fsched_core::service::waker::Waker;
use fsched_core::testing::FakeMetrics;
use fsched_tests::ecs::service;
use fsched_tests::elb::{alb, forwards_to, register};
use fsched_tests::faults::FailsOnce;
use fsched_tests::world::{world, World};

const HOST: &str = "staging.example.com";

/// `minutes` from when the test began: the trigger takes the command's time as "now" only near the real one.
fn at(minutes: i64) -> DateTime<Utc> {
    use std::sync::OnceLock;
    static BEGAN: OnceLock<DateTime<Utc>> = OnceLock::new();
    *BEGAN.get_or_init(|| Utc::now().trunc_subsecs(0)) + chrono::Duration::minutes(minutes)
}

/// An ALB request for `host`, from AWS's own example event (tests/events/alb), as a browser sends it.
fn request(host: &str) -> serde_json::Value {
    let text = include_str!("../events/alb/request-headers-only.json");
    let mut event: serde_json::Value = serde_json::from_str(text).unwrap();
    event["headers"]["host"] = host.into();
    event["headers"]["accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8".into();
    event
}

/// A service declared as woken by requests only (no periods), behind `alb`.
async fn declared(w: &World, ecs_service: &str, rule: &str, group: &str) -> ServiceName {
    let name = ServiceName::new("staging-api").unwrap();
    let wake = WakeOnRequest {
        hosts: vec![HOST.to_owned()],
        listener_rule: rule.to_owned(),
        target_group: group.to_owned(),
        hold: fsched_core::domain::service::DEFAULT_HOLD,
    };
    let spec = ServiceSpec {
        cluster: w.sandbox.cluster.clone(),
        service: ecs_service.to_owned(),
        timezone: "Europe/Berlin".parse().unwrap(),
        awake: Awake::Periods(Vec::new()),
        awake_count: None,
        enforce: false,
        idle: Some(fsched_core::domain::service::Idle {
            after: fsched_core::domain::service::DEFAULT_IDLE,
            metric: wake.request_count().unwrap(),
        }),
        wake_on: None,
        event_bus: None,
        wake_on_request: Some(wake),
    };
    let state = ServiceState::declared(name.clone(), spec, at(-10));
    w.store.put_service(&state, None).await.unwrap();
    name
}

/// The ECS service's desired count, as the emulator has it.
async fn desired(w: &World, ecs_service: &str) -> u32 {
    w.services()
        .current(&w.sandbox.cluster, ecs_service)
        .await
        .unwrap()
        .desired_count
}

async fn state(w: &World, name: &ServiceName) -> ServiceState {
    w.store.get_service(name).await.unwrap().unwrap()
}

#[tokio::test]
async fn asleep_a_request_wakes_it_once_and_the_rule_follows_its_health() {
    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    w.commands_rule(&queue).await;
    let ecs_service = service(&w.config, &w.sandbox, "api", 2, Some((2, 4)))
        .await
        .unwrap();
    let lb = alb(&w.config, &w.sandbox, HOST).await.unwrap();
    let name = declared(&w, &ecs_service, &lb.rule, &lb.service_group).await;
    let sleeper = w
        .sleeper_with(w.services(), FakeMetrics::new())
        .with_waker(Some(lb.waker_group.clone()));

    // The first check puts it to sleep: the rule to the waker, then the scale to 0 (saved first).
    let r = sleeper.check(state(&w, &name).await, at(-10)).await;
    assert_eq!(r.slept, std::slice::from_ref(&name), "{r:?}");
    assert_eq!(
        forwards_to(&w.config, &lb.rule).await.unwrap(),
        lb.waker_group
    );
    let asleep = state(&w, &name).await;
    assert_eq!(
        (asleep.phase, asleep.routing),
        (Phase::Asleep, Some(Routing::Waker))
    );
    assert_eq!(desired(&w, &ecs_service).await, 0);

    // Ten requests at once: each gets the page (503, Retry-After), and one "Wake Service" goes to the bus.
    let waker = Waker::new(w.store.clone(), w.events.clone());
    let answers = futures_util::future::join_all(
        (0..10).map(|_| fsched_waker::handler::handle(&waker, request(HOST), at(0))),
    )
    .await;
    for a in &answers {
        assert_eq!(a.status_code, 503);
        assert_eq!(a.headers["retry-after"], "5");
        let body = format!("{:?}", a.body);
        assert!(body.contains("Starting staging-api"), "{body}");
    }
    let wakes = w.events("Wake Service");
    assert_eq!(wakes.len(), 1, "{wakes:?}");
    assert_eq!(wakes[0]["request"], true);

    // The trigger handles the command as it comes from the bus: woken, with the request as its trigger.
    let delivered = w.receive(&queue_url).await;
    let triggers = Triggers::new(
        w.dispatcher(),
        w.sleeper().with_waker(Some(lb.waker_group.clone())),
        w.store.clone(),
    );
    let until = tokio::time::Instant::now() + StdDuration::from_secs(60);
    fsched_trigger::handler::batch(&triggers, delivered, DEFAULT_SKEW, until).await;
    let woken = state(&w, &name).await;
    assert_eq!(
        (woken.phase, woken.routing),
        (Phase::Awake, Some(Routing::Waker))
    );
    assert_eq!(desired(&w, &ecs_service).await, 2);
    let actions = w.store.actions_between(at(-10), at(60)).await.unwrap();
    assert!(
        actions.iter().any(|a| a.to == Phase::Awake
            && matches!(&a.trigger, fsched_core::domain::service::ScaleTrigger::Request { by } if by.contains(HOST))),
        "{actions:?}"
    );

    // Starting: no healthy target yet, so the rule stays at the waker and the page says so.
    sleeper.check(woken, at(1)).await;
    assert_eq!(
        forwards_to(&w.config, &lb.rule).await.unwrap(),
        lb.waker_group
    );
    let page = fsched_waker::handler::handle(&waker, request(HOST), at(1)).await;
    assert!(format!("{:?}", page.body).contains("is starting"));
    assert_eq!(
        w.events("Wake Service").len(),
        1,
        "an awake service is not asked again"
    );

    // A task registered and healthy: the next check points the rule back at the service.
    register(&w.config, &lb.service_group, "10.0.1.5")
        .await
        .unwrap();
    sleeper.check(state(&w, &name).await, at(2)).await;
    assert_eq!(
        forwards_to(&w.config, &lb.rule).await.unwrap(),
        lb.service_group
    );
    assert_eq!(state(&w, &name).await.routing, Some(Routing::Service));

    // No requests for its idle time (the emulator has no RequestCount data): asleep again, the rule to the waker.
    let r = sleeper.check(state(&w, &name).await, at(40)).await;
    assert_eq!(r.slept, std::slice::from_ref(&name), "{r:?}");
    assert_eq!(
        forwards_to(&w.config, &lb.rule).await.unwrap(),
        lb.waker_group
    );
}

#[tokio::test]
async fn a_sleep_stopped_after_the_rule_flipped_is_finished_by_the_next_check() {
    let w = world().await;
    let ecs_service = service(&w.config, &w.sandbox, "api", 3, None)
        .await
        .unwrap();
    let lb = alb(&w.config, &w.sandbox, HOST).await.unwrap();
    let name = declared(&w, &ecs_service, &lb.rule, &lb.service_group).await;
    let failing = FailsOnce::new(w.services());
    let sleeper = w
        .sleeper_with(
            failing,
            CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&w.config)),
        )
        .with_waker(Some(lb.waker_group.clone()));
    let r = sleeper.check(state(&w, &name).await, at(-10)).await;
    assert!(r.slept.is_empty() && !r.errors.is_empty(), "{r:?}");
    // Half-way: requests already go to the waker, the service still runs, its scale is saved.
    assert_eq!(
        forwards_to(&w.config, &lb.rule).await.unwrap(),
        lb.waker_group
    );
    let half = state(&w, &name).await;
    assert_eq!(half.phase, Phase::Awake);
    assert_eq!(half.saved.map(|s| s.desired_count), Some(3));
    assert_eq!(desired(&w, &ecs_service).await, 3);

    // The next check (the service is still due) finishes it.
    let r = sleeper.check(half, at(-9)).await;
    assert_eq!(r.slept, std::slice::from_ref(&name), "{r:?}");
    let asleep = state(&w, &name).await;
    assert_eq!(
        (asleep.phase, asleep.routing),
        (Phase::Asleep, Some(Routing::Waker))
    );
    assert_eq!(
        asleep.saved.map(|s| s.desired_count),
        Some(3),
        "the saved scale is not overwritten by a 0"
    );
    assert_eq!(desired(&w, &ecs_service).await, 0);
}
