//! The alerts function's app: the shared alert router, finished for serving alone.

use vigil::{http::finish_router, startup::Services};

pub fn app(services: &Services) -> axum::Router {
    finish_router(
        vigil::alerts::router(services.alerts_state())
            .merge(vigil::feedback::router(services.alerts_state())),
    )
}
