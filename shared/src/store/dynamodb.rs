//! DynamoDB stores. Table design (also in the README and `template.yaml`):
//!
//! **users** — key `pk` (S).
//! - user: `pk = USER#<username>`, `kind = user`, the user's fields.
//! - failed logins: `pk = LOGIN#<username>`, `count`, `window_start` (epoch ms),
//!   `expires_at` (epoch s, the table's TTL attribute, so old windows vanish).
//! - GSI `by-kind` (`kind`, `username`): lists users without a Scan.
//!
//! **alerts** — key `pk` (S); alert items are `pk = ALERT#<ulid>` with `kind = alert`.
//! Every list index is sorted by `id` (a ULID, so by creation time) and queried
//! newest first: `by-kind` (`kind`, `id`) for all alerts, `by-status` (`status`, `id`),
//! `by-severity` (`severity`, `id`) and `by-category` (`category`, `id`). Items that are
//! not alerts lack those attributes and stay out of the indexes (sparse indexes).
//! - dedup pointer: `pk = DEDUP#<dedup key>`, `alert_id` (the alert repeats aggregate
//!   into), `expires_at` (TTL). Creating an alert and moving the pointer happen in one
//!   transaction, conditional on the pointer being what was read.
//! - report counters: `pk = COUNT#<yyyy-mm-ddThh>`, one number per counter of
//!   [`super::counters`], changed in the same transaction as the alert.
//!
//! Trade-off: `by-kind` puts every alert under one partition key. An index partition
//! takes ~1,000 writes/s, far above what deduplicated alerts produce; shard the key
//! by month if that ever changes.

use super::{
    AlertPage, AlertQuery, AlertStore, Detection, FailedLogins, StoreError, UserStore, counters,
};
use crate::{
    config::TableNames,
    domain::{Alert, AlertId, Severity, User, Username},
};
use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{
        AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
        KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue,
        ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
        TransactWriteItem, Update,
    },
};
use chrono::{DateTime, TimeZone, Utc};
use std::{collections::HashMap, time::Duration};

type Item = HashMap<String, AttributeValue>;

/// How long a dedup pointer outlives its alert's last sighting before TTL removes it.
/// The `kind` attribute: which items of a table are users or alerts (and so what the
/// `by-kind` index lists, and which stream records are alerts). Other items (dedup
/// pointers, counters) have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    User,
    Alert,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Alert => "alert",
        }
    }
}

/// Only housekeeping: whether a repeat aggregates is decided by the alert's own
/// `last_seen`, never by the pointer's age.
const DEDUP_POINTER_TTL: chrono::Duration = chrono::Duration::days(30);

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

fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} is missing or not a number")))
}

pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    fn user_key(username: &Username) -> AttributeValue {
        s(format!("USER#{username}"))
    }

    fn login_key(username: &Username) -> AttributeValue {
        s(format!("LOGIN#{username}"))
    }

    fn user_item(user: &User) -> Result<Item, StoreError> {
        let mut item = to_item(user)?;
        item.insert("pk".into(), Self::user_key(&user.username));
        item.insert("kind".into(), s(ItemKind::User.as_str()));
        Ok(item)
    }
}

fn failed_logins_from(item: &Item) -> Result<FailedLogins, StoreError> {
    let window_start = Utc
        .timestamp_millis_opt(number(item, "window_start")?)
        .single()
        .ok_or_else(|| StoreError::Corrupt("window_start is out of range".into()))?;
    Ok(FailedLogins {
        count: number(item, "count")?.clamp(0, u32::MAX as i64) as u32,
        window_start,
    })
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::user_item(user)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    StoreError::AlreadyExists
                } else {
                    sdk_error(e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::user_key(username))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }

    async fn replace(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::user_item(user)?))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    StoreError::NotFound
                } else {
                    sdk_error(e)
                }
            })?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by-kind")
                .key_condition_expression("#kind = :user")
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_values(":user", s(ItemKind::User.as_str()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                users.push(from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(users)
    }

    async fn failed_logins(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<Option<FailedLogins>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::login_key(username))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                let f = failed_logins_from(&item)?;
                Ok((now < f.window_start + window).then_some(f))
            }
        }
    }

    async fn record_failed_login(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<FailedLogins, StoreError> {
        let cutoff = (now - window).timestamp_millis();
        let expires_at = (now + window).timestamp() + 60;
        // Two conditional writes instead of a read-modify-write: concurrent failures
        // from several Lambda instances are all counted. A few rounds settle the race
        // between "window passed, start a new one" and a concurrent increment.
        for _ in 0..3 {
            let increment = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", Self::login_key(username))
                .update_expression("SET #count = #count + :one")
                .condition_expression("attribute_exists(pk) AND window_start > :cutoff")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cutoff", n(cutoff))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match increment {
                Ok(out) => return failed_logins_from(&out.attributes.unwrap_or_default()),
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(sdk_error(e)),
            }
            let fresh = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", Self::login_key(username))
                .item("count", n(1))
                .item("window_start", n(now.timestamp_millis()))
                .item("expires_at", n(expires_at))
                .condition_expression("attribute_not_exists(pk) OR window_start <= :cutoff")
                .expression_attribute_values(":cutoff", n(cutoff))
                .send()
                .await;
            match fresh {
                Ok(_) => {
                    return Ok(FailedLogins {
                        count: 1,
                        window_start: now,
                    });
                }
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(sdk_error(e)),
            }
        }
        Err(StoreError::Unavailable(
            "failed-login counter kept changing under contention".into(),
        ))
    }

    async fn clear_failed_logins(&self, username: &Username) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", Self::login_key(username))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

