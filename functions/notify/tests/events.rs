//! The notify handler driven by the DynamoDB stream fixture (`events/notify/`):
//! a new alert and a status change notify; a dedup pointer and a count-only change
//! do not. In process with a recording publisher, and as the real binary publishing
//! to SNS in moto, read back from a subscribed SQS queue.

use aws_lambda_events::event::dynamodb::Event;
use serde_json::Value;
use vigil::notify::{RecordingPublisher, handle_stream};
use vigil_testkit::{
    RuntimeApi, aws_available,
    fanout::{Subscription, received, topic_with_queue},
    fixture,
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
    let aws = vigil::aws::load_sdk_config().await;
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
