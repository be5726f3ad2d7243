use super::Alert;
use serde::{Deserialize, Serialize};

/// What happened to an alert that people are told about, by SNS and by live push
/// alike. Pure counter updates (another repeat of the same threat) are deliberately
/// not events: they would page people for every packet of an ongoing attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    Created,
    /// Severity rose (repeats of a threat got worse).
    Escalated,
    StatusChanged,
}

words!(AlertEvent {
    Created => "created",
    Escalated => "escalated",
    StatusChanged => "status_changed",
});

impl AlertEvent {
    /// The event a committed change from `old` (absent for a new alert) to `new` is,
    /// if it is one.
    pub fn between(old: Option<&Alert>, new: &Alert) -> Option<Self> {
        match old {
            None => Some(AlertEvent::Created),
            Some(old) if old.status != new.status => Some(AlertEvent::StatusChanged),
            Some(old) if new.severity > old.severity => Some(AlertEvent::Escalated),
            Some(_) => None,
        }
    }

    /// An id for the change, the same however often the change is delivered, so
    /// receivers can drop duplicates (SNS and WebSocket messages carry the same one).
    pub fn message_id(self, alert: &Alert) -> String {
        format!(
            "{}:{}:v{}:{}",
            alert.id,
            self.as_str(),
            alert.version,
            alert.updated_at.timestamp_micros()
        )
    }
}
