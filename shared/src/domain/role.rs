use serde::{Deserialize, Serialize};

/// What a caller may do. `Sensor` is for machines that submit network data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Analyst,
    Viewer,
    Sensor,
}

words!(Role {
    Admin => "admin",
    Analyst => "analyst",
    Viewer => "viewer",
    Sensor => "sensor",
});
