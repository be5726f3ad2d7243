//! Notifications for `vigil-local`: the same [`handle_stream`] logic fed from the
//! embedded store's change feed, or from the DynamoDB stream when running against a
//! DynamoDB endpoint; and the same events sent to the local WebSocket clients through
//! a [`LiveFeed`].

use super::{Notification, Publisher, events_in, handle_stream, stream_record_from_sdk};
use crate::{http::error_chain, live::EventMessage, store::StoredChange};
use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::{mpsc::UnboundedReceiver, oneshot};

/// Where vigil-local's WebSocket clients receive alert events: every event, once,
/// to every client (each applies its own filters). A client that falls more than the
/// channel's capacity behind loses the oldest (and is told so).
pub type LiveFeed = tokio::sync::broadcast::Sender<Arc<EventMessage>>;

/// The feed's capacity: a burst of this many events waits for slow clients.
pub const LIVE_FEED_CAPACITY: usize = 1024;

fn send_live(live: &LiveFeed, message: EventMessage) {
    // No receivers (no browser connected) is not an error.
    let _ = live.send(Arc::new(message));
}

/// Sends every change the embedded store reports to the live feed at once, and
/// publishes its notification, in order, from a task of its own (so a slow or failing
/// SNS never holds back the live view), until the store is dropped.
pub async fn forward_changes(
    mut changes: UnboundedReceiver<StoredChange>,
    publisher: Arc<dyn Publisher>,
    live: LiveFeed,
) {
    let (notifications, mut to_publish) = tokio::sync::mpsc::unbounded_channel::<Notification>();
    tokio::spawn(async move {
        while let Some(n) = to_publish.recv().await {
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
    });
    while let Some(change) = changes.recv().await {
        if let Some(message) = EventMessage::for_change(change.old.as_ref(), &change.new) {
            send_live(&live, message);
        }
        if let Some(n) = Notification::for_change(change.old.as_ref(), Some(&change.new)) {
            let _ = notifications.send(n);
        }
    }
}

/// How long the follower waits between reads of the stream. Four reads a second keep
/// a live push within a quarter second of its write, as Lambda's own polling (four a
/// second per shard) does in AWS; DynamoDB Streams allows five GetRecords a second
/// per shard.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Where reading a shard resumes: what was published last, or the record that
/// failed. Kept apart from the shard iterator, which expires after 15 minutes: a
/// publish failing for longer must not lose the place (or the records).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resume {
    /// Nothing read yet: from the shard's start type.
    Start(ShardIteratorType),
    /// After this sequence number (everything up to it is published).
    After(String),
    /// At this sequence number (it failed; it and what follows are next).
    At(String),
}

#[derive(Debug)]
struct ShardCursor {
    iterator: Option<String>,
    resume: Resume,
    /// The shard is closed and read to its end.
    done: bool,
    /// The last record sent to the live feed: records read again after a failed
    /// publish are not sent live twice.
    live_sent: Option<String>,
}

impl ShardCursor {
    /// Shards there when following starts begin at their newest record; shards that
    /// appear later (children, after DynamoDB splits or rolls a shard) from their
    /// first, so no record written to them before they were seen is missed.
    fn new(seen_at_start: bool) -> Self {
        Self {
            iterator: None,
            resume: Resume::Start(if seen_at_start {
                ShardIteratorType::Latest
            } else {
                ShardIteratorType::TrimHorizon
            }),
            done: false,
            live_sent: None,
        }
    }

    /// Of a batch's records (their sequence numbers), those not sent live yet, and
    /// notes the batch as sent.
    fn unsent<'a>(&mut self, sequences: &'a [String]) -> impl Iterator<Item = usize> + 'a {
        let after = self.live_sent.clone();
        if let Some(last) = sequences.last()
            && after.as_deref().is_none_or(|a| later(last, a))
        {
            self.live_sent = Some(last.clone());
        }
        sequences
            .iter()
            .enumerate()
            .filter(move |(_, s)| after.as_deref().is_none_or(|a| later(s, a)))
            .map(|(i, _)| i)
    }

    /// The GetShardIterator request that resumes this shard.
    fn iterator_request(&self) -> (ShardIteratorType, Option<&str>) {
        match &self.resume {
            Resume::Start(kind) => (kind.clone(), None),
            Resume::After(seq) => (ShardIteratorType::AfterSequenceNumber, Some(seq)),
            Resume::At(seq) => (ShardIteratorType::AtSequenceNumber, Some(seq)),
        }
    }

    /// After handling a batch of records (their sequence numbers, in order), of
    /// which `failed` (if any) was the first that could not be published.
    fn advance(&mut self, sequences: &[String], failed: Option<&str>, next: Option<String>) {
        match failed {
            Some(failed) => {
                self.resume = Resume::At(failed.to_owned());
                // Read again from the failed record, with a fresh iterator.
                self.iterator = None;
            }
            None => {
                if let Some(last) = sequences.last() {
                    self.resume = Resume::After(last.clone());
                }
                self.done = next.is_none();
                self.iterator = next;
            }
        }
    }
}

