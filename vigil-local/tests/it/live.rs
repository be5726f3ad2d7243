//! Live alerts on vigil-local: a real WebSocket client trades a token for a ticket,
//! connects to `/ws`, subscribes, and receives the alert a predict request creates,
//! as the contract (`asyncapi.json`) describes it.

use crate::common::{LiveSocket, Received, TestApp, problem};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vigil_testkit::records::{csv_line, port_scan};

/// A port-scan record as a sensor's CSV: a probe alert, high or medium, never critical.
fn scan_csv() -> String {
    format!("{}\n", csv_line(&port_scan()))
}

/// The next message on `socket` within `wait`, which must be one.
async fn message(socket: &mut LiveSocket, wait: Duration) -> Value {
    match socket.next(wait).await {
        Received::Message(m) => m,
        other => panic!("expected a message within {wait:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_predicted_threat_reaches_a_matching_subscriber_within_a_second_and_no_stricter_one() {
    // Given an analyst subscribed to medium and above, and a viewer to critical only
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let viewer = app.user_token("vic", "viewer").await;
    let sensor = app.user_token("edge", "sensor").await;
    let mut ana = app.live(&analyst).await;
    let mut vic = app.live(&viewer).await;
    assert_eq!(
        ana.subscribe(json!({"min_severity": "medium"})).await,
        json!({"type": "subscribed", "filters": {"min_severity": "medium"}})
    );
    assert_eq!(
        vic.subscribe(json!({"min_severity": "critical"})).await["type"],
        "subscribed"
    );

    // When a sensor posts a port scan as CSV
    let sent = Instant::now();
    let response = app.predict_csv(&sensor, scan_csv()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let alert_id = body["predictions"][0]["alert_id"].clone();
    assert!(alert_id.is_string(), "{body}");

    // Then the analyst receives the new alert within a second, as GET /alerts/{id} has it
    let pushed = message(&mut ana, Duration::from_secs(1)).await;
    let latency = sent.elapsed();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert_eq!(pushed["type"], "created");
    assert_eq!(pushed["alert"]["id"], alert_id);
    assert_ne!(pushed["alert"]["severity"], "critical");
    let stored: Value = app
        .get_alert(&analyst, alert_id.as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pushed["alert"], stored);
    assert_eq!(pushed["at"], stored["updated_at"]);
    // And the critical-only viewer receives nothing
    assert_eq!(
        vic.next(Duration::from_millis(300)).await,
        Received::Nothing
    );

    // When the analyst acknowledges it
    let update = app
        .update_alert(
            &analyst,
            alert_id.as_str().unwrap(),
            json!({"status": "acknowledged", "version": stored["version"]}),
        )
        .await;
    assert_eq!(update.status(), 200);

    // Then that is pushed too
    let changed = message(&mut ana, Duration::from_secs(1)).await;
    assert_eq!(changed["type"], "status_changed");
    assert_eq!(changed["alert"]["status"], "acknowledged");
}

#[tokio::test]
async fn a_ticket_opens_one_socket_once_within_its_minute_and_nothing_else_opens_one() {
    // Given a ticket
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let response = app.ws_ticket(&admin).await;
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["expires_in"], 60);
    let ticket = issued["ticket"].as_str().unwrap().to_owned();

    // When it is used twice
    let first = app.open_ws(&ticket).await;
    let second = app.open_ws(&ticket).await;

    // Then the first opens a socket and the second is refused
    assert!(first.is_ok());
    assert_eq!(second.err(), Some(401));
    // And so are a made-up ticket, a malformed one and none
    let made_up = "A".repeat(43);
    for bad in [made_up.as_str(), "short", ""] {
        assert_eq!(app.open_ws(bad).await.err(), Some(401), "{bad:?}");
    }
    // And so is a ticket past its minute
    let expired = vigil::live::Ticket::generate();
    let grant = vigil::live::TicketGrant {
        username: vigil::domain::Username::parse("admin").unwrap(),
        generation: 0,
        expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
    };
    app.services
        .stores
        .live
        .issue_ticket(&expired.hash(), &grant)
        .await
        .unwrap();
    assert_eq!(app.open_ws(expired.expose()).await.err(), Some(401));
    // And a ticket needs a token
    problem(
        app.client
            .post(app.url("/auth/ws-ticket"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    // And a plain GET (no upgrade) spends no ticket
    let ticket = app.ticket(&admin).await;
    let plain = app.get(&format!("/ws?ticket={ticket}"), None).await;
    assert!(plain.status().is_client_error(), "{}", plain.status());
    assert!(app.open_ws(&ticket).await.is_ok());
}

#[tokio::test]
async fn a_ticket_issued_before_a_password_reset_opens_nothing() {
    // Given a ticket for an analyst
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;
    let ticket = app.ticket(&analyst).await;

    // When an admin resets their password (which ends their tokens)
    let reset = app
        .update_user(&admin, "ana", json!({"password": "a brand new passphrase"}))
        .await;
    assert_eq!(reset.status(), 200);

    // Then the ticket, traded for one of those tokens, is refused too
    assert_eq!(app.open_ws(&ticket).await.err(), Some(401));
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut socket = app.live(&admin).await;
    socket.send(json!({"action": "ping"})).await;
    assert_eq!(
        message(&mut socket, Duration::from_secs(5)).await,
        json!({"type": "pong"})
    );
}

#[tokio::test]
async fn a_client_too_slow_to_keep_up_is_told_to_reconnect() {
    // Given a client that reads nothing while thousands of alerts open
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut socket = app.live(&admin).await;
    assert_eq!(socket.subscribe(json!({})).await["type"], "subscribed");
    let now = chrono::Utc::now();
    for _ in 0..4_000 {
        let threat = vigil_testkit::threats::sighting(
            vigil::domain::Category::Dos,
            vigil::domain::Severity::High,
            now,
        );
        let alert = vigil::domain::Alert::open(threat, "edge-1", now);
        app.services.stores.alerts.create(&alert).await.unwrap();
    }

    // When it reads at last
    let mut received = 0;
    let closed = loop {
        match socket.next(Duration::from_secs(10)).await {
            Received::Message(_) => received += 1,
            other => break other,
        }
    };

    // Then after what it had buffered, the server closed it with "try again" (1013)
    // rather than leave a gap it cannot see
    assert_eq!(
        closed,
        Received::Closed(Some(1013)),
        "after {received} messages"
    );
    assert!(received < 4_000, "{received}");
}

#[tokio::test]
async fn a_bad_message_is_answered_and_the_socket_stays_open() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut socket = app.live(&admin).await;

    socket
        .send(json!({"action": "watch", "categories": ["dos", "tsunami"]}))
        .await;

    let reply = message(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(reply["type"], "error");
    let fields: Vec<&str> = reply["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"action") && fields.contains(&"categories[1]"),
        "{reply}"
    );
    assert_eq!(socket.subscribe(json!({})).await["type"], "subscribed");
}

#[tokio::test]
async fn a_disabled_users_socket_is_closed_at_the_next_event() {
    // Given an analyst connected live
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let sensor = app.user_token("edge", "sensor").await;
    let admin = app.admin_token().await;
    let mut ana = app.live(&analyst).await;

    // When an admin disables them, and then an alert is created
    let disabled = app
        .update_user(&admin, "ana", json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status(), 200);
    app.predict_csv(&sensor, scan_csv()).await;

    // Then the socket is closed (policy), not sent the alert
    assert_eq!(
        ana.next(Duration::from_secs(5)).await,
        Received::Closed(Some(1008))
    );
}

#[tokio::test]
async fn the_console_page_and_the_contract_are_served() {
    let app = TestApp::spawn().await;
    let page = app.get("/console", None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/auth/ws-ticket") && html.contains("/ws?ticket="));
    let doc: Value = app.get("/asyncapi.json", None).await.json().await.unwrap();
    assert_eq!(doc, vigil::live::asyncapi::document());
}

#[test]
fn the_committed_asyncapi_json_is_what_the_code_generates() {
    crate::common::assert_committed("asyncapi.json", &vigil::live::asyncapi::document_json());
}

/// The required properties of schema `name` in the document, followed through `$ref`s.
fn required(doc: &Value, name: &str) -> Vec<String> {
    doc["components"]["schemas"][name]["required"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn pushed_messages_have_every_property_the_contract_requires() {
    // Given the contract, and a pushed event and a subscribe reply
    let doc = vigil::live::asyncapi::document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sensor = app.user_token("edge", "sensor").await;
    let mut socket = app.live(&admin).await;
    let subscribed = socket.subscribe(json!({"categories": ["probe"]})).await;
    app.predict_csv(&sensor, scan_csv()).await;
    let event = message(&mut socket, Duration::from_secs(5)).await;

    // Then each has what its schema requires, and the event's alert what an alert does
    for (schema, value) in [
        ("Subscribed", &subscribed),
        ("EventMessage", &event),
        ("Alert", &event["alert"]),
    ] {
        let needed = required(&doc, schema);
        assert!(!needed.is_empty(), "{schema} requires something");
        for property in needed {
            assert!(
                value.get(&property).is_some(),
                "{schema}.{property} missing in {value}"
            );
        }
    }
    // And every message the channel lists has a payload schema in the document
    for (name, message) in doc["components"]["messages"].as_object().unwrap() {
        let reference = message["payload"]["$ref"].as_str().unwrap();
        let schema = reference.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{name}: {reference}"
        );
    }
}
