//! The predict function's app: the shared detection router, finished for serving alone.

use std::sync::Arc;
use vigil::{detect::Detector, health::Health, http::finish_router, startup::Services};

pub fn app(services: &Services, detector: Arc<Detector>) -> axum::Router {
    // GET /health is served here: predict is the function that has the model loaded.
    let health = Health::new(Some(detector.schema().model.clone()));
    finish_router(
        vigil::detect::router(services.predict_state(detector))
            .merge(vigil::health::router(health)),
    )
}
