//! Floor 3: `GET /reports` — what happened over a time frame, from the hourly report
//! counters the stores keep up to date (never by reading every alert).

pub mod handlers;
mod input;
mod report;

pub use input::{Bucket, ReportFormat, ReportPeriod};
pub use report::{Report, ReportFilter, build_report};

use crate::{http::Authenticator, store::AlertStore};
use axum::{Router, extract::FromRef, routing::get};
use std::sync::Arc;

/// The longest time frame one report may cover (about a quarter).
pub const MAX_DAYS: i64 = 92;

#[derive(Clone)]
pub struct ReportsState {
    pub alerts: Arc<dyn AlertStore>,
    pub authenticator: Authenticator,
}

impl FromRef<ReportsState> for Authenticator {
    fn from_ref(state: &ReportsState) -> Self {
        state.authenticator.clone()
    }
}

pub fn router(state: ReportsState) -> Router {
    Router::new()
        .route("/reports", get(handlers::get_report))
        .with_state(state)
}
