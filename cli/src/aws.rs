//! AWS settings for commands that reach the table: region and profile from flags or the standard environment,
//! the table name from `--table` / FSCHED_TABLE, or else from the `TableName` output of the stack named by
//! `--stack` / FSCHED_STACK.

use aws_config::BehaviorVersion;
use fsched_core::aws::dynamo::DynamoStore;

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
}

/// The value of one output of a CloudFormation stack.
async fn stack_output(
    config: &aws_config::SdkConfig,
    stack: &str,
    key: &str,
) -> anyhow::Result<String> {
    let client = aws_sdk_cloudformation::Client::new(config);
    let described = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "reading stack `{stack}`: {}",
                fsched_core::aws::sdk_error::describe(&e)
            )
        })?;
    described
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value().map(str::to_owned))
        .ok_or_else(|| {
            anyhow::anyhow!("stack `{stack}` has no output `{key}`: is it an fsched stack?")
        })
}

impl AwsArgs {
    pub async fn store(&self) -> anyhow::Result<DynamoStore> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        let table = match (&self.table, &self.stack) {
            (Some(table), _) => table.clone(),
            (None, Some(stack)) => stack_output(&config, stack, "TableName").await?,
            (None, None) => anyhow::bail!(
                "no table given: pass --table (or set FSCHED_TABLE) to the stack's `TableName` output, or --stack \
                 (FSCHED_STACK) to read it from the deployed stack"
            ),
        };
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            table,
        ))
    }
}
