use super::{Role, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored user. `password_hash` is an Argon2id PHC string; it never leaves the
/// service (responses use [`crate::auth::UserView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub username: Username,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    /// The generation of the user's tokens: every token carries the one it was issued
    /// in, and only the current one is accepted. A password change or a disable moves
    /// it on, so every earlier token stops working at its next request.
    #[serde(default)]
    pub token_generation: u32,
    /// Optimistic locking: a replace names the version it was based on (0 for users
    /// stored before versions existed).
    #[serde(default)]
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A new, enabled user at version 1, its first token generation.
    pub fn new(username: Username, role: Role, password_hash: String, now: DateTime<Utc>) -> Self {
        Self {
            username,
            role,
            password_hash,
            disabled: false,
            token_generation: 0,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}
