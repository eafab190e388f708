//! Readers of what a job does beyond one run per fire: `retry` (running a run again that ended badly), `jitter`
//! (spreading a fire's start), `max_running` (how many of its runs may go at once), and what it shares with other
//! jobs or fans out to: `pool` (and the file's `pools:`), `parallel` and `after`.

use std::collections::BTreeMap;

use marked_yaml::{Node, Span as MarkedSpan};

use super::reader::Reader;
use crate::domain::duration::Span;
use crate::domain::fan::{After, DEFAULT_AFTER_WINDOW, MAX_PARALLEL, MAX_POOL_SIZE};
use crate::domain::job::{JobName, PoolName};
use crate::domain::retry::{Ending, RetryPolicy};

/// The most runs `retry.attempts` may ask for (the first included).
pub(super) const MAX_ATTEMPTS: u32 = 10;
/// The longest `jitter`: a spread, not a second schedule.
const MAX_JITTER: u64 = 3600;

fn endings() -> Vec<(&'static str, Ending)> {
    Ending::ALL.iter().map(|e| (e.as_str(), *e)).collect()
}

fn span(r: &mut Reader, node: &Node, what: &str, min_secs: u64, min_words: &str) -> Option<Span> {
    let text = r.string(node, what)?;
    match text.parse::<Span>() {
        Ok(d) if d.as_secs() < min_secs => {
            r.error(node.span(), format!("{what}: at least {min_words}"));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            r.error(node.span(), format!("{what}: {e}"));
            None
        }
    }
}

