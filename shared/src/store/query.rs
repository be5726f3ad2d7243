use crate::domain::{Alert, AlertId, AlertStatus, Category, Severity, Username};
use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// What `GET /alerts` asks the store for. Pages are cut by id: `before` is the id of
/// the last alert of the previous page, and ids sort by creation time, so a cursor
/// never skips or repeats an alert even while new ones arrive.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertQuery {
    /// Any of these statuses (empty: all).
    pub statuses: Vec<AlertStatus>,
    /// At least this severity.
    pub min_severity: Option<Severity>,
    pub category: Option<Category>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    pub assignee: Option<Username>,
    pub source_ip: Option<IpAddr>,
    pub before: Option<AlertId>,
    pub limit: usize,
}

impl AlertQuery {
    /// Whether `alert` passes every filter (not the page bounds).
    pub fn matches(&self, alert: &Alert) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&alert.status))
            && self.min_severity.is_none_or(|min| alert.severity >= min)
            && self.category.is_none_or(|c| alert.category == c)
            && self.from.is_none_or(|from| alert.created_at >= from)
            && self.to.is_none_or(|to| alert.created_at <= to)
            && self
                .assignee
                .as_ref()
                .is_none_or(|a| alert.assignee.as_ref() == Some(a))
            && self
                .source_ip
                .is_none_or(|ip| alert.source.as_ref().and_then(|s| s.ip) == Some(ip))
    }

    /// The inclusive id range that the time filters and the cursor allow.
    pub fn id_range(&self) -> (AlertId, AlertId) {
        let lower = self
            .from
            .map(|t| AlertId::from_parts(t.timestamp_millis().max(0) as u64, 0))
            .unwrap_or(AlertId::nil());
        let mut upper = self
            .to
            .map(|t| AlertId::from_parts(t.timestamp_millis().max(0) as u64, u128::MAX))
            .unwrap_or(ulid::Ulid(u128::MAX));
        if let Some(before) = self.before {
            upper = upper.min(ulid::Ulid(before.0.saturating_sub(1)));
        }
        (lower, upper)
    }
}

/// Alerts one list request reads (from one index partition, in DynamoDB) at most. A
/// filter that matches rarely (`source_ip`, `assignee`) answers a short, even empty,
/// page and a cursor when the budget runs out, instead of reading a whole partition
/// in one request. Both stores keep to it, so pages look alike on both.
pub const MAX_ITEMS_READ: usize = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertPage {
    pub items: Vec<Alert>,
    /// The id to pass as `before` for the next page; `None` on the last page.
    pub next: Option<AlertId>,
}
