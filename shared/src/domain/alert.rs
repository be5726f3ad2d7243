use super::{AlertStatus, Category, Endpoint, Severity, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Alert ids are ULIDs: unique without coordination and sortable by creation time,
/// which is what lets every list index sort "newest first" on the id alone.
pub type AlertId = ulid::Ulid;

/// Which model raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}

/// What a history entry records: `created` (`to`: the first status), `status` (`from`
/// and `to`: statuses), `assignment` (`from` and `to`: usernames, absent for nobody),
/// `note` (`note`).
// Stored as the same words the API sends, which every entry ever written used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryAction {
    /// The alert opened (`to`: its first status).
    Created,
    /// A workflow move (`from` and `to`: statuses).
    Status,
    /// Assigned or unassigned (`from` and `to`: usernames, absent for nobody).
    Assignment,
    /// A note was added (`note`).
    Note,
}

/// One change in an alert's life: who changed what, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// The username (or sensor) that made the change.
    pub by: String,
    pub action: HistoryAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A detected threat and its workflow state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    #[schema(value_type = super::AlertIdText)]
    pub id: AlertId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the threat was last observed; moves forward as repeats are aggregated.
    pub last_seen: DateTime<Utc>,
    pub category: Category,
    pub severity: Severity,
    /// The model's attack probability, when a model raised the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: Option<f64>,
    pub status: AlertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Username>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// Repeats of the same threat (same key) inside the dedup window aggregate here.
    pub dedup_key: String,
    #[schema(minimum = 1)]
    pub count: u64,
    pub history: Vec<HistoryEntry>,
    /// Optimistic-locking version: every write must name the version it was based on.
    #[schema(minimum = 1)]
    pub version: u64,
}

/// What a sensor or the model saw: the facts an alert opens from.
#[derive(Debug, Clone, PartialEq)]
pub struct Threat {
    pub category: Category,
    pub severity: Severity,
    pub score: Option<f64>,
    pub source: Option<Endpoint>,
    pub destination: Option<Endpoint>,
    pub protocol: Option<String>,
    pub service: Option<String>,
    pub sensor: Option<String>,
    pub summary: Option<String>,
    pub model: Option<ModelRef>,
    /// When the threat was observed (the sensor's time, else when it arrived).
    pub seen_at: DateTime<Utc>,
}

impl Threat {
    /// The key of the alert this threat opens or repeats.
    pub fn dedup_key(&self) -> String {
        Alert::dedup_key_for(
            self.category,
            self.sensor.as_deref(),
            self.source.as_ref(),
            self.destination.as_ref(),
            self.service.as_deref(),
        )
    }
}

impl Alert {
    /// A new open alert for `threat`, raised by `by` at `now`: version 1, count 1, and
    /// a `created` history entry. Both ways in (POST /alerts and predict) open alerts
    /// here, and the stores decide whether it is new or absorbed by an open one.
    pub fn open(threat: Threat, by: &str, now: DateTime<Utc>) -> Self {
        let dedup_key = threat.dedup_key();
        Self {
            id: new_alert_id(),
            created_at: now,
            updated_at: now,
            last_seen: threat.seen_at,
            category: threat.category,
            severity: threat.severity,
            score: threat.score,
            status: AlertStatus::Open,
            assignee: None,
            source: threat.source,
            destination: threat.destination,
            protocol: threat.protocol,
            service: threat.service,
            sensor: threat.sensor,
            summary: threat.summary,
            model: threat.model,
            dedup_key,
            count: 1,
            history: vec![HistoryEntry {
                at: now,
                by: by.to_owned(),
                action: HistoryAction::Created,
                from: None,
                to: Some(AlertStatus::Open.as_str().into()),
                note: None,
            }],
            version: 1,
        }
    }

    /// Whether `repeat` (a newly opened alert) is the same threat seen again inside
    /// the dedup window, so that this alert absorbs it instead of a new one opening.
    /// A closed alert absorbs nothing: a threat after the verdict is news.
    pub fn absorbs(&self, repeat: &Alert, window: std::time::Duration) -> bool {
        let gap = (repeat.last_seen - self.last_seen).abs();
        !self.status.is_closed()
            && gap.to_std().is_ok_and(|gap| gap <= window)
            && self.dedup_key == repeat.dedup_key
    }

    /// Takes in a repeat: counts add up; last seen, severity and score only rise.
    /// Workflow state (status, assignee, history) stays as the analysts left it.
    pub fn absorb(&mut self, repeat: &Alert, now: DateTime<Utc>) {
        self.take_in(
            repeat.count,
            repeat.last_seen,
            repeat.severity,
            repeat.score,
            now,
        );
    }

    /// Takes in one more sighting of this alert's threat (a repeat inside one predict
    /// batch), by the same rule as [`Alert::absorb`], without opening an alert for it.
    pub fn absorb_threat(&mut self, threat: &Threat, now: DateTime<Utc>) {
        self.take_in(1, threat.seen_at, threat.severity, threat.score, now);
    }

    fn take_in(
        &mut self,
        count: u64,
        seen_at: DateTime<Utc>,
        severity: Severity,
        score: Option<f64>,
        now: DateTime<Utc>,
    ) {
        self.count += count;
        self.last_seen = self.last_seen.max(seen_at);
        self.severity = self.severity.max(severity);
        self.score = match (self.score, score) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.updated_at = now;
    }

