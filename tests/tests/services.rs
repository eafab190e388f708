//! Scale to zero end to end: declared services in the emulator's ECS (with Application Auto Scaling targets and
//! CloudWatch metrics), put to sleep and woken by the dispatcher's ticks, the trigger's commands and idle rules.
//! Simulated: the clock and the delivery of ticks and commands.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fsched_core::domain::clock::{Receipt, DEFAULT_SKEW};
use fsched_core::domain::service::{
    Awake, Idle, IdleMetric, Phase, ServiceName, ServiceSpec, ServiceState,
};
use fsched_core::domain::trigger::{inbound, COMMAND_SOURCE, SLEEP_SERVICE, WAKE_SERVICE};
use fsched_core::ports::{MetricError, Metrics, ServiceNow, ServiceScaler, ServiceStore};
use fsched_core::service::scale::ScaleReport;
use fsched_dispatcher::handler;
use fsched_tests::ecs::service;
use fsched_tests::faults::FailsOnce;
use fsched_tests::unique_name;
use fsched_tests::world::{world, World};
use serde_json::json;
use tokio::time::Instant;

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

fn tick_event(time: DateTime<Utc>) -> serde_json::Value {
    json!({"version": "0", "id": format!("t{}", time.timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "1", "time": time.to_rfc3339(), "region": "us-east-1",
        "resources": [], "detail": {}})
}

fn until() -> Instant {
    Instant::now() + StdDuration::from_secs(60)
}

/// A staging API awake on weekdays 07:30-20:00 Berlin, declared with `desired` tasks and autoscaling 2..6.
async fn staging(
    w: &World,
    spec_change: impl FnOnce(&mut ServiceSpec),
    declared: DateTime<Utc>,
) -> ServiceName {
    let ecs_name = service(&w.config, &w.sandbox, &unique_name("api"), 3, Some((2, 6)))
        .await
        .unwrap();
    let mut spec = ServiceSpec {
        cluster: w.sandbox.cluster.clone(),
        service: ecs_name,
        timezone: "Europe/Berlin".parse().unwrap(),
        awake: Awake::Periods(vec!["weekdays 07:30-20:00".parse().unwrap()]),
        awake_count: None,
        enforce: false,
        idle: None,
        wake_on: None,
        event_bus: None,
        wake_on_request: None,
    };
    spec_change(&mut spec);
    let name = ServiceName::new("staging-api").unwrap();
    w.store
        .put_service(&ServiceState::declared(name.clone(), spec, declared), None)
        .await
        .unwrap();
    name
}

async fn scale(w: &World, name: &ServiceName) -> ServiceNow {
    let state = w.store.get_service(name).await.unwrap().unwrap();
    w.services()
        .current(&state.spec.cluster, &state.spec.service)
        .await
        .unwrap()
}

async fn tick(w: &World, t: DateTime<Utc>) -> ScaleReport {
    let d = w.dispatcher();
    let (_, services) = handler::tick_all(
        &d,
        &w.sleeper(),
        tick_event(t),
        Receipt::new(t, DEFAULT_SKEW),
        until(),
    )
    .await
    .unwrap_or_else(|e| panic!("tick at {t}: {e}"));
    services
}

async fn command(w: &World, kind: &str, detail: serde_json::Value, t: DateTime<Utc>) {
    let body = json!({"id": format!("c{}", t.timestamp()), "source": COMMAND_SOURCE, "detail-type": kind,
        "time": t.to_rfc3339(), "detail": detail});
    w.triggers()
        .handle(
            inbound(&body, Receipt::new(t, DEFAULT_SKEW)).unwrap(),
            until(),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
}

#[tokio::test]
async fn a_simulated_week_sleeps_nights_and_the_weekend_and_restores_autoscaling() {
    let w = world().await;
    // Monday 2026-11-23, 01:00 in Berlin: outside the period, so the first tick puts it to sleep.
    let name = staging(&w, |_| {}, at(23, 0, 0)).await;
    let mut changes: Vec<(DateTime<Utc>, String)> = Vec::new();
    let mut t = at(23, 0, 0);
    while t < at(30, 0, 0) {
        let r = tick(&w, t).await;
        assert!(r.errors.is_empty(), "{t}: {r:?}");
        changes.extend(r.slept.iter().map(|_| (t, "slept".to_owned())));
        changes.extend(r.woke.iter().map(|_| (t, "woke".to_owned())));
        let now = scale(&w, &name).await;
        let state = w.store.get_service(&name).await.unwrap().unwrap();
        match state.phase {
            Phase::Awake => assert_eq!(
                (now.desired_count, now.autoscaling),
                (3, Some((2, 6))),
                "{t}"
            ),
            Phase::Asleep => assert_eq!(
                (now.desired_count, now.autoscaling),
                (0, Some((0, 0))),
                "{t}"
            ),
        }
        t += Duration::minutes(15);
    }
    // 07:30 and 20:00 Berlin are 06:30 and 19:00 UTC in November.
    let mut want = vec![(at(23, 0, 0), "slept".to_owned())];
    for day in 23..=27 {
        want.push((at(day, 6, 30), "woke".to_owned()));
        want.push((at(day, 19, 0), "slept".to_owned()));
    }
    assert_eq!(changes, want);
    assert_eq!(w.events("Service Slept").len(), 6);
    assert_eq!(w.events("Service Woke").len(), 5);
    let actions = w
        .store
        .actions_between(at(23, 0, 0), at(30, 0, 0))
        .await
        .unwrap();
    assert_eq!(actions.len(), 11);
    assert!(actions
        .iter()
        .all(|a| a.task_cpu == Some(256) && a.task_memory == Some(512)));
    assert_eq!(
        (actions[1].from_count, actions[1].to_count),
        (0, 3),
        "woke to what it had"
    );
}

#[tokio::test]
async fn woken_on_demand_it_stays_awake_for_the_hold_then_sleeps_and_never_loses_its_count() {
    let w = world().await;
    // Saturday 2026-11-28: asleep all day.
    let name = staging(&w, |_| {}, at(28, 9, 0)).await;
    tick(&w, at(28, 9, 0)).await;
    assert_eq!(scale(&w, &name).await.desired_count, 0);
    // Sleeping an asleep service again keeps the saved count (never saved over by a 0).
    command(
        &w,
        SLEEP_SERVICE,
        json!({"service": "staging-api"}),
        at(28, 9, 5),
    )
    .await;
    command(
        &w,
        WAKE_SERVICE,
        json!({"service": "staging-api", "for": "2h", "requested_by": "ana"}),
        at(28, 10, 0),
    )
    .await;
    assert_eq!(scale(&w, &name).await.desired_count, 3);
    assert_eq!(scale(&w, &name).await.autoscaling, Some((2, 6)));
    let state = w.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(
        (state.phase, state.hold_until),
        (Phase::Awake, Some(at(28, 12, 0)))
    );
    assert_eq!(state.check_at, Some(at(28, 12, 0)));
    assert!(tick(&w, at(28, 11, 0)).await.slept.is_empty(), "held");
    assert_eq!(tick(&w, at(28, 12, 0)).await.slept, ["staging-api"]);
    assert_eq!(scale(&w, &name).await.desired_count, 0);
    command(
        &w,
        WAKE_SERVICE,
        json!({"service": "staging-api"}),
        at(28, 13, 0),
    )
    .await;
    assert_eq!(scale(&w, &name).await.desired_count, 3);
    let woke = w.events("Service Woke");
    assert_eq!(woke.len(), 2);
    assert_eq!(woke[0]["why"], "on demand by ana");
}

#[tokio::test]
async fn changes_made_by_hand_while_asleep_are_reported_and_undone_with_enforce() {
    let w = world().await;
    let name = staging(&w, |_| {}, at(28, 9, 0)).await;
    tick(&w, at(28, 9, 0)).await;
    let state = w.store.get_service(&name).await.unwrap().unwrap();
    let ecs = aws_sdk_ecs::Client::new(&w.config);
    let by_hand = |n: i32| {
        ecs.update_service()
            .cluster(&state.spec.cluster)
            .service(&state.spec.service)
            .desired_count(n)
            .send()
    };
    by_hand(5).await.unwrap();
    // Edge-triggered: nothing happens until Monday 07:30, where the wake reports what it found.
    let woke = tick(&w, at(30, 6, 30)).await;
    assert_eq!(woke.woke, ["staging-api"]);
    assert!(
        woke.drift[0].contains("found at desired count 5 while asleep"),
        "{woke:?}"
    );
    assert_eq!(scale(&w, &name).await.desired_count, 3);

    // With enforce, a tick undoes it within a minute.
    let mut enforced = w.store.get_service(&name).await.unwrap().unwrap();
    enforced.spec.enforce = true;
    enforced.check_at = Some(at(30, 19, 0));
    let v = enforced.version;
    enforced.version += 1;
    w.store.put_service(&enforced, Some(v)).await.unwrap();
    tick(&w, at(30, 19, 0)).await;
    assert_eq!(scale(&w, &name).await.desired_count, 0);
    by_hand(4).await.unwrap();
    let undone = tick(&w, at(30, 19, 1)).await;
    assert!(
        undone.drift[0].contains("desired count 4 while ASLEEP"),
        "{undone:?}"
    );
    assert_eq!(scale(&w, &name).await.desired_count, 0);
    let saved = w
        .store
        .get_service(&name)
        .await
        .unwrap()
        .unwrap()
        .saved
        .unwrap();
    assert_eq!(
        (saved.desired_count, saved.autoscaling),
        (3, Some((2, 6))),
        "still the real count"
    );
}

/// CloudWatch as the idle rule reads it: the emulator speaks only CloudWatch's older protocols, and the SDK its
/// newer one, so the data points are simulated here (the adapter's request and reading are checked with
/// aws-smithy-mocks in shared/src/aws/services.rs).
#[derive(Clone, Default)]
struct SimulatedCloudWatch {
    points: std::sync::Arc<std::sync::Mutex<Vec<DataPoint>>>,
}

type DataPoint = (DateTime<Utc>, f64);

impl Metrics for SimulatedCloudWatch {
    async fn sum(
        &self,
        metric: &IdleMetric,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<f64>, MetricError> {
        assert!(matches!(metric, IdleMetric::Queue { queue } if queue == "jobs"));
        let points = self.points.lock().unwrap();
        let inside: Vec<f64> = points
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, v)| *v)
            .collect();
        Ok((!inside.is_empty()).then(|| inside.iter().sum()))
    }
}

#[tokio::test]
async fn an_idle_service_awake_off_hours_goes_to_sleep() {
    let w = world().await;
    let name = staging(
        &w,
        |s| {
            s.idle = Some(Idle {
                after: "1h".parse().unwrap(),
                metric: IdleMetric::Queue {
                    queue: "jobs".into(),
                },
            })
        },
        at(28, 9, 0),
    )
    .await;
    let cloudwatch = SimulatedCloudWatch::default();
    let sleeper = w.sleeper_with(w.services(), cloudwatch.clone());
    let d = w.dispatcher();
    let tick = |t: DateTime<Utc>| {
        handler::tick_all(
            &d,
            &sleeper,
            tick_event(t),
            Receipt::new(t, DEFAULT_SKEW),
            until(),
        )
    };
    tick(at(28, 9, 0)).await.unwrap();
    command(
        &w,
        WAKE_SERVICE,
        json!({"service": "staging-api"}),
        at(28, 10, 0),
    )
    .await;
    // Messages waiting until 10:30, then none (a data point every 5 minutes).
    for m in (0..120).step_by(5) {
        let value = if m < 30 { 4.0 } else { 0.0 };
        cloudwatch
            .points
            .lock()
            .unwrap()
            .push((at(28, 10, 0) + Duration::minutes(m), value));
    }
    let state = w.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(
        state.check_at,
        Some(at(28, 10, 5)),
        "idle checks every 5 minutes off hours"
    );
    let (_, busy) = tick(at(28, 11, 5)).await.unwrap();
    assert!(busy.slept.is_empty(), "busy within the last hour");
    let (_, idle) = tick(at(28, 11, 35)).await.unwrap();
    assert_eq!(idle.slept, ["staging-api"]);
    let slept = w.events("Service Slept");
    assert_eq!(slept.last().unwrap()["trigger"]["kind"], "idle");
    assert_eq!(slept.last().unwrap()["why"], "idle (no activity for 1h)");
    assert_eq!(scale(&w, &name).await.desired_count, 0);
}

#[tokio::test]
async fn a_failure_half_way_keeps_the_saved_scale_and_the_next_tick_finishes() {
    let w = world().await;
    let name = staging(&w, |_| {}, at(28, 9, 0)).await;
    let failing = FailsOnce::new(w.services());
    let d = w.dispatcher();
    let sleeper = w.sleeper_with(
        failing,
        fsched_core::aws::services::CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(
            &w.config,
        )),
    );
    let err = handler::tick_all(
        &d,
        &sleeper,
        tick_event(at(28, 9, 0)),
        Receipt::new(at(28, 9, 0), DEFAULT_SKEW),
        until(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
    let state = w.store.get_service(&name).await.unwrap().unwrap();
    assert_eq!(state.phase, Phase::Awake, "nothing changed");
    let saved = state.saved.unwrap();
    assert_eq!(
        (saved.desired_count, saved.autoscaling),
        (3, Some((2, 6))),
        "saved before the change"
    );
    assert!(state.check_at.unwrap() <= at(28, 9, 1), "due again");
    // The next tick finishes it, and the saved scale is what a later wake restores.
    let (_, r) = handler::tick_all(
        &d,
        &sleeper,
        tick_event(at(28, 9, 1)),
        Receipt::new(at(28, 9, 1), DEFAULT_SKEW),
        until(),
    )
    .await
    .unwrap();
    assert_eq!(r.slept, ["staging-api"]);
    command(
        &w,
        WAKE_SERVICE,
        json!({"service": "staging-api"}),
        at(28, 10, 0),
    )
    .await;
    let now = scale(&w, &name).await;
    assert_eq!((now.desired_count, now.autoscaling), (3, Some((2, 6))));
}

#[tokio::test]
async fn an_event_matching_wake_on_wakes_the_service_through_its_rule() {
    use fsched_core::aws::rules::EventBridgeRules;
    use fsched_core::domain::trigger::{desired_service_rules, stack_tag};
    use fsched_core::service::rules::{apply_rules, rule_plan, RuleScope};

    let w = world().await;
    let (queue_url, queue) = w.trigger_queue().await;
    let pattern = json!({"source": ["acme.deploys"], "detail-type": ["Deployment Started"]});
    let name = staging(&w, |s| s.wake_on = Some(pattern.clone()), at(28, 9, 0)).await;
    tick(&w, at(28, 9, 0)).await;
    assert_eq!(
        scale(&w, &name).await.desired_count,
        0,
        "asleep on Saturday"
    );

    // The rule `fsched apply` keeps for it.
    let state = w.store.get_service(&name).await.unwrap().unwrap();
    let scope = RuleScope {
        stack: stack_tag(w.store.table()),
        buses: vec![w.bus.clone()],
        queue: queue.clone(),
    };
    let desired = desired_service_rules([(&name, &state.spec)], &scope.stack, &w.bus);
    assert!(
        desired[0].name.ends_with("-svc.staging-api"),
        "{}",
        desired[0].name
    );
    let rules = EventBridgeRules::new(aws_sdk_eventbridge::Client::new(&w.config));
    let changes = rule_plan(&rules, &scope, &desired).await.unwrap();
    for (_, result) in apply_rules(&rules, &scope, changes).await {
        result.unwrap();
    }

    w.put_event(
        "acme.deploys",
        "Deployment Started",
        json!({"env": "staging"}),
    )
    .await;
    let delivered = w.receive(&queue_url).await;
    assert_eq!(delivered.records.len(), 1);
    let response =
        fsched_trigger::handler::batch(&w.triggers(), delivered, DEFAULT_SKEW, until()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(scale(&w, &name).await.desired_count, 3);
    let woke = w.events("Service Woke");
    assert_eq!(woke[0]["trigger"]["kind"], "event");
    assert_eq!(woke[0]["trigger"]["source"], "acme.deploys");
}
