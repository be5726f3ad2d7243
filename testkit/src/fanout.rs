//! SNS → SQS in moto, for the notification tests: a fresh topic with a fresh queue
//! subscribed (raw delivery, optionally behind a filter policy), and what it received.

use serde_json::Value;

/// A topic and the queue subscribed to it.
pub struct Subscription {
    pub topic_arn: String,
    pub queue_url: String,
}

/// A fresh topic and queue, the queue subscribed with raw delivery and, when given,
/// `filter_policy` (e.g. `{"severity": ["high", "critical"]}`).
pub async fn topic_with_queue(
    aws: &aws_config::SdkConfig,
    filter_policy: Option<&str>,
) -> Subscription {
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let sns = aws_sdk_sns::Client::new(aws);
    let sqs = aws_sdk_sqs::Client::new(aws);
    let topic_arn = sns
        .create_topic()
        .name(format!("alerts-{run}"))
        .send()
        .await
        .expect("create the topic")
        .topic_arn
        .expect("a topic ARN");
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("q-{run}"))
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue URL");
    let arn = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(arn.clone())
        .send()
        .await
        .expect("read the queue's ARN")
        .attributes
        .and_then(|mut a| a.remove(&arn))
        .expect("a queue ARN");
    let mut subscribe = sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true");
    if let Some(policy) = filter_policy {
        subscribe = subscribe.attributes("FilterPolicy", policy);
    }
    subscribe.send().await.expect("subscribe the queue");
    Subscription {
        topic_arn,
        queue_url,
    }
}

/// The messages waiting in the queue (up to 10, waiting at most a second), as JSON.
pub async fn received(aws: &aws_config::SdkConfig, queue_url: &str) -> Vec<Value> {
    aws_sdk_sqs::Client::new(aws)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive from the queue")
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| serde_json::from_str(m.body.as_deref().unwrap_or_default()).expect("JSON"))
        .collect()
}
