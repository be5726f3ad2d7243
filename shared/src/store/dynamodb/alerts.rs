//! The alert store on DynamoDB: reading, creating and working alerts, and their
//! history. Detections (the write path of an attack) are in `detections.rs`, report
//! counters in `counters.rs`, listing in `list.rs`.

use super::{
    Item, built,
    counters::any_shard,
    items::{alert_from, alert_item, alert_key, history_item, history_key},
    n, s, sdk_error,
};
use crate::{
    domain::{Alert, AlertId, HistoryEntry},
    store::{
        AlertPage, AlertQuery, AlertStore, Claim, Detection, HistoryPage, IdempotentRequest,
        Ingest, StoreError,
        counters::{self, Hour, bucket_of, delta, sources_seen},
    },
};
use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{AttributeValue, Put, TransactWriteItem, Update},
};
use chrono::{DateTime, Utc};
use std::time::Duration;

pub struct DynamoAlertStore {
    pub(super) client: Client,
    pub(super) table: String,
}

/// How a transaction ended.
pub(super) enum Transacted {
    Done,
    /// A condition failed or another transaction touched an item: read again.
    Cancelled,
}

impl DynamoAlertStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Runs a transaction (at most 100 items, as DynamoDB allows).
    ///
    /// Its client request token makes the SDK's own retries of it idempotent (AWS
    /// remembers a token for 10 minutes). When no answer comes back at all, the
    /// outcome is unknown and said so: [`StoreError::OutcomeUnknown`].
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transacted, StoreError> {
        debug_assert!(items.len() <= 100, "a transaction takes at most 100 items");
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(crate::domain::new_alert_id().to_string())
            .send()
            .await
        {
            // Sent, or maybe sent, and no answer: a connection lost after the request
            // went out looks like any other dispatch failure from here.
            Err(
                e @ (SdkError::TimeoutError(_)
                | SdkError::ResponseError(_)
                | SdkError::DispatchFailure(_)),
            ) => Err(StoreError::OutcomeUnknown(Box::new(e))),
            Ok(_) => Ok(Transacted::Done),
            Err(e)
                if matches!(
                    e.code(),
                    Some("TransactionCanceledException" | "TransactionConflictException")
                ) =>
            {
                Ok(Transacted::Cancelled)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    pub(super) fn put_alert(&self, alert: &Alert) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(alert_item(alert)?))
            .condition_expression("attribute_not_exists(pk)");
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn put_history(
        &self,
        id: AlertId,
        entry: &HistoryEntry,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(history_item(id, entry)?));
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }
}

#[async_trait]
impl AlertStore for DynamoAlertStore {
    async fn create(&self, alert: &Alert) -> Result<(), StoreError> {
        let bucket = bucket_of(alert.created_at);
        for _ in 0..5 {
            let shard = any_shard();
            let seen = self.shard_sources(&[(bucket, shard)]).await?;
            let (category, top) = sources_seen(alert);
            let change = Hour {
                counts: delta(None, alert),
                sources: [(category, top)].into(),
            };
            let mut items = vec![self.put_alert(alert)?];
            items.extend(self.counter_update(
                bucket,
                shard,
                &change,
                seen.get(&(bucket, shard)),
            )?);
            if let Transacted::Done = self.transact(items).await? {
                return Ok(());
            }
            if self.get(alert.id).await?.is_some() {
                return Err(StoreError::AlreadyExists);
            }
        }
        Err(StoreError::Unavailable(
            "the report counters kept changing under contention".into(),
        ))
    }

    async fn get(&self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", alert_key(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(alert_from).transpose()
    }

    async fn update(&self, alert: &Alert) -> Result<(), StoreError> {
        // Read, then write on the condition that neither the version nor the count
        // moved, so the report counters get the exact change. A detection landing in
        // between only changes detection fields: read again and retry.
        for _ in 0..5 {
            let Some(stored) = self.get(alert.id).await? else {
                return Err(StoreError::NotFound);
            };
            if stored.version + 1 != alert.version {
                return Err(StoreError::VersionConflict);
            }
            let mut new = stored.clone();
            new.take_workflow(alert);
            let archived = new.archive_history();
            let history = built(serde_dynamo::to_attribute_value(&new.history))?;
            let optional = |v: Option<DateTime<Utc>>| {
                v.map(|t| s(t.to_rfc3339()))
                    .unwrap_or(AttributeValue::Null(true))
            };
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", alert_key(alert.id))
                .condition_expression("#version = :expected AND #count = :count")
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#history", "history")
                .expression_attribute_names("#history_total", "history_total")
                .expression_attribute_names("#updated_at", "updated_at")
                .expression_attribute_names("#ack", "acknowledged_at")
                .expression_attribute_names("#res", "resolved_at")
                .expression_attribute_names("#assignee", "assignee")
                .expression_attribute_values(":expected", n(stored.version))
                .expression_attribute_values(":count", n(stored.count))
                .expression_attribute_values(":version", n(new.version))
                .expression_attribute_values(":status", s(new.status.as_str()))
                .expression_attribute_values(":history", history)
                .expression_attribute_values(":history_total", n(new.history_total))
                .expression_attribute_values(":ack", optional(new.acknowledged_at))
                .expression_attribute_values(":res", optional(new.resolved_at))
                .expression_attribute_values(":updated_at", s(new.updated_at.to_rfc3339()));
            let set = "SET #version = :version, #status = :status, #history = :history, \
                       #history_total = :history_total, #updated_at = :updated_at, \
                       #ack = :ack, #res = :res";
            update = match &new.assignee {
                Some(assignee) => update
                    .update_expression(format!("{set}, #assignee = :assignee"))
                    .expression_attribute_values(":assignee", s(assignee.as_str())),
                None => update.update_expression(format!("{set} REMOVE #assignee")),
            };
            let mut items = vec![
                TransactWriteItem::builder()
                    .update(built(update.build())?)
                    .build(),
            ];
            for entry in &archived {
                items.push(self.put_history(alert.id, entry)?);
            }
            let change = Hour {
                counts: delta(Some(&stored), &new),
                sources: Default::default(),
            };
            items.extend(self.counter_update(
                bucket_of(new.created_at),
                any_shard(),
                &change,
                None,
            )?);
            if let Transacted::Done = self.transact(items).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "the alert kept changing under contention".into(),
        ))
    }

    async fn record_detections(
        &self,
        candidates: &[Alert],
        window: Duration,
        ingest: Ingest<'_>,
    ) -> Vec<Result<Detection, StoreError>> {
        self.detect(candidates, window, ingest).await
    }

    async fn claim(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        self.claim_key(request, now).await
    }

    async fn history(
        &self,
        id: AlertId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Option<HistoryPage>, StoreError> {
        let Some(alert) = self.get(id).await? else {
            return Ok(None);
        };
        // Archived entries are numbered 1 .. first kept: read the page's by key.
        let from_seq = from_seq.max(1);
        let archived_end = alert
            .first_kept_seq()
            .min(from_seq.saturating_add(limit as u64));
        let keys: Vec<AttributeValue> = (from_seq..archived_end)
            .map(|seq| history_key(id, seq))
            .collect();
        let archived = self
            .batch_get(keys)
            .await?
            .into_iter()
            .map(|item: Item| super::from_item::<HistoryEntry>(item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(HistoryPage::assemble(
            &alert, archived, from_seq, limit,
        )))
    }

    async fn counters(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, counters::Hour)>, StoreError> {
        self.read_counters(from, to).await
    }

    async fn list(&self, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        self.list_alerts(query).await
    }
}
