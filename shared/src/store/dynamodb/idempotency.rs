//! Idempotency keys on DynamoDB.
//!
//! - request: `pk = IDEM#<route|caller|key>`, `fingerprint`, `expires_at` (TTL). < 1 KB.
//! - marker: `pk = IDEM#<route|caller|key>#<candidate index>`, `alert_id`, `created`,
//!   `expires_at`: written in the same transaction as the candidate's alert, so a
//!   candidate is stored exactly once per key however often the request is resent
//!   (and by whichever of two concurrent resends gets there first). < 1 KB.
//!
//! TTL deletes lazily (up to days late), so every read also checks `expires_at`.

use super::{DynamoAlertStore, Item, built, is_condition_failure, n, s, sdk_error};
use crate::store::{Claim, IDEMPOTENCY_TTL, IdempotentRequest, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

pub fn request_key(request: &IdempotentRequest) -> AttributeValue {
    s(format!("IDEM#{}", request.id))
}

pub fn marker_key(request: &IdempotentRequest, index: usize) -> AttributeValue {
    s(format!("IDEM#{}#{index}", request.id))
}

/// A marker's alert and whether the first request created it, when it is live.
pub fn marker_from(item: &Item, now: DateTime<Utc>) -> Option<(crate::domain::AlertId, bool)> {
    let live = item
        .get("expires_at")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|t| t > now.timestamp());
    let id = item.get("alert_id")?.as_s().ok()?.parse().ok()?;
    let created = *item.get("created")?.as_bool().ok()?;
    live.then_some((id, created))
}

impl DynamoAlertStore {
    /// The marker put that goes into a candidate's transaction.
    pub(super) fn put_marker(
        &self,
        request: &IdempotentRequest,
        index: usize,
        alert_id: crate::domain::AlertId,
        created: bool,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", marker_key(request, index))
            .item("alert_id", s(alert_id.to_string()))
            .item("created", AttributeValue::Bool(created))
            .item("expires_at", n((now + IDEMPOTENCY_TTL).timestamp()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now.timestamp()));
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    pub(super) async fn claim_key(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", request_key(request))
            .item("fingerprint", s(&request.fingerprint))
            .item("expires_at", n((now + IDEMPOTENCY_TTL).timestamp()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Claim::First),
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(sdk_error(e)),
        }
        let stored = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", request_key(request))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?
            .item
            .unwrap_or_default();
        let fingerprint = stored.get("fingerprint").and_then(|v| v.as_s().ok());
        Ok(if fingerprint == Some(&request.fingerprint) {
            Claim::Resend
        } else {
            Claim::Mismatch
        })
    }
}
