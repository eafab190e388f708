//! The table's definition, read from the `AWS::DynamoDB::Table` resource of `template.yaml`: the one place it is
//! written. Tests and the demo create their tables from it, so a table made locally cannot drift from the deployed one.

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

use super::keys;
use super::sdk_error::describe;

/// The logical id of the table in `template.yaml`.
pub const TABLE_RESOURCE: &str = "Table";

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("template: {0}")]
    Template(String),
    #[error("creating table `{table}`: {message}")]
    Create { table: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableSpec {
    pub attribute_definitions: Vec<AttrDef>,
    pub key_schema: Vec<KeyDef>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDef>,
    pub time_to_live_specification: Option<TtlDef>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttrDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    pub projection_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlDef {
    pub attribute_name: String,
    pub enabled: bool,
}

impl TableSpec {
    /// Reads the table resource out of a SAM/CloudFormation template (intrinsic-function tags elsewhere are fine).
    pub fn from_template(template: &str) -> Result<Self, TableError> {
        let doc: serde_yaml::Value = serde_yaml::from_str(template)
            .map_err(|e| TableError::Template(format!("not YAML: {e}")))?;
        let resource = doc
            .get("Resources")
            .and_then(|r| r.get(TABLE_RESOURCE))
            .ok_or_else(|| TableError::Template(format!("no resource `{TABLE_RESOURCE}`")))?;
        let kind = resource.get("Type").and_then(|t| t.as_str());
        if kind != Some("AWS::DynamoDB::Table") {
            return Err(TableError::Template(format!(
                "resource `{TABLE_RESOURCE}` is {kind:?}, expected AWS::DynamoDB::Table"
            )));
        }
        let props = resource.get("Properties").cloned().ok_or_else(|| {
            TableError::Template(format!("resource `{TABLE_RESOURCE}` has no Properties"))
        })?;
        let spec: TableSpec = serde_yaml::from_value(props)
            .map_err(|e| TableError::Template(format!("resource `{TABLE_RESOURCE}`: {e}")))?;
        spec.check_matches_adapter()?;
        Ok(spec)
    }

    /// The adapter builds keys for exactly these attributes and indexes (aws/keys.rs); a template that names others
    /// would deploy a table the code cannot use.
    fn check_matches_adapter(&self) -> Result<(), TableError> {
        let key = |ks: &[KeyDef]| -> Vec<(String, String)> {
            ks.iter()
                .map(|k| (k.attribute_name.clone(), k.key_type.clone()))
                .collect()
        };
        let hash_range = |h: &str, r: &str| {
            vec![
                (h.to_owned(), "HASH".to_owned()),
                (r.to_owned(), "RANGE".to_owned()),
            ]
        };
        if key(&self.key_schema) != hash_range(keys::PK, keys::SK) {
            return Err(TableError::Template(format!(
                "the table key must be {}/{}, found {:?}",
                keys::PK,
                keys::SK,
                key(&self.key_schema)
            )));
        }
        let expected = [
            (
                keys::TIMERS_INDEX,
                hash_range(keys::TIMER_PK, keys::TIMER_SK),
            ),
            (
                keys::LISTING_INDEX,
                hash_range(keys::LIST_PK, keys::LIST_SK),
            ),
            (
                keys::BY_TASK_INDEX,
                vec![(keys::TASK_ARN.to_owned(), "HASH".to_owned())],
            ),
        ];
        for (name, schema) in expected {
            let index = self
                .global_secondary_indexes
                .iter()
                .find(|i| i.index_name == name)
                .ok_or_else(|| TableError::Template(format!("index `{name}` is missing")))?;
            if key(&index.key_schema) != schema {
                return Err(TableError::Template(format!(
                    "index `{name}` must be keyed on {schema:?}"
                )));
            }
        }
        match &self.time_to_live_specification {
            Some(ttl) if ttl.enabled && ttl.attribute_name == keys::EXPIRES_AT => Ok(()),
            _ => Err(TableError::Template(format!(
                "TTL must be enabled on `{}`",
                keys::EXPIRES_AT
            ))),
        }
    }

    /// Creates the table as the template defines it (on-demand billing), waits until it is active, and turns on TTL.
    pub async fn create(&self, client: &Client, table: &str) -> Result<(), TableError> {
        let fail = |message: String| TableError::Create {
            table: table.to_owned(),
            message,
        };
        let key_schema = |ks: &[KeyDef]| -> Result<Vec<KeySchemaElement>, TableError> {
            ks.iter()
                .map(|k| {
                    KeySchemaElement::builder()
                        .attribute_name(&k.attribute_name)
                        .key_type(KeyType::from(k.key_type.as_str()))
                        .build()
                        .map_err(|e| fail(e.to_string()))
                })
                .collect()
        };
        let mut req = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&self.key_schema)?));
        for a in &self.attribute_definitions {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        for i in &self.global_secondary_indexes {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&i.index_name)
                    .set_key_schema(Some(key_schema(&i.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                i.projection.projection_type.as_str(),
                            ))
                            .build(),
                    )
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        req.send().await.map_err(|e| fail(describe(&e)))?;
        client
            .wait_until_table_exists()
            .table_name(table)
            .wait(std::time::Duration::from_secs(60))
            .await
            .map_err(|e| fail(describe(&e)))?;
        if let Some(ttl) = &self.time_to_live_specification {
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(ttl.enabled)
                        .build()
                        .map_err(|e| fail(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| fail(describe(&e)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../template.yaml");

    #[test]
    fn the_deployed_template_defines_the_table_the_adapter_uses() {
        let spec = TableSpec::from_template(TEMPLATE).unwrap();
        let indexes: Vec<_> = spec
            .global_secondary_indexes
            .iter()
            .map(|i| i.index_name.as_str())
            .collect();
        assert_eq!(
            indexes,
            [keys::TIMERS_INDEX, keys::LISTING_INDEX, keys::BY_TASK_INDEX]
        );
    }

    #[test]
    fn a_template_that_drifted_from_the_adapter_is_refused() {
        let renamed = TEMPLATE.replace("IndexName: by-task", "IndexName: by-arn");
        let err = TableSpec::from_template(&renamed).unwrap_err().to_string();
        assert_eq!(err, "template: index `by-task` is missing");
        let no_ttl = TEMPLATE.replace("AttributeName: expires_at", "AttributeName: ttl");
        assert!(TableSpec::from_template(&no_ttl)
            .unwrap_err()
            .to_string()
            .contains("expires_at"));
        assert!(TableSpec::from_template("Resources: {}")
            .unwrap_err()
            .to_string()
            .contains("no resource `Table`"));
    }
}
