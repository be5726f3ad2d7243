//! Floor 3: the auth capability — login, registration, the caller, user management.
//! `router` is served by the `auth` Lambda and by `vigil-local` alike.

mod bootstrap;
pub mod handlers;
mod input;
mod passwords;
mod view;

pub use bootstrap::{BootstrapError, BootstrapOutcome, ensure_admin};
pub use passwords::{PasswordError, generate_password, hash_password, verify_password};
pub use view::UserView;

use crate::{
    http::Authenticator,
    store::{LiveStore, UserStore},
    token::TokenKeys,
};
use axum::{
    Router,
    extract::FromRef,
    routing::{get, post, put},
};
use std::{sync::Arc, time::Duration};

/// After this many failed logins for one username inside [`LOCKOUT_WINDOW`], further
/// attempts get 429 until the window has passed.
pub const MAX_FAILED_LOGINS: u32 = 5;
pub const LOCKOUT_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct AuthState {
    pub users: Arc<dyn UserStore>,
    pub tokens: Arc<TokenKeys>,
    /// Where WebSocket tickets are kept.
    pub live: Arc<dyn LiveStore>,
}

impl FromRef<AuthState> for Authenticator {
    fn from_ref(state: &AuthState) -> Self {
        Authenticator {
            tokens: state.tokens.clone(),
            users: state.users.clone(),
        }
    }
}

/// The auth routes; the caller adds [`crate::http::finish_router`] once.
pub fn router(state: AuthState) -> Router {
    Router::new()
        .route("/auth/login", post(handlers::login))
        .route("/auth/register", post(handlers::register))
        .route("/auth/me", get(handlers::me))
        .route("/auth/users", get(handlers::list_users))
        .route("/auth/users/{username}", put(handlers::update_user))
        .route("/auth/ws-ticket", post(handlers::ws_ticket))
        .with_state(state)
}
