//! Services and their scale actions in the table.

use chrono::{DateTime, Duration, Utc};

use super::items::*;
use super::DynamoStore;
use crate::aws::keys;
use crate::domain::service::{ScaleAction, ServiceName, ServiceState};
use crate::ports::{ServiceStore, StoreError};

impl ServiceStore for DynamoStore {
    async fn get_service(&self, name: &ServiceName) -> Result<Option<ServiceState>, StoreError> {
        let item: Option<ServiceItem> = self
            .get(
                &format!("reading service `{name}`"),
                keys::service_pk(name),
                keys::SERVICE_SK.to_owned(),
            )
            .await?;
        Ok(item.map(|i| i.state))
    }

    async fn list_services(&self) -> Result<Vec<ServiceState>, StoreError> {
        let items: Vec<ServiceItem> = self
            .listing(keys::SERVICES_PARTITION, "listing services")
            .await?;
        Ok(items.into_iter().map(|i| i.state).collect())
    }

    async fn put_service(
        &self,
        state: &ServiceState,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let item = to_item(&ServiceItem {
            keys: service_keys(state),
            state: state.clone(),
        })?;
        self.put_versioned(item, expected, &format!("service `{}`", state.name))
            .await
    }

    async fn delete_service(&self, name: &ServiceName, expected: u64) -> Result<(), StoreError> {
        self.delete_versioned(
            keys::service_pk(name),
            keys::SERVICE_SK,
            expected,
            &format!("service `{name}`"),
        )
        .await
    }

    async fn record_action(&self, action: &ScaleAction) -> Result<(), StoreError> {
        let item = to_item(&ActionItem {
            keys: action_keys(action),
            action: action.clone(),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.error(&format!("scale action of `{}`", action.service), e))?;
        Ok(())
    }

    async fn actions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScaleAction>, StoreError> {
        // One Query per UTC day, oldest day first.
        let mut out = Vec::new();
        let mut day = from.date_naive();
        while day <= (to - Duration::milliseconds(1)).date_naive() {
            let millis = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%S%.3fZ").to_string();
            let query = self.listing_range(
                keys::actions_day_partition(day),
                millis(from),
                millis(to - Duration::milliseconds(1)) + "~",
                false,
            );
            let items: Vec<ActionItem> = self
                .query_all("reading scale actions", query, usize::MAX)
                .await?;
            out.extend(items.into_iter().map(|i| i.action));
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        Ok(out)
    }
}
