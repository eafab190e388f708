//! How a plan reads: for people (each change, then one summary over jobs, services and rules) and for scripts (JSON
//! with `changed`, counts per kind, and each change as an object).

use std::io::Write;

use fsched_core::domain::job::Job;
use fsched_core::domain::plan::{Change, Plan};
use fsched_core::domain::service::ServiceState;
use fsched_core::domain::trigger::RuleChange;
use fsched_core::service::apply::FilePlan;
use serde_json::json;

/// How many of each kind a plan adds, changes and removes, and how many stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
struct Counts {
    add: usize,
    change: usize,
    remove: usize,
    unchanged: usize,
}

impl Counts {
    fn of<D: fsched_core::domain::plan::Declared>(p: &Plan<D>) -> Counts {
        let (add, change, remove) = p.counts();
        Counts {
            add,
            change,
            remove,
            unchanged: p.unchanged.len(),
        }
    }

    fn rules(changes: &[RuleChange]) -> Counts {
        let count = |f: fn(&RuleChange) -> bool| changes.iter().filter(|c| f(c)).count();
        Counts {
            add: count(|c| matches!(c, RuleChange::Create(_))),
            change: count(|c| matches!(c, RuleChange::Update { .. })),
            remove: count(|c| matches!(c, RuleChange::Delete { .. })),
            unchanged: 0,
        }
    }

    fn changes(&self) -> usize {
        self.add + self.change + self.remove
    }

    fn words(&self) -> String {
        format!(
            "{} to add, {} to change, {} to remove",
            self.add, self.change, self.remove
        )
    }

    /// `+6 ~1 -2`, the non-zero ones.
    fn short(&self) -> String {
        [("+", self.add), ("~", self.change), ("-", self.remove)]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(sign, n)| format!("{sign}{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The plan's counts: jobs, services, rules.
fn counts(planned: &FilePlan) -> [(&'static str, Counts); 3] {
    let rules = planned
        .rules
        .as_ref()
        .map(|(_, c)| Counts::rules(c))
        .unwrap_or_default();
    [
        ("jobs", Counts::of(&planned.jobs)),
        ("services", Counts::of(&planned.services)),
        ("rules", rules),
    ]
}

/// One line over everything the plan would do: "No changes" only when nothing at all would change.
fn summary(planned: &FilePlan) -> String {
    let parts = counts(planned);
    let total = parts.iter().fold(Counts::default(), |t, (_, c)| Counts {
        add: t.add + c.add,
        change: t.change + c.change,
        remove: t.remove + c.remove,
        unchanged: t.unchanged + c.unchanged,
    });
    if total.changes() == 0 {
        return format!(
            "No changes: {} job(s) and {} service(s) up to date, EventBridge rules as wanted.",
            parts[0].1.unchanged, parts[1].1.unchanged
        );
    }
    let each: Vec<String> = parts
        .iter()
        .filter(|(_, c)| c.changes() > 0)
        .map(|(what, c)| format!("{what} {}", c.short()))
        .collect();
    format!(
        "Plan: {} ({}); {} unchanged.",
        total.words(),
        each.join("; "),
        total.unchanged
    )
}

/// A service's line in a plan.
fn service_line(change: &Change<ServiceState>) -> String {
    match change {
        Change::Add { name, spec } => format!(
            "+ service {name}  ({} in {})",
            spec.awake_words(),
            spec.timezone
        ),
        Change::Update { current, spec, .. } => format!(
            "~ service {}  ({} in {})",
            current.name,
            spec.awake_words(),
            spec.timezone
        ),
        Change::Remove { current } => format!(
            "- service {}  (not in the file; removed by --prune)",
            current.name
        ),
        Change::Keep { current } => format!(
            "  service {}  (not in the file; kept, --prune would remove it)",
            current.name
        ),
    }
}

/// A service's change for scripts.
fn service_json(change: &Change<ServiceState>) -> serde_json::Value {
    let (name, action) = match change {
        Change::Add { name, .. } => (name.to_string(), "add"),
        Change::Update { current, .. } => (current.name.to_string(), "change"),
        Change::Remove { current } => (current.name.to_string(), "remove"),
        Change::Keep { current } => (current.name.to_string(), "keep"),
    };
    json!({"service": name, "action": action})
}

/// A rule's change for scripts.
fn rule_json(change: &RuleChange) -> serde_json::Value {
    match change {
        RuleChange::Create(r) => json!({
            "rule": r.name, "bus": r.bus, "action": "add", "for": r.target.to_string(),
        }),
        RuleChange::Update { rule, why } => json!({
            "rule": rule.name, "bus": rule.bus, "action": "change", "for": rule.target.to_string(), "why": why,
        }),
        RuleChange::Delete { name, bus } => json!({"rule": name, "bus": bus, "action": "remove"}),
    }
}

pub(super) fn plan_json(planned: &FilePlan) -> serde_json::Value {
    let changes: Vec<_> = planned
        .jobs
        .changes
        .iter()
        .map(|c| match c {
            Change::Add { name, spec } => json!({"job": name, "action": "add", "definition": spec}),
            Change::Update { current, fields, .. } => json!({
                "job": current.name, "action": "change",
                "fields": fields.iter().map(|f| json!({"field": f.field, "from": f.from, "to": f.to})).collect::<Vec<_>>(),
            }),
            Change::Remove { current } => json!({"job": current.name, "action": "remove"}),
            Change::Keep { current } => json!({"job": current.name, "action": "keep"}),
        })
        .collect();
    let services: Vec<_> = planned.services.changes.iter().map(service_json).collect();
    let rules = planned
        .rules
        .as_ref()
        .map(|(_, c)| c.iter().map(rule_json).collect::<Vec<_>>());
    let summary: serde_json::Map<String, serde_json::Value> = counts(planned)
        .iter()
        .map(|(what, c)| ((*what).to_owned(), json!(c)))
        .collect();
    json!({
        "changed": has_changes(planned),
        "summary": summary,
        "jobs": changes,
        "unchanged": planned.jobs.unchanged,
        "services": services,
        "rules": rules,
    })
}

/// Whether applying the plan would change anything.
pub(super) fn has_changes(planned: &FilePlan) -> bool {
    counts(planned).iter().any(|(_, c)| c.changes() > 0)
}

fn print_jobs(p: &Plan<Job>, out: &mut impl Write) -> anyhow::Result<()> {
    for c in &p.changes {
        match c {
            Change::Add { name, spec } => writeln!(
                out,
                "+ {name}  (new: {} in {})",
                spec.triggers(),
                spec.timezone
            )?,
            Change::Update {
                current, fields, ..
            } => {
                writeln!(out, "~ {}", current.name)?;
                for f in fields {
                    writeln!(out, "    {}: {} -> {}", f.field, f.from, f.to)?;
                }
            }
            Change::Remove { current } => writeln!(
                out,
                "- {}  (not in the file; removed by --prune)",
                current.name
            )?,
            Change::Keep { current } => writeln!(
                out,
                "  {}  (not in the file; kept, --prune would remove it)",
                current.name
            )?,
        }
    }
    Ok(())
}

/// The plan for people: jobs, services, rules, then one summary over all three.
pub(super) fn print_plan(planned: &FilePlan, out: &mut impl Write) -> anyhow::Result<()> {
    print_jobs(&planned.jobs, out)?;
    for c in &planned.services.changes {
        writeln!(out, "{}", service_line(c))?;
    }
    if let Some((_, changes)) = &planned.rules {
        for c in changes {
            writeln!(out, "{c}")?;
        }
    }
    writeln!(out, "{}", summary(planned))?;
    Ok(())
}
