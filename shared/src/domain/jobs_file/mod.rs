//! The jobs file: `defaults` merged into each of `jobs`, read from YAML with every problem reported at once, each
//! with its line and column. Pure: the caller reads the file and passes its text.

mod fargate;
mod reader;
mod services;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use marked_yaml::{LoaderOptions, Node, Span};

pub use self::reader::Diagnostic;
use self::reader::{Fields, Reader};
use super::cost::Prices;
use super::duration::Span as Duration;
use super::job::{
    ContainerOverride, JobName, JobSpec, Launch, Network, OnInterruption, Overlap, Retries,
};
use super::schedule::{parse_zone, Expression, Zone};
use super::service::{ServiceName, ServiceSpec};
use super::trigger::check_templates;

/// A valid jobs file: every job's definition with defaults merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsFile {
    pub jobs: BTreeMap<JobName, JobSpec>,
    pub services: BTreeMap<ServiceName, ServiceSpec>,
}

const TOP_KEYS: &[&str] = &["version", "defaults", "jobs", "services"];
/// Keys a job and `defaults` share: set once in `defaults`, overridable per job.
const SHARED_KEYS: &[&str] = &[
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
];
const JOB_ONLY_KEYS: &[&str] = &[
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
/// EventBridge's limit on an event pattern's length.
const PATTERN_MAX: usize = 4096;
const OVERLAP: &[(&str, Overlap)] = &[
    ("allow", Overlap::Allow),
    ("forbid", Overlap::Forbid),
    ("replace", Overlap::Replace),
];

/// A job or `defaults` as written: every key optional, with the spans later checks point at.
#[derive(Default, Clone)]
struct Partial {
    schedule: Option<(String, Span)>,
    timezone: Option<(String, Span)>,
    start: Option<(String, Span)>,
    end: Option<(String, Span)>,
    paused: Option<bool>,
    run_skipped_times: Option<bool>,
    cluster: Option<String>,
    task_definition: Option<String>,
    launch: Option<Launch>,
    platform_version: Option<String>,
    network: Option<(Network, Span)>,
    containers: Option<BTreeMap<String, ContainerOverride>>,
    cpu: Option<u32>,
    memory: Option<u32>,
    size_span: Option<Span>,
    tags: Option<BTreeMap<String, String>>,
    group: Option<String>,
    overlap: Option<Overlap>,
    catch_up: Option<Duration>,
    max_runtime: Option<Duration>,
    retries: Option<Retries>,
    history: Option<Duration>,
    prices: Option<Prices>,
    on_event: Option<(serde_json::Value, Span)>,
    event_bus: Option<String>,
    on_interruption: Option<OnInterruption>,
}

impl Partial {
    /// `self` over `defaults`; tags merge key by key.
    fn over(self, defaults: &Partial) -> Partial {
        let d = defaults.clone();
        let tags = match (d.tags, self.tags) {
            (Some(mut base), Some(own)) => {
                base.extend(own);
                Some(base)
            }
            (base, own) => own.or(base),
        };
        Partial {
            schedule: self.schedule,
            timezone: self.timezone.or(d.timezone),
            start: self.start,
            end: self.end,
            paused: self.paused,
            run_skipped_times: self.run_skipped_times.or(d.run_skipped_times),
            cluster: self.cluster.or(d.cluster),
            task_definition: self.task_definition,
            launch: self.launch.or(d.launch),
            platform_version: self.platform_version.or(d.platform_version),
            network: self.network.or(d.network),
            containers: self.containers,
            cpu: self.cpu,
            memory: self.memory,
            size_span: self.size_span,
            tags,
            group: self.group.or(d.group),
            overlap: self.overlap.or(d.overlap),
            catch_up: self.catch_up.or(d.catch_up),
            max_runtime: self.max_runtime.or(d.max_runtime),
            retries: self.retries.or(d.retries),
            history: self.history.or(d.history),
            prices: self.prices.or(d.prices),
            on_event: self.on_event,
            event_bus: self.event_bus,
            on_interruption: self.on_interruption.or(d.on_interruption),
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

/// A list of AWS resource ids with a known prefix and a maximum count.
fn ids(
    r: &mut Reader,
    node: Option<&Node>,
    what: &str,
    prefix: &str,
    kind: &str,
    max: usize,
) -> Vec<String> {
    let Some(node) = node else { return Vec::new() };
    let values = r.strings(node, what).unwrap_or_default();
    for v in values.iter().filter(|v| !v.starts_with(prefix)) {
        r.error(
            node.span(),
            format!("{what}: `{v}` is not {kind} id ({prefix}...)"),
        );
    }
    if values.len() > max {
        r.error(node.span(), format!("{what}: ECS accepts at most {max}"));
    }
    values
}

fn read_network(r: &mut Reader, node: &Node) -> Option<Network> {
    let map = r.mapping(node, "network")?;
    let f = r.fields(
        map,
        "network",
        &["subnets", "security_groups", "assign_public_ip"],
    );
    let subnets = ids(
        r,
        f.get("subnets"),
        "network.subnets",
        "subnet-",
        "a subnet",
        16,
    );
    let security_groups = ids(
        r,
        f.get("security_groups"),
        "network.security_groups",
        "sg-",
        "a security group",
        5,
    );
    let assign_public_ip = f
        .get("assign_public_ip")
        .and_then(|n| r.bool(n, "network.assign_public_ip"))
        .unwrap_or(false);
    Some(Network {
        subnets,
        security_groups,
        assign_public_ip,
    })
}

fn read_containers(r: &mut Reader, node: &Node) -> Option<BTreeMap<String, ContainerOverride>> {
    let map = r.mapping(node, "containers")?;
    let mut out = BTreeMap::new();
    for (name, spec) in map.iter() {
        let what = format!("containers.{}", name.as_str());
        let Some(m) = r.mapping(spec, &what) else {
            continue;
        };
        let f = r.fields(m, &what, &["command", "environment", "cpu", "memory"]);
        let mut c = ContainerOverride::default();
        if let Some(n) = f.get("command") {
            c.command = r.strings(n, &format!("{what}.command"));
        }
        if let Some(n) = f.get("environment") {
            let env = r
                .string_map(n, &format!("{what}.environment"))
                .unwrap_or_default();
            for key in env.keys() {
                let valid = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    r.error(n.span(), format!("{what}.environment: `{key}` is not a variable name (letters, digits, `_`)"));
                }
            }
            c.environment = env;
        }
        if let Some(n) = f.get("cpu") {
            c.cpu = r.number(n, &format!("{what}.cpu"), 0..=16384);
        }
        if let Some(n) = f.get("memory") {
            c.memory = r.number(n, &format!("{what}.memory"), 6..=122_880);
        }
        out.insert(name.as_str().to_owned(), c);
    }
    Some(out)
}

fn read_tags(r: &mut Reader, node: &Node) -> Option<BTreeMap<String, String>> {
    let tags = r.string_map(node, "tags")?;
    for (k, v) in &tags {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("fsched:") {
            r.error(
                node.span(),
                format!("tags: `{k}`: the `aws:` and `fsched:` prefixes are reserved"),
            );
        } else if k.is_empty() || k.len() > 128 || v.len() > 256 {
            r.error(
                node.span(),
                format!("tags: `{k}`: keys are 1-128 characters and values at most 256"),
            );
        }
    }
    if tags.len() > 40 {
        r.error(
            node.span(),
            "tags: at most 40 tags (ECS allows 50; fsched adds its own)",
        );
    }
    Some(tags)
}

fn read_partial(r: &mut Reader, f: &Fields<'_>) -> Partial {
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
    p.cpu = f.get("cpu").and_then(|n| r.number(n, "cpu", 0..=u32::MAX));
    p.memory = f
        .get("memory")
        .and_then(|n| r.number(n, "memory", 0..=u32::MAX));
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
    p
}

/// A YAML node as JSON: unquoted scalars that read as booleans, numbers or null become those (event patterns use
/// them, e.g. `numeric: [">", 0]`); everything else is a string.
fn to_json(node: &Node) -> serde_json::Value {
    match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if s.may_coerce() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
                    if v.is_boolean() || v.is_number() || v.is_null() {
                        return v;
                    }
                }
            }
            serde_json::Value::String(text.to_owned())
        }
        Node::Sequence(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

/// `on_event`: an EventBridge event pattern, written in YAML.
pub(super) fn read_pattern(r: &mut Reader, node: &Node) -> Option<serde_json::Value> {
    let m = r.mapping(node, "on_event")?;
    if m.is_empty() {
        r.error(node.span(), "on_event: an empty pattern would match every event on the bus; name at least `source` or `detail-type`");
        return None;
    }
    let pattern = to_json(node);
    let length = pattern.to_string().len();
    if length > PATTERN_MAX {
        r.error(
            node.span(),
            format!("on_event: the pattern is {length} characters as JSON; EventBridge allows {PATTERN_MAX}"),
        );
        return None;
    }
    Some(pattern)
}

const RATES: [&str; 4] = ["fargate", "fargate_arm64", "spot", "spot_arm64"];

/// `prices:`: the built-in price model with any of its figures replaced (another Region, a discount).
fn read_prices(r: &mut Reader, node: &Node) -> Option<Prices> {
    let m = r.mapping(node, "prices")?;
    let mut keys: Vec<&str> = RATES.to_vec();
    keys.extend(["source", "storage_gb_hour", "discount_percent"]);
    let f = r.fields(m, "prices", &keys);
    let mut prices = Prices {
        source: "the jobs file's prices".to_owned(),
        ..Prices::default()
    };
    if let Some(n) = f.get("source") {
        prices.source = r.text(n, "prices.source")?;
    }
    for name in RATES {
        let Some(rm) = f.get(name) else { continue };
        let what = format!("prices.{name}");
        let rm = r.mapping(rm, &what)?;
        let rf = r.fields(rm, &what, &["vcpu_hour", "gb_hour"]);
        let rates = match name {
            "fargate" => &mut prices.fargate_x86,
            "fargate_arm64" => &mut prices.fargate_arm64,
            "spot" => &mut prices.spot_x86,
            _ => &mut prices.spot_arm64,
        };
        if let Some(n) = rf.get("vcpu_hour") {
            rates.vcpu_hour = r.decimal(n, &format!("{what}.vcpu_hour"), 0.0..=100.0)?;
        }
        if let Some(n) = rf.get("gb_hour") {
            rates.gb_hour = r.decimal(n, &format!("{what}.gb_hour"), 0.0..=100.0)?;
        }
    }
    if let Some(n) = f.get("storage_gb_hour") {
        prices.storage_gb_hour = r.decimal(n, "prices.storage_gb_hour", 0.0..=100.0)?;
    }
    if let Some(n) = f.get("discount_percent") {
        prices.discount_percent = r.decimal(n, "prices.discount_percent", 0.0..=100.0)?;
    }
    Some(prices)
}

/// A `start`/`end`: a wall time in the job's zone (`2027-01-01T00:00:00`) or an RFC3339 instant.
fn instant(
    r: &mut Reader,
    (text, span): &(String, Span),
    zone: chrono_tz::Tz,
    what: &str,
) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        Ok(wall) => match zone.from_local_datetime(&wall).earliest() {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => {
                r.error(
                    span,
                    format!("{what}: `{text}` does not exist in {zone} (clocks skip it)"),
                );
                None
            }
        },
        Err(_) => {
            r.error(span, format!("{what}: `{text}` is not a date and time: write 2027-01-01T00:00:00 (in the job's timezone) or an RFC3339 instant"));
            None
        }
    }
}

