//! Report counters: what each alert adds to the counters of the hour it was created
//! in, so that a report over any time frame reads one small item per hour instead of
//! every alert.
//!
//! Each alert contributes to one *cell* — its (category, severity, status) — so that
//! reports filtered by any of those three still add up exactly. On every write the
//! store applies `contribution(new) - contribution(old)` atomically with the write
//! itself (a DynamoDB transaction; one lock in the embedded store), so the counters
//! always equal a recount of the alerts.
//!
//! Per-source figures are not counters: one counter per source IP would make an
//! hour's item grow with the attack. Each hour keeps, per category, a bounded
//! [`TopValues`] of the sources its detections saw (occurrences per source IP); it is
//! approximate by nature, and is the only approximate part of a report.

use crate::domain::{Alert, AlertStatus, Category, Severity, sketch::TopValues};
use chrono::{DateTime, Timelike, Utc};
use std::collections::BTreeMap;

/// Counter name (`<kind>|<category>|<severity>|<status>`, see [`CounterKind`]) → value.
pub type Counters = BTreeMap<String, i64>;

/// What a counter counts, per (category, severity, status) cell. The names are stored
/// (DynamoDB attribute names), so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    /// Alerts.
    Alerts,
    /// Occurrences: the sum of the alerts' counts.
    Occurrences,
    /// Alerts acknowledged, and the seconds from creation to that.
    Acknowledged,
    SecondsToAcknowledge,
    /// Alerts resolved (or marked false positives), and the seconds to that.
    Resolved,
    SecondsToResolve,
}

impl CounterKind {
    const ALL: [CounterKind; 6] = [
        Self::Alerts,
        Self::Occurrences,
        Self::Acknowledged,
        Self::SecondsToAcknowledge,
        Self::Resolved,
        Self::SecondsToResolve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alerts => "n",
            Self::Occurrences => "o",
            Self::Acknowledged => "ackn",
            Self::SecondsToAcknowledge => "acks",
            Self::Resolved => "resn",
            Self::SecondsToResolve => "ress",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn name(self, cell: &str) -> String {
        format!("{}|{cell}", self.as_str())
    }
}

/// What a report reads of one hour: exact counters, and the top sources per category.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hour {
    pub counts: Counters,
    pub sources: BTreeMap<Category, TopValues>,
}

impl Hour {
    /// Adds another part of the same hour (another shard, or a write's delta).
    pub fn merge(&mut self, other: &Hour) {
        for (name, value) in &other.counts {
            *self.counts.entry(name.clone()).or_insert(0) += value;
        }
        for (category, top) in &other.sources {
            self.sources.entry(*category).or_default().merge(top);
        }
    }
}

/// The sources a detection adds to its alert's hour: the group's own top sources
/// (`sources` of the newly seen threats, not of the whole alert).
pub fn sources_seen(seen: &Alert) -> (Category, TopValues) {
    let mut top = TopValues::default();
    for v in seen.sources.top() {
        top.add(&v.value, v.count);
    }
    (seen.category, top)
}

/// The hour an alert's counters live in.
pub fn bucket_of(created_at: DateTime<Utc>) -> DateTime<Utc> {
    created_at
        .with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .expect("truncating to the hour is always valid")
}

/// The key of an hour bucket, e.g. `2026-11-26T10`.
pub fn bucket_key(bucket: DateTime<Utc>) -> String {
    bucket.format("%Y-%m-%dT%H").to_string()
}

fn cell(alert: &Alert) -> String {
    format!("{}|{}|{}", alert.category, alert.severity, alert.status)
}

/// Everything one alert adds to its hour's counters.
pub fn contribution(alert: &Alert) -> Counters {
    let cell = cell(alert);
    let mut c = Counters::new();
    c.insert(CounterKind::Alerts.name(&cell), 1);
    c.insert(CounterKind::Occurrences.name(&cell), alert.count as i64);
    let since_created = |t: DateTime<Utc>| (t - alert.created_at).num_seconds().max(0);
    if let Some(at) = alert.acknowledged_at {
        c.insert(CounterKind::Acknowledged.name(&cell), 1);
        c.insert(
            CounterKind::SecondsToAcknowledge.name(&cell),
            since_created(at),
        );
    }
    if let Some(at) = alert.resolved_at {
        c.insert(CounterKind::Resolved.name(&cell), 1);
        c.insert(CounterKind::SecondsToResolve.name(&cell), since_created(at));
    }
    c
}

/// What to add to the counters when an alert goes from `old` to `new`; zero entries
/// are left out.
pub fn delta(old: Option<&Alert>, new: &Alert) -> Counters {
    let mut d = contribution(new);
    if let Some(old) = old {
        for (k, v) in contribution(old) {
            *d.entry(k).or_insert(0) -= v;
        }
    }
    d.retain(|_, v| *v != 0);
    d
}

/// One parsed counter name.
pub struct CounterName {
    pub kind: CounterKind,
    pub category: Category,
    pub severity: Severity,
    pub status: AlertStatus,
}

pub fn parse_name(name: &str) -> Option<CounterName> {
    let mut parts = name.split('|');
    let kind = CounterKind::parse(parts.next()?)?;
    let category = parts.next()?.parse().ok()?;
    let severity = parts.next()?.parse().ok()?;
    let status = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(CounterName {
        kind,
        category,
        severity,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_name_parses_back_to_its_kind_and_cell() {
        for kind in CounterKind::ALL {
            let name = kind.name("dos|high|open");
            let parsed = parse_name(&name).expect("parses");
            assert_eq!(parsed.kind, kind);
            assert_eq!(
                (parsed.category, parsed.severity, parsed.status),
                (Category::Dos, Severity::High, AlertStatus::Open)
            );
        }
        assert!(
            parse_name("src|dos|high|open|10.0.0.1").is_none(),
            "the old per-IP names are gone"
        );
        assert!(parse_name("x|dos|high|open").is_none());
    }
}
