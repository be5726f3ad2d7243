//! Notifications for `vigil-local`: the same [`handle_stream`] logic fed from the
//! embedded store's change feed, or from the DynamoDB stream when running against a
//! DynamoDB endpoint.

use super::{Notification, Publisher, handle_stream, stream_record_from_sdk};
use crate::{http::error_chain, store::StoredChange};
use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::{mpsc::UnboundedReceiver, oneshot};

/// Publishes every change the embedded store reports, until the store is dropped.
pub async fn forward_changes(
    mut changes: UnboundedReceiver<StoredChange>,
    publisher: Arc<dyn Publisher>,
) {
    while let Some(change) = changes.recv().await {
        let Some(n) = Notification::for_change(change.old.as_ref(), Some(&change.new)) else {
            continue;
        };
        // Locally a failed publish is retried a few times, then logged.
        for attempt in 1..=3 {
            match publisher.publish(&n).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(attempt, error = %error_chain(&e), "local publish failed");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
    }
}

/// Polls the alerts table's stream (from its newest records on) and runs each batch
/// through [`handle_stream`], re-reading a batch whose publish failed.
///
/// `ready` fires once the first poll has placed an iterator on every shard: every
/// write from then on is seen. (It starts from the newest records, so a write before
/// that moment may be missed; tests wait for `ready` rather than for a while.)
pub async fn follow_stream(
    aws: aws_config::SdkConfig,
    table: String,
    publisher: Arc<dyn Publisher>,
    ready: oneshot::Sender<()>,
) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let streams = aws_sdk_dynamodbstreams::Client::new(&aws);
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut ready = Some(ready);
    loop {
        match poll_once(
            &dynamodb,
            &streams,
            &table,
            &mut iterators,
            publisher.as_ref(),
        )
        .await
        {
            Ok(()) => {
                if let Some(ready) = ready.take() {
                    tracing::info!(%table, "following the alerts stream");
                    // Nobody waiting is fine: vigil-local itself does not.
                    let _ = ready.send(());
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the alerts stream failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn poll_once(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
    iterators: &mut HashMap<String, Option<String>>,
    publisher: &dyn Publisher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await?
        .table
        .and_then(|t| t.latest_stream_arn)
        .ok_or("the alerts table has no stream")?;
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await?
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    for shard in shards {
        let Some(shard_id) = shard.shard_id else {
            continue;
        };
        if !iterators.contains_key(&shard_id) {
            let iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard_id)
                .shard_iterator_type(ShardIteratorType::Latest)
                .send()
                .await?
                .shard_iterator;
            iterators.insert(shard_id.clone(), iterator);
        }
        let Some(Some(iterator)) = iterators.get(&shard_id).cloned() else {
            continue;
        };
        let out = streams
            .get_records()
            .shard_iterator(&iterator)
            .send()
            .await?;
        let mut event = Event::default();
        event.records = out
            .records
            .unwrap_or_default()
            .into_iter()
            .map(stream_record_from_sdk)
            .collect();
        if event.records.is_empty()
            || handle_stream(event, publisher, None)
                .await
                .batch_item_failures
                .is_empty()
        {
            iterators.insert(shard_id, out.next_shard_iterator);
        }
        // On a failure the same iterator is read again next time: nothing is skipped.
    }
    Ok(())
}
