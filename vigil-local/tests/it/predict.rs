//! POST /threat-detection/predict, end to end through a spawned server.

use crate::common::{TestApp, fields, problem};
use serde_json::{Value, json};
use vigil_testkit::records::{csv_line, port_scan, syn_flood, web_browsing, with_context};

fn flood_from(ip: &str) -> Value {
    with_context(
        syn_flood(),
        json!({"src_ip": ip, "dst_ip": "10.0.0.9", "dst_port": 80, "sensor": "edge-1"}),
    )
}

#[tokio::test]
async fn json_records_get_one_prediction_each() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;

    let response = app
        .predict_json(
            &analyst,
            json!({"records": [web_browsing(), syn_flood()], "store": false}),
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"]["name"], "vigil-nslkdd-mlp");
    assert_eq!(body["model"]["sha256"].as_str().unwrap().len(), 64);
    let predictions = body["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    for (i, p) in predictions.iter().enumerate() {
        assert_eq!(p["index"], i);
        let total: f64 = p["probabilities"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-3, "probabilities sum to 1: {p}");
        assert!(p["alert_id"].is_null());
    }
    assert_eq!(predictions[0]["is_threat"], false, "{}", predictions[0]);
    assert_eq!(predictions[0]["category"], "normal");
    assert_eq!(predictions[1]["is_threat"], true, "{}", predictions[1]);
    assert_eq!(predictions[1]["category"], "dos");
    assert_eq!(body["summary"]["records"], 2);
    assert_eq!(body["summary"]["threats"], 1);
}

#[tokio::test]
async fn csv_records_with_a_header_and_labels_score_like_json() {
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let header = "duration,protocol_type,service,flag";
    let csv = format!(
        "{header}\n{},normal,21\n{},neptune,21\n",
        csv_line(&web_browsing()),
        csv_line(&syn_flood())
    );

    let from_csv: Value = app.predict_csv(&sensor, csv).await.json().await.unwrap();
    let from_json: Value = app
        .predict_json(
            &sensor,
            json!({"records": [web_browsing(), syn_flood()], "store": false}),
        )
        .await
        .json()
        .await
        .unwrap();

    for i in 0..2 {
        assert_eq!(
            from_csv["predictions"][i]["score"],
            from_json["predictions"][i]["score"]
        );
    }
}

#[tokio::test]
async fn threats_become_alerts_and_repeats_aggregate() {
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let batch = json!({"records": [flood_from("192.0.2.7"), flood_from("192.0.2.7"), web_browsing(), flood_from("192.0.2.7")]});

    let first: Value = app
        .predict_json(&sensor, batch.clone())
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app.predict_json(&sensor, batch).await.json().await.unwrap();

    assert_eq!(first["summary"]["alerts_created"], 1);
    assert_eq!(second["summary"]["alerts_created"], 0);
    assert_eq!(second["summary"]["alerts_updated"], 1);
    let id = first["predictions"][0]["alert_id"].as_str().unwrap();
    assert_eq!(second["predictions"][3]["alert_id"], id);
    assert!(first["predictions"][2]["alert_id"].is_null());
    let alert = app
        .services
        .stores
        .alerts
        .get(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.count, 6);
    assert_eq!(alert.category.as_str(), "dos");
    assert_eq!(alert.sensor.as_deref(), Some("edge-1"));
    assert_eq!(alert.source.unwrap().ip.unwrap().to_string(), "192.0.2.7");
}

#[tokio::test]
async fn store_false_in_the_query_scores_without_storing() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let response = app
        .client
        .post(app.url("/threat-detection/predict?store=false"))
        .bearer_auth(&analyst)
        .json(&json!({"records": [syn_flood()]}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["summary"]["threats"], 1);
    assert!(body["predictions"][0]["alert_id"].is_null());
}

