//! The reports function driven by its API Gateway event fixtures (`events/reports/`):
//! in process, and as the real binary against a Runtime API emulator and DynamoDB.

use vigil_testkit::{
    api_response, embedded_services, fixture, serve_event, start_function_on_dynamodb,
};

#[tokio::test]
async fn report_fixtures_answer_json_and_csv() {
    let (services, token) = embedded_services().await;

    let (status, json) = serve_event(
        reports::app(&services),
        &fixture("reports/report.json", &token),
    )
    .await;
    let (csv_status, csv) = serve_event(
        reports::app(&services),
        &fixture("reports/report-csv.json", &token),
    )
    .await;

    assert_eq!(status, 200, "{json}");
    assert_eq!(json["bucket"], "day");
    assert_eq!(json["total"], 0);
    assert_eq!(csv_status, 200);
    assert!(
        csv.as_str()
            .unwrap()
            .starts_with("bucket_start,total,occurrences")
    );
}

#[tokio::test]
async fn the_lambda_binary_answers_json_and_csv_reports() {
    // Given empty tables in DynamoDB, an admin, and the reports binary as Lambda runs it
    let binary = env!("CARGO_BIN_EXE_reports");
    let Some((mut runtime, token)) = start_function_on_dynamodb(binary, "reports", &[]).await
    else {
        return;
    };
    let event = |name: &str| serde_json::from_str(&fixture(name, &token)).unwrap();

    // When both report fixtures arrive
    let json = runtime.respond(event("reports/report.json")).await;
    let csv = runtime.respond(event("reports/report-csv.json")).await;

    // Then the JSON report counts nothing yet and the CSV one has its header
    let (status, body) = api_response(&json);
    assert_eq!(
        (status, &body["total"]),
        (200, &serde_json::json!(0)),
        "{body}"
    );
    assert_eq!(csv["statusCode"], 200);
    assert!(
        csv["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv["body"]
            .as_str()
            .unwrap()
            .starts_with("bucket_start,total,occurrences")
    );
}
