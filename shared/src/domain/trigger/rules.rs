//! The EventBridge rules fsched keeps: one per job with `on_event`, per service with `wake_on`, and per alert
//! destination (domain::notify), named per stack, and the changes that turn the rules found on a bus into the rules
//! wanted.

use std::fmt;

use serde_json::Value;

use crate::domain::job::JobSpec;
use crate::domain::name::{JobName, ServiceName};
use crate::domain::service::ServiceSpec;

/// The name of the EventBridge rule that runs a job on its `on_event`: `fsched-<stack tag>-<job>`, at most 64
/// characters (EventBridge's limit), unique per stack so several stacks can share a bus. `stack` is a short
/// discriminator derived from the stack's table name.
pub fn rule_name(stack: &str, job: &str) -> String {
    let name = format!("fsched-{stack}-{job}");
    if name.len() <= 64 {
        return name;
    }
    // Long job names keep a readable prefix and a hash of the whole name.
    let hash = crate::domain::hash::fnv128(&[job]) as u64;
    let keep = 64 - format!("fsched-{stack}--{hash:08x}").len();
    format!("fsched-{stack}-{}-{:08x}", &job[..keep], hash as u32)
}

/// The short discriminator of a stack's rules, from its table name: 6 hex characters.
pub fn stack_tag(table: &str) -> String {
    format!(
        "{:06x}",
        crate::domain::hash::fnv128(&[table]) as u64 & 0xff_ffff
    )
}

/// The id of the target fsched puts on its rules.
pub const TARGET_ID: &str = "fsched-trigger";
/// The bus name EventBridge gives the account's default bus.
pub const DEFAULT_BUS: &str = "default";

/// What a rule does: start a job's run, wake a service, or deliver alerts to a destination (an SNS topic or SQS
/// queue ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    Job(JobName),
    Service(ServiceName),
    Alert(String),
}

impl RuleTarget {
    /// `job` or `service`.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleTarget::Job(_) => "job",
            RuleTarget::Service(_) => "service",
            RuleTarget::Alert(_) => "alerts to",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            RuleTarget::Job(j) => j.as_str(),
            RuleTarget::Service(s) => s.as_str(),
            RuleTarget::Alert(arn) => arn,
        }
    }
}

impl fmt::Display for RuleTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.name())
    }
}

/// A rule fsched keeps for a job's `on_event` or a service's `wake_on`: on `bus`, matching `pattern`, delivering
/// the target's name and the event to the stack's trigger queue.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    pub name: String,
    pub bus: String,
    pub target: RuleTarget,
    pub pattern: Value,
}

impl EventRule {
    pub fn description(&self) -> String {
        match &self.target {
            RuleTarget::Job(job) => format!("fsched: runs job {job} when an event matches"),
            RuleTarget::Service(s) => format!("fsched: wakes service {s} when an event matches"),
            RuleTarget::Alert(_) => "fsched: delivers the alerts of the stack's jobs".to_owned(),
        }
    }

    /// Where the rule delivers: the stack's trigger queue (`queue`), or the alert destination.
    pub fn target_arn<'a>(&'a self, queue: &'a str) -> &'a str {
        match &self.target {
            RuleTarget::Alert(arn) => arn,
            _ => queue,
        }
    }

    /// The input transformer's paths: an alert takes the announcement's message, job and kind.
    pub fn input_paths(&self) -> Vec<(&'static str, &'static str)> {
        match &self.target {
            RuleTarget::Alert(_) => vec![
                ("message", "$.detail.message"),
                ("job", "$.detail.job"),
                ("kind", "$.detail-type"),
            ],
            _ => Vec::new(),
        }
    }

    /// The target's input. An alert to an SNS topic is its message as text (people read topics: email, SMS, chat);
    /// to an SQS queue, a JSON object with the job, the kind of announcement and the message (programs read
    /// queues). Otherwise the job's (or service's) name and the whole event (`<aws.events.event.json>`).
    pub fn input_template(&self) -> String {
        if let RuleTarget::Alert(arn) = &self.target {
            return if arn.split(':').nth(2) == Some("sqs") {
                r#"{"job": "<job>", "event": "<kind>", "message": "<message>"}"#.to_owned()
            } else {
                "\"<message>\"".to_owned()
            };
        }
        format!(
            "{{\"fsched_{}\": \"{}\", \"event\": <aws.events.event.json>}}",
            self.target.kind(),
            self.target.name()
        )
    }

