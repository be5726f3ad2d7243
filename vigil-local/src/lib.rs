//! The local server's app: every capability's router merged behind one port.

use std::sync::Arc;
use vigil::{detect::Detector, http::finish_router, startup::Services, store::StoreError};

/// Every route of every function, with the same handlers the Lambdas run.
pub fn app(services: &Services, detector: Arc<Detector>) -> axum::Router {
    finish_router(
        vigil::auth::router(services.auth_state())
            .merge(vigil::detect::api::router(services.predict_state(detector)))
            .merge(vigil::alerts::router(services.alerts_state())),
    )
}

/// `--init`: creates the DynamoDB tables as `template.yaml` defines them, if missing.
pub async fn init_resources(services: &Services) -> Result<(), StoreError> {
    use vigil::config::StoreConfig;
    if let (StoreConfig::DynamoDb(tables), Some(aws)) = (&services.config.store, &services.aws) {
        let client = aws_sdk_dynamodb::Client::new(aws);
        vigil::store::dynamodb::create_tables(&client, tables).await?;
        tracing::info!(users = %tables.users, alerts = %tables.alerts, "tables ready");
    }
    Ok(())
}
