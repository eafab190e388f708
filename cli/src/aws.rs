//! AWS settings for commands that reach the table: region and profile from flags or the standard environment,
//! the table name from `--table` / FSCHED_TABLE, or else from the `TableName` output of the stack named by
//! `--stack` / FSCHED_STACK.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use aws_config::BehaviorVersion;
use chrono::{DateTime, SubsecRound, Utc};
use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::aws::events::EventBridgePublisher;
use fsched_core::domain::scope::StackScope;
use fsched_core::domain::trigger::{stack_tag, Command, DEFAULT_BUS};
use fsched_core::ports::EventPublisher;
use fsched_core::service::rules::RuleScope;

#[derive(clap::Args, Clone, Debug)]
pub struct AwsArgs {
    /// AWS region [default: from the standard AWS environment or profile].
    #[arg(long, global = true)]
    region: Option<String>,
    /// Named AWS profile [default: AWS_PROFILE or the default profile].
    #[arg(long, global = true)]
    profile: Option<String>,
    /// The fsched table (the stack's `TableName` output).
    #[arg(long, env = "FSCHED_TABLE", global = true)]
    table: Option<String>,
    /// The deployed fsched stack, to read the table name from its outputs when --table is not given.
    #[arg(long, env = "FSCHED_STACK", global = true)]
    stack: Option<String>,
    /// The stack's event bus (its `EventBusName` output): commands go there, and `on_event` rules default to it.
    #[arg(long, env = "FSCHED_EVENT_BUS", global = true)]
    bus: Option<String>,
    /// The ARN of the stack's trigger queue (its `TriggerQueueArn` output), which `on_event` rules deliver to.
    #[arg(long, env = "FSCHED_TRIGGER_QUEUE", global = true)]
    trigger_queue: Option<String>,
    /// The stack as CloudFormation described it, read once per command (outputs and parameters come from it).
    #[arg(skip)]
    described: Arc<OnceLock<aws_sdk_cloudformation::types::Stack>>,
}

/// An error reading the stack `stack`, in words.
pub fn stack_error(stack: &str, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow::anyhow!(
        "reading stack `{stack}`: {}",
        fsched_core::aws::sdk_error::describe(e)
    )
}

