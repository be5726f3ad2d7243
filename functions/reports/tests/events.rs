//! The reports function driven by its API Gateway event fixtures (`events/reports/`).

use vigil_testkit::{embedded_services, fixture, serve_event};

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
