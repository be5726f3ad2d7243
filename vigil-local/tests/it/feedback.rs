//! Alerts keep their evidence (the first and the latest record, with why), and the
//! analysts' verdicts on them come back out as training data at `GET /feedback`.

use crate::common::{TestApp, fields, problem};
use serde_json::{Value, json};
use vigil_testkit::records::{port_scan, syn_flood, web_browsing, with_context};

/// A SYN flood record from one source, seen at `minute` past ten, with `count` as a
/// mark that tells the records apart.
fn flood_at(minute: u32, count: u32) -> Value {
    let mut record = with_context(
        syn_flood(),
        json!({"src_ip": "192.0.2.7", "dst_ip": "10.0.0.9", "dst_port": 80,
               "observed_at": format!("2026-12-01T10:{minute:02}:00Z")}),
    );
    record["count"] = json!(count);
    record
}

/// The CSV line of a record's 41 features (what evidence keeps), via the parser.
fn line_of(record: &Value) -> String {
    vigil::detect::ConnectionRecord::from_json(record, 0)
        .unwrap()
        .to_csv_line()
}

async fn predict(app: &TestApp, token: &str, records: Vec<Value>) -> Value {
    let response = app.predict_json(token, json!({ "records": records })).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn alert(app: &TestApp, token: &str, id: &str) -> Value {
    app.get_alert(token, id).await.json().await.unwrap()
}

async fn close(app: &TestApp, token: &str, id: &str, status: &str) {
    let version = alert(app, token, id).await["version"].clone();
    let response = app
        .update_alert(token, id, json!({"version": version, "status": status}))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn an_alert_keeps_its_first_and_latest_record_with_why() {
    // Given a sensor that sends a flood in two batches, out of order in the first
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let first = predict(
        &app,
        &sensor,
        vec![flood_at(1, 201), flood_at(3, 203), flood_at(2, 202)],
    )
    .await;
    let id = first["predictions"][0]["alert_id"].as_str().unwrap();

    // Then the alert holds the earliest and the latest record, each explained
    let analyst = app.user_token("ana", "analyst").await;
    let evidence = alert(&app, &analyst, id).await["evidence"].clone();
    assert_eq!(evidence["first"]["record"], line_of(&flood_at(1, 201)));
    assert_eq!(evidence["latest"]["record"], line_of(&flood_at(3, 203)));
    assert_eq!(evidence["first"]["seen_at"], "2026-12-01T10:01:00Z");
    assert_eq!(evidence["first"]["profile"], "balanced");
    assert_eq!(
        evidence["latest"]["explanation"].as_array().unwrap().len(),
        vigil::detect::TOP_FEATURES
    );
    assert_eq!(
        evidence["first"]["explanation"],
        first["predictions"][0]["explanation"]
    );

    // When the flood goes on in a later batch
    predict(&app, &sensor, vec![flood_at(9, 209)]).await;

    // Then the latest record moves and the first stays, however many repeat
    let alert = alert(&app, &analyst, id).await;
    assert_eq!(alert["count"], 4);
    assert_eq!(
        alert["evidence"]["first"]["record"],
        line_of(&flood_at(1, 201))
    );
    assert_eq!(
        alert["evidence"]["latest"]["record"],
        line_of(&flood_at(9, 209))
    );
}

#[tokio::test]
async fn verdicts_come_back_as_labelled_records_in_json_and_csv() {
    // Given a flood an analyst calls a false positive, and a scan resolved as real
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let admin = app.admin_token().await;
    let scan = with_context(port_scan(), json!({"src_ip": "198.51.100.4"}));
    let body = predict(
        &app,
        &sensor,
        vec![
            flood_at(1, 201),
            flood_at(2, 202),
            scan.clone(),
            web_browsing(),
        ],
    )
    .await;
    let flood_id = body["predictions"][0]["alert_id"].as_str().unwrap();
    let scan_id = body["predictions"][2]["alert_id"].as_str().unwrap();
    assert_ne!(flood_id, scan_id);
    close(&app, &admin, flood_id, "false_positive").await;
    close(&app, &admin, scan_id, "resolved").await;
    let scan_category = alert(&app, &admin, scan_id).await["category"].clone();

    // When the admin exports the feedback
    let response = app.feedback(&admin, "").await;

    // Then each verdict gives its records: the flood's two as normal, the scan's one
    // with its category, newest alert first
    assert_eq!(response.status(), 200);
    let export: Value = response.json().await.unwrap();
    let items = export["items"].as_array().unwrap();
    let labelled: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["alert_id"].as_str().unwrap(),
                i["label"].as_str().unwrap(),
                i["record"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        labelled,
        [
            (
                scan_id,
                scan_category.as_str().unwrap(),
                line_of(&scan).as_str()
            ),
            (flood_id, "normal", line_of(&flood_at(1, 201)).as_str()),
            (flood_id, "normal", line_of(&flood_at(2, 202)).as_str()),
        ]
    );
    assert_eq!(items[1]["verdict"], "false_positive");
    assert!(export["next_cursor"].is_null());

    // And the CSV form is NSL-KDD's columns and the label, which predict reads back
    let csv = app.feedback(&admin, "format=csv").await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert_eq!(
        csv.lines().next().unwrap().to_owned() + "\n",
        vigil::feedback::feedback_csv_header()
    );
    assert!(csv.lines().nth(2).unwrap().ends_with(",normal"));
    let rescored = app.predict_csv(&admin, csv).await;
    assert_eq!(rescored.status(), 200);
    let rescored: Value = rescored.json().await.unwrap();
    assert_eq!(rescored["summary"]["records"], 3);
}

#[tokio::test]
async fn the_export_pages_by_alert_and_links_the_next_page() {
    // Given three closed floods from three sources
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let admin = app.admin_token().await;
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let mut record = syn_flood();
        record["src_ip"] = json!(ip);
        record["dst_ip"] = json!(format!("10.0.0.{}", &ip[8..]));
        let body = predict(&app, &sensor, vec![record]).await;
        let id = body["predictions"][0]["alert_id"].as_str().unwrap();
        close(&app, &admin, id, "false_positive").await;
    }

    // When the admin reads them two alerts at a time
    let page: Value = app.feedback(&admin, "limit=2").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .feedback(&admin, &format!("limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();

    // Then the second page holds the rest, and CSV names the next page in `Link`
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let csv = app.feedback(&admin, "limit=2&format=csv").await;
    let link = csv.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.starts_with("</feedback?limit=2&format=csv&cursor="),
        "{link}"
    );
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
}

#[tokio::test]
async fn only_admins_export_and_bad_parameters_are_named() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;

    problem(app.feedback(&analyst, "").await, 403).await;
    assert_eq!(app.get("/feedback", None).await.status(), 401);
    let bad = problem(
        app.feedback(&admin, "limit=0&format=xml&from=yesterday&label=x")
            .await,
        400,
    )
    .await;
    assert_eq!(fields(&bad), ["limit", "format", "from", "label"]);
    problem(
        app.feedback(&admin, "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z")
            .await,
        422,
    )
    .await;
    problem(app.feedback(&admin, "cursor=nope").await, 422).await;
}
