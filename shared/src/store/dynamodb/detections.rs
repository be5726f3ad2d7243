//! The write path of an attack: recording a predict batch's groups.
//!
//! A batch's groups are written in chunks, each chunk one transaction: its new
//! alerts and their dedup pointers, its absorbed repeats (and their pointers' expiry
//! moved forward), and its counter changes, at most one counter item per hour. Chunks
//! run a few at a time on different counter shards. So 1,000 groups cost about 21
//! transactions and 63 batched reads instead of 3,000 sequential round trips, and
//! nothing in the path grows with the hour.
//!
//! Each chunk is optimistic: read the pointers, the alerts they point to and the
//! counter shard, then write on the condition that none of them changed. A lost race
//! reads the chunk again; a chunk that keeps losing is split, so one contended group
//! cannot hold the others back. Every candidate ends stored whole or not at all.

use super::{
    DynamoAlertStore,
    alerts::Transacted,
    built,
    counters::{SHARDS, any_shard},
    idempotency::{marker_from, marker_key},
    items::{alert_from, alert_key, item_size, pointer_key, summaries, summary_value},
    n, s, to_attribute,
};
use crate::{
    domain::{Alert, AlertId},
    store::{
        Detection, Ingest, StoreError,
        counters::{Hour, bucket_of, delta, sources_seen},
    },
};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use futures::{StreamExt, future::BoxFuture};
use std::{collections::HashMap, time::Duration};

/// Candidates a transaction: two items each (alert and pointer), three with an
/// idempotency marker, leaving room for counter items in DynamoDB's 100-item limit.
const CHUNK: usize = 48;
const CHUNK_WITH_MARKERS: usize = 32;
/// Transactions in flight at once for one batch.
const CONCURRENCY: usize = 8;
/// Optimistic rounds for a chunk before it is split, and for a single candidate
/// before it is reported as not stored (many sensors reporting one campaign at once).
const ROUNDS: u32 = 3;
const SINGLE_ROUNDS: u32 = 30;
/// A transaction's payload stays well under DynamoDB's 4 MB.
const MAX_TRANSACTION_BYTES: usize = 3 * 1024 * 1024;

/// How long a dedup pointer outlives its alert's last sighting (or its write, for a
/// backfilled sighting) before TTL removes it. Only housekeeping: whether a repeat
/// aggregates is decided by the alert's own `last_seen`, never by the pointer's age.
const DEDUP_POINTER_TTL: chrono::Duration = chrono::Duration::days(30);

enum Action {
    Absorb {
        existing: Box<Alert>,
        merged: Box<Alert>,
    },
    Create {
        seen: Option<AlertId>,
    },
    /// A resend: the first request already stored this candidate.
    Replay {
        alert: Box<Alert>,
        created: bool,
    },
}

/// One candidate and its index in the request (what its idempotency marker is for).
type Indexed<'a> = (usize, &'a Alert);

/// A copy of `e` for each other candidate that shared its failed write.
fn same_failure(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(e.to_string().into()),
        StoreError::OutcomeUnknown(_) => StoreError::OutcomeUnknown(e.to_string().into()),
        StoreError::OutOfTime => StoreError::OutOfTime,
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        _ => StoreError::Other(e.to_string().into()),
    }
}

fn all_failed(n: usize, e: StoreError) -> Vec<Result<Detection, StoreError>> {
    let mut out: Vec<_> = (1..n).map(|_| Err(same_failure(&e))).collect();
    out.insert(0, Err(e));
    out
}

impl DynamoAlertStore {
    pub(super) async fn detect(
        &self,
        candidates: &[Alert],
        window: Duration,
        ingest: Ingest<'_>,
    ) -> Vec<Result<Detection, StoreError>> {
        let indexed: Vec<Indexed<'_>> = candidates.iter().enumerate().collect();
        let first_shard = any_shard();
        let size = if ingest.request.is_some() {
            CHUNK_WITH_MARKERS
        } else {
            CHUNK
        };
        type Written<'a> = BoxFuture<'a, (usize, Vec<Result<Detection, StoreError>>)>;
        let writes: Vec<Written<'_>> = indexed
            .chunks(size)
            .enumerate()
            .map(|(i, chunk)| {
                // Chunks in flight together write different shards.
                let shard = (first_shard + i as u32) % SHARDS;
                Box::pin(async move {
                    if ingest
                        .deadline
                        .is_some_and(|d| tokio::time::Instant::now() >= d)
                    {
                        let late = chunk.iter().map(|_| Err(StoreError::OutOfTime)).collect();
                        return (i, late);
                    }
                    (i, self.write_chunk(chunk, window, shard, ingest).await)
                }) as Written<'_>
            })
            .collect();
        let mut done: Vec<_> = futures::stream::iter(writes)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        done.sort_by_key(|(i, _)| *i);
        done.into_iter()
            .flat_map(|(_, outcomes)| outcomes)
            .collect()
    }

