//! The world's services, minute by minute: people opening the request-woken ones (their requests through the real
//! waker, the wake commands it sends through the trigger's queue), the load balancer's view of them (a target group
//! healthy three minutes after its tasks start; the requests counted for the idle metric), and what the invariants
//! say of them: awake exactly in their periods and holds (services without requests), and for request-woken ones,
//! no request sent to an empty target group, the rule at the waker while asleep, and awake soon after being asked.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use fsched_core::domain::service::Phase;
use fsched_core::domain::trigger::{Command, Inbound, COMMAND_SOURCE};

use crate::chaos::lock;
use crate::gen::{Routed, WAKER_GROUP};
use crate::world::{phase_name, Sim, Work};

/// From a service's tasks starting to its target group reporting them healthy.
const HEALTHY_AFTER: Duration = Duration::minutes(3);
/// How long a wrong routing may last (a sleep or wake half done is finished by the next tick) before it is one.
const ROUTING_SETTLES: Duration = Duration::minutes(3);
/// A service asked for by a request every minute this long must be awake.
const WAKES_WITHIN: Duration = Duration::minutes(15);

/// One request-woken service as the world sees it.
#[derive(Debug)]
pub(crate) struct Served {
    routed: Routed,
    /// When the current burst of requests (one a minute) began and ends.
    burst: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Requests in the idle window.
    recent: VecDeque<DateTime<Utc>>,
    /// Since when its tasks have been running (desired count above 0).
    up_since: Option<DateTime<Utc>>,
    /// Since when the rule has sent requests to an empty group, or the service has slept with its rule elsewhere.
    empty_since: Option<DateTime<Utc>>,
    unrouted_since: Option<DateTime<Utc>>,
    /// Since when the service has been asleep while asked for every minute.
    asked_asleep_since: Option<DateTime<Utc>>,
}

impl Served {
    pub(crate) fn new(routed: Routed) -> Served {
        Served {
            routed,
            burst: None,
            recent: VecDeque::new(),
            up_since: None,
            empty_since: None,
            unrouted_since: None,
            asked_asleep_since: None,
        }
    }
}

impl Sim {
    /// Before the minute's deliveries: requests of the bursts going on, and new bursts now and then (about one
    /// every four hours per service, 5 to 60 minutes long). A request goes where the rule forwards: to the waker,
    /// or to the service's target group (served, and counted by the idle metric, when a target is healthy; the
    /// load balancer's 503 when none is). The idle metric counts the requests in its window.
    pub(crate) fn send_requests(&mut self, now: DateTime<Utc>) {
        let quiet = self.quiet();
        let mut hosts = Vec::new();
        for (name, s) in &mut self.served {
            if s.burst.is_some_and(|(_, until)| until <= now) {
                s.burst = None;
            }
            if s.burst.is_none() && !quiet && self.rng.chance(1.0 / 240.0) {
                let minutes = 5 + self.rng.below(56) as i64;
                s.burst = Some((now, now + Duration::minutes(minutes)));
            }
            if s.burst.is_some() {
                let rule = self.scaler.forwards_to(&s.routed.rule).unwrap_or_default();
                if rule == WAKER_GROUP {
                    hosts.push(s.routed.host.clone());
                } else if self.scaler.healthy_now(&s.routed.group) > 0 {
                    s.recent.push_back(now);
                }
            }
            let idle = self.specs.get(name).and_then(|spec| spec.idle.clone());
            if let Some(idle) = idle {
                let window = idle.after.to_chrono();
                while s.recent.front().is_some_and(|t| now - *t >= window) {
                    s.recent.pop_front();
                }
                let count = (!s.recent.is_empty()).then_some(s.recent.len() as f64);
                self.metrics.set(&idle.metric, count);
            }
        }
        for host in hosts {
            self.push(now, Work::Request(host), 0);
        }
    }

    /// After the minute's deliveries: the commands sent to the bus (the waker's) go to the trigger's queue.
    pub(crate) fn route_commands(&mut self, now: DateTime<Utc>) {
        for (i, event) in self.bus.take().into_iter().enumerate() {
            if event.source != COMMAND_SOURCE {
                continue;
            }
            let id = format!("bus-{}-{i}", now.timestamp());
            let Ok(command) = Command::from_event(&event.detail_type, &event.detail, &id) else {
                lock(&self.faults).ledger.violation(format!(
                    "the bus carried a command the trigger cannot read: {event:?}"
                ));
                continue;
            };
            let inbound = Inbound::Command {
                command,
                id,
                time: event.time,
                received: now,
                event: serde_json::json!({}),
            };
            self.push(now, Work::Command(Box::new(inbound)), 0);
        }
    }

