use crate::domain::{Alert, AlertStatus, Category, Severity};
use serde::{Deserialize, Serialize};

/// What happened to an alert that subscribers may care about. Pure counter updates
/// (another repeat of the same threat) are deliberately not notified: they would page
/// people for every packet of an ongoing attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Created,
    /// Severity rose (repeats of a threat got worse).
    Escalated,
    StatusChanged,
}

impl NotifyEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Created => "created",
            NotifyEvent::Escalated => "escalated",
            NotifyEvent::StatusChanged => "status_changed",
        }
    }
}

/// The message published to the topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable for one alert change: a redelivered stream record yields the same id, so
    /// subscribers can drop duplicates.
    pub message_id: String,
    pub event: NotifyEvent,
    pub alert_id: String,
    pub category: Category,
    pub severity: Severity,
    pub status: AlertStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<AlertStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_severity: Option<Severity>,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    pub updated_at: String,
}

impl Notification {
    /// The notification for a change from `old` to `new` (either may be absent), if
    /// the change is one subscribers are told about.
    pub fn for_change(old: Option<&Alert>, new: Option<&Alert>) -> Option<Self> {
        let new = new?;
        let (event, previous_status, previous_severity) = match old {
            None => (NotifyEvent::Created, None, None),
            Some(old) if old.status != new.status => {
                (NotifyEvent::StatusChanged, Some(old.status), None)
            }
            Some(old) if new.severity > old.severity => {
                (NotifyEvent::Escalated, None, Some(old.severity))
            }
            Some(_) => return None,
        };
        Some(Self {
            message_id: format!(
                "{}:{}:v{}:{}",
                new.id,
                event.as_str(),
                new.version,
                new.updated_at.timestamp_micros()
            ),
            event,
            alert_id: new.id.to_string(),
            category: new.category,
            severity: new.severity,
            status: new.status,
            previous_status,
            previous_severity,
            count: new.count,
            summary: new.summary.clone(),
            assignee: new.assignee.as_ref().map(|a| a.to_string()),
            updated_at: new.updated_at.to_rfc3339(),
        })
    }
}
