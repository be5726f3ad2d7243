//! The alert workflow, end to end through a spawned server, as an analyst uses it.

use crate::common::{TestApp, fields, problem};
use serde_json::{Value, json};
use std::collections::HashSet;

/// A threat from `source` to a host of its own (172.x for 10.x), so that threats from
/// different sources are different attacks whatever their category groups by.
fn threat(source: &str, category: &str, severity: &str) -> Value {
    json!({
        "category": category, "severity": severity, "score": 0.93,
        "source": {"ip": source, "port": 4431},
        "destination": {"ip": source.replacen("10.", "172.", 1), "port": 80},
        "protocol": "tcp", "service": "http", "sensor": "edge-1",
        "summary": "synthetic test threat"
    })
}

async fn created(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.create_alert(token, body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let alert: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/alerts/{}", alert["id"].as_str().unwrap())
    );
    alert
}

#[tokio::test]
async fn a_new_threat_is_201_and_a_repeat_is_200_on_the_same_alert() {
    let app = TestApp::spawn().await;
    let sensor = app.user_token("edge-1", "sensor").await;

    let first = created(&app, &sensor, threat("10.0.0.5", "dos", "high")).await;
    let repeat = app
        .create_alert(&sensor, threat("10.0.0.5", "dos", "critical"))
        .await;

    assert_eq!(repeat.status(), 200);
    let repeat: Value = repeat.json().await.unwrap();
    assert_eq!(repeat["id"], first["id"]);
    assert_eq!(repeat["count"], 2);
    assert_eq!(repeat["severity"], "critical");
    assert_eq!(first["status"], "open");
    assert_eq!(first["version"], 1);
    assert_eq!(first["history"][0]["action"], "created");
}

#[tokio::test]
async fn alert_bodies_are_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;

    let response = app
        .create_alert(
            &analyst,
            json!({"category": "worm", "score": 1.5, "source": {"ip": "10.0.0.300", "port": 70000}, "colour": "red"}),
        )
        .await;

    let body = problem(response, 400).await;
    assert_eq!(
        fields(&body),
        [
            "category",
            "severity",
            "score",
            "source.ip",
            "source.port",
            "colour"
        ]
    );
}

#[tokio::test]
async fn viewers_read_but_do_not_write() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let viewer = app.user_token("vic", "viewer").await;
    let alert = created(&app, &analyst, threat("10.0.0.5", "dos", "high")).await;
    let id = alert["id"].as_str().unwrap();

    assert_eq!(app.get_alert(&viewer, id).await.status(), 200);
    assert_eq!(app.list_alerts(&viewer, "").await.status(), 200);
    problem(
        app.create_alert(&viewer, threat("10.0.0.6", "dos", "low"))
            .await,
        403,
    )
    .await;
    problem(
        app.update_alert(&viewer, id, json!({"version": 1, "status": "acknowledged"}))
            .await,
        403,
    )
    .await;
    problem(app.list_alerts("", "").await, 401).await;
}

#[tokio::test]
async fn the_workflow_acknowledges_conflicts_and_refuses_bad_transitions() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let alert = created(&app, &analyst, threat("10.0.0.5", "probe", "medium")).await;
    let id = alert["id"].as_str().unwrap();

    // Acknowledge and assign
    let ack = app
        .update_alert(
            &analyst,
            id,
            json!({"version": 1, "status": "acknowledged", "assignee": "ana", "note": "on it"}),
        )
        .await;
    assert_eq!(ack.status(), 200);
    let ack: Value = ack.json().await.unwrap();
    assert_eq!(
        (ack["status"].as_str(), ack["version"].as_u64()),
        (Some("acknowledged"), Some(2))
    );
    assert_eq!(ack["assignee"], "ana");
    let last = &ack["history"].as_array().unwrap()[1];
    assert_eq!(
        (
            last["by"].as_str(),
            last["from"].as_str(),
            last["to"].as_str()
        ),
        (Some("ana"), Some("open"), Some("acknowledged"))
    );
    assert_eq!(last["note"], "on it");

    // A stale version is 409 with the current alert
    let stale = problem(
        app.update_alert(&analyst, id, json!({"version": 1, "status": "resolved"}))
            .await,
        409,
    )
    .await;
    assert_eq!(stale["current"]["version"], 2);

    // Resolve, then a move the workflow forbids is 422 naming it
    let resolved = app
        .update_alert(&analyst, id, json!({"version": 2, "status": "resolved"}))
        .await;
    assert_eq!(resolved.status(), 200);
    let bad = problem(
        app.update_alert(
            &analyst,
            id,
            json!({"version": 3, "status": "acknowledged"}),
        )
        .await,
        422,
    )
    .await;
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("from resolved to acknowledged")
    );
    assert_eq!(fields(&bad), ["status"]);

    // Reopening is allowed
    let reopened = app
        .update_alert(&analyst, id, json!({"version": 3, "status": "open"}))
        .await;
    assert_eq!(reopened.status(), 200);
}