#[tokio::test]
async fn the_short_alias_answers_too() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let response = app
        .client
        .post(app.url("/predict"))
        .bearer_auth(&analyst)
        .json(&json!({"records": [web_browsing()], "store": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bad_records_are_400_naming_record_and_field() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let mut bad = syn_flood();
    bad["serror_rate"] = json!(1.5);
    bad["src_bytes"] = json!(-3);
    let mut missing = web_browsing();
    missing.as_object_mut().unwrap().remove("flag");

    let response = app
        .predict_json(&analyst, json!({"records": [web_browsing(), bad, missing]}))
        .await;

    let body = problem(response, 400).await;
    assert_eq!(
        fields(&body),
        [
            "records[1].src_bytes",
            "records[1].serror_rate",
            "records[2].flag"
        ]
    );
    assert_eq!(body["errors"][0]["index"], 1);
    assert_eq!(body["errors"][2]["index"], 2);
    // Nothing was stored for a rejected batch.
    let page = app
        .services
        .stores
        .alerts
        .list(&vigil::store::AlertQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn bad_csv_lines_are_400_naming_line_and_field() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let broken = csv_line(&web_browsing()).replacen("tcp", "tcp,extra", 1);
    let short = "0,tcp,http,SF".to_owned();

    let body = problem(
        app.predict_csv(&analyst, format!("{broken}\n{short}\n"))
            .await,
        400,
    )
    .await;

    // The extra cell shifts line 1's columns: its first bad one is named first.
    let named = fields(&body);
    assert_eq!(named.first().map(String::as_str), Some("line 1: src_bytes"));
    assert_eq!(named.last().map(String::as_str), Some("line 2"));
    assert_eq!(
        body["errors"].as_array().unwrap().last().unwrap()["index"],
        1
    );
}

#[tokio::test]
async fn malformed_requests_are_rejected_clearly() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;

    let empty = app.predict_json(&analyst, json!({"records": []})).await;
    let not_array = app.predict_json(&analyst, json!({"records": {}})).await;
    let not_object = app.predict_json(&analyst, json!({"records": [42]})).await;
    let bad_store = app
        .client
        .post(app.url("/threat-detection/predict?store=maybe&colour=red"))
        .bearer_auth(&analyst)
        .json(&json!({"records": [web_browsing()]}))
        .send()
        .await
        .unwrap();
    let xml = app
        .predict_raw(&analyst, "", "application/xml", "<records/>".into())
        .await;

    assert_eq!(fields(&problem(empty, 400).await), ["records"]);
    assert_eq!(fields(&problem(not_array, 400).await), ["records"]);
    assert_eq!(fields(&problem(not_object, 400).await), ["records[0]"]);
    // Every bad query parameter is named, not just the first.
    assert_eq!(fields(&problem(bad_store, 400).await), ["store", "colour"]);
    problem(xml, 415).await;
}

#[tokio::test]
async fn oversized_batches_are_413() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let line = csv_line(&web_browsing());
    let too_many = format!("{line}\n").repeat(10_001);
    let too_big = format!("{line},{}\n", "x".repeat(7 * 1024 * 1024));

    let body = problem(app.predict_csv(&analyst, too_many).await, 413).await;
    assert!(body["detail"].as_str().unwrap().contains("10000 records"));
    problem(app.predict_csv(&analyst, too_big).await, 413).await;
}

#[tokio::test]
async fn a_full_batch_of_ten_thousand_is_scored() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let line = csv_line(&web_browsing());
    let response = app
        .client
        .post(app.url("/threat-detection/predict?store=false"))
        .bearer_auth(&analyst)
        .header("content-type", "text/csv")
        .body(format!("{line}\n").repeat(10_000))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["summary"]["records"], 10_000);
}

#[tokio::test]
async fn viewers_and_anonymous_callers_cannot_predict() {
    let app = TestApp::spawn().await;
    let viewer = app.user_token("vic", "viewer").await;
    let body = json!({"records": [web_browsing()]});
    problem(app.predict_json(&viewer, body.clone()).await, 403).await;
    problem(app.predict_json("", body).await, 401).await;
}

#[tokio::test]
async fn a_json_media_type_with_a_suffix_is_read_as_json_like_every_json_body() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;

    let body = json!({"records": [web_browsing()]}).to_string();
    let json_type = "application/vnd.vigil+json; charset=utf-8";
    let response = app
        .predict_raw(&analyst, "?store=false", json_type, body)
        .await;

    assert_eq!(response.status(), 200);
}

