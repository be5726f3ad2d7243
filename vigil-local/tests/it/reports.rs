//! GET /reports through a spawned server: totals match what was created.

use crate::common::{TestApp, fields, problem};
use serde_json::{Value, json};

async fn create(app: &TestApp, token: &str, source: &str, category: &str, severity: &str) -> Value {
    let body = json!({"category": category, "severity": severity, "source": {"ip": source}, "sensor": "edge-1"});
    app.create_alert(token, body).await.json().await.unwrap()
}

#[tokio::test]
async fn a_report_counts_what_was_created_and_changed() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let a = create(&app, &analyst, "10.0.0.1", "dos", "high").await;
    create(&app, &analyst, "10.0.0.1", "dos", "high").await; // a repeat: same alert, count 2
    create(&app, &analyst, "10.0.0.2", "probe", "low").await;
    create(&app, &analyst, "10.0.0.3", "r2l", "critical").await;
    let id = a["id"].as_str().unwrap();
    app.update_alert(
        &analyst,
        id,
        json!({"version": 1, "status": "acknowledged"}),
    )
    .await;
    app.update_alert(&analyst, id, json!({"version": 2, "status": "resolved"}))
        .await;

    let report: Value = app
        .report(&analyst, "period=24h")
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(report["total"], 3);
    assert_eq!(report["occurrences"], 4);
    assert_eq!(report["by_category"]["dos"], 1);
    assert_eq!(report["by_severity"]["critical"], 1);
    assert_eq!(report["by_status"]["resolved"], 1);
    assert_eq!(report["by_status"]["open"], 2);
    assert_eq!(
        report["top_sources"][0],
        json!({"ip": "10.0.0.1", "occurrences": 2})
    );
    assert!(report["mtta_seconds"].as_f64().is_some());
    assert!(report["mttr_seconds"].as_f64().is_some());
    let series_total: i64 = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["total"].as_i64().unwrap())
        .sum();
    assert_eq!(series_total, 3);

    let filtered: Value = app
        .report(&analyst, "period=24h&severity=high&status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["by_category"]["r2l"], 1);
}

#[tokio::test]
async fn reports_come_as_csv_on_request() {
    let app = TestApp::spawn().await;
    let viewer = app.user_token("vic", "viewer").await;
    let analyst = app.user_token("ana", "analyst").await;
    create(&app, &analyst, "10.0.0.1", "dos", "high").await;

    let by_param = app.report(&viewer, "period=24h&format=csv").await;
    let by_accept = app
        .client
        .get(app.url("/reports?period=24h"))
        .bearer_auth(&viewer)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();

    assert!(
        by_param.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = by_param.text().await.unwrap();
    assert!(text.starts_with("bucket_start,total,occurrences\n"));
    let total: i64 = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 1);
    assert_eq!(by_accept.text().await.unwrap(), text);
}

#[tokio::test]
async fn bad_report_parameters_are_400_and_impossible_frames_422() {
    let app = TestApp::spawn().await;
    let viewer = app.user_token("vic", "viewer").await;
    let body = problem(
        app.report(&viewer, "period=1y&bucket=week&status=done&x=1")
            .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["period", "bucket", "status", "x"]);
    let too_long = problem(
        app.report(&viewer, "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z")
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&too_long), ["from"]);
    problem(app.report("", "").await, 401).await;
}
