//! The live binary, run as Lambda runs it, over DynamoDB in moto: on the WebSocket
//! API's event fixtures (`events/live/`) a ticket opens one connection once, a
//! subscribe sets its filters and answers what is in force, a disconnect forgets it;
//! on the alerts stream (`events/notify/stream.json`) it pushes the events through
//! moto's Management API, and asks for no retry even when API Gateway is down.

use serde_json::Value;
use vigil::{
    domain::Username,
    live::{Filters, Ticket, TicketGrant},
    store::Stores,
};
use vigil_testkit::{
    RuntimeApi, aws_available, dynamo_admin_token, dynamo_tables, fixture_with, lambda_env,
};

struct Live {
    runtime: RuntimeApi,
    stores: Stores,
}

/// The live binary over fresh tables that hold `admin`.
async fn live() -> Live {
    live_pushing_to(&vigil_testkit::apigateway::endpoint()).await
}

/// The same, pushing through the Management API at `endpoint`.
async fn live_pushing_to(endpoint: &str) -> Live {
    let tables = dynamo_tables().await.expect("moto is running");
    dynamo_admin_token(&tables).await;
    let mut env = lambda_env(&tables);
    env.push(("VIGIL_WS_ENDPOINT", endpoint.to_owned()));
    let mut runtime = RuntimeApi::start().await;
    runtime.spawn_function(env!("CARGO_BIN_EXE_live"), "live", &env);
    let config = vigil::config::StoreConfig::DynamoDb(tables);
    let stores = Stores::from_config(&config, Some(&vigil::aws::load_sdk_config().await));
    Live { runtime, stores }
}

impl Live {
    /// A ticket for admin, as `POST /auth/ws-ticket` issues it.
    async fn ticket(&self) -> String {
        let ticket = Ticket::generate();
        let grant = TicketGrant::new(Username::parse("admin").unwrap(), 0, chrono::Utc::now());
        self.stores
            .live
            .issue_ticket(&ticket.hash(), &grant)
            .await
            .unwrap();
        ticket.expose().to_owned()
    }

    async fn connect(&mut self, connection: &str, ticket: &str) -> Value {
        let event = fixture_with(
            "live/connect.json",
            &[("{{ticket}}", ticket), ("{{connection_id}}", connection)],
        );
        self.runtime
            .respond(serde_json::from_str(&event).unwrap())
            .await
    }

    async fn send(&mut self, connection: &str, body: &Value) -> (u64, Value) {
        let body = body.to_string();
        let escaped = serde_json::to_string(&body).unwrap();
        let event = fixture_with(
            "live/subscribe.json",
            &[
                ("\"{{body}}\"", escaped.as_str()),
                ("{{connection_id}}", connection),
            ],
        );
        let response = self
            .runtime
            .respond(serde_json::from_str(&event).unwrap())
            .await;
        let reply = serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap();
        (response["statusCode"].as_u64().unwrap(), reply)
    }

    async fn disconnect(&mut self, connection: &str) -> Value {
        let event = fixture_with("live/disconnect.json", &[("{{connection_id}}", connection)]);
        self.runtime
            .respond(serde_json::from_str(&event).unwrap())
            .await
    }

    /// An admin's connection, open at moto's API Gateway, as `$connect` stores it.
    async fn admin_connected(&self) -> String {
        let id = format!("conn-{}", ulid::Ulid::new());
        vigil_testkit::apigateway::open_connection(&id).await;
        let admin = self
            .stores
            .users
            .get(&Username::parse("admin").unwrap())
            .await
            .unwrap()
            .unwrap();
        // Connected a while ago: past the handshake's grace, a 410 means gone.
        let at = chrono::Utc::now() - chrono::Duration::minutes(1);
        let connection =
            vigil::live::Connection::open(vigil::live::ConnectionId(id.clone()), &admin, at);
        self.stores.live.connect(&connection).await.unwrap();
        id
    }

