//! Readers of the structured keys of a job: network, containers, tags, prices and event patterns, each checked
//! against what ECS and EventBridge accept.

use std::collections::BTreeMap;

use marked_yaml::Node;

use super::reader::Reader;
use crate::domain::cost::Prices;
use crate::domain::job::{ContainerOverride, Network};

/// EventBridge's limit on an event pattern's length.
const PATTERN_MAX: usize = 4096;

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

pub(super) fn read_network(r: &mut Reader, node: &Node) -> Option<Network> {
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

pub(super) fn read_containers(
    r: &mut Reader,
    node: &Node,
) -> Option<BTreeMap<String, ContainerOverride>> {
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
            c.command = read_command(r, n, &format!("{what}.command"));
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
            c.cpu = read_size(r, n, &format!("{what}.cpu"), 0..=16384);
        }
        if let Some(n) = f.get("memory") {
            c.memory = read_size(r, n, &format!("{what}.memory"), 6..=122_880);
        }
        out.insert(name.as_str().to_owned(), c);
    }
    Some(out)
}

/// A character ECS accepts in tag keys and values.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c)
}

pub(super) fn read_tags(r: &mut Reader, node: &Node) -> Option<BTreeMap<String, String>> {
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
        } else if let Some(c) = k.chars().chain(v.chars()).find(|c| !tag_char(*c)) {
            r.error(
                node.span(),
                format!(
                    "tags: `{k}`: `{}` is not allowed: ECS tags take letters, digits, spaces and + - = . _ : / @",
                    c.escape_default()
                ),
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
pub(super) fn read_prices(r: &mut Reader, node: &Node) -> Option<Prices> {
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

/// A command: a list of words. Written as one line (`command: ./run --full`), it is refused with the list to write.
fn read_command(r: &mut Reader, node: &Node, what: &str) -> Option<Vec<String>> {
    if let Node::Scalar(line) = node {
        let words: Vec<String> = line
            .as_str()
            .split_whitespace()
            .map(|w| format!("{w:?}"))
            .collect();
        r.error(
            node.span(),
            format!(
                "{what} is a list of words (ECS runs it without a shell): write `[{}]`",
                words.join(", ")
            ),
        );
        return None;
    }
    r.strings(node, what)
}

/// A task or container size: CPU units (1024 = 1 vCPU) for a `cpu` key, MiB for a `memory` key. A size written with
/// a unit (`2 GB`, `1 vCPU`) is refused with the number to write instead.
pub(super) fn read_size(
    r: &mut Reader,
    node: &Node,
    what: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Option<u32> {
    let text = match node {
        Node::Scalar(s) => s.as_str().trim().to_owned(),
        _ => return r.number(node, what, range),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (amount, unit) = (
        text[..split].trim(),
        text[split..].trim().to_ascii_lowercase(),
    );
    let amount: Option<f64> = amount.parse().ok();
    let factor = match unit.as_str() {
        "gb" | "gib" | "g" if what.ends_with("memory") => Some((1024.0, "MiB")),
        "mb" | "mib" | "m" if what.ends_with("memory") => Some((1.0, "MiB")),
        "vcpu" | "vcpus" | "cpu" | "cpus" if what.ends_with("cpu") => {
            Some((1024.0, "CPU units, 1024 = 1 vCPU"))
        }
        _ => None,
    };
    match (amount, factor) {
        (Some(a), Some((f, words))) if !unit.is_empty() => {
            let n = (a * f).round() as u64;
            r.error(
                node.span(),
                format!("{what} is a plain number of {words}: write `{n}` for {text}"),
            );
            None
        }
        _ => r.number(node, what, range),
    }
}
