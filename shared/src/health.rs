//! `GET /health`: is this deployment up, which Vigil is it, and which model does it run.
//! No authentication: load balancers, uptime checks and the frontend's status page call
//! it. It reads nothing from the stores on purpose, so a health probe can never add load
//! to DynamoDB or fail because of it.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The bundled model a deployment serves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelHealth {
    #[schema(example = "vigil-mlp-novelty")]
    pub name: String,
    #[schema(example = "1.0.0")]
    pub version: String,
    /// SHA-256 of the bundled ONNX file, as its model card states it.
    #[schema(example = "99f00e90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c")]
    pub sha256: String,
}

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
    pub model: Option<ModelHealth>,
}

impl Health {
    pub fn new(model: Option<ModelHealth>) -> Self {
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

#[cfg(feature = "detect")]
impl From<&crate::detect::Detector> for ModelHealth {
    fn from(detector: &crate::detect::Detector) -> Self {
        let model = &detector.schema().model;
        Self {
            name: model.name.clone(),
            version: model.version.clone(),
            sha256: model.sha256.clone(),
        }
    }
}
