//! Report counters: what each alert adds to the counters of the hour it was created
//! in, so that a report over any time frame reads one small item per hour instead of
//! every alert.
//!
//! Each alert contributes to one *cell* — its (category, severity, status) — so that
//! reports filtered by any of those three still add up exactly. On every write the
//! store applies `contribution(new) - contribution(old)` atomically with the write
//! itself (a DynamoDB transaction; one lock in the embedded store), so the counters
//! always equal a recount of the alerts.

use crate::domain::{Alert, AlertStatus, Category, HistoryAction, Severity};
use chrono::{DateTime, Timelike, Utc};
use std::collections::BTreeMap;

/// Counter name → value. Names: `n|cell` alerts, `o|cell` occurrences (sum of counts),
/// `src|cell|ip` alerts per source IP, `ackn|cell`/`acks|cell` alerts acknowledged and
/// seconds to their first acknowledgement, `resn|cell`/`ress|cell` the same for the
/// first resolution (resolved or false positive).
pub type Counters = BTreeMap<String, i64>;

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

/// Seconds from creation to the first history entry moving to one of `statuses`.
fn first_time_to(alert: &Alert, statuses: &[AlertStatus]) -> Option<i64> {
    alert
        .history
        .iter()
        .find(|h| {
            h.action == HistoryAction::Status
                && h.to
                    .as_deref()
                    .and_then(|s| s.parse::<AlertStatus>().ok())
                    .is_some_and(|s| statuses.contains(&s))
        })
        .map(|h| (h.at - alert.created_at).num_seconds().max(0))
}

/// Everything one alert adds to its hour's counters.
pub fn contribution(alert: &Alert) -> Counters {
    let cell = cell(alert);
    let mut c = Counters::new();
    c.insert(format!("n|{cell}"), 1);
    c.insert(format!("o|{cell}"), alert.count as i64);
    if let Some(ip) = alert.source.as_ref().and_then(|s| s.ip) {
        c.insert(format!("src|{cell}|{ip}"), 1);
    }
    let acknowledged = [
        AlertStatus::Acknowledged,
        AlertStatus::Investigating,
        AlertStatus::Resolved,
        AlertStatus::FalsePositive,
    ];
    if let Some(secs) = first_time_to(alert, &acknowledged) {
        c.insert(format!("ackn|{cell}"), 1);
        c.insert(format!("acks|{cell}"), secs);
    }
    if let Some(secs) = first_time_to(alert, &[AlertStatus::Resolved, AlertStatus::FalsePositive]) {
        c.insert(format!("resn|{cell}"), 1);
        c.insert(format!("ress|{cell}"), secs);
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
pub struct CounterName<'a> {
    pub kind: &'a str,
    pub category: Category,
    pub severity: Severity,
    pub status: AlertStatus,
    pub source_ip: Option<&'a str>,
}

pub fn parse_name(name: &str) -> Option<CounterName<'_>> {
    let mut parts = name.splitn(5, '|');
    let kind = parts.next()?;
    let category = parts.next()?.parse().ok()?;
    let severity = parts.next()?.parse().ok()?;
    let status = parts.next()?.parse().ok()?;
    let source_ip = parts.next();
    Some(CounterName {
        kind,
        category,
        severity,
        status,
        source_ip,
    })
}
