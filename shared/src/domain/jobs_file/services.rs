//! `services:` in the jobs file: ECS services fsched puts to sleep and wakes.

use std::collections::BTreeMap;

use marked_yaml::Node;

use super::reader::Reader;
use crate::domain::duration::Span as Duration;
use crate::domain::schedule::{Expression, Zone};
use crate::domain::service::{
    Awake, Idle, IdleMetric, Period, ServiceName, ServiceSpec, WakeOnRequest, DEFAULT_HOLD,
    DEFAULT_IDLE,
};

const KEYS: &[&str] = &[
    "cluster",
    "service",
    "timezone",
    "awake",
    "sleep",
    "wake",
    "awake_count",
    "enforce",
    "idle",
    "wake_on",
    "event_bus",
    "wake_on_request",
];

/// Reads `services:`; `cluster` and `zone` are the jobs' defaults, which services share.
pub(super) fn read_services(
    r: &mut Reader,
    node: &Node,
    cluster: Option<&str>,
    zone: Option<&str>,
) -> BTreeMap<ServiceName, ServiceSpec> {
    let mut out = BTreeMap::new();
    let Some(m) = r.mapping(node, "services") else {
        return out;
    };
    for (key, node) in m.iter() {
        let who = format!("service `{}`", key.as_str());
        let name = match ServiceName::new(key.as_str()) {
            Ok(n) => Some(n),
            Err(e) => {
                r.error(key.span(), format!("{who}: {e}"));
                None
            }
        };
        let Some(sm) = r.mapping(node, &who) else {
            continue;
        };
        let before = r.diagnostics.len();
        let f = r.fields(sm, &who, KEYS);
        let text =
            |r: &mut Reader, k: &str| f.get(k).and_then(|n| r.text(n, &format!("{who}: {k}")));
        let cluster = text(r, "cluster").or(cluster.map(str::to_owned));
        let service = text(r, "service").unwrap_or_else(|| key.as_str().to_owned());
        let timezone = match text(r, "timezone")
            .or(zone.map(str::to_owned))
            .map(|z| z.parse::<Zone>())
        {
            None => Zone::UTC,
            Some(Ok(z)) => z,
            Some(Err(e)) => {
                r.error(key.span(), format!("{who}: timezone: {e}"));
                Zone::UTC
            }
        };
        let wake_on_request = f
            .get("wake_on_request")
            .and_then(|n| read_wake_on_request(r, n, &who));
        let awake = match (f.get("awake"), f.get("sleep"), f.get("wake")) {
            // Woken by requests, it needs no periods: asleep unless someone opens it.
            (None, None, None) if f.get("wake_on_request").is_some() => {
                Some(Awake::Periods(Vec::new()))
            }
            (Some(n), None, None) => {
                let written = r.strings(n, &format!("{who}: awake")).unwrap_or_default();
                let periods: Vec<Period> = written
                    .iter()
                    .filter_map(|p| match p.parse::<Period>() {
                        Ok(p) => Some(p),
                        Err(e) => {
                            r.error(n.span(), format!("{who}: awake: {e}"));
                            None
                        }
                    })
                    .collect();
                if written.is_empty() {
                    r.error(
                        n.span(),
                        format!(
                            "{who}: awake: list at least one period, e.g. `weekdays 07:30-20:00`"
                        ),
                    );
                }
                Some(Awake::Periods(periods))
            }
            (None, Some(s), Some(w)) => {
                let mut schedule = |n: &Node, what: &str| {
                    let expr = r.text(n, &format!("{who}: {what}"))?;
                    match expr.parse::<Expression>() {
                        Ok(e) => Some(e),
                        Err(e) => {
                            r.error(n.span(), format!("{who}: {what}: {e}"));
                            None
                        }
                    }
                };
                match (schedule(s, "sleep"), schedule(w, "wake")) {
                    (Some(sleep), Some(wake)) => Some(Awake::Schedules { sleep, wake }),
                    _ => None,
                }
            }
            _ => {
                r.error(
                    key.span(),
                    format!("{who}: say when it is awake: `awake:` periods (e.g. `weekdays 07:30-20:00`), both `sleep:` and `wake:` schedules, or `wake_on_request:` (asleep until someone opens it)"),
                );
                None
            }
        };
        let awake_count = f
            .get("awake_count")
            .and_then(|n| r.number(n, &format!("{who}: awake_count"), 1..=5000));
        let enforce = f
            .get("enforce")
            .and_then(|n| r.bool(n, &format!("{who}: enforce")))
            .unwrap_or(false);
        let defaults = wake_on_request
            .as_ref()
            .and_then(WakeOnRequest::request_count);
        let idle = match f.get("idle") {
            Some(n) => read_idle(r, n, &who, defaults),
            // Woken by requests, it sleeps again when they stop: by its target group's request count.
            None => defaults.map(|metric| Idle {
                after: DEFAULT_IDLE,
                metric,
            }),
        };
        let wake_on = f
            .get("wake_on")
            .and_then(|n| super::fields::read_pattern(r, n));
        let event_bus = text(r, "event_bus");
        if event_bus.is_some() && wake_on.is_none() {
            r.error(
                key.span(),
                format!(
                    "{who}: event_bus is set without wake_on: it names the bus wake_on listens on"
                ),
            );
        }
        if cluster.is_none() {
            r.error(
                key.span(),
                format!("{who}: cluster is missing: set it on the service or in `defaults`"),
            );
        }
        if r.diagnostics.len() > before {
            continue;
        }
        if let (Some(name), Some(cluster), Some(awake)) = (name, cluster, awake) {
            out.insert(
                name,
                ServiceSpec {
                    cluster,
                    service,
                    timezone,
                    awake,
                    awake_count,
                    enforce,
                    idle,
                    wake_on,
                    event_bus,
                    wake_on_request,
                },
            );
        }
    }
    out
}