    /// The tag that says what the rule is for.
    pub fn tag(&self) -> (&'static str, &str) {
        match &self.target {
            RuleTarget::Job(job) => ("fsched:job", job.as_str()),
            RuleTarget::Service(s) => ("fsched:service", s.as_str()),
            RuleTarget::Alert(arn) => ("fsched:alert", arn.as_str()),
        }
    }
}

/// A rule as found on a bus: its pattern, and its targets (ARN and input template).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRule {
    pub name: String,
    pub bus: String,
    pub pattern: Option<Value>,
    pub targets: Vec<(String, Option<String>)>,
}

/// The rules the jobs want: one per job with `on_event`, on its `event_bus` (default: the stack's bus).
pub fn desired_rules<'a>(
    jobs: impl IntoIterator<Item = (&'a JobName, &'a JobSpec)>,
    stack: &str,
    stack_bus: &str,
) -> Vec<EventRule> {
    jobs.into_iter()
        .filter_map(|(name, spec)| {
            Some(EventRule {
                name: rule_name(stack, name.as_str()),
                bus: spec
                    .event_bus
                    .clone()
                    .unwrap_or_else(|| stack_bus.to_owned()),
                target: RuleTarget::Job(name.clone()),
                pattern: spec.on_event.clone()?,
            })
        })
        .collect()
}

/// The rules the services want: one per service with `wake_on`. Named `fsched-<stack>-svc.<service>` (`.` never
/// occurs in job names, so a service's rule cannot take a job's name).
pub fn desired_service_rules<'a>(
    services: impl IntoIterator<Item = (&'a ServiceName, &'a ServiceSpec)>,
    stack: &str,
    stack_bus: &str,
) -> Vec<EventRule> {
    services
        .into_iter()
        .filter_map(|(name, spec)| {
            Some(EventRule {
                name: rule_name(stack, &format!("svc.{name}")),
                bus: spec
                    .event_bus
                    .clone()
                    .unwrap_or_else(|| stack_bus.to_owned()),
                target: RuleTarget::Service(name.clone()),
                pattern: spec.wake_on.clone()?,
            })
        })
        .collect()
}

/// The rules the jobs' alerts want: one per destination, on the stack's bus, matching every announcement of this
/// stack addressed to it (`detail.alert_to`, domain::notify). Named `fsched-<stack>-alert.<hash>.<name>`: the hash
/// of the whole ARN keeps two topics of one name (in two accounts or Regions) apart.
pub fn desired_alert_rules<'a>(
    jobs: impl IntoIterator<Item = (&'a JobName, &'a JobSpec)>,
    stack: &str,
    stack_bus: &str,
) -> Vec<EventRule> {
    let mut destinations: Vec<&str> = jobs
        .into_iter()
        .flat_map(|(_, spec)| spec.alerts.iter().map(|a| a.to.as_str()))
        .collect();
    destinations.sort_unstable();
    destinations.dedup();
    destinations
        .into_iter()
        .map(|arn| {
            let short = arn.rsplit(':').next().unwrap_or(arn);
            let hash = crate::domain::hash::fnv128(&[arn]) as u32 & 0xff_ffff;
            EventRule {
                name: rule_name(stack, &format!("alert.{hash:06x}.{short}")),
                bus: stack_bus.to_owned(),
                target: RuleTarget::Alert(arn.to_owned()),
                pattern: serde_json::json!({
                    "source": [crate::domain::event::EVENT_SOURCE],
                    "detail": { "alert_to": [arn] },
                }),
            }
        })
        .collect()
}

/// A change to fsched's rules.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleChange {
    Create(EventRule),
    Update { rule: EventRule, why: String },
    Delete { name: String, bus: String },
}

impl fmt::Display for RuleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleChange::Create(r) => {
                write!(f, "+ rule {} on bus {} ({})", r.name, r.bus, r.target)
            }
            RuleChange::Update { rule, why } => {
                write!(
                    f,
                    "~ rule {} on bus {} ({}): {why}",
                    rule.name, rule.bus, rule.target
                )
            }
            RuleChange::Delete { name, bus } => write!(f, "- rule {name} on bus {bus}"),
        }
    }
}

