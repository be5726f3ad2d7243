//! Report counters in DynamoDB: each hour's counters are spread over [`SHARDS`]
//! items, and a write adds its delta to any one of them.
//!
//! Why sharded, in the write's own transaction, and not aggregated from the stream:
//! - exact by construction: a counter changes in the same transaction as the alerts
//!   it counts, so a report always equals a recount, with no lag and no second
//!   consumer whose retries (at-least-once delivery) would have to be made idempotent;
//! - no hot item: counters only add, so the shards of an hour sum to its counters
//!   whichever shard each write picked. Concurrent writers pick different shards
//!   instead of all transacting on one item (in DynamoDB, transactions touching one
//!   item conflict, and one partition takes ~1,000 WCU/s);
//! - the cost is on the read side: a report reads `SHARDS` small items an hour (a
//!   30-day report: 5,760 items in 58 BatchGetItem calls), which is rare next to
//!   writes on the day of an attack.
//!
//! Top sources per category sit in the shard too, as encoded [`TopValues`]. They are
//! not additive, so a detection writing them reads the shard and conditions on its
//! `sv` (sources version); workflow writes only ADD and never conflict on it.

use super::{DynamoAlertStore, Item, built, n, s, sdk_error};
use crate::{
    domain::{Category, sketch::TopValues},
    store::{
        StoreError,
        counters::{Hour, bucket_key},
    },
};
use aws_sdk_dynamodb::{
    primitives::Blob,
    types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update},
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Counter items an hour.
pub const SHARDS: u32 = 8;

const SOURCES_PREFIX: &str = "src|";
const SOURCES_VERSION: &str = "sv";

pub fn shard_key(bucket: DateTime<Utc>, shard: u32) -> AttributeValue {
    s(format!("COUNT#{}#{shard}", bucket_key(bucket)))
}

/// A random shard: spreads concurrent writers without coordination.
pub fn any_shard() -> u32 {
    (crate::domain::new_alert_id().random() % u128::from(SHARDS)) as u32
}

/// What a detection needs of a shard before writing it: its sources and their version.
#[derive(Debug, Clone, Default)]
pub struct ShardSources {
    version: Option<i64>,
    sources: BTreeMap<Category, TopValues>,
}

fn hour_from(item: &Item) -> Result<(Hour, Option<i64>), StoreError> {
    let mut hour = Hour::default();
    let mut version = None;
    for (name, value) in item {
        if name == "pk" {
            continue;
        }
        if name == SOURCES_VERSION {
            version = value.as_n().ok().and_then(|v| v.parse().ok());
        } else if let Some(category) = name.strip_prefix(SOURCES_PREFIX) {
            let category: Category = category
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("counter {name}: unknown category")))?;
            let bytes = value
                .as_b()
                .map_err(|_| StoreError::Corrupt(format!("counter {name} is not binary")))?;
            let top = TopValues::from_bytes(bytes.as_ref())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            hour.sources.insert(category, top);
        } else if let Some(v) = value.as_n().ok().and_then(|v| v.parse().ok()) {
            hour.counts.insert(name.clone(), v);
        }
    }
    Ok((hour, version))
}

