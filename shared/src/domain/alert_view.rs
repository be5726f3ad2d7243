use super::{Alert, Attack};
use serde::Serialize;

/// An alert as clients see it (`GET /alerts`, live messages): the alert, and what
/// MITRE ATT&CK calls it. The ATT&CK names follow from the category (see
/// `domain/attack.rs`), so they are added when shown, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    /// What MITRE ATT&CK calls it, by its category.
    pub attack: Attack,
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> Self {
        let attack = alert.category.attack();
        Self { alert, attack }
    }
}