/// Polls the alerts table's stream (from its newest records on; shards that appear
/// later from their first) and runs each batch through [`handle_stream`], resuming at
/// the record whose publish failed, with a fresh iterator, however long it fails.
///
/// `ready` fires once the first poll has placed an iterator on every shard: every
/// write from then on is seen. (It starts from the newest records, so a write before
/// that moment may be missed; tests wait for `ready` rather than for a while.)
pub async fn follow_stream(
    aws: aws_config::SdkConfig,
    table: String,
    publisher: Arc<dyn Publisher>,
    live: LiveFeed,
    ready: oneshot::Sender<()>,
) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let streams = aws_sdk_dynamodbstreams::Client::new(&aws);
    let mut cursors: HashMap<String, ShardCursor> = HashMap::new();
    let mut ready = Some(ready);
    loop {
        match poll_once(
            &dynamodb,
            &streams,
            &table,
            &mut cursors,
            ready.is_some(),
            publisher.as_ref(),
            &live,
        )
        .await
        {
            Ok(()) => {
                if let Some(ready) = ready.take() {
                    tracing::info!(%table, "following the alerts stream");
                    let _ = ready.send(());
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the alerts stream failed; retrying"),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn poll_once(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
    cursors: &mut HashMap<String, ShardCursor>,
    first_poll: bool,
    publisher: &dyn Publisher,
    live: &LiveFeed,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
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
        let cursor = cursors
            .entry(shard_id.clone())
            .or_insert_with(|| ShardCursor::new(first_poll));
        if cursor.done {
            continue;
        }
        let iterator = match cursor.iterator.clone() {
            Some(iterator) => iterator,
            None => {
                let (kind, sequence) = cursor.iterator_request();
                let fresh = streams
                    .get_shard_iterator()
                    .stream_arn(&arn)
                    .shard_id(&shard_id)
                    .shard_iterator_type(kind)
                    .set_sequence_number(sequence.map(str::to_owned))
                    .send()
                    .await?
                    .shard_iterator;
                match fresh {
                    Some(iterator) => iterator,
                    None => continue,
                }
            }
        };
        let out = match streams.get_records().shard_iterator(&iterator).send().await {
            Ok(out) => out,
            // An iterator lives 15 minutes: get a fresh one from where we were.
            Err(e) if e.code() == Some("ExpiredIteratorException") => {
                cursor.iterator = None;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let records: Vec<_> = out
            .records
            .unwrap_or_default()
            .into_iter()
            .map(stream_record_from_sdk)
            .collect();
        let sequences: Vec<String> = records
            .iter()
            .filter_map(|r| r.change.sequence_number.clone())
            .collect();
        let mut event = Event::default();
        event.records = records;
        // Live first, whatever SNS does; a record read again after a failed publish
        // is not sent live again.
        let per_record: Vec<String> = event
            .records
            .iter()
            .map(|r| r.change.sequence_number.clone().unwrap_or_default())
            .collect();
        let unsent: Vec<usize> = cursor.unsent(&per_record).collect();
        let mut fresh = Event::default();
        fresh.records = unsent
            .into_iter()
            .map(|i| event.records[i].clone())
            .collect();
        for message in events_in(&fresh) {
            send_live(live, message);
        }
        let failures = if event.records.is_empty() {
            Vec::new()
        } else {
            handle_stream(event, publisher, None)
                .await
                .batch_item_failures
        };
        let failed = failures.first().and_then(|f| f.item_identifier.as_deref());
        cursor.advance(&sequences, failed, out.next_shard_iterator);
    }
    Ok(())
}

/// Whether stream sequence number `a` comes after `b`: both are decimal strings of up
/// to 40 digits, so the longer is the later, and of equal lengths the greater.
fn later(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_again_are_not_sent_live_again() {
        let mut cursor = ShardCursor::new(true);
        assert_eq!(
            cursor.unsent(&seqs(&["90", "100"])).collect::<Vec<_>>(),
            [0, 1]
        );
        // The publish of 100 failed: 100 and 200 are read again, only 200 is new.
        assert_eq!(
            cursor.unsent(&seqs(&["100", "200"])).collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(cursor.unsent(&seqs(&["200"])).count(), 0);
        assert!(later("1000", "999") && !later("999", "1000") && !later("5", "5"));
    }

    fn seqs(all: &[&str]) -> Vec<String> {
        all.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shards_seen_later_are_read_from_their_first_record() {
        assert_eq!(
            ShardCursor::new(true).iterator_request(),
            (ShardIteratorType::Latest, None)
        );
        assert_eq!(
            ShardCursor::new(false).iterator_request(),
            (ShardIteratorType::TrimHorizon, None)
        );
    }

    #[test]
    fn a_failed_publish_resumes_at_the_failed_record_however_long_it_fails() {
        let mut cursor = ShardCursor::new(true);
        cursor.advance(&seqs(&["100", "200"]), None, Some("it-1".into()));
        assert_eq!(cursor.iterator.as_deref(), Some("it-1"));
        // 300 fails: no iterator is kept (it would expire), the place is.
        cursor.advance(&seqs(&["300", "400"]), Some("300"), Some("it-2".into()));
        assert_eq!(cursor.iterator, None);
        assert_eq!(
            cursor.iterator_request(),
            (ShardIteratorType::AtSequenceNumber, Some("300"))
        );
        // Still failing an hour later: still at 300.
        cursor.advance(&seqs(&["300"]), Some("300"), Some("it-3".into()));
        assert_eq!(
            cursor.iterator_request(),
            (ShardIteratorType::AtSequenceNumber, Some("300"))
        );
        // Published at last: after the last record, and an expired iterator resumes
        // there.
        cursor.advance(&seqs(&["300", "400"]), None, Some("it-4".into()));
        cursor.iterator = None;
        assert_eq!(
            cursor.iterator_request(),
            (ShardIteratorType::AfterSequenceNumber, Some("400"))
        );
    }

    #[test]
    fn a_closed_shard_read_to_its_end_is_done() {
        let mut cursor = ShardCursor::new(false);
        cursor.advance(&seqs(&["1"]), None, None);
        assert!(cursor.done);
    }
}
