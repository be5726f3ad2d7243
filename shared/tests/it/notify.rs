//! The notification fan-out over the wire, against moto: an alert written through the
//! DynamoDB store shows up in the table's stream; the stream records go through the
//! notify handler to SNS; a subscribed SQS queue receives the message. A publish
//! failure leaves the record to be retried.

use aws_lambda_events::event::{dynamodb::Event, sqs::SqsEvent};
use chrono::Utc;
use serde_json::Value;
use vigil::{
    config::TableNames,
    domain::{Alert, AlertStatus, Category, Severity},
    notify::{
        Notification, PublishError, Publisher, RecordingPublisher, RetryQueue, SnsPublisher,
        handle_retries, handle_stream, stream_record_from_sdk,
    },
    store::{AlertStore, dynamodb::DynamoAlertStore},
};
use vigil_testkit::{
    aws_available, dynamo_tables,
    fanout::{Subscription, topic_with_queue},
};

fn alert(severity: Severity) -> Alert {
    let threat = vigil_testkit::threats::sighting(Category::Dos, severity, Utc::now());
    let mut alert = Alert::open(threat, "edge-1", Utc::now());
    alert.dedup_key = format!("dos|edge-1|{}", alert.id);
    alert
}

/// Reads every record in the table's stream so far, as Lambda would deliver them.
async fn stream_event(aws: &aws_config::SdkConfig, table: &str) -> Event {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let streams = aws_sdk_dynamodbstreams::Client::new(aws);
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .unwrap();
    let description = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut event = Event::default();
    for shard in description
        .stream_description
        .unwrap()
        .shards
        .unwrap_or_default()
    {
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        let records = streams
            .get_records()
            .set_shard_iterator(iterator)
            .send()
            .await
            .unwrap()
            .records
            .unwrap_or_default();
        event
            .records
            .extend(records.into_iter().map(stream_record_from_sdk));
    }
    event
}

struct Fanout {
    aws: aws_config::SdkConfig,
    tables: TableNames,
    store: DynamoAlertStore,
    topic_arn: String,
    queue_url: String,
}

/// Fresh tables, and a topic with a queue subscribed to high and critical alerts only.
async fn fanout() -> Fanout {
    let aws = vigil::aws::load_sdk_config().await;
    let tables = dynamo_tables().await.expect("moto is running");
    let Subscription {
        topic_arn,
        queue_url,
    } = topic_with_queue(&aws, Some(r#"{"severity": ["high", "critical"]}"#)).await;
    let store = DynamoAlertStore::new(aws_sdk_dynamodb::Client::new(&aws), tables.alerts.clone());
    Fanout {
        aws,
        tables,
        store,
        topic_arn,
        queue_url,
    }
}

async fn received(f: &Fanout) -> Vec<Value> {
    vigil_testkit::fanout::received(&f.aws, &f.queue_url).await
}

#[tokio::test]
async fn alert_changes_fan_out_to_a_filtered_subscriber() {
    if !aws_available() {
        return;
    }
    // Given a stored high alert, a low one, and a status change of the high one
    let f = fanout().await;
    let mut high = alert(Severity::High);
    f.store.create(&high).await.unwrap();
    f.store.create(&alert(Severity::Low)).await.unwrap();
    high.status = AlertStatus::Acknowledged;
    high.version = 2;
    f.store.update(&high).await.unwrap();

    // When the stream's records go through the notify handler
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&f.aws), f.topic_arn.clone());
    let response = handle_stream(
        stream_event(&f.aws, &f.tables.alerts).await,
        &publisher,
        None,
    )
    .await;

    // Then the on-call queue got the high alert's two events, and not the low one
    assert!(response.batch_item_failures.is_empty());
    let messages = received(&f).await;
    let events: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["alert_id"].as_str().unwrap(),
                m["event"].as_str().unwrap(),
            )
        })
        .collect();
    let id = high.id.to_string();
    assert_eq!(
        events,
        [(id.as_str(), "created"), (id.as_str(), "status_changed")]
    );
    assert_eq!(messages[1]["previous_status"], "open");
    assert!(messages[0]["message_id"].as_str().unwrap().starts_with(&id));
}

/// Fails every publish, like SNS being unreachable.
struct Down;

#[async_trait::async_trait]
impl Publisher for Down {
    async fn publish(&self, _: &Notification) -> Result<(), PublishError> {
        Err(PublishError("SNS is unreachable".into()))
    }
}

#[tokio::test]
async fn a_failed_publish_leaves_the_record_to_be_retried() {
    if !aws_available() {
        return;
    }
    let f = fanout().await;
    f.store.create(&alert(Severity::Critical)).await.unwrap();
    f.store.create(&alert(Severity::Critical)).await.unwrap();
    let event = stream_event(&f.aws, &f.tables.alerts).await;
    let first_sequence = event.records[0].change.sequence_number.clone();

    let response = handle_stream(event.clone(), &Down, None).await;

    // The first record is reported failed (Lambda retries from it), nothing was lost
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier,
        first_sequence
    );
    // and the retry, with SNS back, delivers both.
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&f.aws), f.topic_arn.clone());
    assert!(
        handle_stream(event, &publisher, None)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(received(&f).await.len(), 2);
}

