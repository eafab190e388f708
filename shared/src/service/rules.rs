//! Keeping jobs' `on_event` rules in step with the jobs: what `plan` shows and `apply` does to EventBridge.

use crate::domain::jobs_file::JobsFile;
use crate::domain::trigger::{rule_changes, rule_prefix, EventRule, FoundRule, RuleChange};
use crate::ports::{EventRules, RuleError};

/// Where a stack's rules live and point.
#[derive(Debug, Clone)]
pub struct RuleScope {
    /// The stack's discriminator (`domain::trigger::stack_tag`).
    pub stack: String,
    /// Every bus to look for the stack's rules on: the stack's bus, `default`, and any bus a job names.
    pub buses: Vec<String>,
    /// The trigger queue every rule targets.
    pub queue: String,
}

/// The changes that bring the rules found on the scope's buses to `desired`.
pub async fn rule_plan<R: EventRules>(
    rules: &R,
    scope: &RuleScope,
    desired: &[EventRule],
) -> Result<Vec<RuleChange>, RuleError> {
    let mut buses = scope.buses.clone();
    buses.extend(desired.iter().map(|r| r.bus.clone()));
    buses.sort();
    buses.dedup();
    let mut found: Vec<FoundRule> = Vec::new();
    for bus in &buses {
        found.extend(rules.list(bus, &rule_prefix(&scope.stack)).await?);
    }
    Ok(rule_changes(desired, &found, &scope.queue))
}

/// Makes the changes, each on its own: one failing does not stop the others. Returns each with its outcome.
pub async fn apply_rules<R: EventRules>(
    rules: &R,
    scope: &RuleScope,
    changes: Vec<RuleChange>,
) -> Vec<(RuleChange, Result<(), RuleError>)> {
    let mut out = Vec::new();
    for change in changes {
        let result = match &change {
            RuleChange::Create(rule) | RuleChange::Update { rule, .. } => {
                rules.put(rule, &scope.queue).await
            }
            RuleChange::Delete { name, bus } => rules.delete(bus, name).await,
        };
        out.push((change, result));
    }
    out
}

/// What in the file keeps an EventBridge rule, in words: `job `a` (on_event)`, ...
pub(crate) fn needing_rules(file: &JobsFile) -> Vec<String> {
    let mut out = Vec::new();
    for (name, spec) in &file.jobs {
        let mut why = Vec::new();
        if spec.on_event.is_some() {
            why.push("on_event");
        }
        if !spec.alerts.is_empty() {
            why.push("alerts");
        }
        if !why.is_empty() {
            out.push(format!("job `{name}` ({})", why.join(", ")));
        }
    }
    for (name, spec) in &file.services {
        if spec.wake_on.is_some() {
            out.push(format!("service `{name}` (wake_on)"));
        }
    }
    out
}
