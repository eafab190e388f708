//! `RollupStore` on DynamoDB: one item per settled day in the `ROLLUPS` partition (docs/table-design.md), and the
//! transaction that writes a run late into its day together with the reopening of the day's rollup.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::NaiveDate;

use super::items::{n, rollup_keys, s, to_item, Item, RollupItem};
use super::DynamoStore;
use crate::aws::keys;
use crate::domain::rollup::{self, DayTally, Rollup};
use crate::ports::{RollupStore, StoreError};

impl RollupStore for DynamoStore {
    async fn rollups(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Rollup>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#p = :p AND #s BETWEEN :a AND :b")
            .expression_attribute_names("#p", keys::PK)
            .expression_attribute_names("#s", keys::SK)
            .expression_attribute_values(":p", s(keys::ROLLUPS_PARTITION))
            .expression_attribute_values(":a", s(keys::rollup_sk(from)))
            .expression_attribute_values(":b", s(keys::rollup_sk(to)))
            .consistent_read(true);
        let items: Vec<RollupItem> = self
            .query_all("reading the days' rollups", query, usize::MAX)
            .await?;
        Ok(items
            .into_iter()
            .map(|i| Rollup {
                day: i.day,
                generation: i.generation,
                tally: i.tally.map(|jobs| DayTally { day: i.day, jobs }),
            })
            .collect())
    }

    async fn put_rollup(&self, tally: &DayTally, generation: u64) -> Result<(), StoreError> {
        let item = to_item(&RollupItem {
            keys: rollup_keys(tally.day),
            day: tally.day,
            generation,
            tally: Some(tally.jobs.clone()),
            expires_at: rollup::expires_at(tally.day),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR generation = :g")
            .expression_attribute_values(":g", n(generation))
            .send()
            .await
            .map_err(|e| self.error(&format!("the rollup of {}", tally.day), e))?;
        Ok(())
    }
}

impl DynamoStore {
    /// Writes a run's item under `condition` (with `values`) and reopens the rollup of `day` (a new generation, no
    /// tally), in one transaction: `Conflict` when the run's condition fails, as a lone `PutItem`'s would.
    pub(super) async fn put_reopening(
        &self,
        item: Item,
        condition: &str,
        values: Option<(&str, AttributeValue)>,
        day: NaiveDate,
        what: &str,
    ) -> Result<(), StoreError> {
        let unusable = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unusable {
            message: format!("{what}: {e}"),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values.map(|(k, v)| [(k.to_owned(), v)].into()))
            .build()
            .map_err(unusable)?;
        // The attributes a rollup item carries besides its generation and tally, as `RollupItem` serialises them:
        // the item may not exist yet, and the update must leave one that reads back.
        let mut reopened = to_item(&RollupItem {
            keys: rollup_keys(day),
            day,
            generation: 0,
            tally: None,
            expires_at: rollup::expires_at(day),
        })?;
        let mut take = |name: &str| {
            reopened.remove(name).ok_or_else(|| StoreError::Corrupt {
                key: keys::rollup_sk(day),
                message: format!("a rollup item without `{name}`"),
            })
        };
        let reopen = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, take(keys::PK)?)
            .key(keys::SK, take(keys::SK)?)
            .update_expression(
                "SET entity = :e, #d = :d, #schema = :schema, expires_at = :x REMOVE tally ADD generation :one",
            )
            .expression_attribute_names("#d", "day")
            .expression_attribute_names("#schema", "schema")
            .expression_attribute_values(":e", take("entity")?)
            .expression_attribute_values(":d", take("day")?)
            .expression_attribute_values(":schema", take("schema")?)
            .expression_attribute_values(":x", take("expires_at")?)
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(unusable)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(reopen).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    e.as_service_error()
                {
                    let codes: Vec<&str> = cancel
                        .cancellation_reasons()
                        .iter()
                        .filter_map(|r| r.code())
                        .collect();
                    if codes.first() == Some(&"ConditionalCheckFailed") {
                        return Err(StoreError::Conflict {
                            what: what.to_owned(),
                        });
                    }
                    // Another transaction on one of the items, or throttling: retrying will succeed.
                    if codes
                        .iter()
                        .any(|c| matches!(*c, "TransactionConflict" | "ThrottlingError"))
                    {
                        return Err(StoreError::Transient {
                            message: format!("{what}: {}", codes.join(", ")),
                        });
                    }
                }
                Err(self.error(what, e))
            }
        }
    }
}
