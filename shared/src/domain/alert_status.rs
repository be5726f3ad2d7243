use serde::{Deserialize, Serialize};

/// Where an alert is in the analyst workflow.
///
/// ```text
///   open ──► acknowledged ──► investigating ──► resolved ──┐
///    │  └───────────┴──────────────┴──────────► false_positive
///    ▲                                                     │
///    └──────────────────── reopen ◄────────────────────────┘
/// ```
/// Closed alerts (resolved, false positive) only go back to `open`: an analyst
/// reopens first, then works the alert again, so history shows the reopening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Investigating,
    Resolved,
    FalsePositive,
}

words!(AlertStatus {
    Open => "open",
    Acknowledged => "acknowledged",
    Investigating => "investigating",
    Resolved => "resolved",
    FalsePositive => "false_positive",
});

impl AlertStatus {
    /// Closed alerts no longer collect repeats of their threat.
    pub fn is_closed(self) -> bool {
        matches!(self, AlertStatus::Resolved | AlertStatus::FalsePositive)
    }

    /// Whether an analyst has taken the alert up: every status but `open`. The first
    /// move here is what "time to acknowledge" measures.
    pub fn is_acknowledged(self) -> bool {
        !matches!(self, AlertStatus::Open)
    }

    /// The workflow as code: may an alert in `self` move to `next`?
    pub fn can_move_to(self, next: AlertStatus) -> bool {
        use AlertStatus::*;
        matches!(
            (self, next),
            (
                Open,
                Acknowledged | Investigating | Resolved | FalsePositive
            ) | (
                Acknowledged,
                Open | Investigating | Resolved | FalsePositive
            ) | (Investigating, Acknowledged | Resolved | FalsePositive)
                | (Resolved | FalsePositive, Open)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::AlertStatus::*;

    #[test]
    fn closed_alerts_only_reopen() {
        for next in [Acknowledged, Investigating, FalsePositive] {
            assert!(!Resolved.can_move_to(next));
        }
        assert!(Resolved.can_move_to(Open));
        assert!(FalsePositive.can_move_to(Open));
    }

    #[test]
    fn no_status_moves_to_itself() {
        for s in super::AlertStatus::ALL {
            assert!(!s.can_move_to(s));
        }
    }

    #[test]
    fn open_alerts_can_be_worked_or_closed() {
        for next in [Acknowledged, Investigating, Resolved, FalsePositive] {
            assert!(Open.can_move_to(next));
        }
    }
}