/// Checks a merged job and builds its spec; `None` when anything is wrong (all of it recorded).
fn finish(r: &mut Reader, p: Partial, job_span: &Span) -> Option<JobSpec> {
    let before = r.diagnostics.len();
    let zone = match &p.timezone {
        Some((name, span)) => match name.parse::<Zone>() {
            Ok(z) => Some(z),
            Err(e) => {
                r.error(span, format!("timezone: {e}"));
                None
            }
        },
        None => Some(Zone::UTC),
    };
    // A schedule is read only in a valid zone: a bad zone is one problem, not two.
    let schedule = match (&p.schedule, zone) {
        (None, _) if p.on_event.is_none() => {
            r.error(
                job_span,
                "schedule is missing: add e.g. `schedule: cron(0 2 * * ? *)`, or `on_event:` for a job that runs on events",
            );
            None
        }
        (Some((expr, span)), Some(_)) => match expr.parse::<Expression>() {
            Ok(e) => Some(e),
            Err(e) => {
                r.error(span, format!("schedule: {e}"));
                None
            }
        },
        _ => None,
    };
    let start = zone
        .zip(p.start.as_ref())
        .and_then(|(z, s)| instant(r, s, z.tz(), "start"));
    let end = zone
        .zip(p.end.as_ref())
        .and_then(|(z, s)| instant(r, s, z.tz(), "end"));
    if let (Some(s), Some(e), Some((_, span))) = (start, end, &p.end) {
        if e <= s {
            r.error(span, "end must be after start");
        }
    }
    if p.cluster.is_none() {
        r.error(
            job_span,
            "cluster is missing: set it on the job or in `defaults`",
        );
    }
    if p.task_definition.is_none() {
        r.error(job_span, "task_definition is missing: add e.g. `task_definition: etl:7` (FAMILY, FAMILY:REVISION or an ARN)");
    }
    match &p.network {
        Some((net, span)) if net.subnets.is_empty() => {
            r.error(span, "network.subnets is empty: Fargate tasks use awsvpc networking and need at least one subnet")
        }
        None => r.error(job_span, "network is missing: Fargate tasks use awsvpc networking; set `network.subnets` on the job or in `defaults`"),
        _ => {}
    }
    if let (Some(problem), Some(span)) = (fargate::check_size(p.cpu, p.memory), &p.size_span) {
        r.error(span, problem);
    }
    if p.event_bus.is_some() && p.on_event.is_none() {
        r.error(
            job_span,
            "event_bus is set without on_event: it names the bus on_event listens on",
        );
    }
    if let Some(containers) = &p.containers {
        let probe = JobSpec {
            containers: containers.clone(),
            ..JobSpec::placeholder()
        };
        for problem in check_templates(&probe) {
            r.error(job_span, problem);
        }
    }
    if r.diagnostics.len() > before {
        return None;
    }
    Some(JobSpec {
        schedule,
        timezone: zone?,
        start,
        end,
        paused: p.paused.unwrap_or(false),
        run_skipped_times: p.run_skipped_times.unwrap_or(false),
        cluster: p.cluster?,
        task_definition: p.task_definition?,
        launch: p.launch.unwrap_or_default(),
        platform_version: p.platform_version,
        network: p.network?.0,
        containers: p.containers.unwrap_or_default(),
        cpu: p.cpu,
        memory: p.memory,
        tags: p.tags.unwrap_or_default(),
        group: p.group,
        overlap: p.overlap.unwrap_or_default(),
        catch_up: p.catch_up.unwrap_or(JobSpec::DEFAULT_CATCH_UP),
        max_runtime: p.max_runtime,
        retries: p.retries.unwrap_or_default(),
        history: p.history.unwrap_or(JobSpec::DEFAULT_HISTORY),
        prices: p.prices,
        on_event: p.on_event.map(|(v, _)| v),
        event_bus: p.event_bus,
        on_interruption: p.on_interruption.unwrap_or_default(),
    })
}