    /// The aggregation key: category, sensor, source, destination and service.
    pub fn dedup_key_for(
        category: Category,
        sensor: Option<&str>,
        source: Option<&Endpoint>,
        destination: Option<&Endpoint>,
        service: Option<&str>,
    ) -> String {
        fn ip(e: Option<&Endpoint>) -> String {
            e.and_then(|e| e.ip)
                .map(|ip| ip.to_string())
                .unwrap_or_default()
        }
        fn port(e: Option<&Endpoint>) -> String {
            e.and_then(|e| e.port)
                .map(|p| p.to_string())
                .unwrap_or_default()
        }
        // The source port is left out on purpose: it changes with every connection.
        format!(
            "{}|{}|{}|{}|{}|{}",
            category,
            sensor.unwrap_or(""),
            ip(source),
            ip(destination),
            port(destination),
            service.unwrap_or("")
        )
    }
}

/// A status change the workflow does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an alert cannot move from {from} to {to}{hint}")]
pub struct InvalidTransition {
    pub from: AlertStatus,
    pub to: AlertStatus,
    hint: &'static str,
}

impl Alert {
    /// Moves the alert to `to`, recording who did it and why. Moving to the current
    /// status is not a change and is refused like any other impossible move.
    pub fn move_to(
        &mut self,
        to: AlertStatus,
        by: &str,
        note: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), InvalidTransition> {
        if !self.status.can_move_to(to) {
            let hint = if self.status.is_closed() {
                "; reopen it (status open) first"
            } else {
                ""
            };
            return Err(InvalidTransition {
                from: self.status,
                to,
                hint,
            });
        }
        self.history.push(HistoryEntry {
            at,
            by: by.to_owned(),
            action: HistoryAction::Status,
            from: Some(self.status.as_str().into()),
            to: Some(to.as_str().into()),
            note,
        });
        self.status = to;
        Ok(())
    }

    /// Assigns the alert (or unassigns it with `None`).
    pub fn assign(&mut self, to: Option<Username>, by: &str, at: DateTime<Utc>) {
        if self.assignee == to {
            return;
        }
        self.history.push(HistoryEntry {
            at,
            by: by.to_owned(),
            action: HistoryAction::Assignment,
            from: self.assignee.as_ref().map(|u| u.to_string()),
            to: to.as_ref().map(|u| u.to_string()),
            note: None,
        });
        self.assignee = to;
    }

    pub fn add_note(&mut self, note: String, by: &str, at: DateTime<Utc>) {
        self.history.push(HistoryEntry {
            at,
            by: by.to_owned(),
            action: HistoryAction::Note,
            from: None,
            to: None,
            note: Some(note),
        });
    }
}

/// A new alert id. Ids from one process increase strictly, even within one
/// millisecond, so "newest first" is also creation order for alerts made together.
pub fn new_alert_id() -> AlertId {
    use std::sync::{Mutex, OnceLock};
    static GENERATOR: OnceLock<Mutex<ulid::Generator>> = OnceLock::new();
    let generator = GENERATOR.get_or_init(|| Mutex::new(ulid::Generator::new()));
    generator
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        .unwrap_or_else(|| ulid::Ulid::from_datetime(std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn threat(severity: Severity, score: f64, seen_at: DateTime<Utc>) -> Threat {
        Threat {
            category: Category::Dos,
            severity,
            score: Some(score),
            source: Some(Endpoint {
                ip: Some("198.51.100.7".parse().unwrap()),
                port: Some(40_000),
            }),
            destination: Some(Endpoint {
                ip: Some("10.0.0.9".parse().unwrap()),
                port: Some(80),
            }),
            protocol: Some("tcp".into()),
            service: Some("http".into()),
            sensor: Some("edge-1".into()),
            summary: None,
            model: None,
            seen_at,
        }
    }

    #[test]
    fn an_alert_opens_once_with_its_key_and_a_created_entry() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let alert = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        assert_eq!((alert.count, alert.version), (1, 1));
        assert_eq!(alert.status, AlertStatus::Open);
        assert_eq!(alert.dedup_key, "dos|edge-1|198.51.100.7|10.0.0.9|80|http");
        assert_eq!(alert.history.len(), 1);
        assert_eq!(alert.history[0].action, HistoryAction::Created);
    }

    #[test]
    fn a_repeat_inside_the_window_is_absorbed_and_only_raises() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let later = t + chrono::Duration::minutes(5);
        let mut alert = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        alert
            .move_to(AlertStatus::Acknowledged, "ana", None, t)
            .unwrap();
        let repeat = Alert::open(threat(Severity::Medium, 0.95, later), "edge-1", later);
        let window = std::time::Duration::from_secs(15 * 60);

        assert!(alert.absorbs(&repeat, window));
        assert!(!alert.absorbs(&repeat, std::time::Duration::from_secs(60)));
        alert.absorb(&repeat, later);

        assert_eq!(alert.count, 2);
        assert_eq!(alert.last_seen, later);
        assert_eq!(alert.severity, Severity::High, "severity never drops");
        assert_eq!(alert.score, Some(0.95));
        assert_eq!(
            alert.status,
            AlertStatus::Acknowledged,
            "workflow untouched"
        );
    }

    #[test]
    fn a_closed_alert_absorbs_nothing() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let mut alert = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        alert
            .move_to(AlertStatus::Resolved, "ana", None, t)
            .unwrap();
        let repeat = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        assert!(!alert.absorbs(&repeat, std::time::Duration::from_secs(900)));
    }
}
