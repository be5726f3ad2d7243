//! `notify` Lambda, with two event sources:
//! - the alerts table's DynamoDB stream: publishes new, escalated and status-changed
//!   alerts to the SNS topic `VIGIL_TOPIC_ARN`; what SNS will not take is held whole
//!   in the retry queue `VIGIL_RETRY_QUEUE_URL` (an SQS FIFO queue);
//!   (The same events are pushed live to browsers by the `live` function, the
//!   stream's second reader: the two never share an invocation.)
//! - that retry queue: publishes what was held, leaving in the queue (for SQS to
//!   deliver again later) what SNS still refuses.

use aws_lambda_events::event::{dynamodb::Event, sqs::SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vigil::{
    config::Config,
    notify::{RetryQueue, SnsPublisher, handle_retries, handle_stream},
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let topic_arn = config
        .notify
        .topic_arn
        .clone()
        .ok_or("VIGIL_TOPIC_ARN must be set to the alerts topic's ARN")?;
    let aws = vigil::aws::load_sdk_config().await;
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&aws), topic_arn);
    let retry = config
        .notify
        .retry_queue_url
        .clone()
        .map(|url| RetryQueue::new(aws_sdk_sqs::Client::new(&aws), url));
    let (publisher, retry) = (&publisher, retry.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // One function, two event sources: the records say which.
        let source = event.payload["Records"][0]["eventSource"]
            .as_str()
            .unwrap_or("");
        if source == "aws:sqs" {
            let event: SqsEvent = serde_json::from_value(event.payload)?;
            Ok::<Value, Error>(serde_json::to_value(
                handle_retries(event, publisher).await,
            )?)
        } else {
            let event: Event = serde_json::from_value(event.payload)?;
            Ok(serde_json::to_value(
                handle_stream(event, publisher, retry).await,
            )?)
        }
    }))
    .await
}
