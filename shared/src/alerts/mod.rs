//! Floor 3: the alert workflow — list, create, read, update, bulk status changes.
//! Served by the `alerts` Lambda and by `vigil-local`.

mod cursor;
pub mod handlers;
mod input;
mod view;

pub use cursor::Cursor;

use crate::{
    http::Authenticator,
    store::{AlertStore, UserStore},
};
use axum::{
    Router,
    extract::FromRef,
    routing::{get, post},
};
use std::{sync::Arc, time::Duration};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
pub const MAX_BULK: usize = 100;
/// History entries a page (one BatchGetItem call).
pub const MAX_HISTORY_PAGE: usize = 100;

#[derive(Clone)]
pub struct AlertsState {
    pub alerts: Arc<dyn AlertStore>,
    pub users: Arc<dyn UserStore>,
    pub authenticator: Authenticator,
    pub dedup_window: Duration,
}

impl FromRef<AlertsState> for Authenticator {
    fn from_ref(state: &AlertsState) -> Self {
        state.authenticator.clone()
    }
}

/// The alert routes; the caller adds [`crate::http::finish_router`] once.
pub fn router(state: AlertsState) -> Router {
    Router::new()
        .route("/alerts", get(handlers::list).post(handlers::create))
        .route("/alerts/bulk", post(handlers::bulk))
        .route("/alerts/{id}", get(handlers::get_one).put(handlers::update))
        .route("/alerts/{id}/history", get(handlers::history))
        .with_state(state)
}