pub struct DynamoAlertStore {
    client: Client,
    table: String,
}

impl DynamoAlertStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    fn key(id: AlertId) -> AttributeValue {
        s(format!("ALERT#{id}"))
    }

    fn item(alert: &Alert) -> Result<Item, StoreError> {
        let mut item = to_item(alert)?;
        item.insert("pk".into(), Self::key(alert.id));
        item.insert("kind".into(), s(ItemKind::Alert.as_str()));
        Ok(item)
    }

    /// Reads up to `limit` matching alerts from one index partition, newest first.
    /// Returns them and whether the partition may hold more.
    async fn query_partition(
        &self,
        plan: &ListPlan<'_>,
        partition: &str,
    ) -> Result<(Vec<Alert>, bool), StoreError> {
        let (lower, upper) = plan.query.id_range();
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(plan.index)
                .key_condition_expression("#pkey = :pkey AND #id BETWEEN :lower AND :upper")
                .expression_attribute_names("#pkey", plan.key_attribute)
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":pkey", s(partition))
                .expression_attribute_values(":lower", s(lower.to_string()))
                .expression_attribute_values(":upper", s(upper.to_string()))
                .scan_index_forward(false)
                // Filters drop items after the read, so read a little more than asked.
                .limit((plan.query.limit as i32 + 1).max(25))
                .set_exclusive_start_key(start.take());
            if let Some((expression, names, values)) = &plan.filter {
                request = request
                    .filter_expression(expression)
                    .set_expression_attribute_names(Some({
                        let mut all = names.clone();
                        all.insert("#pkey".into(), plan.key_attribute.into());
                        all.insert("#id".into(), "id".into());
                        all
                    }))
                    .set_expression_attribute_values(Some({
                        let mut all = values.clone();
                        all.insert(":pkey".into(), s(partition));
                        all.insert(":lower".into(), s(lower.to_string()));
                        all.insert(":upper".into(), s(upper.to_string()));
                        all
                    }));
            }
            let out = request.send().await.map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let alert: Alert = from_item(item)?;
                // The filter expression already did this; checking again keeps the two
                // stores' semantics identical by construction.
                if plan.query.matches(&alert) {
                    found.push(alert);
                }
            }
            let more = matches!(&out.last_evaluated_key, Some(k) if !k.is_empty());
            if found.len() > plan.query.limit || !more {
                return Ok((found, more));
            }
            start = out.last_evaluated_key;
        }
    }
}

type Filter = (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

/// Which index answers a query, which partitions of it to read, and what is left to
/// filter. The most selective given filter picks the index.
struct ListPlan<'a> {
    query: &'a AlertQuery,
    index: &'static str,
    key_attribute: &'static str,
    partitions: Vec<String>,
    filter: Option<Filter>,
}

