//! CSV answers: the routes that offer one (reports, predict's compact form, the
//! feedback export) decide and answer it the same way.

use axum::{
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};

/// Whether the client asked for CSV with its `Accept` header.
pub fn accepts_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
}

/// A `text/csv` answer.
pub fn csv_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}