    fn write_chunk<'a>(
        &'a self,
        chunk: &'a [Indexed<'a>],
        window: Duration,
        shard: u32,
        ingest: Ingest<'a>,
    ) -> BoxFuture<'a, Vec<Result<Detection, StoreError>>> {
        Box::pin(async move {
            let mut shard = shard;
            let rounds = if chunk.len() == 1 {
                SINGLE_ROUNDS
            } else {
                ROUNDS
            };
            for round in 0..rounds {
                if round > 0 {
                    // Jittered, growing backoff spreads out the writers that lost.
                    let jitter = (crate::domain::new_alert_id().random() % 40) as u64;
                    let step = 5 * u64::from(round.min(8));
                    tokio::time::sleep(Duration::from_millis(step + jitter)).await;
                    shard = any_shard();
                }
                let actions = match self.plan(chunk, window, ingest).await {
                    Ok(actions) => actions,
                    Err(e) => return all_failed(chunk.len(), e),
                };
                let (items, detections) = match self.items_for(chunk, actions, shard, ingest).await
                {
                    Ok(built) => built,
                    Err(e) => return all_failed(chunk.len(), e),
                };
                if items.is_empty() {
                    return detections.into_iter().map(Ok).collect();
                }
                let bytes: usize = items.iter().map(transact_item_size).sum();
                if (items.len() > 100 || bytes > MAX_TRANSACTION_BYTES) && chunk.len() > 1 {
                    return self.split(chunk, window, shard, ingest).await;
                }
                match self.transact(items).await {
                    Ok(Transacted::Done) => return detections.into_iter().map(Ok).collect(),
                    Ok(Transacted::Cancelled) => continue,
                    Err(e) => return all_failed(chunk.len(), e),
                }
            }
            if chunk.len() > 1 {
                return self.split(chunk, window, any_shard(), ingest).await;
            }
            vec![Err(StoreError::Unavailable(
                "the dedup record kept changing under contention".into(),
            ))]
        })
    }

    async fn split(
        &self,
        chunk: &[Indexed<'_>],
        window: Duration,
        shard: u32,
        ingest: Ingest<'_>,
    ) -> Vec<Result<Detection, StoreError>> {
        let (left, right) = chunk.split_at(chunk.len() / 2);
        let mut out = self.write_chunk(left, window, shard, ingest).await;
        out.extend(
            self.write_chunk(right, window, (shard + 1) % SHARDS, ingest)
                .await,
        );
        out
    }

    /// Reads the chunk's pointers (and, for a keyed request, its markers) and the
    /// alerts they point to, and decides for each candidate whether it was stored
    /// already, an open alert absorbs it, or it opens a new one.
    async fn plan(
        &self,
        chunk: &[Indexed<'_>],
        window: Duration,
        ingest: Ingest<'_>,
    ) -> Result<Vec<Action>, StoreError> {
        let now = Utc::now();
        let mut keys: Vec<AttributeValue> = chunk
            .iter()
            .map(|(_, c)| pointer_key(&c.dedup_key))
            .collect();
        if let Some(request) = ingest.request {
            keys.extend(chunk.iter().map(|(i, _)| marker_key(request, *i)));
        }
        let mut pointers: HashMap<String, AlertId> = HashMap::new();
        let mut markers: HashMap<String, (AlertId, bool)> = HashMap::new();
        for item in self.batch_get(keys).await? {
            let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()).cloned() else {
                continue;
            };
            if pk.starts_with("IDEM#") {
                if let Some(marker) = marker_from(&item, now) {
                    markers.insert(pk, marker);
                }
            } else if let Some(id) = item
                .get("alert_id")
                .and_then(|v| v.as_s().ok())
                .and_then(|id| id.parse::<AlertId>().ok())
            {
                pointers.insert(pk, id);
            }
        }
        let mut ids: Vec<AlertId> = pointers
            .values()
            .chain(markers.values().map(|(id, _)| id))
            .copied()
            .collect();
        ids.sort();
        ids.dedup();
        let mut alerts: HashMap<AlertId, Alert> = HashMap::new();
        for item in self
            .batch_get(ids.into_iter().map(alert_key).collect())
            .await?
        {
            let alert = alert_from(item)?;
            alerts.insert(alert.id, alert);
        }
        chunk
            .iter()
            .map(|(i, candidate)| {
                if let Some(request) = ingest.request {
                    let key = marker_key(request, *i);
                    if let Some((id, created)) = key.as_s().ok().and_then(|k| markers.get(k)) {
                        let alert = alerts.get(id).cloned().ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "idempotency marker names a missing alert {id}"
                            ))
                        })?;
                        return Ok(Action::Replay {
                            alert: Box::new(alert),
                            created: *created,
                        });
                    }
                }
                let key = pointer_key(&candidate.dedup_key);
                let seen = key.as_s().ok().and_then(|k| pointers.get(k)).copied();
                Ok(match seen.and_then(|id| alerts.get(&id)) {
                    Some(existing) if existing.absorbs(candidate, window) => {
                        let mut merged = existing.clone();
                        merged.absorb(candidate, now);
                        Action::Absorb {
                            existing: Box::new(existing.clone()),
                            merged: Box::new(merged),
                        }
                    }
                    _ => Action::Create { seen },
                })
            })
            .collect()
    }

    /// The transaction for a planned chunk, and what each candidate becomes if it
    /// commits.
    async fn items_for(
        &self,
        chunk: &[Indexed<'_>],
        actions: Vec<Action>,
        shard: u32,
        ingest: Ingest<'_>,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Detection>), StoreError> {
        let now = Utc::now();
        let mut items = Vec::with_capacity(chunk.len() * 2 + 1);
        let mut detections = Vec::with_capacity(chunk.len());
        let mut hours: HashMap<DateTime<Utc>, Hour> = HashMap::new();
        for ((index, candidate), action) in chunk.iter().zip(actions) {
            let expires_at = n((candidate.last_seen.max(now) + DEDUP_POINTER_TTL).timestamp());
            let (old, new) = match action {
                Action::Replay { alert, created } => {
                    detections.push(Detection {
                        alert: *alert,
                        created,
                    });
                    continue;
                }
                Action::Absorb { existing, merged } => {
                    items.push(self.absorb_item(&existing, &merged)?);
                    // Every repeat moves the pointer's expiry on: a campaign that goes
                    // on for months keeps its alert.
                    let refresh = Update::builder()
                        .table_name(&self.table)
                        .key("pk", pointer_key(&candidate.dedup_key))
                        .update_expression("SET expires_at = :expires")
                        .condition_expression("alert_id = :id")
                        .expression_attribute_values(":expires", expires_at)
                        .expression_attribute_values(":id", s(existing.id.to_string()));
                    items.push(
                        TransactWriteItem::builder()
                            .update(built(refresh.build())?)
                            .build(),
                    );
                    detections.push(Detection {
                        alert: (*merged).clone(),
                        created: false,
                    });
                    (Some(*existing), *merged)
                }
                Action::Create { seen } => {
                    items.push(self.put_alert(candidate)?);
                    let mut pointer = Put::builder()
                        .table_name(&self.table)
                        .item("pk", pointer_key(&candidate.dedup_key))
                        .item("alert_id", s(candidate.id.to_string()))
                        .item("expires_at", expires_at);
                    pointer = match seen {
                        Some(seen) => pointer
                            .condition_expression("alert_id = :seen")
                            .expression_attribute_values(":seen", s(seen.to_string())),
                        None => pointer.condition_expression("attribute_not_exists(pk)"),
                    };
                    items.push(
                        TransactWriteItem::builder()
                            .put(built(pointer.build())?)
                            .build(),
                    );
                    detections.push(Detection {
                        alert: (*candidate).clone(),
                        created: true,
                    });
                    (None, (*candidate).clone())
                }
            };
            if let Some(request) = ingest.request {
                items.push(self.put_marker(request, *index, new.id, old.is_none(), now)?);
            }
            let (category, top) = sources_seen(candidate);
            let change = Hour {
                counts: delta(old.as_ref(), &new),
                sources: [(category, top)].into(),
            };
            hours
                .entry(bucket_of(new.created_at))
                .or_default()
                .merge(&change);
        }
        let shards: Vec<(DateTime<Utc>, u32)> = hours.keys().map(|b| (*b, shard)).collect();
        let seen = self.shard_sources(&shards).await?;
        for (bucket, change) in &hours {
            items.extend(self.counter_update(
                *bucket,
                shard,
                change,
                seen.get(&(*bucket, shard)),
            )?);
        }
        Ok((items, detections))
    }

    /// Adds a repeat to `existing`, on the condition that nothing it was computed
    /// from changed since it was read.
    fn absorb_item(
        &self,
        existing: &Alert,
        merged: &Alert,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", alert_key(existing.id))
            .condition_expression(
                "#status = :seen_status AND #severity = :seen_severity AND #count = :seen_count",
            )
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#severity", "severity")
            .expression_attribute_values(":count", n(merged.count))
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
        let mut set = String::from(
            "SET #count = :count, last_seen = :last_seen, #severity = :severity, \
             score = :score, updated_at = :updated_at",
        );
        // The evidence moves with the repeat (its latest record); written whole, as it
        // is small and bounded.
        if let Some(evidence) = &merged.evidence {
            update = update.expression_attribute_values(":evidence", to_attribute(evidence)?);
            set.push_str(", evidence = :evidence");
        }
        for (name, summary) in summaries(merged) {
            if let Some(summary) = summary {
                update = update
                    .expression_attribute_names(format!("#{name}"), name)
                    .expression_attribute_values(format!(":{name}"), summary_value(summary));
                set.push_str(&format!(", #{name} = :{name}"));
            }
        }
        let update = built(update.update_expression(set).build())?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// Roughly what one transaction item sends (its item or its values).
fn transact_item_size(item: &TransactWriteItem) -> usize {
    if let Some(put) = item.put() {
        return item_size(put.item());
    }
    item.update()
        .and_then(|u| u.expression_attribute_values())
        .map(item_size)
        .unwrap_or(0)
}
