//! A job or `defaults` as written (every key optional, with the spans later checks point at), read from its YAML
//! mapping, and a job merged over `defaults`.

use std::collections::BTreeMap;

use marked_yaml::{Node, Span};

use super::alerts::{read_alerts, read_expect};
use super::batch::{
    read_after, read_jitter, read_max_running, read_parallel, read_pool, read_retry,
};
use super::fargate;
use super::fields::{
    read_containers, read_network, read_pattern, read_prices, read_size, read_tags,
};
use super::reader::{Fields, Reader};
use crate::domain::alert::{Alert, Expect};
use crate::domain::cost::Prices;
use crate::domain::duration::Span as Duration;
use crate::domain::fan::After;
use crate::domain::job::{
    ContainerOverride, Launch, Network, OnInterruption, Overlap, PoolName, Retries,
};
use crate::domain::retry::RetryPolicy;

/// Keys a job and `defaults` share: set once in `defaults`, overridable per job.
pub(super) const SHARED_KEYS: &[&str] = &[
    "timezone",
    "cluster",
    "launch",
    "platform_version",
    "network",
    "tags",
    "group",
    "overlap",
    "catch_up",
    "max_runtime",
    "retries",
    "history",
    "run_skipped_times",
    "prices",
    "on_interruption",
    "alerts",
    "expect",
    "retry",
    "jitter",
    "max_running",
    "pool",
];
pub(super) const JOB_ONLY_KEYS: &[&str] = &[
    "schedule",
    "start",
    "end",
    "paused",
    "task_definition",
    "containers",
    "cpu",
    "memory",
    "on_event",
    "event_bus",
    "params",
    "parallel",
    "after",
];

const LAUNCH: &[(&str, Launch)] = &[
    ("fargate", Launch::Fargate),
    ("spot", Launch::Spot),
    ("spot-with-fallback", Launch::SpotWithFallback),
];
const ON_INTERRUPTION: &[(&str, OnInterruption)] = &[
    ("record", OnInterruption::Record),
    ("rerun", OnInterruption::Rerun),
];
const OVERLAP: &[(&str, Overlap)] = &[
    ("allow", Overlap::Allow),
    ("forbid", Overlap::Forbid),
    ("replace", Overlap::Replace),
    ("queue", Overlap::Queue),
];

/// A job or `defaults` as written: every key optional, with the spans later checks point at.
#[derive(Default, Clone)]
pub(super) struct Partial {
    pub(super) schedule: Option<(String, Span)>,
    pub(super) timezone: Option<(String, Span)>,
    pub(super) start: Option<(String, Span)>,
    pub(super) end: Option<(String, Span)>,
    pub(super) paused: Option<bool>,
    pub(super) run_skipped_times: Option<bool>,
    pub(super) cluster: Option<String>,
    pub(super) task_definition: Option<String>,
    pub(super) launch: Option<Launch>,
    pub(super) platform_version: Option<String>,
    pub(super) network: Option<(Network, Span)>,
    pub(super) containers: Option<BTreeMap<String, ContainerOverride>>,
    pub(super) cpu: Option<u32>,
    pub(super) memory: Option<u32>,
    pub(super) size_span: Option<Span>,
    pub(super) tags: Option<BTreeMap<String, String>>,
    pub(super) group: Option<String>,
    pub(super) overlap: Option<Overlap>,
    pub(super) catch_up: Option<Duration>,
    pub(super) max_runtime: Option<Duration>,
    pub(super) retries: Option<Retries>,
    pub(super) history: Option<Duration>,
    pub(super) prices: Option<Prices>,
    pub(super) on_event: Option<(serde_json::Value, Span)>,
    pub(super) event_bus: Option<String>,
    pub(super) on_interruption: Option<OnInterruption>,
    pub(super) params: Option<(Vec<String>, Span)>,
    pub(super) alerts: Option<Vec<Alert>>,
    pub(super) expect: Option<Expect>,
    pub(super) retry: Option<RetryPolicy>,
    pub(super) jitter: Option<Duration>,
    pub(super) max_running: Option<u32>,
    pub(super) pool: Option<(PoolName, Span)>,
    pub(super) parallel: Option<u32>,
    pub(super) after: Option<(After, Span)>,
}

impl Partial {
    /// `self` over `defaults`: every key a job shares with `defaults` falls back to it (tags merge key by key);
    /// the others are the job's own. Each field is named once below, in one list or the other: a field in neither
    /// does not compile, and `tests::every_shared_key_is_inherited` checks the shared list against `SHARED_KEYS`.
    pub(super) fn over(self, defaults: &Partial) -> Partial {
        let d = defaults.clone();
        let tags = match (d.tags, self.tags) {
            (Some(mut base), Some(own)) => {
                base.extend(own);
                Some(base)
            }
            (base, own) => own.or(base),
        };
        macro_rules! merged {
            (inherited: $($i:ident),*; own: $($o:ident),*;) => {
                Partial { tags, $($i: self.$i.or(d.$i),)* $($o: self.$o,)* }
            };
        }
        merged! {
            inherited: timezone, run_skipped_times, cluster, launch, platform_version, network, group, overlap,
                catch_up, max_runtime, retries, history, prices, on_interruption, alerts, expect, retry, jitter, max_running, pool;
            own: schedule, start, end, paused, task_definition, containers, cpu, memory, size_span, on_event,
                event_bus, params, parallel, after;
        }
    }
}