    async fn stream(&mut self) -> Value {
        let event = vigil_testkit::fixture("notify/stream.json", "");
        self.runtime
            .respond(serde_json::from_str(&event).unwrap())
            .await
    }

    async fn connected(&self) -> Vec<vigil::live::Connection> {
        self.stores
            .live
            .connections(chrono::Utc::now())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_ticket_opens_one_connection_once() {
    if !aws_available() {
        return;
    }
    // Given a ticket for admin
    let mut live = live().await;
    let ticket = live.ticket().await;

    // When a browser connects with it
    let response = live.connect("conn-a", &ticket).await;

    // Then the handshake is accepted and the connection stored, for admin
    assert_eq!(response["statusCode"], 200, "{response}");
    let connected = live.connected().await;
    assert_eq!(connected.len(), 1);
    assert_eq!(connected[0].username.as_str(), "admin");
    assert_eq!(connected[0].filters, Filters::default());

    // And the same ticket, a made-up one and none at all are refused
    for (id, ticket) in [
        ("conn-b", ticket.as_str()),
        ("conn-c", Ticket::generate().expose()),
        ("conn-d", "not-a-ticket"),
    ] {
        let response = live.connect(id, ticket).await;
        assert_eq!(response["statusCode"], 401, "{id}: {response}");
    }
    assert_eq!(live.connected().await.len(), 1);
}

#[tokio::test]
async fn a_subscribe_sets_the_filters_and_a_disconnect_forgets_the_connection() {
    if !aws_available() {
        return;
    }
    // Given an open connection
    let mut live = live().await;
    let ticket = live.ticket().await;
    live.connect("conn-s", &ticket).await;

    // When it subscribes to critical dos alerts
    let (status, reply) = live
        .send(
            "conn-s",
            &serde_json::json!({"action": "subscribe", "min_severity": "critical", "categories": ["dos"]}),
        )
        .await;

    // Then the reply says what is in force, and so does the table
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        serde_json::json!({"type": "subscribed", "filters": {"min_severity": "critical", "categories": ["dos"]}})
    );
    assert_eq!(
        live.connected().await[0].filters.min_severity,
        Some(vigil::domain::Severity::Critical)
    );

    // And a message it cannot take is answered with each field at fault
    let (status, reply) = live
        .send(
            "conn-s",
            &serde_json::json!({"action": "subscribe", "min_severity": "urgent"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["errors"][0]["field"], "min_severity");

    // When it disconnects
    let response = live.disconnect("conn-s").await;

    // Then it is forgotten, and a late message is told to reconnect
    assert_eq!(response["statusCode"], 200);
    assert!(live.connected().await.is_empty());
    let (status, reply) = live
        .send("conn-s", &serde_json::json!({"action": "subscribe"}))
        .await;
    assert_eq!(status, 410, "{reply}");
}

#[tokio::test]
async fn the_streams_alert_events_are_pushed_to_a_connected_browser() {
    if !aws_available() {
        return;
    }
    // Given an admin connected live
    let mut live = live().await;
    let connection = live.admin_connected().await;

    // When the live function gets the stream fixture (a creation, a dedup pointer, a
    // status change, a count-only change)
    let response = live.stream().await;

    // Then the browser has the two events, in order, and no record is retried
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let posts = vigil_testkit::apigateway::posts(&connection).await.unwrap();
    let kinds: Vec<&str> = posts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "status_changed"]);
    assert_eq!(posts[0]["alert"]["severity"], "high");
}

#[tokio::test]
async fn an_unreachable_api_gateway_costs_the_push_not_a_retry() {
    if !aws_available() {
        return;
    }
    // Given an admin connected, but API Gateway not answering
    let mut live = live_pushing_to("http://127.0.0.1:9").await;
    live.admin_connected().await;

    // When the live function gets the stream fixture
    let response = live.stream().await;

    // Then it answers with no failures (Lambda moves on) and forgets no connection
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    assert_eq!(live.connected().await.len(), 1);
}
