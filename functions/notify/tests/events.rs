//! The notify handler driven by the DynamoDB stream fixture (`events/notify/`):
//! a new alert and a status change notify; a dedup pointer and a count-only change
//! do not. In process with a recording publisher, and as the real binary publishing
//! to SNS in moto, read back from a subscribed SQS queue.

use aws_lambda_events::event::dynamodb::Event;
use serde_json::Value;
use vigil::{
    live::{Connection, ConnectionId},
    notify::{RecordingPublisher, handle_stream},
};
use vigil_testkit::{
    RuntimeApi, apigateway, aws_available, dynamo_admin_token, dynamo_tables,
    fanout::{Subscription, received, topic_with_queue},
    fixture, lambda_env,
};

#[tokio::test]
async fn the_stream_fixture_notifies_creation_and_status_change_only() {
    let event: Event = serde_json::from_str(&fixture("notify/stream.json", "")).unwrap();
    let recorder = RecordingPublisher::default();

    let response = handle_stream(event, &recorder, None).await;

    assert!(response.batch_item_failures.is_empty());
    let sent = recorder.published();
    let events: Vec<&str> = sent.iter().map(|n| n.event.as_str()).collect();
    assert_eq!(events, ["created", "status_changed"]);
    assert_eq!(sent[0].severity.as_str(), "high");
}

/// Runs the notify binary on the stream fixture with `topic_arn`; returns its answer.
async fn run_binary_on_fixture(topic_arn: &str) -> Value {
    let mut runtime = RuntimeApi::start().await;
    runtime.spawn_function(
        env!("CARGO_BIN_EXE_notify"),
        "notify",
        &[
            ("VIGIL_TOPIC_ARN", topic_arn),
            ("VIGIL_JWT_SECRET", vigil_testkit::TEST_JWT_SECRET),
        ],
    );
    let event = serde_json::from_str(&fixture("notify/stream.json", "")).unwrap();
    runtime.respond(event).await
}

#[tokio::test]
async fn the_lambda_binary_publishes_the_fixture_to_a_subscribed_queue() {
    // Given a topic in moto with a queue subscribed
    if !aws_available() {
        return;
    }
    let aws = aws_config::load_from_env().await;
    let Subscription {
        topic_arn,
        queue_url,
    } = topic_with_queue(&aws, None).await;

    // When the notify binary gets the stream fixture
    let response = run_binary_on_fixture(&topic_arn).await;

    // Then no record failed and the queue holds the creation and the status change
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    let mut events: Vec<String> = received(&aws, &queue_url)
        .await
        .iter()
        .map(|body| body["event"].as_str().unwrap().to_owned())
        .collect();
    events.sort();
    assert_eq!(events, ["created", "status_changed"]);
}

#[tokio::test]
async fn the_lambda_binary_reports_unpublished_records_for_retry() {
    // Given a topic that does not exist (SNS answers NotFound)
    if !aws_available() {
        return;
    }
    let missing = "arn:aws:sns:us-east-1:123456789012:vigil-no-such-topic";

    // When the notify binary gets the stream fixture
    let response = run_binary_on_fixture(missing).await;

    // Then the first record that should have been published is reported failed, so
    // Lambda retries from it and nothing is lost
    let failures = response["batchItemFailures"]
        .as_array()
        .expect("{response}");
    assert_eq!(failures.len(), 1, "{response}");
    let stream: Value = serde_json::from_str(&fixture("notify/stream.json", "")).unwrap();
    assert_eq!(
        failures[0]["itemIdentifier"],
        stream["Records"][0]["dynamodb"]["SequenceNumber"]
    );
}

/// Fresh tables with an admin connected live (open at moto's API Gateway), and the
/// notify binary's environment for them, pushing to `ws_endpoint`.
async fn live_admin(ws_endpoint: &str) -> (Vec<(&'static str, String)>, String) {
    let tables = dynamo_tables().await.expect("moto is running");
    dynamo_admin_token(&tables).await;
    let mut env = lambda_env(&tables);
    env.push(("VIGIL_WS_ENDPOINT", ws_endpoint.to_owned()));
    let config = vigil::config::StoreConfig::DynamoDb(tables);
    let stores =
        vigil::store::Stores::from_config(&config, Some(&aws_config::load_from_env().await));
    let admin = stores
        .users
        .get(&vigil::domain::Username::parse("admin").unwrap())
        .await
        .unwrap()
        .unwrap();
    let id = format!("conn-{}", ulid::Ulid::new());
    apigateway::open_connection(&id).await;
    let connection = Connection::open(ConnectionId(id.clone()), &admin, chrono::Utc::now());
    stores.live.connect(&connection).await.unwrap();
    (env, id)
}

async fn run_binary(env: &[(&'static str, String)], topic_arn: &str) -> Value {
    let mut runtime = RuntimeApi::start().await;
    let mut env = env.to_vec();
    env.push(("VIGIL_TOPIC_ARN", topic_arn.to_owned()));
    runtime.spawn_function(env!("CARGO_BIN_EXE_notify"), "notify", &env);
    let event = serde_json::from_str(&fixture("notify/stream.json", "")).unwrap();
    runtime.respond(event).await
}

#[tokio::test]
async fn an_sns_outage_does_not_hold_back_the_live_push() {
    // Given an admin connected live, and a topic that does not exist
    if !aws_available() {
        return;
    }
    let (env, connection) = live_admin(&apigateway::endpoint()).await;
    let missing = "arn:aws:sns:us-east-1:123456789012:vigil-no-such-topic";

    // When the notify binary gets the stream fixture
    let response = run_binary(&env, missing).await;

    // Then the record is left for Lambda to retry, and the browser has both events
    assert_eq!(
        response["batchItemFailures"].as_array().map(Vec::len),
        Some(1)
    );
    let posts = apigateway::posts(&connection).await.unwrap();
    let kinds: Vec<&str> = posts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "status_changed"]);
}

#[tokio::test]
async fn a_failing_push_does_not_hold_back_the_notification() {
    // Given an admin connected live but API Gateway unreachable, and a working topic
    if !aws_available() {
        return;
    }
    let (env, _) = live_admin("http://127.0.0.1:9").await;
    let aws = aws_config::load_from_env().await;
    let Subscription {
        topic_arn,
        queue_url,
    } = topic_with_queue(&aws, None).await;

    // When the notify binary gets the stream fixture
    let response = run_binary(&env, &topic_arn).await;

    // Then nothing failed the batch and the queue holds both notifications
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{response}"
    );
    assert_eq!(received(&aws, &queue_url).await.len(), 2);
}
