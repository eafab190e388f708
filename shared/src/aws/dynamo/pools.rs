//! `PoolStore` on DynamoDB: one item per pool whose string set `holders` names the runs holding a slot. Taking a
//! slot is one `ADD` conditional on the set's size (or on the run being in it already); giving it back is one
//! `DELETE`. Both are idempotent, so a retried writer cannot take two slots or give back one it does not hold.

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::s;
use super::DynamoStore;
use crate::aws::keys;
use crate::domain::fan::Pool;
use crate::domain::job::PoolName;
use crate::domain::run::RunId;
use crate::ports::{PoolStore, Slot, StoreError};

impl PoolStore for DynamoStore {
    async fn take_slot(&self, pool: &Pool, run: &RunId) -> Result<Slot, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::pool_pk(&pool.name)))
            .key(keys::SK, s(keys::POOL_SK))
            .update_expression("ADD #h :run")
            .condition_expression(
                "attribute_not_exists(#h) OR size(#h) < :size OR contains(#h, :id)",
            )
            .expression_attribute_names("#h", keys::POOL_HOLDERS)
            .expression_attribute_values(":run", AttributeValue::Ss(vec![run.to_string()]))
            .expression_attribute_values(":id", s(run.to_string()))
            .expression_attribute_values(":size", AttributeValue::N(pool.size.to_string()))
            .send()
            .await;
        match result.map_err(|e| self.error(&format!("pool `{}`", pool.name), e)) {
            Ok(_) => Ok(Slot::Taken),
            Err(StoreError::Conflict { .. }) => Ok(Slot::Full {
                holders: self.holders(&pool.name).await?,
            }),
            Err(e) => Err(e),
        }
    }

    async fn give_slot(&self, pool: &PoolName, run: &RunId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::pool_pk(pool)))
            .key(keys::SK, s(keys::POOL_SK))
            .update_expression("DELETE #h :run")
            // Never creates the item: a pool nobody took a slot of has nothing to give back.
            .condition_expression("attribute_exists(#h)")
            .expression_attribute_names("#h", keys::POOL_HOLDERS)
            .expression_attribute_values(":run", AttributeValue::Ss(vec![run.to_string()]))
            .send()
            .await;
        match result.map_err(|e| self.error(&format!("pool `{pool}`"), e)) {
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn holders(&self, pool: &PoolName) -> Result<Vec<RunId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::pool_pk(pool)))
            .key(keys::SK, s(keys::POOL_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(&format!("pool `{pool}`"), e))?;
        let set = match out.item.as_ref().and_then(|i| i.get(keys::POOL_HOLDERS)) {
            Some(AttributeValue::Ss(set)) => set.clone(),
            _ => Vec::new(),
        };
        let mut holders = Vec::with_capacity(set.len());
        for id in set {
            holders.push(id.parse().map_err(|e: crate::domain::run::RunIdError| {
                StoreError::Corrupt {
                    key: keys::pool_pk(pool),
                    message: e.to_string(),
                }
            })?);
        }
        holders.sort();
        Ok(holders)
    }
}
