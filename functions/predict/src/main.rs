//! `predict` Lambda: POST /threat-detection/predict (and its alias POST /predict).

use std::{sync::Arc, time::Instant};
use vigil::{config::Config, detect::Detector, startup::Services};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let started = Instant::now();
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let profile = config.detection_profile;
    let services = Services::from_config(config).await?;
    // Once per cold start: parse, optimise and plan the bundled model.
    let detector = Arc::new(Detector::bundled()?.with_profile(profile));
    let model = &detector.schema().model;
    tracing::info!(
        model = %model.name,
        version = %model.version,
        profile = %profile,
        ready_ms = started.elapsed().as_secs_f64() * 1000.0,
        "model ready"
    );
    lambda_http::run(predict::app(&services, detector)).await
}
