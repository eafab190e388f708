//! Readers of `alerts` (who is told about which outcomes) and `expect` (how often a job must succeed).

use marked_yaml::Node;

use super::reader::Reader;
use crate::domain::alert::{check_destination, Alert, Expect, Outcome};
use crate::domain::duration::Span;

/// The shortest `expect.success_within`: the dispatcher looks once a minute, and a window shorter than a few of
/// its ticks would announce noise.
const SUCCESS_WITHIN_MIN: u64 = 5 * 60;

fn outcomes() -> Vec<(&'static str, Outcome)> {
    Outcome::ALL.iter().map(|o| (o.as_str(), *o)).collect()
}

/// `alerts`: a list of `{to: ARN, on: [outcome, ...]}`; `on` left out is `Outcome::DEFAULT`.
pub(super) fn read_alerts(r: &mut Reader, node: &Node) -> Option<Vec<Alert>> {
    let Node::Sequence(items) = node else {
        r.error(
            node.span(),
            "alerts must be a list of `- to: <SNS topic or SQS queue ARN>` entries, each with an optional `on: [...]`",
        );
        return None;
    };
    let mut out = Vec::new();
    let options = outcomes();
    for item in items.iter() {
        let Some(map) = r.mapping(item, "an entry of alerts") else {
            continue;
        };
        let f = r.fields(map, "an entry of alerts", &["to", "on"]);
        let Some(to_node) = f.get("to") else {
            r.error(
                item.span(),
                "an entry of alerts needs `to:` (the ARN of an SNS topic or SQS queue)",
            );
            continue;
        };
        let Some(to) = r.text(to_node, "alerts.to") else {
            continue;
        };
        if let Some(problem) = check_destination(&to) {
            r.error(to_node.span(), format!("alerts.to: {problem}"));
            continue;
        }
        let on = match f.get("on") {
            None => Outcome::DEFAULT.to_vec(),
            Some(Node::Sequence(names)) => {
                let mut on: Vec<Outcome> = names
                    .iter()
                    .filter_map(|n| r.choice(n, "alerts.on", &options))
                    .collect();
                on.sort();
                on.dedup();
                if on.is_empty() && names.is_empty() {
                    r.error(to_node.span(), "alerts.on: name at least one outcome (or leave `on` out for the usual ones)");
                }
                on
            }
            Some(other) => {
                r.error(
                    other.span(),
                    "alerts.on must be a list of outcomes, like [failed, timed_out]",
                );
                continue;
            }
        };
        out.push(Alert { to, on });
    }
    Some(out)
}

/// `expect: {success_within: 26h}`.
pub(super) fn read_expect(r: &mut Reader, node: &Node) -> Option<Expect> {
    let map = r.mapping(node, "expect")?;
    let f = r.fields(map, "expect", &["success_within"]);
    let Some(n) = f.get("success_within") else {
        r.error(
            node.span(),
            "expect needs `success_within:` (like `26h` for a daily job)",
        );
        return None;
    };
    let text = r.string(n, "expect.success_within")?;
    match text.parse::<Span>() {
        Ok(d) if d.as_secs() < SUCCESS_WITHIN_MIN => {
            r.error(n.span(), "expect.success_within: at least 5m");
            None
        }
        Ok(d) => Some(Expect { success_within: d }),
        Err(e) => {
            r.error(n.span(), format!("expect.success_within: {e}"));
            None
        }
    }
}
