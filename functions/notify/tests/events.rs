//! The notify handler driven by the DynamoDB stream fixture (`events/notify/`):
//! a new alert and a status change notify; a dedup pointer and a count-only change
//! do not.

use aws_lambda_events::event::dynamodb::Event;
use std::sync::Mutex;
use vigil::notify::{Notification, PublishError, Publisher, handle_stream};
use vigil_testkit::fixture;

#[derive(Default)]
struct Recorder(Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Publisher for Recorder {
    async fn publish(&self, n: &Notification) -> Result<(), PublishError> {
        self.0.lock().unwrap().push(n.clone());
        Ok(())
    }
}

#[tokio::test]
async fn the_stream_fixture_notifies_creation_and_status_change_only() {
    let event: Event = serde_json::from_str(&fixture("notify/stream.json", "")).unwrap();
    let recorder = Recorder::default();

    let response = handle_stream(event, &recorder).await;

    assert!(response.batch_item_failures.is_empty());
    let sent = recorder.0.lock().unwrap();
    let events: Vec<&str> = sent.iter().map(|n| n.event.as_str()).collect();
    assert_eq!(events, ["created", "status_changed"]);
    assert_eq!(sent[0].severity.as_str(), "high");
}
