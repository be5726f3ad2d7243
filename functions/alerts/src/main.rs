//! `alerts` Lambda: GET/POST /alerts, GET/PUT /alerts/{id}, POST /alerts/bulk,
//! GET /alerts/{id}/history, and GET /feedback (the verdicts as training data).

use vigil::{config::Config, startup::Services};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let services = Services::from_config(config).await?;
    lambda_http::run(alerts::app(&services)).await
}
