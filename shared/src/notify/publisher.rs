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
pub struct RecordingPublisher(std::sync::Mutex<Vec<Notification>>);

impl RecordingPublisher {
    /// Everything published so far.
    pub fn published(&self) -> Vec<Notification> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, n: &Notification) -> Result<(), PublishError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(n.clone());
        Ok(())
    }
}