impl AwsArgs {
    /// The deployed stack `stack`, as CloudFormation describes it (outputs, parameters, id): one DescribeStacks per
    /// command, however many settings come from it.
    async fn describe_stack(
        &self,
        config: &aws_config::SdkConfig,
        stack: &str,
    ) -> anyhow::Result<&aws_sdk_cloudformation::types::Stack> {
        if let Some(found) = self.described.get() {
            return Ok(found);
        }
        let described = aws_sdk_cloudformation::Client::new(config)
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| stack_error(stack, &e))?;
        let found = described
            .stacks()
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no stack `{stack}`"))?;
        Ok(self.described.get_or_init(|| found))
    }

    /// The value of one output of the stack.
    async fn stack_output(
        &self,
        config: &aws_config::SdkConfig,
        stack: &str,
        key: &str,
    ) -> anyhow::Result<String> {
        self.describe_stack(config, stack)
            .await?
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value().map(str::to_owned))
            .ok_or_else(|| {
                anyhow::anyhow!("stack `{stack}` has no output `{key}`: is it an fsched stack?")
            })
    }

    /// The stack named by `--stack` (or `FSCHED_STACK`), if any.
    pub fn stack_name(&self) -> Option<&str> {
        self.stack.as_deref()
    }

    /// The SDK's settings: the standard chain, with `--region` and `--profile` on top. A profile named with
    /// `--profile` must exist, and its credentials beat keys in the environment (as the AWS CLI's `--profile`
    /// does), so a wrong name is an error, not the environment's keys used silently.
    pub async fn config(&self) -> Result<aws_config::SdkConfig, crate::Failure> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            use aws_credential_types::provider::ProvideCredentials;
            let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build();
            if let Err(e) = provider.provide_credentials().await {
                return Err(crate::Failure::Invalid(format!(
                    "--profile `{profile}`: no credentials from it ({}): is it in ~/.aws/config or \
                     ~/.aws/credentials (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)?",
                    fsched_core::aws::sdk_error::describe(&e)
                )));
            }
            loader = loader.profile_name(profile).credentials_provider(provider);
        }
        Ok(loader.load().await)
    }

    /// A setting as given, unless it came from the environment while `--stack` was named on the command line:
    /// an explicit flag beats an environment variable, so `--stack prod` means prod's table, bus and queue even
    /// with FSCHED_TABLE (or FSCHED_EVENT_BUS, FSCHED_TRIGGER_QUEUE) set for another stack in the shell.
    fn given<'a>(&self, value: &'a Option<String>, flag: &str) -> Option<&'a String> {
        let args: Vec<String> = std::env::args().collect();
        let on_command_line = |f: &str| {
            args.iter()
                .any(|a| a == f || a.starts_with(&format!("{f}=")))
        };
        if self.stack.is_some() && on_command_line("--stack") && !on_command_line(flag) {
            return None;
        }
        value.as_ref()
    }

    /// A setting given directly, or else read from the stack's outputs; `None` when neither is available.
    async fn setting(
        &self,
        config: &aws_config::SdkConfig,
        given: &Option<String>,
        flag: &str,
        output: &str,
    ) -> anyhow::Result<Option<String>> {
        match (self.given(given, flag), &self.stack) {
            (Some(v), _) => Ok(Some(v.clone())),
            (None, Some(stack)) => Ok(Some(self.stack_output(config, stack, output).await?)),
            (None, None) => Ok(None),
        }
    }

    /// The stack's event bus, for commands.
    pub async fn bus(&self, config: &aws_config::SdkConfig) -> anyhow::Result<String> {
        self.setting(config, &self.bus, "--bus", "EventBusName")
            .await?
            .ok_or_else(|| {
                crate::Usage(
                    "no event bus given: pass --bus (or set FSCHED_EVENT_BUS) to the stack's `EventBusName` output, \
                     or --stack (FSCHED_STACK)"
                        .to_owned(),
                )
                .into()
            })
    }

    /// Sends a command to the stack's bus, where the trigger function picks it up.
    pub async fn send(
        &self,
        config: &aws_config::SdkConfig,
        command: &Command,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let bus = self.bus(config).await?;
        let event = command.to_event(now.trunc_subsecs(0))?;
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(config), &bus)
            .publish(&[event])
            .await
            .with_context(|| format!("sending the \"{}\" command to bus `{bus}`", command.kind()))
    }

    /// Where `on_event` rules live and point, when the stack's bus and trigger queue are known.
    pub async fn rule_scope(
        &self,
        config: &aws_config::SdkConfig,
        table: &str,
    ) -> anyhow::Result<Option<RuleScope>> {
        let bus = self
            .setting(config, &self.bus, "--bus", "EventBusName")
            .await?;
        let queue = self
            .setting(
                config,
                &self.trigger_queue,
                "--trigger-queue",
                "TriggerQueueArn",
            )
            .await?;
        Ok(bus.zip(queue).map(|(bus, queue)| RuleScope {
            stack: stack_tag(table),
            buses: vec![bus, DEFAULT_BUS.to_owned()],
            queue,
        }))
    }

    /// The deployed stack's permission parameters, when `--stack` names it (`None` without a stack: nothing to check
    /// against).
    pub async fn stack_scope(
        &self,
        config: &aws_config::SdkConfig,
    ) -> anyhow::Result<Option<StackScope>> {
        let Some(stack) = &self.stack else {
            return Ok(None);
        };
        let found = self.describe_stack(config, stack).await?;
        let parameter = |key: &str| -> Vec<String> {
            found
                .parameters()
                .iter()
                .find(|p| p.parameter_key() == Some(key))
                .and_then(|p| p.parameter_value())
                .map(|v| {
                    // CloudFormation gives a list parameter as `a,b`; the local emulator as `['a', 'b']`.
                    v.trim()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .split(',')
                        .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"'))
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        // arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/ID
        let id = found.stack_id().unwrap_or_default();
        let arn: Vec<&str> = id.splitn(6, ':').collect();
        let [_, partition, _, region, account, _] = arn[..] else {
            anyhow::bail!("stack `{stack}` has an id that is not an ARN: `{id}`");
        };
        Ok(Some(StackScope {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            clusters: parameter("ClusterArns"),
            task_definitions: parameter("TaskDefinitionArns"),
            roles: parameter("TaskRoleArns"),
            services: parameter("ServiceArns"),
            listener_rules: parameter("ListenerRuleArns"),
        }))
    }

    pub async fn store(&self) -> Result<DynamoStore, crate::Failure> {
        let config = self.config().await?;
        Ok(self.store_with(&config).await?)
    }

    pub async fn store_with(&self, config: &aws_config::SdkConfig) -> anyhow::Result<DynamoStore> {
        let config = config.clone();
        let table = match (self.given(&self.table, "--table"), &self.stack) {
            (Some(table), _) => table.clone(),
            (None, Some(stack)) => self.stack_output(&config, stack, "TableName").await?,
            (None, None) => {
                return Err(crate::Usage(
                    "no table given: pass --table (or set FSCHED_TABLE) to the stack's `TableName` output, or \
                     --stack (FSCHED_STACK) to read it from the deployed stack"
                        .to_owned(),
                )
                .into())
            }
        };
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            table,
        ))
    }
}

/// Who is asking, for the records of what a command did: the caller's AWS identity (STS GetCallerIdentity, which
/// needs no permission) and the command, e.g. `arn:aws:iam::123456789012:user/alice (fsched run)`. When STS cannot
/// be reached the local user stands in, and says so: the command itself still goes out.
pub async fn requester(config: &aws_config::SdkConfig, command: &str) -> String {
    let identity = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await;
    match identity.ok().and_then(|i| i.arn) {
        Some(arn) => format!("{arn} (fsched {command})"),
        None => {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "someone".to_owned());
            format!("{user} (fsched {command}; AWS identity unknown)")
        }
    }
}
