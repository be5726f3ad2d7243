//! How domain values become items, the keys they live under, and what each item can
//! weigh (as DynamoDB counts it: it bills one WCU per KB written, twice inside a
//! transaction, and refuses items over 400 KB).

use super::{Item, StoreError, from_item, s, to_item};
use crate::domain::{Alert, AlertId, HistoryEntry, sketch};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

/// The `kind` attribute: which items of a table are users, alerts or WebSocket
/// connections (and so what the `by-kind` index lists, which stream records are
/// alerts, which connections-table items are connections). Other items (dedup
/// pointers, counters, history, tickets) have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    User,
    Alert,
    Connection,
}

impl ItemKind {
    /// The attribute's name.
    pub const ATTRIBUTE: &str = "kind";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Alert => "alert",
            Self::Connection => "connection",
        }
    }

    /// The attribute as an item holds it.
    pub fn value(self) -> AttributeValue {
        s(self.as_str())
    }

    /// Whether `item` (an item, or a stream image) is of this kind.
    pub fn is_kind_of<V>(self, item: &std::collections::HashMap<String, V>) -> bool
    where
        V: AsStringValue,
    {
        item.get(Self::ATTRIBUTE)
            .and_then(AsStringValue::as_string)
            .is_some_and(|k| k == self.as_str())
    }
}

/// A string attribute value, in the SDK's type or in a stream image's.
pub trait AsStringValue {
    fn as_string(&self) -> Option<&str>;
}

impl AsStringValue for AttributeValue {
    fn as_string(&self) -> Option<&str> {
        self.as_s().ok().map(String::as_str)
    }
}

impl AsStringValue for serde_dynamo::AttributeValue {
    fn as_string(&self) -> Option<&str> {
        match self {
            serde_dynamo::AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }
}

/// The alert's value summaries: stored as binary attributes in their encoded form
/// (see `domain::sketch`), read back by the summaries' `Deserialize`.
const SUMMARIES: [&str; 3] = ["sources", "targets", "ports"];

/// The largest an alert item can be: its text fields are bounded at the edge (summary
/// 1,000 characters, sensor 128, service 64, protocol 16, so ≤ 8 KB with keys and
/// numbers), three summaries of at most [`sketch::MAX_ENCODED_BYTES`], the history
/// the alert keeps ([`crate::domain::HISTORY_KEPT_BYTES`]) and its evidence (two
/// records, [`crate::domain::SIGHTING_MAX_BYTES`] each).
pub const ALERT_MAX_BYTES: usize = 8 * 1024
    + 3 * sketch::MAX_ENCODED_BYTES
    + crate::domain::HISTORY_KEPT_BYTES
    + 2 * crate::domain::SIGHTING_MAX_BYTES;
/// A history item: one entry, whose note is at most 2,000 characters (8,000 bytes).
pub const HISTORY_MAX_BYTES: usize = 9 * 1024;
/// A counter shard: at most 100 cells × 6 counters, and 5 categories of top sources.
pub const COUNTER_MAX_BYTES: usize = 32 * 1024;
/// Pointers, failed-login windows.
pub const SMALL_MAX_BYTES: usize = 1024;

pub fn alert_key(id: AlertId) -> AttributeValue {
    s(format!("ALERT#{id}"))
}

pub fn history_key(id: AlertId, seq: u64) -> AttributeValue {
    s(format!("HISTORY#{id}#{seq:010}"))
}

pub fn pointer_key(dedup_key: &str) -> AttributeValue {
    s(format!("DEDUP#{dedup_key}"))
}

pub fn alert_item(alert: &Alert) -> Result<Item, StoreError> {
    let mut item = to_item(alert)?;
    item.insert("pk".into(), alert_key(alert.id));
    item.insert(ItemKind::ATTRIBUTE.into(), ItemKind::Alert.value());
    for (name, summary) in summaries(alert) {
        match summary {
            Some(summary) => item.insert(name.into(), summary_value(summary)),
            None => item.remove(name),
        };
    }
    Ok(item)
}

/// A summary as its attribute value.
pub fn summary_value(summary: &crate::domain::ValueSummary) -> AttributeValue {
    AttributeValue::B(Blob::new(summary.encode()))
}

pub fn summaries(alert: &Alert) -> [(&'static str, Option<&crate::domain::ValueSummary>); 3] {
    let [a, b, c] = SUMMARIES;
    [
        (a, Some(&alert.sources)),
        (b, alert.targets.as_ref()),
        (c, alert.ports.as_ref()),
    ]
}

pub fn alert_from(item: Item) -> Result<Alert, StoreError> {
    from_item(item)
}

pub fn history_item(id: AlertId, entry: &HistoryEntry) -> Result<Item, StoreError> {
    let mut item = to_item(entry)?;
    item.insert("pk".into(), history_key(id, entry.seq));
    Ok(item)
}

/// An item's size as DynamoDB computes it: attribute names and values in UTF-8 bytes,
/// numbers at about one byte per two digits, and 3 bytes plus one per element for
/// lists and maps.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(ss) => ss.iter().map(String::len).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(bs) => bs.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}
