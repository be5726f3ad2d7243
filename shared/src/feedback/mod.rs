//! Floor 3: `GET /feedback` — the analysts' verdicts as training data. An alert the
//! model raised and an analyst closed is a labelled example: its evidence (the first
//! and the latest record) with `normal` for a false positive, or its category for a
//! threat resolved as real. `make model DATA=... FEEDBACK=...` trains with the export.
//! Served by the `alerts` Lambda and by `vigil-local` (admins only).

pub mod handlers;
mod input;
mod view;

pub use input::FeedbackFormat;
pub use view::{FEEDBACK_CSV_EXAMPLE, FeedbackList, Label, feedback_csv_header};

use crate::alerts::AlertsState;
use axum::{Router, routing::get};

/// Alerts read per page of the export (each gives one or two records).
pub const DEFAULT_LIMIT: usize = 200;
pub const MAX_LIMIT: usize = 1000;

pub fn router(state: AlertsState) -> Router {
    Router::new()
        .route("/feedback", get(handlers::export))
        .with_state(state)
}
