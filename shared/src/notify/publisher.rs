use super::Notification;
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;

#[derive(Debug, thiserror::Error)]
#[error("publishing the notification failed")]
pub struct PublishError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, notification: &Notification) -> Result<(), PublishError>;
}

/// Publishes to an SNS topic with message attributes `event`, `severity`, `category`
/// (and `message_id`), so subscriptions can filter, e.g. only high and critical.
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}

#[async_trait]
impl Publisher for SnsPublisher {
    async fn publish(&self, n: &Notification) -> Result<(), PublishError> {
        let message = serde_json::to_string(n).map_err(|e| PublishError(Box::new(e)))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(format!("Vigil: {} alert {}", n.severity, n.event.as_str()))
            .message(message)
            .message_attributes("event", attribute(n.event.as_str()))
            .message_attributes("severity", attribute(n.severity.as_str()))
            .message_attributes("category", attribute(n.category.as_str()))
            .message_attributes("message_id", attribute(&n.message_id))
            .send()
            .await
            .map_err(|e| PublishError(Box::new(e)))?;
        Ok(())
    }
}

/// For local runs without a topic: logs what would have been sent.
pub struct LogPublisher;

#[async_trait]
impl Publisher for LogPublisher {
    async fn publish(&self, n: &Notification) -> Result<(), PublishError> {
        tracing::info!(
            message_id = %n.message_id,
            event = n.event.as_str(),
            severity = %n.severity,
            category = %n.category,
            alert_id = %n.alert_id,
            "notification (no topic configured, not sent)"
        );
        Ok(())
    }
}

/// Keeps what it is asked to publish, in order: for tests, and for anyone embedding
/// the notify logic who wants to inspect it rather than send it.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    published: std::sync::Mutex<Vec<Notification>>,
    /// Woken on every publish, so a reader waits for notifications instead of polling.
    published_one: tokio::sync::Notify,
}

impl RecordingPublisher {
    /// Everything published so far.
    pub fn published(&self) -> Vec<Notification> {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until at least `count` notifications were published, then returns them
    /// all; after `limit`, returns what there is (the caller's assertion then says what
    /// was missing). The limit is a deadline for a broken run, not a pause.
    pub async fn wait_for(&self, count: usize, limit: std::time::Duration) -> Vec<Notification> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the check, so a publish between the two still wakes us.
            let next = self.published_one.notified();
            let now = self.published();
            if now.len() >= count {
                return now;
            }
            if tokio::time::timeout_at(deadline, next).await.is_err() {
                return self.published();
            }
        }
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, n: &Notification) -> Result<(), PublishError> {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(n.clone());
        self.published_one.notify_waiters();
        Ok(())
    }
}
