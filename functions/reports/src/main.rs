//! `reports` Lambda: GET /reports.

use vigil::{config::Config, startup::Services};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let services = Services::from_config(config).await?;
    lambda_http::run(reports::app(&services)).await
}