    /// After the minute's deliveries: the target groups' health (tasks healthy `HEALTHY_AFTER` after they start),
    /// and the request-woken services' invariants.
    pub(crate) fn check_served(&mut self, now: DateTime<Utc>) {
        let settled = self.settled_at(now);
        let mut found = Vec::new();
        for (name, s) in &mut self.served {
            let Some(spec) = self.specs.get(name) else {
                continue;
            };
            let Some(has) = self.scaler.get(&spec.cluster, &spec.service) else {
                continue;
            };
            let up = has.desired_count > 0;
            s.up_since = if up { s.up_since.or(Some(now)) } else { None };
            let healthy = s.up_since.is_some_and(|t| now - t >= HEALTHY_AFTER);
            self.scaler
                .set_healthy(&s.routed.group, if healthy { has.desired_count } else { 0 });
            let rule = self.scaler.forwards_to(&s.routed.rule).unwrap_or_default();
            let empty = rule == s.routed.group && !up;
            let unrouted = !up && rule != WAKER_GROUP;
            s.empty_since = if empty {
                s.empty_since.or(Some(now))
            } else {
                None
            };
            s.unrouted_since = if unrouted {
                s.unrouted_since.or(Some(now))
            } else {
                None
            };
            if !settled {
                continue;
            }
            if s.empty_since.is_some_and(|t| now - t >= ROUTING_SETTLES) {
                found.push(format!(
                    "service {name}: its rule has sent requests to its empty target group since {:?}",
                    s.empty_since
                ));
                s.empty_since = None;
            }
            if s.unrouted_since.is_some_and(|t| now - t >= ROUTING_SETTLES) {
                found.push(format!(
                    "service {name} has slept since {:?} with its rule at {rule}, not the waker",
                    s.unrouted_since
                ));
                s.unrouted_since = None;
            }
            let asked_asleep = s.burst.is_some() && !up;
            s.asked_asleep_since = if asked_asleep {
                s.asked_asleep_since.or(Some(now))
            } else {
                None
            };
            if let Some(from) = s.asked_asleep_since.filter(|t| now - *t >= WAKES_WITHIN) {
                found.push(format!(
                    "service {name} has been asked for every minute since {from} and is still asleep"
                ));
                s.asked_asleep_since = None;
            }
        }
        let mut faults = lock(&self.faults);
        for f in found {
            faults.ledger.violation(f);
        }
    }

    /// Whether what a service should be can be judged now: the world has run a while, and no dispatcher outage is
    /// going on or just ended (the sleeper runs in the dispatcher).
    fn settled_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.world.start + crate::checks::SETTLE
            && !self
                .outages
                .iter()
                .any(|(a, b)| *a <= now && now < *b + crate::checks::SETTLE)
    }

    /// A service without requests is awake exactly when its periods and holds say, once that has held for a while
    /// (judged every ten minutes).
    pub(crate) fn check_services(&mut self, now: DateTime<Utc>) {
        if now.timestamp() % 600 != 0 || now < self.world.start + crate::checks::SETTLE {
            return;
        }
        let mut found = Vec::new();
        for (name, spec) in &self.specs {
            if self.served.contains_key(name) {
                continue;
            }
            let holds = self.holds.get(name).map(Vec::as_slice).unwrap_or_default();
            let Some(want) = crate::checks::settled(spec, holds, &self.outages, now) else {
                continue;
            };
            let Some(has) = self.scaler.get(&spec.cluster, &spec.service) else {
                continue;
            };
            let is = if has.desired_count > 0 {
                Phase::Awake
            } else {
                Phase::Asleep
            };
            if is != want {
                found.push(format!(
                    "service {name} is {} (desired count {}), its periods and holds want it {}",
                    phase_name(is),
                    has.desired_count,
                    phase_name(want)
                ));
            }
        }
        let mut faults = lock(&self.faults);
        for f in found {
            faults.ledger.violation(f);
        }
    }
}

/// The request-woken services of a world, by name.
pub(crate) fn served(world: &crate::gen::World) -> BTreeMap<String, Served> {
    world
        .services
        .iter()
        .filter_map(|s| Some((s.name.clone(), Served::new(s.request.clone()?))))
        .collect()
}
