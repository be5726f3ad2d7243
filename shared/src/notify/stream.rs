use super::{Notification, Publisher, RetryQueue};
use crate::{domain::Alert, http::error_chain, live::EventMessage, store::dynamodb::ItemKind};
use aws_lambda_events::event::{
    dynamodb::{Event, EventRecord, StreamRecord},
    streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse},
};

fn alert_from(image: &serde_dynamo::Item) -> Option<Result<Alert, serde_dynamo::Error>> {
    if image.is_empty() {
        return None;
    }
    ItemKind::Alert
        .is_kind_of(image)
        .then(|| serde_dynamo::from_item(image.clone()))
}

/// The alert change a stream record holds (old and new image), if it is about an
/// alert; a record that cannot be decoded is logged and skipped, since retrying
/// cannot fix it.
fn alert_change(record: &EventRecord) -> Option<(Option<Alert>, Option<Alert>)> {
    let old = alert_from(&record.change.old_image);
    let new = alert_from(&record.change.new_image);
    match (old.transpose(), new.transpose()) {
        (Ok(old), Ok(new)) => Some((old, new)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(event_id = %record.event_id, error = %e, "undecodable alert image skipped");
            None
        }
    }
}

/// The live messages for a stream batch's alert events, in order.
pub fn events_in(event: &Event) -> Vec<EventMessage> {
    event
        .records
        .iter()
        .filter_map(alert_change)
        .filter_map(|(old, new)| EventMessage::for_change(old.as_ref(), new.as_ref()?))
        .collect()
}

/// Publishes a notification for each stream record that needs one, in order.
///
/// When a publish fails and there is a `retry` queue, that notification and the rest
/// of the batch's are held there, in order (see [`RetryQueue`]), and the batch is
/// done. Without one, or when holding fails too, it stops and reports that record
/// (and so, implicitly, the rest of the batch) as failed: Lambda retries from there,
/// keeping order per alert. Records that are not alerts (dedup pointers, counters)
/// are skipped; a record that cannot be decoded is logged and skipped, since retrying
/// cannot fix it.
pub async fn handle_stream(
    event: Event,
    publisher: &dyn Publisher,
    retry: Option<&RetryQueue>,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut holding = false;
    for record in event.records {
        let Some((old, new)) = alert_change(&record) else {
            continue;
        };
        let Some(notification) = Notification::for_change(old.as_ref(), new.as_ref()) else {
            continue;
        };
        let failed = |response: &mut DynamoDbEventResponse| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        };
        if !holding {
            match publisher.publish(&notification).await {
                Ok(()) => {
                    tracing::info!(message_id = %notification.message_id, event = notification.event.as_str(), "notification published");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(
                        message_id = %notification.message_id,
                        error = %error_chain(&e),
                        "publish failed"
                    );
                    if retry.is_none() {
                        failed(&mut response);
                        return response;
                    }
                    holding = true;
                }
            }
        }
        let Some(queue) = retry else {
            unreachable!("holding needs a queue")
        };
        if let Err(e) = queue.hold(&notification).await {
            tracing::warn!(
                message_id = %notification.message_id,
                error = %error_chain(&e),
                "holding the notification failed too; the record will be retried"
            );
            failed(&mut response);
            return response;
        }
        tracing::info!(message_id = %notification.message_id, "notification held for retry");
    }
    response
}

/// Converts a record read with the DynamoDB Streams API into the shape Lambda's event
/// source mapping delivers, so the local server and tests drive the same handler.
pub fn stream_record_from_sdk(record: aws_sdk_dynamodbstreams::types::Record) -> EventRecord {
    let mut out = EventRecord::default();
    out.event_id = record.event_id.unwrap_or_default();
    out.event_name = record
        .event_name
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let mut change = StreamRecord::default();
    if let Some(sdk) = record.dynamodb {
        change.keys = sdk.keys.unwrap_or_default().into();
        change.new_image = sdk.new_image.unwrap_or_default().into();
        change.old_image = sdk.old_image.unwrap_or_default().into();
        change.sequence_number = sdk.sequence_number;
    }
    out.change = change;
    out
}
