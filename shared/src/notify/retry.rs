//! The retry queue: a notification SNS would not take waits here whole (not as
//! stream metadata), and is published again with backoff until SNS takes it.
//!
//! The stream handler holds a failed notification (and the rest of its batch, in
//! order) in this SQS FIFO queue instead of failing the stream batch, whose 10 Lambda
//! retries would be spent in minutes and leave only metadata in the dead-letter queue.
//! The notify function also consumes the queue: a message SNS still refuses stays
//! (reported as a batch item failure) and comes back after the visibility timeout, for
//! as many receives as the queue's redrive policy allows (the template: 5 minutes × 48,
//! four hours, so an SNS outage of an hour loses nothing); after that it lands, still
//! whole, in the retry queue's dead-letter queue. Messages of one alert share a FIFO
//! group, so they are published in the order they were held.

use super::{Notification, PublishError, Publisher};
use crate::http::error_chain;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

pub struct RetryQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl RetryQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url }
    }

    /// Holds `n` for a later publish.
    pub async fn hold(&self, n: &Notification) -> Result<(), PublishError> {
        let body = serde_json::to_string(n).map_err(|e| PublishError(Box::new(e)))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(&n.alert_id)
            // The same alert change held twice (a stream record redelivered) is one.
            .message_deduplication_id(dedup_id(&n.message_id))
            .send()
            .await
            .map_err(|e| PublishError(Box::new(e)))?;
        Ok(())
    }
}

/// SQS deduplication ids are at most 128 characters of `[!-~]`.
fn dedup_id(message_id: &str) -> String {
    message_id
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

/// Publishes each held notification; one SNS still refuses is reported as failed, so
/// SQS delivers it again after the visibility timeout. A message that is not a
/// notification is logged and dropped: retrying cannot fix it.
pub async fn handle_retries(event: SqsEvent, publisher: &dyn Publisher) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let notification: Notification = match serde_json::from_str(
            message.body.as_deref().unwrap_or(""),
        ) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(sqs_message_id = %id, error = %e, "undecodable held notification dropped");
                continue;
            }
        };
        match publisher.publish(&notification).await {
            Ok(()) => {
                tracing::info!(message_id = %notification.message_id, "held notification published");
            }
            Err(e) => {
                tracing::warn!(
                    message_id = %notification.message_id,
                    error = %error_chain(&e),
                    "held notification still not published; it stays in the queue"
                );
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
