//! `GET /health`: is this deployment up, which Vigil is it, and which model does it run.
//! No authentication: load balancers, uptime checks and the frontend's status page call
//! it. It reads nothing from the stores on purpose, so a health probe can never add load
//! to DynamoDB or fail because of it.

use crate::domain::Model;
use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The body of `GET /health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the service answers.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Vigil's version (the workspace version).
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// The model this deployment scores with; absent from functions that run none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
}

impl Health {
    pub fn new(model: Option<Model>) -> Self {
        Self {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            model,
        }
    }
}

/// Service status, version and model.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    operation_id = "health",
    security(()),
    responses(
        (status = 200, description = "The service is up", body = Health),
    ),
)]
pub async fn health(State(health): State<Arc<Health>>) -> Json<Health> {
    Json(health.as_ref().clone())
}

/// The health route; the caller adds [`crate::http::finish_router`] once.
pub fn router(info: Health) -> Router {
    Router::new()
        .route("/health", get(self::health))
        .with_state(Arc::new(info))
}