/// What turns the rules found into the rules wanted. `queue` is the trigger queue every rule must target.
pub fn rule_changes(desired: &[EventRule], found: &[FoundRule], queue: &str) -> Vec<RuleChange> {
    let mut out = Vec::new();
    for rule in desired {
        match found
            .iter()
            .find(|f| f.name == rule.name && f.bus == rule.bus)
        {
            None => out.push(RuleChange::Create(rule.clone())),
            Some(f) => {
                let target = (
                    rule.target_arn(queue).to_owned(),
                    Some(rule.input_template()),
                );
                let why = if f.pattern.as_ref() != Some(&rule.pattern) {
                    Some("its pattern changed")
                } else if f.targets != [target] {
                    Some("its target or input changed")
                } else {
                    None
                };
                if let Some(why) = why {
                    out.push(RuleChange::Update {
                        rule: rule.clone(),
                        why: why.to_owned(),
                    });
                }
            }
        }
    }
    for f in found {
        if !desired.iter().any(|r| r.name == f.name && r.bus == f.bus) {
            out.push(RuleChange::Delete {
                name: f.name.clone(),
                bus: f.bus.clone(),
            });
        }
    }
    out
}

/// The prefix of every rule of one stack: listing by it finds fsched's rules and no one else's.
pub fn rule_prefix(stack: &str) -> String {
    format!("fsched-{stack}-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::{Alert, Outcome};

    #[test]
    fn one_alert_rule_per_destination_whatever_the_number_of_jobs() {
        let alert = |to: &str| Alert {
            to: to.to_owned(),
            on: vec![Outcome::Failed],
        };
        let pager = "arn:aws:sns:eu-west-1:123456789012:pager";
        let other = "arn:aws:sns:us-east-1:999999999999:pager";
        let spec = |alerts| JobSpec {
            alerts,
            ..JobSpec::placeholder()
        };
        let jobs = [
            (JobName::new("a").unwrap(), spec(vec![alert(pager)])),
            (
                JobName::new("b").unwrap(),
                spec(vec![alert(pager), alert(other)]),
            ),
            (JobName::new("c").unwrap(), spec(vec![])),
        ];
        let rules = desired_alert_rules(jobs.iter().map(|(n, s)| (n, s)), "abc123", "bus");
        assert_eq!(rules.len(), 2);
        // Same topic name, two accounts: two rules, told apart by the ARN's hash.
        assert_ne!(rules[0].name, rules[1].name);
        assert!(rules
            .iter()
            .all(|r| r.name.starts_with("fsched-abc123-alert.")
                && r.name.ends_with(".pager")
                && r.name.len() <= 64));
        let rule = rules
            .iter()
            .find(|r| r.target == RuleTarget::Alert(pager.to_owned()))
            .unwrap();
        assert_eq!(
            rule.pattern,
            serde_json::json!({"source": ["fsched"], "detail": {"alert_to": [pager]}})
        );
        assert_eq!(rule.target_arn("queue"), pager);
        assert_eq!(rule.input_template(), "\"<message>\"");
        let queue = RuleTarget::Alert("arn:aws:sqs:eu-west-1:123456789012:alerts".to_owned());
        let to_queue = EventRule {
            target: queue,
            ..rule.clone()
        };
        let input = to_queue
            .input_template()
            .replace("<job>", "etl")
            .replace("<kind>", "Run Failed")
            .replace("<message>", "fsched: job etl FAILED.");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&input).unwrap(),
            serde_json::json!({"job": "etl", "event": "Run Failed", "message": "fsched: job etl FAILED."})
        );

        // Found as wanted: nothing to do; found pointing elsewhere: updated.
        let found = |arn: &str| FoundRule {
            name: rule.name.clone(),
            bus: "bus".to_owned(),
            pattern: Some(rule.pattern.clone()),
            targets: vec![(arn.to_owned(), Some(rule.input_template()))],
        };
        let wanted = std::slice::from_ref(rule);
        assert!(rule_changes(wanted, &[found(pager)], "queue").is_empty());
        assert!(matches!(
            rule_changes(wanted, &[found("queue")], "queue")[..],
            [RuleChange::Update { .. }]
        ));
    }
}
