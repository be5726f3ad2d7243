//! Floor 2: the HTTP layer every router shares — the one error type, request bodies
//! parsed into fields with precise errors, the bearer guard, and request telemetry.

mod body;
mod client_addr;
mod cors;
mod csv;
mod error;
mod guard;
pub mod idempotency;
pub mod query;
mod request_span;

pub use body::{
    Fields, JsonBody, RawBody, Validation, media_type, parse, parse_object, reads_as_json,
};
pub use client_addr::ClientAddr;
pub use cors::cors_layer;
pub use csv::{accepts_csv, csv_response};
pub use error::{ApiError, FieldError, Problem, error_chain};
pub use guard::{Authenticator, Caller};
pub use request_span::request_span;

use axum::Router;

/// Applied once to the composed app (a function's router, or every router merged in
/// `vigil-local`): problem+json for unknown routes and wrong methods, and a span per
/// request carrying its request id.
pub fn finish_router(router: Router) -> Router {
    router
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(request_span))
}
