use super::Invalid;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// What a caller may do. `Sensor` is for machines that submit network data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Analyst,
    Viewer,
    Sensor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Analyst, Role::Viewer, Role::Sensor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
            Role::Sensor => "sensor",
        }
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Invalid::new("must be one of admin, analyst, viewer, sensor"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
