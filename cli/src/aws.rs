//! AWS settings for commands that reach the table: region and profile from flags or the standard environment,
//! the table name from `--table` or FSCHED_TABLE (the stack's `TableName` output).

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
}

impl AwsArgs {
    pub async fn store(&self) -> anyhow::Result<DynamoStore> {
        let table = self.table.clone().ok_or_else(|| {
            anyhow::anyhow!("no table given: pass --table or set FSCHED_TABLE to the stack's `TableName` output")
        })?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            table,
        ))
    }
}
