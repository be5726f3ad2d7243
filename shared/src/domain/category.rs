use super::Invalid;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// The kind of threat an alert is about: the four NSL-KDD attack families, plus
/// `Anomaly` for traffic the model finds novel without matching a known family.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Dos,
    Probe,
    R2l,
    U2r,
    Anomaly,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Dos,
        Category::Probe,
        Category::R2l,
        Category::U2r,
        Category::Anomaly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Dos => "dos",
            Category::Probe => "probe",
            Category::R2l => "r2l",
            Category::U2r => "u2r",
            Category::Anomaly => "anomaly",
        }
    }
}

impl FromStr for Category {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Invalid::new("must be one of dos, probe, r2l, u2r, anomaly"))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
