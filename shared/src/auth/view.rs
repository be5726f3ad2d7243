//! What the auth routes answer.

use crate::domain::{Role, User, Username};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub username: Username,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            username: u.username.clone(),
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The reply to `POST /auth/login`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LoginResponse {
    /// A JWT (HS256) to send as `Authorization: Bearer <token>`.
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
    pub user: LoginUser,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LoginUser {
    pub username: Username,
    pub role: Role,
}

/// `GET /auth/users`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserList {
    pub items: Vec<UserView>,
}
