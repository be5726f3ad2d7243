//! `notify` Lambda: triggered by the alerts table's DynamoDB stream; publishes new,
//! escalated and status-changed alerts to the SNS topic `VIGIL_TOPIC_ARN`. Failed
//! publishes are reported as partial batch failures, so only they are retried.

use aws_lambda_events::event::{dynamodb::Event, streams::DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use vigil::notify::{SnsPublisher, handle_stream};

#[tokio::main]
async fn main() -> Result<(), Error> {
    vigil::telemetry::init();
    let topic_arn = std::env::var("VIGIL_TOPIC_ARN")
        .map_err(|_| "VIGIL_TOPIC_ARN must be set to the alerts topic's ARN")?;
    let aws = aws_config::load_from_env().await;
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&aws), topic_arn);
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<DynamoDbEventResponse, Error>(handle_stream(event.payload, publisher).await)
    }))
    .await
}