#[tokio::test]
async fn vigil_local_follows_the_dynamodb_stream_of_new_writes() {
    if !aws_available() {
        return;
    }
    // Given vigil-local's stream follower on a table, live: it starts from the newest
    // records, so the writes wait for its ready signal (however slow the machine)
    let f = fanout().await;
    let recorder = std::sync::Arc::new(RecordingPublisher::default());
    let (ready, live) = tokio::sync::oneshot::channel();
    let (feed, mut browser) = tokio::sync::broadcast::channel(16);
    let follower = tokio::spawn(vigil::notify::local::follow_stream(
        f.aws.clone(),
        f.tables.alerts.clone(),
        recorder.clone(),
        feed,
        ready,
    ));
    tokio::time::timeout(std::time::Duration::from_secs(60), live)
        .await
        .expect("the follower placed its iterators within a minute")
        .expect("the follower is running");

    // When an alert is created and then acknowledged through the store
    let mut high = alert(Severity::High);
    f.store.create(&high).await.unwrap();
    high.status = AlertStatus::Acknowledged;
    high.version = 2;
    f.store.update(&high).await.unwrap();

    // Then both changes reach the publisher, in order
    let published = recorder
        .wait_for(2, std::time::Duration::from_secs(60))
        .await;
    let events: Vec<&str> = published.iter().map(|n| n.event.as_str()).collect();
    assert_eq!(events, ["created", "status_changed"]);
    assert_eq!(published[0].alert_id, high.id.to_string());
    // And the live feed, with the same ids
    for notification in &published {
        let pushed = tokio::time::timeout(std::time::Duration::from_secs(10), browser.recv())
            .await
            .expect("a live event")
            .unwrap();
        assert_eq!(pushed.id, notification.message_id);
        assert_eq!(pushed.alert.alert.id, high.id);
    }
    follower.abort();
}

#[test]
fn counter_only_changes_are_not_notified_but_escalations_are() {
    let old = alert(Severity::Medium);
    let mut repeat = old.clone();
    repeat.count = 5;
    assert_eq!(Notification::for_change(Some(&old), Some(&repeat)), None);
    repeat.severity = Severity::Critical;
    let n = Notification::for_change(Some(&old), Some(&repeat)).unwrap();
    assert_eq!(n.event.as_str(), "escalated");
    assert_eq!(n.previous_severity, Some(Severity::Medium));
    // A notification names the alert's ATT&CK tactics and techniques
    assert_eq!(n.tactics, ["TA0040"]);
    assert_eq!(n.techniques, ["T1498", "T1499"]);
}

/// A FIFO retry queue on moto, and what it holds (as Lambda's SQS source delivers it).
async fn retry_queue(aws: &aws_config::SdkConfig) -> (RetryQueue, aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let name = format!(
        "retry-{}.fifo",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (RetryQueue::new(sqs.clone(), url.clone()), sqs, url)
}

async fn held(sqs: &aws_sdk_sqs::Client, url: &str) -> SqsEvent {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut event = SqsEvent::default();
    for m in out.messages.unwrap_or_default() {
        let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
        message.message_id = m.message_id;
        message.receipt_handle = m.receipt_handle;
        message.body = m.body;
        event.records.push(message);
    }
    event
}

#[tokio::test]
async fn an_sns_outage_holds_every_notification_whole_until_it_is_published() {
    if !aws_available() {
        return;
    }
    // Given three alert changes in the stream, and SNS down
    let f = fanout().await;
    let mut first = alert(Severity::Critical);
    f.store.create(&first).await.unwrap();
    f.store.create(&alert(Severity::High)).await.unwrap();
    first.status = AlertStatus::Acknowledged;
    first.version = 2;
    f.store.update(&first).await.unwrap();
    let (queue, sqs, url) = retry_queue(&f.aws).await;

    // When the stream batch is handled
    let response = handle_stream(
        stream_event(&f.aws, &f.tables.alerts).await,
        &Down,
        Some(&queue),
    )
    .await;

    // Then the batch is done and the notifications wait in the queue;
    assert!(response.batch_item_failures.is_empty());
    // while SNS stays down, every held message delivered is reported failed (SQS
    // keeps it);
    let waiting = held(&sqs, &url).await;
    assert!(!waiting.records.is_empty());
    let delivered = waiting.records.len();
    let still_down = handle_retries(waiting, &Down).await;
    assert_eq!(still_down.batch_item_failures.len(), delivered);
    // and once it is back, each is published (deleting what was published, as
    // Lambda's SQS source does).
    let publisher = RecordingPublisher::default();
    for _ in 0..10 {
        let event = held(&sqs, &url).await;
        if event.records.is_empty() {
            break;
        }
        let handles: Vec<String> = event
            .records
            .iter()
            .map(|m| m.receipt_handle.clone().unwrap())
            .collect();
        let back = handle_retries(event, &publisher).await;
        assert!(back.batch_item_failures.is_empty());
        for handle in handles {
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(handle)
                .send()
                .await
                .unwrap();
        }
    }
    let published = publisher.published();
    assert_eq!(published.len(), 3);
    // Both of the first alert's changes (in AWS a FIFO group redelivers in order;
    // moto reorders messages that became visible again, so order is not checked here).
    let mut of_first: Vec<&str> = published
        .iter()
        .filter(|n| n.alert_id == first.id.to_string())
        .map(|n| n.event.as_str())
        .collect();
    of_first.sort();
    assert_eq!(of_first, ["created", "status_changed"]);
}
