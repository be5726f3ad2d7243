use crate::domain::{Alert, Category, Role, Severity, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a connection is kept without a `$disconnect`: API Gateway closes every
/// WebSocket after two hours, so an item older than that is a connection whose
/// `$disconnect` was lost (the table's TTL removes it; readers skip it before that).
pub const CONNECTION_TTL: chrono::Duration = chrono::Duration::hours(2);

/// API Gateway's id of one WebSocket connection (locally, one the server made up).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(pub String);

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which alert events a connection receives. Empty filters receive every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Filters {
    /// Only alerts at least this severe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only alerts of these categories (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
}

impl Filters {
    pub fn matches(&self, alert: &Alert) -> bool {
        self.min_severity.is_none_or(|min| alert.severity >= min)
            && (self.categories.is_empty() || self.categories.contains(&alert.category))
    }
}

/// One open WebSocket: whose it is and what it asked for. Bounded: the filters hold at
/// most one of each category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub username: Username,
    /// The role when the connection opened (for the record; access is checked against
    /// the user as stored at each push).
    pub role: Role,
    /// The user's token generation when the connection opened: a password reset or a
    /// disable since then ends the connection at the next push, as it ends tokens.
    pub generation: u32,
    pub filters: Filters,
    pub connected_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Connection {
    pub fn open(id: ConnectionId, user: &crate::domain::User, now: DateTime<Utc>) -> Self {
        Self {
            id,
            username: user.username.clone(),
            role: user.role,
            generation: user.token_generation,
            filters: Filters::default(),
            connected_at: now,
            expires_at: now + CONNECTION_TTL,
        }
    }

    /// Whether `user` (as stored now) may still receive on this connection.
    pub fn still_allowed(&self, user: Option<&crate::domain::User>) -> bool {
        user.is_some_and(|u| !u.disabled && u.token_generation == self.generation)
    }
}
