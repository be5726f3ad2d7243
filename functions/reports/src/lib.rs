//! The reports function's app: the shared reports router, finished for serving alone.

use vigil::{http::finish_router, startup::Services};

pub fn app(services: &Services) -> axum::Router {
    finish_router(vigil::reports::router(services.reports_state()))
}
