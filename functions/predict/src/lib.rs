//! The predict function's app: the shared detection router, finished for serving alone.

use std::sync::Arc;
use vigil::{detect::Detector, http::finish_router, startup::Services};

pub fn app(services: &Services, detector: Arc<Detector>) -> axum::Router {
    finish_router(vigil::detect::api::router(services.predict_state(detector)))
}