impl<'a> ListPlan<'a> {
    fn new(query: &'a AlertQuery) -> Self {
        let (index, key_attribute, partitions): (_, _, Vec<String>) = if !query.statuses.is_empty()
        {
            let statuses = query.statuses.iter().map(|s| s.as_str().to_owned());
            ("by-status", "status", statuses.collect())
        } else if let Some(category) = query.category {
            (
                "by-category",
                "category",
                vec![category.as_str().to_owned()],
            )
        } else if let Some(min) = query.min_severity {
            let severities = Severity::ALL.into_iter().filter(|s| *s >= min);
            (
                "by-severity",
                "severity",
                severities.map(|s| s.as_str().to_owned()).collect(),
            )
        } else {
            ("by-kind", "kind", vec![ItemKind::Alert.as_str().to_owned()])
        };

        let mut clauses = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        if key_attribute != "severity"
            && let Some(min) = query.min_severity
        {
            let allowed: Vec<String> = Severity::ALL
                .into_iter()
                .filter(|s| *s >= min)
                .enumerate()
                .map(|(i, s)| {
                    values.insert(format!(":sev{i}"), s_value(s.as_str()));
                    format!(":sev{i}")
                })
                .collect();
            names.insert("#severity".into(), "severity".into());
            clauses.push(format!("#severity IN ({})", allowed.join(", ")));
        }
        if key_attribute != "category"
            && let Some(category) = query.category
        {
            names.insert("#category".into(), "category".into());
            values.insert(":category".into(), s_value(category.as_str()));
            clauses.push("#category = :category".into());
        }
        if let Some(assignee) = &query.assignee {
            names.insert("#assignee".into(), "assignee".into());
            values.insert(":assignee".into(), s_value(assignee.as_str()));
            clauses.push("#assignee = :assignee".into());
        }
        if let Some(ip) = query.source_ip {
            names.insert("#source".into(), "source".into());
            names.insert("#ip".into(), "ip".into());
            values.insert(":ip".into(), s_value(&ip.to_string()));
            clauses.push("#source.#ip = :ip".into());
        }
        let filter = (!clauses.is_empty()).then(|| (clauses.join(" AND "), names, values));
        Self {
            query,
            index,
            key_attribute,
            partitions,
            filter,
        }
    }
}

fn s_value(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

impl DynamoAlertStore {
    /// The counter update that goes with a change from `old` to `new`, if any.
    fn counter_update(
        &self,
        old: Option<&Alert>,
        new: &Alert,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let delta = counters::delta(old, new);
        if delta.is_empty() {
            return Ok(None);
        }
        let bucket = counters::bucket_key(counters::bucket_of(new.created_at));
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("COUNT#{bucket}")));
        let mut adds = Vec::with_capacity(delta.len());
        for (i, (name, value)) in delta.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":c{i}"), n(value));
            adds.push(format!("#c{i} :c{i}"));
        }
        let update = update
            .update_expression(format!("ADD {}", adds.join(", ")))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }

    /// Runs a transaction; `Ok(false)` when a condition failed (the caller re-reads).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("TransactionCanceledException") => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    fn put_alert(&self, alert: &Alert) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(alert)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

fn with_counters(
    mut items: Vec<TransactWriteItem>,
    counter: Option<TransactWriteItem>,
) -> Vec<TransactWriteItem> {
    items.extend(counter);
    items
}

fn built<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Other(Box::new(e)))
}

