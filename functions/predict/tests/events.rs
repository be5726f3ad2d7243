//! The predict function driven by its API Gateway event fixtures (`events/predict/`).

use std::sync::Arc;
use vigil::detect::Detector;
use vigil_testkit::{embedded_services, fixture, serve_event};

#[tokio::test]
async fn json_and_csv_fixtures_are_scored_and_the_flood_becomes_an_alert() {
    let (services, token) = embedded_services().await;
    let detector = Arc::new(Detector::bundled().unwrap());

    let (status, json) = serve_event(
        predict::app(&services, detector.clone()),
        &fixture("predict/predict-json.json", &token),
    )
    .await;
    let (csv_status, csv) = serve_event(
        predict::app(&services, detector),
        &fixture("predict/predict-csv.json", &token),
    )
    .await;

    assert_eq!(status, 200, "{json}");
    assert_eq!(csv_status, 200, "{csv}");
    for body in [&json, &csv] {
        assert_eq!(body["predictions"][0]["is_threat"], false, "{body}");
        assert_eq!(body["predictions"][1]["category"], "dos", "{body}");
    }
    assert!(json["predictions"][1]["alert_id"].is_string());
}

#[tokio::test]
async fn the_health_fixture_reports_the_bundled_model_without_a_token() {
    let (services, _token) = embedded_services().await;
    let detector = Arc::new(Detector::bundled().unwrap());
    let sha256 = detector.schema().model.sha256.clone();

    let (status, body) = serve_event(
        predict::app(&services, detector),
        &fixture("predict/health.json", ""),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["model"]["sha256"], sha256.as_str());
}
