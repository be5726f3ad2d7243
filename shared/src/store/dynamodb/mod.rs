//! DynamoDB stores. Table design (also in the README and `template.yaml`); every item
//! has a stated maximum size, whatever arrives (`shared/tests/it/stores.rs` drives an
//! attack through the store and checks each written item against its bound):
//!
//! **users** — key `pk` (S).
//! - user: `pk = USER#<username>`, `kind = user`, the user's fields. ≤ 2 KB.
//! - failed logins: `pk = LOGIN#<username>`, `count`, `window_start` (epoch ms),
//!   `expires_at` (epoch s, the table's TTL attribute, so old windows vanish). < 1 KB.
//! - GSI `by-kind` (`kind`, `username`): lists users without a Scan.
//!
//! **alerts** — key `pk` (S); alert items are `pk = ALERT#<ulid>` with `kind = alert`.
//! Every list index is sorted by `id` (a ULID, so by creation time) and queried
//! newest first: `by-kind` (`kind`, `id`) for all alerts, `by-status` (`status`, `id`),
//! `by-severity` (`severity`, `id`) and `by-category` (`category`, `id`). Items that are
//! not alerts lack those attributes and stay out of the indexes (sparse indexes).
//! - alert: ≤ [`items::ALERT_MAX_BYTES`]: bounded text fields, three value summaries
//!   (≤ 13.3 KB each, a few bytes while small), the newest history entries
//!   (≤ 50 and ≤ 16 KiB, see `domain::HISTORY_KEPT`) and the evidence (the first and
//!   the latest record, ≤ 2.3 KB each).
//! - history: `pk = HISTORY#<ulid>#<seq, 10 digits>`, one entry moved off its alert by
//!   that bound, written in the same transaction. ≤ 9 KB (a 2,000-character note).
//! - dedup pointer: `pk = DEDUP#<campaign key>`, `alert_id` (the alert repeats
//!   aggregate into), `expires_at` (TTL, moved forward by every repeat). Creating an
//!   alert and moving the pointer happen in one transaction, conditional on the
//!   pointer being what was read. < 1 KB.
//! - idempotency keys and markers: `IDEM#...`, see `idempotency.rs`. < 1 KB.
//! - report counters: `pk = COUNT#<yyyy-mm-ddThh>#<shard>`, [`counters::SHARDS`] items
//!   an hour, changed in the same transaction as the alerts they count. ≤ 8 KB.
//!
//! **connections** — key `pk` (S), TTL `expires_at`: WebSocket tickets and open
//! connections, see `live.rs`. < 1 KB each.
//!
//! Trade-off: `by-kind` puts every alert under one partition key. An index partition
//! takes ~1,000 writes/s, far above what campaign-grouped alerts produce; shard the
//! key by month if that ever changes.

mod alerts;
mod counters;
mod detections;
mod idempotency;
pub mod items;
mod list;
mod live;
mod tables;
mod users;

pub use alerts::DynamoAlertStore;
pub use items::{ItemKind, item_size};
pub use live::DynamoLiveStore;
pub use tables::create_tables;
pub use users::DynamoUserStore;

use super::StoreError;
use aws_sdk_dynamodb::{
    error::{ProvideErrorMetadata, SdkError},
    types::AttributeValue,
};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// Errors that mean "not done, try again" become [`StoreError::Unavailable`].
fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionConflictException"
            )
        ),
        _ => false,
    };
    if retryable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Other(Box::new(e))
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::ServiceError(s) if s.err().code() == Some("ConditionalCheckFailedException"))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Other(Box::new(e)))
}

fn to_attribute<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Other(Box::new(e)))
}

fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} is missing or not a number")))
}

fn built<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(Box::new(e)))
}
