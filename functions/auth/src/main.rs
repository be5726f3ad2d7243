//! `auth` Lambda: POST /auth/login, POST /auth/register, GET /auth/me,
//! GET /auth/users, PUT /auth/users/{username}.

use vigil::{auth::BootstrapOutcome, config::Config, startup::Services};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let services = Services::from_config(config).await?;
    // First admin: the stack's generated secret is used once, when no `admin` exists.
    if let Some(password) = services.configured_admin_password().await?
        && services.ensure_admin(password).await? == BootstrapOutcome::Created
    {
        tracing::info!("created the first admin user 'admin'");
    }
    lambda_http::run(auth::app(&services)).await
}
