use crate::domain::{Alert, AlertEvent, AlertStatus, Category, Severity};
use serde::{Deserialize, Serialize};

/// The message published to the topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable for one alert change: a redelivered stream record yields the same id, so
    /// subscribers can drop duplicates.
    pub message_id: String,
    pub event: AlertEvent,
    pub alert_id: String,
    pub category: Category,
    /// What MITRE ATT&CK calls it: tactic and technique ids (see the README's mapping).
    #[serde(default)]
    pub tactics: Vec<String>,
    #[serde(default)]
    pub techniques: Vec<String>,
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
        let event = AlertEvent::between(old, new)?;
        let previous_status = (event == AlertEvent::StatusChanged)
            .then(|| old.map(|o| o.status))
            .flatten();
        let previous_severity = (event == AlertEvent::Escalated)
            .then(|| old.map(|o| o.severity))
            .flatten();
        Some(Self {
            message_id: event.message_id(new),
            event,
            alert_id: new.id.to_string(),
            category: new.category,
            tactics: ids(new.category.attack().tactics),
            techniques: ids(new.category.attack().techniques),
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

fn ids(entries: &[crate::domain::AttackEntry]) -> Vec<String> {
    entries.iter().map(|e| e.id.to_owned()).collect()
}