#[async_trait]
impl AlertStore for DynamoAlertStore {
    async fn create(&self, alert: &Alert) -> Result<(), StoreError> {
        let items = with_counters(
            vec![self.put_alert(alert)?],
            self.counter_update(None, alert)?,
        );
        if self.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    async fn get(&self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::key(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }

    async fn update(&self, alert: &Alert) -> Result<(), StoreError> {
        // Read, then write on the condition that neither the version nor the counters
        // moved, so the report counters get the exact change. A detection landing in
        // between only changes the count: read again and retry.
        for _ in 0..5 {
            let Some(stored) = self.get(alert.id).await? else {
                return Err(StoreError::NotFound);
            };
            if stored.version + 1 != alert.version {
                return Err(StoreError::VersionConflict);
            }
            let mut new = stored.clone();
            new.status = alert.status;
            new.assignee = alert.assignee.clone();
            new.history = alert.history.clone();
            new.severity = alert.severity;
            new.updated_at = alert.updated_at;
            new.version = alert.version;
            let history = built(serde_dynamo::to_attribute_value(&new.history))?;
            let set = "SET #version = :version, #status = :status, #history = :history, \
                       #severity = :severity, #updated_at = :updated_at";
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", Self::key(alert.id))
                .condition_expression("#version = :expected AND #count = :count")
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#history", "history")
                .expression_attribute_names("#severity", "severity")
                .expression_attribute_names("#updated_at", "updated_at")
                .expression_attribute_names("#assignee", "assignee")
                .expression_attribute_values(":expected", n(stored.version))
                .expression_attribute_values(":count", n(stored.count))
                .expression_attribute_values(":version", n(new.version))
                .expression_attribute_values(":status", s(new.status.as_str()))
                .expression_attribute_values(":history", history)
                .expression_attribute_values(":severity", s(new.severity.as_str()))
                .expression_attribute_values(":updated_at", s(new.updated_at.to_rfc3339()));
            update = match &new.assignee {
                Some(assignee) => update
                    .update_expression(format!("{set}, #assignee = :assignee"))
                    .expression_attribute_values(":assignee", s(assignee.as_str())),
                None => update.update_expression(format!("{set} REMOVE #assignee")),
            };
            let items = with_counters(
                vec![
                    TransactWriteItem::builder()
                        .update(built(update.build())?)
                        .build(),
                ],
                self.counter_update(Some(&stored), &new)?,
            );
            if self.transact(items).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "the alert kept changing under contention".into(),
        ))
    }

    async fn record_detection(
        &self,
        candidate: &Alert,
        window: Duration,
    ) -> Result<Detection, StoreError> {
        let pointer_key = s(format!("DEDUP#{}", candidate.dedup_key));
        // Optimistic rounds: read the pointer and its alert, then write on the
        // condition that nothing changed in between; on a lost race, read again.
        for round in 0..10u64 {
            if round > 0 {
                // Spread out competing writers a little.
                tokio::time::sleep(std::time::Duration::from_millis(
                    5 * round + (candidate.id.0 % 7) as u64,
                ))
                .await;
            }
            let pointer = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", pointer_key.clone())
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?
                .item;
            let seen_id = pointer
                .as_ref()
                .and_then(|p| p.get("alert_id"))
                .and_then(|v| v.as_s().ok())
                .and_then(|id| id.parse::<AlertId>().ok());
            let existing = match seen_id {
                Some(id) => self.get(id).await?,
                None => None,
            };
            if let Some(existing) = existing.filter(|e| e.absorbs(candidate, window)) {
                let mut merged = existing.clone();
                merged.absorb(candidate, Utc::now());
                let update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", Self::key(existing.id))
                    .update_expression(
                        // Relative, though the condition pins the count: the write
                        // stays right even where conditions are checked loosely.
                        "SET #count = #count + :add, last_seen = :last_seen, \
                         #severity = :severity, score = :score, updated_at = :updated_at",
                    )
                    .condition_expression(
                        "#status = :seen_status AND #severity = :seen_severity AND #count = :seen_count",
                    )
                    .expression_attribute_names("#count", "count")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_names("#severity", "severity")
                    .expression_attribute_values(":add", n(candidate.count))
                    .expression_attribute_values(":seen_count", n(existing.count))
                    .expression_attribute_values(":last_seen", s(merged.last_seen.to_rfc3339()))
                    .expression_attribute_values(":severity", s(merged.severity.as_str()))
                    .expression_attribute_values(":seen_severity", s(existing.severity.as_str()))
                    .expression_attribute_values(":seen_status", s(existing.status.as_str()))
                    .expression_attribute_values(
                        ":score",
                        merged.score.map(n).unwrap_or(AttributeValue::Null(true)),
                    )
                    .expression_attribute_values(":updated_at", s(merged.updated_at.to_rfc3339()));
                let items = with_counters(
                    vec![
                        TransactWriteItem::builder()
                            .update(built(update.build())?)
                            .build(),
                    ],
                    self.counter_update(Some(&existing), &merged)?,
                );
                if self.transact(items).await? {
                    return Ok(Detection {
                        alert: merged,
                        created: false,
                    });
                }
                continue;
            }

            // A new alert, the pointer moved to it, and its counters, in one transaction.
            let pointer_condition = match seen_id {
                Some(_) => "alert_id = :seen",
                None => "attribute_not_exists(pk)",
            };
            let mut put_pointer = Put::builder()
                .table_name(&self.table)
                .item("pk", pointer_key.clone())
                .item("alert_id", s(candidate.id.to_string()))
                .item(
                    "expires_at",
                    n((candidate.last_seen + DEDUP_POINTER_TTL).timestamp()),
                )
                .condition_expression(pointer_condition);
            if let Some(seen) = seen_id {
                put_pointer = put_pointer.expression_attribute_values(":seen", s(seen.to_string()));
            }
            let items = with_counters(
                vec![
                    self.put_alert(candidate)?,
                    TransactWriteItem::builder()
                        .put(built(put_pointer.build())?)
                        .build(),
                ],
                self.counter_update(None, candidate)?,
            );
            if self.transact(items).await? {
                return Ok(Detection {
                    alert: candidate.clone(),
                    created: true,
                });
            }
        }
        Err(StoreError::Unavailable(
            "the dedup record kept changing under contention".into(),
        ))
    }

    async fn counters(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, counters::Counters)>, StoreError> {
        let mut buckets = Vec::new();
        let mut hour = counters::bucket_of(from);
        while hour <= to {
            buckets.push(hour);
            hour += chrono::Duration::hours(1);
        }
        let mut found = Vec::new();
        // BatchGetItem takes at most 100 keys; a 30-day report is 8 calls.
        for chunk in buckets.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|b| {
                    HashMap::from([(
                        "pk".to_owned(),
                        s(format!("COUNT#{}", counters::bucket_key(*b))),
                    )])
                })
                .collect();
            let mut request = Some(built(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build(),
            )?);
            while let Some(keys) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let Some(key) = item.get("pk").and_then(|v| v.as_s().ok()) else {
                        continue;
                    };
                    let Some(bucket) = key.strip_prefix("COUNT#").and_then(|k| {
                        chrono::NaiveDateTime::parse_from_str(&format!("{k}:00"), "%Y-%m-%dT%H:%M")
                            .ok()
                    }) else {
                        continue;
                    };
                    let values = item
                        .iter()
                        .filter(|(name, _)| name.as_str() != "pk")
                        .filter_map(|(name, v)| {
                            Some((name.clone(), v.as_n().ok()?.parse::<i64>().ok()?))
                        })
                        .collect();
                    found.push((bucket.and_utc(), values));
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        found.sort_by_key(|(bucket, _)| *bucket);
        Ok(found)
    }