fn exit_codes(r: &mut Reader, node: &Node, what: &str) -> Vec<i32> {
    let Node::Sequence(items) = node else {
        r.error(
            node.span(),
            format!("{what} must be a list of exit codes, like [1, 137]"),
        );
        return Vec::new();
    };
    let mut codes: Vec<i32> = items
        .iter()
        .filter_map(|n| r.number(n, what, 1..=255))
        .map(|c| c as i32)
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// `retry: {attempts: 3, backoff: 2m, max_backoff: 1h, max_age: 1d, on: [...], only_exit_codes: [...],
/// never_exit_codes: [...]}`; `retry: 3` is short for `{attempts: 3}`.
pub(super) fn read_retry(r: &mut Reader, node: &Node) -> Option<RetryPolicy> {
    let attempts = |r: &mut Reader, n: &Node| r.number(n, "retry.attempts", 2..=MAX_ATTEMPTS);
    if let Node::Scalar(_) = node {
        return attempts(r, node).map(RetryPolicy::new);
    }
    let map = r.mapping(node, "retry")?;
    let f = r.fields(
        map,
        "retry",
        &[
            "attempts",
            "backoff",
            "max_backoff",
            "max_age",
            "on",
            "only_exit_codes",
            "never_exit_codes",
            "only_reasons",
            "never_reasons",
        ],
    );
    let Some(n) = f.get("attempts") else {
        r.error(
            node.span(),
            "retry needs `attempts:` (runs in all, the first included, like `attempts: 3`)",
        );
        return None;
    };
    // Every field is read (and its problems reported) even when one is wrong.
    let mut policy = RetryPolicy::new(attempts(r, n).unwrap_or(2));
    let read = |r: &mut Reader, key: &str, min: &str| {
        let n = f.get(key)?;
        span(r, n, &format!("retry.{key}"), 60, min)
    };
    if let Some(d) = read(r, "backoff", "1m (the dispatcher looks once a minute)") {
        policy.backoff = d;
    }
    if let Some(d) = read(r, "max_backoff", "1m") {
        policy.max_backoff = d;
    }
    if let Some(d) = read(r, "max_age", "1m") {
        policy.max_age = d;
    }
    if policy.max_backoff < policy.backoff {
        r.error(
            &f.span,
            format!(
                "retry.max_backoff ({}) is shorter than retry.backoff ({})",
                policy.max_backoff, policy.backoff
            ),
        );
    }
    if let Some(n) = f.get("on") {
        if let Node::Sequence(names) = n {
            let options = endings();
            let mut on: Vec<Ending> = names
                .iter()
                .filter_map(|n| r.choice(n, "retry.on", &options))
                .collect();
            on.sort();
            on.dedup();
            if names.is_empty() {
                r.error(
                    n.span(),
                    "retry.on: name at least one ending (or leave `on` out for all four)",
                );
            }
            policy.on = on;
        } else {
            r.error(
                n.span(),
                "retry.on must be a list of endings, like [failed, timed_out]",
            );
        }
    }
    if let Some(n) = f.get("only_exit_codes") {
        policy.only_exit_codes = exit_codes(r, n, "retry.only_exit_codes");
    }
    if let Some(n) = f.get("never_exit_codes") {
        policy.never_exit_codes = exit_codes(r, n, "retry.never_exit_codes");
    }
    for key in ["only_reasons", "never_reasons"] {
        let Some(n) = f.get(key) else { continue };
        let what = format!("retry.{key}");
        let patterns = r.strings(n, &what).unwrap_or_default();
        if patterns.iter().any(|p| p.is_empty() || p.len() > 255) {
            r.error(
                n.span(),
                format!(
                    "{what}: each pattern is 1-255 characters, like `CannotPullContainerError*`"
                ),
            );
        }
        if key == "only_reasons" {
            policy.only_reasons = patterns;
        } else {
            policy.never_reasons = patterns;
        }
    }
    if let Some(c) = policy
        .only_exit_codes
        .iter()
        .find(|c| policy.never_exit_codes.contains(c))
    {
        r.error(
            &f.span,
            format!("retry: exit code {c} is in both only_exit_codes and never_exit_codes"),
        );
    }
    Some(policy)
}

/// `max_running: 3`.
pub(super) fn read_max_running(r: &mut Reader, node: &Node) -> Option<u32> {
    r.number(node, "max_running", 1..=100)
}

/// `jitter: 5m`: up to an hour.
pub(super) fn read_jitter(r: &mut Reader, node: &Node) -> Option<Span> {
    let d = span(r, node, "jitter", 1, "1s")?;
    if d.as_secs() > MAX_JITTER {
        r.error(
            node.span(),
            "jitter: at most 1h (spread a fire's start; for a later time, change the schedule)",
        );
        return None;
    }
    Some(d)
}

/// `pool: warehouse`: the name of one of the file's `pools:` (checked against them once every job is read).
pub(super) fn read_pool(r: &mut Reader, node: &Node) -> Option<(PoolName, MarkedSpan)> {
    let text = r.string(node, "pool")?;
    match PoolName::new(&text) {
        Ok(name) => Some((name, node.span().to_owned())),
        Err(e) => {
            r.error(node.span(), format!("pool: {e}"));
            None
        }
    }
}

/// `parallel: 4`: tasks per run.
pub(super) fn read_parallel(r: &mut Reader, node: &Node) -> Option<u32> {
    r.number(node, "parallel", 2..=MAX_PARALLEL)
}

/// `after: [extract-a, extract-b]`, or `after: {jobs: [...], window: 6h}` (at most 7 days).
pub(super) fn read_after(r: &mut Reader, node: &Node) -> Option<(After, MarkedSpan)> {
    let (list, window) = match node {
        Node::Mapping(m) => {
            let f = r.fields(m, "after", &["jobs", "window"]);
            let Some(jobs) = f.get("jobs") else {
                r.error(
                    node.span(),
                    "after needs `jobs:` (the jobs to wait for, like [extract-a, extract-b])",
                );
                return None;
            };
            let window = match f.get("window") {
                Some(n) => {
                    let d = span(r, n, "after.window", 60, "1m")?;
                    if d.as_secs() > 7 * 86_400 {
                        r.error(n.span(), "after.window: at most 7d");
                        return None;
                    }
                    d
                }
                None => DEFAULT_AFTER_WINDOW,
            };
            (jobs, window)
        }
        _ => (node, DEFAULT_AFTER_WINDOW),
    };
    let names = r.strings(list, "after.jobs")?;
    if names.is_empty() {
        r.error(list.span(), "after.jobs: name at least one job");
        return None;
    }
    let mut jobs = Vec::new();
    for name in names {
        match JobName::new(&name) {
            Ok(n) if !jobs.contains(&n) => jobs.push(n),
            Ok(_) => {}
            Err(e) => r.error(list.span(), format!("after: {e}")),
        }
    }
    Some((After { jobs, window }, node.span().to_owned()))
}

/// `pools: {warehouse: 3, api: 10}`: each a name and how many runs may go at once in it.
pub(super) fn read_pools(r: &mut Reader, node: &Node) -> BTreeMap<PoolName, u32> {
    let mut pools = BTreeMap::new();
    let Some(map) = r.mapping(node, "pools") else {
        return pools;
    };
    for (key, size) in map.iter() {
        let name = match PoolName::new(key.as_str()) {
            Ok(n) => n,
            Err(e) => {
                r.error(key.span(), format!("pools: {e}"));
                continue;
            }
        };
        let what = format!("pools.{name}");
        if let Some(size) = r.number(size, &what, 1..=MAX_POOL_SIZE) {
            pools.insert(name, size);
        }
    }
    pools
}