/// Source number `i` of a flood, as an IPv4 address in 198.18.0.0/15.
fn source(i: usize) -> String {
    std::net::Ipv4Addr::from(0xc612_0000u32 + i as u32).to_string()
}

#[tokio::test]
async fn a_flood_from_hundreds_of_sources_is_one_alert_that_summarises_them() {
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;

    let mut summaries = Vec::new();
    for batch in 0..3 {
        let records: Vec<Value> = (0..300)
            .map(|i| flood_from(&source(batch * 300 + i)))
            .collect();
        let body: Value = app
            .predict_json(&sensor, json!({ "records": records }))
            .await
            .json()
            .await
            .unwrap();
        summaries.push(body["summary"].clone());
    }

    assert_eq!(summaries[0]["alerts_created"], 1, "{summaries:?}");
    assert_eq!(summaries[1]["alerts_updated"], 1, "{summaries:?}");
    assert_eq!(summaries[2]["alerts_updated"], 1, "{summaries:?}");
    let alerts: Value = app.list_alerts(&sensor, "").await.json().await.unwrap();
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one attack, one alert: {alerts}");
    let alert = &items[0];
    assert_eq!(alert["count"], 900);
    let distinct = alert["sources"]["distinct"].as_f64().unwrap();
    assert!(
        (distinct - 900.0).abs() <= 18.0,
        "sources.distinct {distinct}"
    );
    assert!(alert["sources"]["top"].as_array().unwrap().len() <= 20);
    assert!(
        alert.get("targets").is_none(),
        "a flood is grouped by target"
    );
}

#[tokio::test]
async fn a_scan_of_a_thousand_ports_is_one_alert() {
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let records: Vec<Value> = (0..1000)
        .map(|port| {
            with_context(
                port_scan(),
                json!({"src_ip": "203.0.113.66", "dst_ip": "10.0.0.9", "dst_port": port + 1}),
            )
        })
        .collect();

    let body: Value = app
        .predict_json(&sensor, json!({ "records": records }))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(body["summary"]["threats"], 1000, "{}", body["summary"]);
    assert_eq!(body["summary"]["alerts_created"], 1);
    let alert: Value = app
        .get_alert(
            &sensor,
            body["predictions"][0]["alert_id"].as_str().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alert["category"], "probe");
    assert_eq!(alert["count"], 1000);
    assert_eq!(alert["sources"]["distinct"], 1);
    assert_eq!(alert["targets"]["distinct"], 1);
    let ports = alert["ports"]["distinct"].as_f64().unwrap();
    assert!((ports - 1000.0).abs() <= 20.0, "ports.distinct {ports}");
}

#[tokio::test]
async fn a_resend_with_the_same_idempotency_key_changes_nothing() {
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;
    let batch = json!({"records": [flood_from("192.0.2.7"), flood_from("192.0.2.8")]});
    let key = "\"batch-0001\"";

    let first: Value = app
        .predict_with_key(&sensor, key, &batch)
        .await
        .json()
        .await
        .unwrap();
    let resent: Value = app
        .predict_with_key(&sensor, key, &batch)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(first["summary"]["alerts_created"], 1);
    assert_eq!(
        resent["predictions"][0]["alert_id"], first["predictions"][0]["alert_id"],
        "the stored outcome"
    );
    let alerts: Value = app.list_alerts(&sensor, "").await.json().await.unwrap();
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1);
    assert_eq!(alerts["items"][0]["count"], 2, "counted once, not twice");

    let other = json!({"records": [flood_from("192.0.2.9")]});
    let refused = problem(app.predict_with_key(&sensor, key, &other).await, 422).await;
    assert_eq!(fields(&refused), ["Idempotency-Key"]);
}