fn duration(r: &mut Reader, node: &Node, what: &str) -> Option<Duration> {
    let text = r.string(node, what)?;
    match text.parse::<Duration>() {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(node.span(), format!("{what}: {e}"));
            None
        }
    }
}

pub(super) fn read_partial(r: &mut Reader, f: &Fields<'_>) -> Partial {
    let mut p = Partial::default();
    let spanned = |r: &mut Reader, key: &str| {
        f.get(key)
            .and_then(|n| r.text(n, key).map(|s| (s, n.span().to_owned())))
    };
    p.schedule = spanned(r, "schedule");
    p.timezone = spanned(r, "timezone");
    p.start = spanned(r, "start");
    p.end = spanned(r, "end");
    p.paused = f.get("paused").and_then(|n| r.bool(n, "paused"));
    p.run_skipped_times = f
        .get("run_skipped_times")
        .and_then(|n| r.bool(n, "run_skipped_times"));
    p.cluster = f.get("cluster").and_then(|n| r.text(n, "cluster"));
    if let Some(n) = f.get("task_definition") {
        p.task_definition = r.text(n, "task_definition");
        if let Some(problem) = p
            .task_definition
            .as_deref()
            .and_then(fargate::check_task_definition)
        {
            r.error(n.span(), format!("task_definition: {problem}"));
        }
    }
    p.launch = f.get("launch").and_then(|n| r.choice(n, "launch", LAUNCH));
    p.platform_version = f
        .get("platform_version")
        .and_then(|n| r.text(n, "platform_version"));
    p.network = f
        .get("network")
        .and_then(|n| read_network(r, n).map(|net| (net, n.span().to_owned())));
    p.containers = f.get("containers").and_then(|n| read_containers(r, n));
    p.cpu = f
        .get("cpu")
        .and_then(|n| read_size(r, n, "cpu", 0..=u32::MAX));
    p.memory = f
        .get("memory")
        .and_then(|n| read_size(r, n, "memory", 0..=u32::MAX));
    p.size_span = f
        .get("cpu")
        .or(f.get("memory"))
        .map(|n| n.span().to_owned());
    p.tags = f.get("tags").and_then(|n| read_tags(r, n));
    if let Some(n) = f.get("group") {
        p.group = r.text(n, "group");
        if p.group.as_ref().is_some_and(|g| g.len() > 255) {
            r.error(n.span(), "group: at most 255 characters");
        }
    }
    p.overlap = f
        .get("overlap")
        .and_then(|n| r.choice(n, "overlap", OVERLAP));
    p.catch_up = f.get("catch_up").and_then(|n| duration(r, n, "catch_up"));
    p.max_runtime = f
        .get("max_runtime")
        .and_then(|n| duration(r, n, "max_runtime"));
    if let (Some(d), Some(n)) = (p.max_runtime, f.get("max_runtime")) {
        if d.as_secs() < 60 {
            r.error(
                n.span(),
                "max_runtime: at least 1m (the dispatcher checks once a minute)",
            );
        }
    }
    p.history = f.get("history").and_then(|n| duration(r, n, "history"));
    if let (Some(d), Some(n)) = (p.history, f.get("history")) {
        if d.as_secs() < 86_400 {
            r.error(n.span(), "history: keep runs for at least 1d");
        }
    }
    if let Some(n) = f.get("retries") {
        if let Some(m) = r.mapping(n, "retries") {
            let rf = r.fields(m, "retries", &["attempts", "backoff"]);
            let mut retries = Retries::default();
            if let Some(a) = rf
                .get("attempts")
                .and_then(|n| r.number(n, "retries.attempts", 1..=10))
            {
                retries.attempts = a;
            }
            if let Some(b) = rf
                .get("backoff")
                .and_then(|n| duration(r, n, "retries.backoff"))
            {
                retries.backoff = b;
            }
            p.retries = Some(retries);
        }
    }
    p.prices = f.get("prices").and_then(|n| read_prices(r, n));
    if let Some(n) = f.get("on_event") {
        p.on_event = read_pattern(r, n).map(|v| (v, n.span().to_owned()));
    }
    if let Some(n) = f.get("event_bus") {
        p.event_bus = r.text(n, "event_bus");
        if let Some(bus) = &p.event_bus {
            if bus.len() > 256
                || !bus
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
            {
                r.error(
                    n.span(),
                    format!("event_bus: `{bus}` is not an event bus name"),
                );
            }
        }
    }
    p.on_interruption = f
        .get("on_interruption")
        .and_then(|n| r.choice(n, "on_interruption", ON_INTERRUPTION));
    if let Some(n) = f.get("params") {
        p.params = r
            .strings(n, "params")
            .map(|names| (names, n.span().to_owned()));
    }
    p.alerts = f.get("alerts").and_then(|n| read_alerts(r, n));
    p.expect = f.get("expect").and_then(|n| read_expect(r, n));
    p.retry = f.get("retry").and_then(|n| read_retry(r, n));
    p.jitter = f.get("jitter").and_then(|n| read_jitter(r, n));
    p.max_running = f.get("max_running").and_then(|n| read_max_running(r, n));
    p.pool = f.get("pool").and_then(|n| read_pool(r, n));
    p.parallel = f.get("parallel").and_then(|n| read_parallel(r, n));
    p.after = f.get("after").and_then(|n| read_after(r, n));
    p
}
