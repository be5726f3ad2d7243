//! The auth function's app: the shared auth router, finished for serving alone.

use vigil::{http::finish_router, startup::Services};

pub fn app(services: &Services) -> axum::Router {
    finish_router(vigil::auth::router(services.auth_state()))
}