impl DynamoAlertStore {
    /// Reads items by key with BatchGetItem (100 keys a call, unprocessed keys again).
    pub(super) async fn batch_get(
        &self,
        keys: Vec<AttributeValue>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|k| HashMap::from([("pk".to_owned(), k.clone())]))
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
                found.extend(
                    out.responses
                        .unwrap_or_default()
                        .remove(&self.table)
                        .unwrap_or_default(),
                );
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(found)
    }

    /// The sources of the given shards, as they are now.
    pub(super) async fn shard_sources(
        &self,
        shards: &[(DateTime<Utc>, u32)],
    ) -> Result<HashMap<(DateTime<Utc>, u32), ShardSources>, StoreError> {
        let keys = shards.iter().map(|(b, i)| shard_key(*b, *i)).collect();
        let mut by_key: HashMap<String, Item> = HashMap::new();
        for item in self.batch_get(keys).await? {
            if let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) {
                by_key.insert(pk.clone(), item);
            }
        }
        let mut out = HashMap::new();
        for (bucket, shard) in shards {
            let key = shard_key(*bucket, *shard);
            let state = match key.as_s().ok().and_then(|k| by_key.get(k)) {
                Some(item) => {
                    let (hour, version) = hour_from(item)?;
                    ShardSources {
                        version,
                        sources: hour.sources,
                    }
                }
                None => ShardSources::default(),
            };
            out.insert((*bucket, *shard), state);
        }
        Ok(out)
    }

    /// The update that adds `delta` to one shard. With sources, `seen` is the shard's
    /// state as read, and the write is conditional on it not having changed since.
    pub(super) fn counter_update(
        &self,
        bucket: DateTime<Utc>,
        shard: u32,
        delta: &Hour,
        seen: Option<&ShardSources>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let counts: Vec<_> = delta.counts.iter().filter(|(_, v)| **v != 0).collect();
        let sources: Vec<_> = delta
            .sources
            .iter()
            .filter(|(_, t)| !t.ranked().is_empty())
            .collect();
        if counts.is_empty() && sources.is_empty() {
            return Ok(None);
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", shard_key(bucket, shard));
        let mut adds = Vec::new();
        for (i, (name, value)) in counts.into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":c{i}"), n(value));
            adds.push(format!("#c{i} :c{i}"));
        }
        let mut sets = Vec::new();
        if !sources.is_empty() {
            let seen = seen.cloned().unwrap_or_default();
            for (i, (category, top)) in sources.into_iter().enumerate() {
                let mut merged = seen.sources.get(category).cloned().unwrap_or_default();
                merged.merge(top);
                update = update
                    .expression_attribute_names(
                        format!("#s{i}"),
                        format!("{SOURCES_PREFIX}{category}"),
                    )
                    .expression_attribute_values(
                        format!(":s{i}"),
                        AttributeValue::B(Blob::new(merged.to_bytes())),
                    );
                sets.push(format!("#s{i} = :s{i}"));
            }
            update = update
                .expression_attribute_names("#sv", SOURCES_VERSION)
                .expression_attribute_values(":sv_next", n(seen.version.unwrap_or(0) + 1));
            sets.push("#sv = :sv_next".into());
            update = match seen.version {
                Some(v) => update
                    .condition_expression("#sv = :sv_seen")
                    .expression_attribute_values(":sv_seen", n(v)),
                None => update.condition_expression("attribute_not_exists(#sv)"),
            };
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        let update = built(update.update_expression(expression.trim()).build())?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }

    /// Every hour from `from` to `to` that has counters, its shards added up.
    pub(super) async fn read_counters(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Hour)>, StoreError> {
        let mut buckets = Vec::new();
        let mut hour = crate::store::counters::bucket_of(from);
        while hour <= to {
            buckets.push(hour);
            hour += chrono::Duration::hours(1);
        }
        let keys: Vec<AttributeValue> = buckets
            .iter()
            .flat_map(|b| (0..SHARDS).map(move |i| shard_key(*b, i)))
            .collect();
        let by_key: HashMap<String, DateTime<Utc>> = buckets
            .iter()
            .flat_map(|b| {
                (0..SHARDS).filter_map(move |i| Some((shard_key(*b, i).as_s().ok()?.clone(), *b)))
            })
            .collect();
        let mut hours: BTreeMap<DateTime<Utc>, Hour> = BTreeMap::new();
        for item in self.batch_get(keys).await? {
            let Some(bucket) = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .and_then(|k| by_key.get(k))
            else {
                continue;
            };
            let (part, _) = hour_from(&item)?;
            hours.entry(*bucket).or_default().merge(&part);
        }
        Ok(hours.into_iter().collect())
    }
}