impl JobsFile {
    /// Parses and validates a jobs file. On failure, every problem found, in file order.
    pub fn parse(text: &str) -> Result<JobsFile, Vec<Diagnostic>> {
        let options = LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .prevent_coercion(true);
        let root = marked_yaml::parse_yaml_with_options(0, text, options)
            .map_err(|e| vec![load_error(e)])?;
        let mut r = Reader::default();
        let Some(top) = r.mapping(&root, "the jobs file") else {
            return Err(r.diagnostics);
        };
        let f = r.fields(top, "the jobs file", TOP_KEYS);
        if let Some(n) = f.get("version") {
            if r.scalar(n, "version").is_some_and(|s| s.as_str() != "1") {
                r.error(
                    n.span(),
                    "version: this fsched reads version 1 of the jobs file",
                );
            }
        }
        let defaults = match f.get("defaults").and_then(|n| r.mapping(n, "defaults")) {
            Some(m) => {
                let df = r.fields(
                    m,
                    "defaults (which sets only keys shared by all jobs)",
                    SHARED_KEYS,
                );
                let mut defaults = read_partial(&mut r, &df);
                // Reported once here, not again for every job that inherits it.
                if let Some((zone, span)) = &defaults.timezone {
                    if let Err(e) = parse_zone(zone) {
                        r.error(span, format!("timezone: {e}"));
                        defaults.timezone = None;
                    }
                }
                defaults
            }
            None => Partial::default(),
        };
        let mut jobs = BTreeMap::new();
        match f.get("jobs").and_then(|n| r.mapping(n, "jobs")) {
            Some(m) => {
                let known: Vec<&str> = SHARED_KEYS.iter().chain(JOB_ONLY_KEYS).copied().collect();
                for (key, node) in m.iter() {
                    r.job = Some(key.as_str().to_owned());
                    let name = match JobName::new(key.as_str()) {
                        Ok(n) => Some(n),
                        Err(e) => {
                            r.error(key.span(), e.to_string());
                            None
                        }
                    };
                    let Some(jm) = r.mapping(node, "a job") else {
                        continue;
                    };
                    let jf = r.fields(jm, "a job", &known);
                    let partial = read_partial(&mut r, &jf).over(&defaults);
                    if let (Some(name), Some(spec)) = (name, finish(&mut r, partial, key.span())) {
                        jobs.insert(name, spec);
                    }
                }
                r.job = None;
            }
            None if f.get("jobs").is_none() && f.get("services").is_none() => r.error(
                &f.span,
                "`jobs:` is missing: a jobs file declares its jobs under `jobs:`",
            ),
            None => {}
        }
        let services = match f.get("services") {
            Some(n) => services::read_services(
                &mut r,
                n,
                defaults.cluster.as_deref(),
                defaults.timezone.as_ref().map(|(z, _)| z.as_str()),
            ),
            None => BTreeMap::new(),
        };
        if r.diagnostics.is_empty() {
            Ok(JobsFile { jobs, services })
        } else {
            r.diagnostics.sort_by_key(|d| (d.line, d.column));
            Err(r.diagnostics)
        }
    }
}