    async fn list(&self, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let (lower, upper) = query.id_range();
        if lower > upper || query.limit == 0 {
            return Ok(AlertPage {
                items: Vec::new(),
                next: None,
            });
        }
        let plan = ListPlan::new(query);
        // Every index partition is sorted by id, so the newest `limit` alerts overall
        // are among the newest `limit` of each partition: merge and cut.
        let mut merged = Vec::new();
        let mut more = false;
        for partition in &plan.partitions {
            let (items, partition_has_more) = self.query_partition(&plan, partition).await?;
            more |= partition_has_more;
            merged.extend(items);
        }
        merged.sort_by_key(|a| std::cmp::Reverse(a.id));
        more |= merged.len() > query.limit;
        merged.truncate(query.limit);
        let next = if more {
            merged.last().map(|a| a.id)
        } else {
            None
        };
        Ok(AlertPage {
            items: merged,
            next,
        })
    }
}

/// Creates the users and alerts tables as `template.yaml` defines them, when missing.
/// Used by `vigil-local --init` and the tests.
pub async fn create_tables(client: &Client, tables: &TableNames) -> Result<(), StoreError> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition has all fields")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema has all fields")
    };
    let gsi = |name: &str, hash: &str, range: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(range, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index has all fields")
    };

    if !table_exists(client, &tables.users).await? {
        client
            .create_table()
            .table_name(&tables.users)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attr("pk"))
            .attribute_definitions(string_attr("kind"))
            .attribute_definitions(string_attr("username"))
            .key_schema(key("pk", KeyType::Hash))
            .global_secondary_indexes(gsi("by-kind", "kind", "username"))
            .send()
            .await
            .map_err(sdk_error)?;
        enable_ttl(client, &tables.users).await?;
    }
    if !table_exists(client, &tables.alerts).await? {
        let mut create = client
            .create_table()
            .table_name(&tables.alerts)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .expect("stream spec has all fields"),
            );
        for attr in ["pk", "kind", "id", "status", "severity", "category"] {
            create = create.attribute_definitions(string_attr(attr));
        }
        for (name, hash) in [
            ("by-kind", "kind"),
            ("by-status", "status"),
            ("by-severity", "severity"),
            ("by-category", "category"),
        ] {
            create = create.global_secondary_indexes(gsi(name, hash, "id"));
        }
        create.send().await.map_err(sdk_error)?;
        enable_ttl(client, &tables.alerts).await?;
    }
    Ok(())
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("ttl has all fields"),
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

async fn table_exists(client: &Client, name: &str) -> Result<bool, StoreError> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
        Err(e) => Err(sdk_error(e)),
    }
}
