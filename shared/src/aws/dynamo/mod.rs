//! The DynamoDB store: the table's ports (`JobStore`, `RunStore`, `ServiceStore`, `Timers`) over one table. Items
//! and keys are laid out in `items`; each port's operations live in the file named after what it stores.

pub(crate) mod items;
mod jobs;
mod pools;
mod rollups;
mod runs;
mod services;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;

use self::items::{from_item, n, s, Item};
use super::keys;
use super::sdk_error::{classify, Failure};
use crate::ports::StoreError;

/// The store over a table. Cheap to clone (the SDK client is reference-counted).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn error<E, R>(&self, what: &str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let region = self
            .client
            .config()
            .region()
            .map_or("no region".to_owned(), |r| r.to_string());
        if matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
        ) {
            return StoreError::Unreachable {
                message: format!(
                    "{what} in table `{}`, region {region}: {}",
                    self.table,
                    super::sdk_error::describe(&err)
                ),
            };
        }
        match classify(&err) {
            Failure::Transient { message } => StoreError::Transient {
                message: format!("{what}: {message}"),
            },
            Failure::Service { code, message } if code == "ConditionalCheckFailedException" => {
                StoreError::Conflict {
                    what: format!("{what} ({message})"),
                }
            }
            Failure::Service { code, message } => StoreError::Unusable {
                message: format!(
                    "{what} in table `{}`, region {region}: {code}: {message}",
                    self.table
                ),
            },
        }
    }

    /// A Query of one partition of the listing index (a day of runs or of scale actions) between two sort keys,
    /// inclusive.
    fn listing_range(
        &self,
        partition: String,
        from: String,
        to: String,
        newest_first: bool,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(keys::LISTING_INDEX)
            .key_condition_expression("#p = :p AND #s BETWEEN :a AND :b")
            .expression_attribute_names("#p", keys::LIST_PK)
            .expression_attribute_names("#s", keys::LIST_SK)
            .expression_attribute_values(":p", s(partition))
            .expression_attribute_values(":a", s(from))
            .expression_attribute_values(":b", s(to))
            .scan_index_forward(!newest_first)
    }

    /// Runs a Query to the end (or `limit` items), page by page. Each page asks for no more than are still
    /// wanted, so a short read pays for what it reads and not for a whole 1 MB page.
    async fn query_items(
        &self,
        what: &str,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let wanted = i32::try_from(limit - out.len()).ok();
            let page = query
                .clone()
                .set_limit(wanted)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error(what, e))?;
            for item in page.items.unwrap_or_default() {
                if out.len() == limit {
                    return Ok(out);
                }
                out.push(item);
            }
            match page.last_evaluated_key {
                Some(key) if out.len() < limit => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    async fn query_all<T: DeserializeOwned>(
        &self,
        what: &str,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        self.query_items(what, query, limit)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(what, e))?;
        out.item.map(from_item).transpose()
    }
}

impl DynamoStore {
    /// Writes a versioned item (a job or a service) if the stored version is `expected` (`None`: it must not exist).
    async fn put_versioned(
        &self,
        item: Item,
        expected: Option<u64>,
        what: &str,
    ) -> Result<(), StoreError> {
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        req.send().await.map_err(|e| self.error(what, e))?;
        Ok(())
    }

    /// Every item of one `listing` partition (all jobs, all services), in key order.
    async fn listing<T: DeserializeOwned>(
        &self,
        partition: &str,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::LISTING_INDEX)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", keys::LIST_PK)
            .expression_attribute_values(":p", s(partition));
        self.query_all(what, query, usize::MAX).await
    }

    /// Deletes a versioned item if the stored version is `expected`.
    async fn delete_versioned(
        &self,
        pk: String,
        sk: &str,
        expected: u64,
        what: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected))
            .send()
            .await
            .map_err(|e| self.error(what, e))?;
        Ok(())
    }
}