fn load_error(e: marked_yaml::LoadError) -> Diagnostic {
    use marked_yaml::LoadError as E;
    let (marker, message) = match e {
        E::DuplicateKey(d) => {
            let first = d.prev_key.span().start().map(|m| m.line()).unwrap_or(0);
            (
                d.key.span().start().copied(),
                format!(
                    "`{}` is defined twice (first on line {first}): names must be unique",
                    d.key.as_str()
                ),
            )
        }
        E::ScanError(m, s) => (Some(m), format!("not valid YAML: {s}")),
        E::TopLevelMustBeMapping(m) => (
            Some(m),
            "the jobs file must be a mapping with `jobs:` (and optionally `defaults:`)".to_owned(),
        ),
        E::UnexpectedAnchor(m) => (
            Some(m),
            "YAML anchors and aliases are not supported in jobs files".to_owned(),
        ),
        E::UnexpectedTag(m) => (
            Some(m),
            "YAML tags are not supported in jobs files".to_owned(),
        ),
        E::MappingKeyMustBeScalar(m) => (Some(m), "keys must be plain names".to_owned()),
        E::TopLevelMustBeSequence(m) => (Some(m), "the jobs file must be a mapping".to_owned()),
    };
    let (line, column) = marker.map(|m| (m.line(), m.column())).unwrap_or((0, 0));
    Diagnostic {
        line,
        column,
        job: None,
        message,
    }
}

#[cfg(test)]
mod tests;