#[tokio::test]
async fn the_model_is_inspectable_by_any_role() {
    // Given a viewer
    let app = TestApp::spawn().await;
    let viewer = app.user_token("vic", "viewer").await;

    // When they ask for the model
    let response = app.get("/model", Some(&viewer)).await;

    // Then it says what it is, reads, decides by, scored on validation and finds
    assert_eq!(response.status(), 200);
    let model: Value = response.json().await.unwrap();
    assert_eq!(model["name"], "vigil-nslkdd-mlp");
    assert_eq!(model["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(model["features"].as_array().unwrap().len(), 41);
    assert_eq!(
        model["features"][1],
        json!({"name": "protocol_type", "kind": "categorical"})
    );
    // At the deployment's profile, with every profile's thresholds and figures
    assert_eq!(model["profile"], "balanced");
    let profiles = model["profiles"].as_array().unwrap();
    let names: Vec<&str> = profiles
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["strict", "balanced", "sensitive"]);
    assert_eq!(model["decision"]["threshold"], profiles[1]["threshold"]);
    assert_eq!(
        model["decision"]["novelty_threshold"],
        profiles[1]["novelty_threshold"]
    );
    assert!(
        model["validation"]["random_split"]["accuracy"]
            .as_f64()
            .unwrap()
            > 0.9
    );
    assert!(
        model["validation"]["heldout"]["folds"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    assert!(model["validation"]["heldout_normals"]["mean_fpr_normal"].is_number());
    assert!(model["validation"]["shortcuts"]["service"]["swap_flip_rate"].is_number());
    assert!(profiles[0]["validation"]["heldout_normals"]["mean_fpr_normal"].is_number());
    assert_eq!(model["attack"].as_array().unwrap().len(), 5);
    assert_eq!(model["attack"][0]["attack"]["tactics"][0]["id"], "TA0040");
    // And nobody without a token
    assert_eq!(app.get("/model", None).await.status(), 401);
}

#[tokio::test]
async fn every_threat_says_why_and_a_normal_record_says_nothing() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;

    let response = app
        .predict_json(
            &analyst,
            json!({"records": [web_browsing(), syn_flood(), syn_flood()], "store": false}),
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let predictions = body["predictions"].as_array().unwrap();
    assert!(
        predictions[0].get("explanation").is_none(),
        "{}",
        predictions[0]
    );
    // Each verdict names the profile that decided it
    assert_eq!(body["profile"], "balanced");
    assert!(predictions.iter().all(|p| p["profile"] == "balanced"));
    let why = predictions[1]["explanation"].as_array().unwrap();
    assert_eq!(why.len(), 3, "{why:?}");
    let names: Vec<&str> = vigil::detect::FEATURES.iter().map(|(n, _)| *n).collect();
    for part in why {
        assert!(names.contains(&part["feature"].as_str().unwrap()), "{part}");
        assert!(
            part["contribution"].is_number() && !part["value"].is_null(),
            "{part}"
        );
    }
    // Most first, and the first pushed the record towards its verdict
    let sizes: Vec<f64> = why
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap().abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert!(why[0]["contribution"].as_f64().unwrap() > 0.0);
    // The same record, the same explanation
    assert_eq!(predictions[1]["explanation"], predictions[2]["explanation"]);
}

#[tokio::test]
async fn machines_can_ask_for_the_compact_csv_answer() {
    // Given a sensor that asks for CSV back
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge", "sensor").await;
    let records = json!({"records": [web_browsing(), syn_flood()], "store": false});
    let json_answer: Value = app
        .predict_json(&sensor, records.clone())
        .await
        .json()
        .await
        .unwrap();

    // When it posts the records with `Accept: text/csv`
    let response = app
        .client
        .post(app.url("/threat-detection/predict"))
        .bearer_auth(&sensor)
        .header("accept", "text/csv")
        .json(&records)
        .send()
        .await
        .unwrap();

    // Then the answer is the header and a line per record, the same verdicts as JSON
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        vigil::detect::PREDICTIONS_CSV_HEADER.trim_end(),
        "the header the contract documents"
    );
    assert!(
        vigil::detect::PREDICTIONS_CSV_EXAMPLE.starts_with(vigil::detect::PREDICTIONS_CSV_HEADER)
    );
    assert_eq!(lines.len(), 3, "{text}");
    for (i, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let p = &json_answer["predictions"][i];
        assert_eq!(cells.len(), 9, "{line}");
        assert_eq!(cells[0], i.to_string());
        assert_eq!(cells[1], p["is_threat"].to_string());
        assert_eq!(cells[2], p["profile"].as_str().unwrap());
        assert_eq!(cells[3], p["category"].as_str().unwrap());
        assert_eq!(cells[4], p["severity"].as_str().unwrap_or(""));
    }
}
