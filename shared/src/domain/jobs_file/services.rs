//! `services:` in the jobs file: ECS services fsched puts to sleep and wakes.

use std::collections::BTreeMap;

use marked_yaml::Node;

use super::reader::Reader;
use crate::domain::duration::Span as Duration;
use crate::domain::schedule::{Expression, Zone};
use crate::domain::service::{Awake, Idle, IdleMetric, Period, ServiceName, ServiceSpec};

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
        let awake = match (f.get("awake"), f.get("sleep"), f.get("wake")) {
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
                    format!("{who}: say when it is awake: `awake:` periods (e.g. `weekdays 07:30-20:00`), or both `sleep:` and `wake:` schedules"),
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
        let idle = f.get("idle").and_then(|n| read_idle(r, n, &who));
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
                },
            );
        }
    }
    out
}

fn read_idle(r: &mut Reader, node: &Node, who: &str) -> Option<Idle> {
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