#[tokio::test]
async fn updates_are_validated() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let alert = created(&app, &analyst, threat("10.0.0.5", "dos", "high")).await;
    let id = alert["id"].as_str().unwrap();

    let no_version = app
        .update_alert(&analyst, id, json!({"status": "resolved"}))
        .await;
    let nothing = app.update_alert(&analyst, id, json!({"version": 1})).await;
    let ghost = app
        .update_alert(&analyst, id, json!({"version": 1, "assignee": "ghost"}))
        .await;
    let missing = app
        .update_alert(
            &analyst,
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            json!({"version": 1, "note": "x"}),
        )
        .await;
    let garbage = app.get_alert(&analyst, "not-an-id").await;

    assert_eq!(fields(&problem(no_version, 400).await), ["version"]);
    assert_eq!(fields(&problem(nothing, 400).await), ["body"]);
    assert_eq!(fields(&problem(ghost, 422).await), ["assignee"]);
    problem(missing, 404).await;
    problem(garbage, 404).await;
}

#[tokio::test]
async fn lists_filter_by_every_parameter() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let dos = created(&app, &analyst, threat("10.0.0.1", "dos", "critical")).await;
    created(&app, &analyst, threat("10.0.0.2", "probe", "low")).await;
    let r2l = created(&app, &analyst, threat("10.0.0.3", "r2l", "high")).await;
    app.update_alert(
        &analyst,
        r2l["id"].as_str().unwrap(),
        json!({"version": 1, "status": "investigating", "assignee": "ana"}),
    )
    .await;
    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |q: &'static str| {
        let app = &app;
        let analyst = analyst.clone();
        async move {
            let response = app.list_alerts(&analyst, q).await;
            assert_eq!(response.status(), 200, "{q}");
            response.json::<Value>().await.unwrap()
        }
    };

    assert_eq!(ids(&list("").await).len(), 3);
    assert_eq!(
        ids(&list("severity=high").await),
        [r2l["id"].as_str().unwrap(), dos["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&list("category=dos").await),
        [dos["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&list("status=investigating").await),
        [r2l["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&list("status=open&status=investigating").await).len(),
        3
    );
    assert_eq!(ids(&list("status=open,investigating").await).len(), 3);
    assert_eq!(
        ids(&list("assignee=ana").await),
        [r2l["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&list("source_ip=10.0.0.1").await),
        [dos["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&list("from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z").await).len(),
        0
    );
    assert_eq!(ids(&list("from=2000-01-01T00:00:00Z").await).len(), 3);
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_them() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let body = problem(
        app.list_alerts(
            &analyst,
            "status=closed&severity=huge&limit=500&from=yesterday&colour=red",
        )
        .await,
        400,
    )
    .await;
    assert_eq!(
        fields(&body),
        ["status", "severity", "limit", "from", "colour"]
    );
    let forged = problem(
        app.list_alerts(&analyst, "cursor=bm90LWEtY3Vyc29y").await,
        422,
    )
    .await;
    assert_eq!(fields(&forged), ["cursor"]);
}

#[tokio::test]
async fn paging_covers_every_alert_once_and_cursors_stay_with_their_filters() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let mut all = HashSet::new();
    for i in 0..23 {
        let alert = created(
            &app,
            &analyst,
            threat(&format!("10.0.1.{i}"), "dos", "high"),
        )
        .await;
        all.insert(alert["id"].as_str().unwrap().to_owned());
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=5&cursor={c}"),
            None => "limit=5".to_owned(),
        };
        let page: Value = app
            .list_alerts(&analyst, &query)
            .await
            .json()
            .await
            .unwrap();
        for a in page["items"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }

    assert_eq!(seen.len(), 23, "no repeats");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all, "no gaps");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    // A cursor from one listing does not fit another.
    let first: Value = app
        .list_alerts(&analyst, "limit=5")
        .await
        .json()
        .await
        .unwrap();
    let c = first["next_cursor"].as_str().unwrap();
    problem(
        app.list_alerts(&analyst, &format!("limit=5&severity=low&cursor={c}"))
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn bulk_resolves_with_a_result_per_id() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let a = created(&app, &analyst, threat("10.0.0.1", "dos", "high")).await;
    let b = created(&app, &analyst, threat("10.0.0.2", "dos", "high")).await;
    let closed = created(&app, &analyst, threat("10.0.0.3", "dos", "high")).await;
    app.update_alert(
        &analyst,
        closed["id"].as_str().unwrap(),
        json!({"version": 1, "status": "false_positive"}),
    )
    .await;

    let response = app
        .bulk_alerts(
            &analyst,
            json!({"ids": [a["id"], b["id"], closed["id"], "01ARZ3NDEKTSV4RRFFQ69G5FAV"], "status": "resolved", "note": "patched"}),
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["updated"], 2);
    let outcomes: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["updated", "updated", "invalid_transition", "not_found"]
    );
    let stored: Value = app
        .get_alert(&analyst, a["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["status"], "resolved");
    let too_many: Vec<String> = (0..101)
        .map(|_| "01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned())
        .collect();
    let body = problem(
        app.bulk_alerts(&analyst, json!({"ids": too_many, "status": "resolved"}))
            .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["ids"]);
}

#[tokio::test]
async fn a_long_worked_alert_stays_small_and_its_whole_history_pages() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let alert = created(&app, &analyst, threat("10.0.0.5", "r2l", "high")).await;
    let id = alert["id"].as_str().unwrap();
    let note = "n".repeat(2000);

    for version in 1..=80 {
        let response = app
            .update_alert(&analyst, id, json!({"version": version, "note": note}))
            .await;
        assert_eq!(response.status(), 200, "note {version}");
    }

    let alert: Value = app.get_alert(&analyst, id).await.json().await.unwrap();
    assert_eq!(alert["history_total"], 81);
    let kept = alert["history"].as_array().unwrap();
    assert!(kept.len() < 50 && !kept.is_empty(), "{} kept", kept.len());
    assert_eq!(kept.last().unwrap()["seq"], 81);

    let mut seqs = Vec::new();
    let mut query = "limit=30".to_owned();
    loop {
        let page: Value = app
            .alert_history(&analyst, id, &query)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], 81);
        seqs.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        match page["next_from"].as_u64() {
            Some(next) => query = format!("limit=30&from={next}"),
            None => break,
        }
    }
    assert_eq!(seqs, (1..=81).collect::<Vec<u64>>());
    assert_eq!(
        fields(&problem(app.alert_history(&analyst, id, "limit=0").await, 400).await),
        ["limit"]
    );
}

#[tokio::test]
async fn alerts_say_what_attack_they_are_and_list_by_tactic_or_technique() {
    // Given a flood and a scan
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let flood = created(&app, &analyst, threat("203.0.113.1", "dos", "high")).await;
    let scan = created(&app, &analyst, threat("203.0.113.2", "probe", "medium")).await;

    // Then each alert names its ATT&CK tactics and techniques
    let shown: Value = app
        .get_alert(&analyst, flood["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["attack"]["tactics"],
        json!([{"id": "TA0040", "name": "Impact"}])
    );
    assert_eq!(shown["attack"]["techniques"][0]["id"], "T1498");
    assert_eq!(scan["attack"]["tactics"][1]["id"], "TA0043");

    // And the list filters by either
    for (query, expected) in [
        ("tactic=TA0040", &flood),
        ("technique=T1595", &scan),
        ("tactic=TA0007&category=probe", &scan),
    ] {
        let page: Value = app.list_alerts(&analyst, query).await.json().await.unwrap();
        let ids: Vec<&Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["id"])
            .collect();
        assert_eq!(ids, [&expected["id"]], "{query}");
    }
    // And says what is wrong with an id it does not use, or with a contradiction
    let unknown = problem(app.list_alerts(&analyst, "tactic=TA9999").await, 400).await;
    assert_eq!(fields(&unknown), ["tactic"]);
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("TA0040")
    );
    let contradiction = problem(
        app.list_alerts(&analyst, "technique=T1498&category=probe")
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&contradiction), ["technique"]);
}
