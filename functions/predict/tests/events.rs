//! The predict function driven by its API Gateway event fixtures (`events/predict/`):
//! in process, and as the real binary against a Runtime API emulator and DynamoDB.

use serde_json::Value;
use std::sync::Arc;
use vigil::detect::Detector;
use vigil_testkit::{
    api_response, embedded_services, fixture, serve_event, start_function_on_dynamodb,
};

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

#[tokio::test]
async fn the_lambda_binary_scores_the_fixture_and_writes_metrics_for_its_stage() {
    // Given tables in DynamoDB, an admin, and the predict binary as Lambda runs it,
    // with metrics on and a stage configured
    let metrics = [("VIGIL_METRICS", "emf"), ("VIGIL_STAGE", "ci")];
    let binary = env!("CARGO_BIN_EXE_predict");
    let Some((mut runtime, token)) = start_function_on_dynamodb(binary, "predict", &metrics).await
    else {
        return;
    };

    // When the JSON fixture arrives
    let event = serde_json::from_str(&fixture("predict/predict-json.json", &token)).unwrap();
    let (status, body) = api_response(&runtime.respond(event).await);

    // Then the flood is a stored threat and the scoring shows up as an EMF line
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predictions"][1]["category"], "dos", "{body}");
    assert!(body["predictions"][1]["alert_id"].is_string(), "{body}");
    let line = runtime
        .wait_for_stdout(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| v.get("RecordsScored").is_some())
        })
        .await
        .expect("an EMF line with RecordsScored on stdout");
    let emf: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(emf["RecordsScored"], 2.0);
    // With the drift signals: the share of records past the novelty threshold, and
    // the mean score, under the model's version
    assert!(
        (0.0..=100.0).contains(&emf["NoveltyShare"].as_f64().unwrap()),
        "{emf}"
    );
    assert!(
        (0.0..=1.0).contains(&emf["MeanScore"].as_f64().unwrap()),
        "{emf}"
    );
    assert_eq!(
        emf["ModelVersion"],
        vigil::detect::FeatureSchema::bundled()
            .unwrap()
            .model
            .version
    );
    assert_eq!(emf["Stage"], "ci");
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Vigil");
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
        serde_json::json!(["Stage", "ModelVersion"])
    );
}