/// `wake_on_request: {hosts, listener_rule, target_group, hold}`.
fn read_wake_on_request(r: &mut Reader, node: &Node, who: &str) -> Option<WakeOnRequest> {
    let what = format!("{who}: wake_on_request");
    let m = r.mapping(node, &what)?;
    let f = r.fields(
        m,
        &what,
        &["hosts", "listener_rule", "target_group", "hold"],
    );
    let arn = |r: &mut Reader, key: &str, kind: &str| {
        let Some(n) = f.get(key) else {
            r.error(
                node.span(),
                format!("{what}: `{key}` is missing: the ARN of the ALB {kind}"),
            );
            return None;
        };
        let text = r.text(n, &format!("{what}.{key}"))?;
        let marker = format!(
            ":{}/",
            kind.replace(' ', "-")
                .replace("target-group", "targetgroup")
        );
        if !(text.starts_with("arn:aws")
            && text.contains(":elasticloadbalancing:")
            && text.contains(&marker))
        {
            r.error(
                n.span(),
                format!("{what}.{key}: `{text}` is not an ALB {kind} ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT{marker}...)"),
            );
            return None;
        }
        Some(text)
    };
    let listener_rule = arn(r, "listener_rule", "listener rule");
    let target_group = arn(r, "target_group", "target group");
    let hosts = match f.get("hosts") {
        Some(n) => r.strings(n, &format!("{what}.hosts")).unwrap_or_default(),
        None => Vec::new(),
    };
    if hosts.is_empty()
        || hosts
            .iter()
            .any(|h| h.is_empty() || h.contains(['/', ' ', '*']))
    {
        r.error(
            node.span(),
            format!("{what}: `hosts` lists the host names its listener rule matches, e.g. `[staging.example.com]` (no paths or wildcards)"),
        );
        return None;
    }
    let hold = match f.get("hold") {
        Some(n) => {
            let text = r.text(n, &format!("{what}.hold"))?;
            match text.parse::<Duration>() {
                Ok(d) => d,
                Err(e) => {
                    r.error(n.span(), format!("{what}.hold: {e}"));
                    return None;
                }
            }
        }
        None => DEFAULT_HOLD,
    };
    Some(WakeOnRequest {
        hosts,
        listener_rule: listener_rule?,
        target_group: target_group?,
        hold,
    })
}

/// `idle: {after, metric}`; `metric` may be left out when `fallback` gives one (a request-woken service's target
/// group).
fn read_idle(r: &mut Reader, node: &Node, who: &str, fallback: Option<IdleMetric>) -> Option<Idle> {
    let what = format!("{who}: idle");
    let m = r.mapping(node, &what)?;
    let f = r.fields(m, &what, &["after", "metric"]);
    let after = match f.get("after") {
        Some(n) => {
            let text = r.text(n, &format!("{what}.after"))?;
            match text.parse::<Duration>() {
                Ok(d) if d.as_secs() >= 300 => d,
                Ok(_) => {
                    r.error(
                        n.span(),
                        format!("{what}.after: at least 5m (CloudWatch's period)"),
                    );
                    return None;
                }
                Err(e) => {
                    r.error(n.span(), format!("{what}.after: {e}"));
                    return None;
                }
            }
        }
        None => {
            r.error(
                node.span(),
                format!("{what}: `after` is missing, e.g. `after: 2h`"),
            );
            return None;
        }
    };
    let Some(mn) = f.get("metric") else {
        if let Some(metric) = fallback {
            return Some(Idle { after, metric });
        }
        r.error(
            node.span(),
            format!(
                "{what}: `metric` is missing: `{{target_group, load_balancer}}` or `{{queue}}`"
            ),
        );
        return None;
    };
    let mm = r.mapping(mn, &format!("{what}.metric"))?;
    let mf = r.fields(
        mm,
        &format!("{what}.metric"),
        &["target_group", "load_balancer", "queue"],
    );
    let get = |r: &mut Reader, k: &str| {
        mf.get(k)
            .and_then(|n| r.text(n, &format!("{what}.metric.{k}")))
    };
    let metric = match (
        get(r, "target_group"),
        get(r, "load_balancer"),
        get(r, "queue"),
    ) {
        (Some(target_group), Some(load_balancer), None) => IdleMetric::TargetGroup {
            load_balancer,
            target_group,
        },
        (None, None, Some(queue)) => IdleMetric::Queue { queue },
        _ => {
            r.error(
                mn.span(),
                format!("{what}.metric: give `target_group` and `load_balancer` (an ALB's RequestCount), or `queue` (an SQS queue's visible messages)"),
            );
            return None;
        }
    };
    Some(Idle { after, metric })
}
