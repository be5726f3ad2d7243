use super::Invalid;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

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

impl AlertStatus {
    pub const ALL: [AlertStatus; 5] = [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::Investigating,
        AlertStatus::Resolved,
        AlertStatus::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Investigating => "investigating",
            AlertStatus::Resolved => "resolved",
            AlertStatus::FalsePositive => "false_positive",
        }
    }

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

impl FromStr for AlertStatus {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AlertStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "must be one of open, acknowledged, investigating, resolved, false_positive",
                )
            })
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
