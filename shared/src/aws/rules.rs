//! The EventBridge rules fsched keeps (jobs' `on_event`, services' `wake_on`, alert destinations): the `EventRules`
//! port over ListRules, ListTargetsByRule, PutRule, PutTargets, RemoveTargets and DeleteRule. Each rule has one
//! target: the stack's trigger queue, with an input that carries the job's name and the event, or an alert
//! destination, with the announcement's message.

use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::{InputTransformer, RuleState, Tag, Target};
use aws_sdk_eventbridge::Client;

use super::sdk_error::describe;
use crate::domain::trigger::{EventRule, FoundRule, TARGET_ID};
use crate::ports::{EventRules, RuleError};

#[derive(Clone, Debug)]
pub struct EventBridgeRules {
    client: Client,
}

impl EventBridgeRules {
    pub fn new(client: Client) -> Self {
        EventBridgeRules { client }
    }
}

fn rule_error<E, R>(what: &str, e: SdkError<E, R>) -> RuleError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    RuleError {
        message: format!("{what}: {}", describe(&e)),
    }
}

impl EventRules for EventBridgeRules {
    async fn list(&self, bus: &str, prefix: &str) -> Result<Vec<FoundRule>, RuleError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_rules()
                .event_bus_name(bus)
                .name_prefix(prefix)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| rule_error(&format!("listing rules on bus `{bus}`"), e))?;
            for rule in page.rules() {
                let Some(name) = rule.name() else { continue };
                let targets = self
                    .client
                    .list_targets_by_rule()
                    .event_bus_name(bus)
                    .rule(name)
                    .send()
                    .await
                    .map_err(|e| rule_error(&format!("reading the targets of rule `{name}`"), e))?;
                out.push(FoundRule {
                    name: name.to_owned(),
                    bus: bus.to_owned(),
                    pattern: rule
                        .event_pattern()
                        .and_then(|p| serde_json::from_str(p).ok()),
                    targets: targets
                        .targets()
                        .iter()
                        .map(|t| {
                            (
                                t.arn().to_owned(),
                                t.input_transformer().map(|i| i.input_template().to_owned()),
                            )
                        })
                        .collect(),
                });
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn put(&self, rule: &EventRule, queue: &str) -> Result<(), RuleError> {
        let what = format!("rule `{}` on bus `{}`", rule.name, rule.bus);
        self.client
            .put_rule()
            .name(&rule.name)
            .event_bus_name(&rule.bus)
            .event_pattern(rule.pattern.to_string())
            .description(rule.description())
            .state(RuleState::Enabled)
            .tags(
                Tag::builder()
                    .key(rule.tag().0)
                    .value(rule.tag().1)
                    .build()
                    .map_err(|e| RuleError {
                        message: format!("{what}: {e}"),
                    })?,
            )
            .send()
            .await
            .map_err(|e| rule_error(&what, e))?;
        let mut input = InputTransformer::builder().input_template(rule.input_template());
        for (name, path) in rule.input_paths() {
            input = input.input_paths_map(name, path);
        }
        let input = input.build().map_err(|e| RuleError {
            message: format!("{what}: {e}"),
        })?;
        let target = Target::builder()
            .id(TARGET_ID)
            .arn(rule.target_arn(queue))
            .input_transformer(input)
            .build()
            .map_err(|e| RuleError {
                message: format!("{what}: {e}"),
            })?;
        let out = self
            .client
            .put_targets()
            .rule(&rule.name)
            .event_bus_name(&rule.bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| rule_error(&format!("{what}: target"), e))?;
        if out.failed_entry_count() > 0 {
            let why: Vec<String> = out
                .failed_entries()
                .iter()
                .map(|f| f.error_message().unwrap_or("unknown error").to_owned())
                .collect();
            return Err(RuleError {
                message: format!("{what}: target not set: {}", why.join("; ")),
            });
        }
        Ok(())
    }

    async fn delete(&self, bus: &str, name: &str) -> Result<(), RuleError> {
        let what = format!("rule `{name}` on bus `{bus}`");
        let targets = self
            .client
            .list_targets_by_rule()
            .event_bus_name(bus)
            .rule(name)
            .send()
            .await
            .map_err(|e| rule_error(&what, e))?;
        let ids: Vec<String> = targets
            .targets()
            .iter()
            .map(|t| t.id().to_owned())
            .collect();
        if !ids.is_empty() {
            self.client
                .remove_targets()
                .event_bus_name(bus)
                .rule(name)
                .set_ids(Some(ids))
                .send()
                .await
                .map_err(|e| rule_error(&format!("{what}: removing targets"), e))?;
        }
        self.client
            .delete_rule()
            .event_bus_name(bus)
            .name(name)
            .send()
            .await
            .map_err(|e| rule_error(&what, e))?;
        Ok(())
    }
}
