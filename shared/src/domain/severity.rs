use serde::{Deserialize, Serialize};

/// How urgent an alert is. Ordered: `Low < Medium < High < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

words!(Severity {
    Low => "low",
    Medium => "medium",
    High => "high",
    Critical => "critical",
});

impl Severity {
    /// The numeric score (1-4) used for sorting and "at least" filters.
    pub fn score(self) -> u8 {
        self as u8 + 1
    }
}
