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

/// One change in an alert's life: who changed what, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// The username (or sensor) that made the change.
    pub by: String,
    /// `created`, `status`, `assigned`, `unassigned`, `note`, ...
    #[schema(example = "status")]
    pub action: String,
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

impl Alert {
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
            action: "status".into(),
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
            action: "assignment".into(),
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
            action: "note".into(),
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
