//! `live` Lambda: everything of the live-alerts WebSocket in AWS, on two event sources:
//! - the WebSocket API's routes (`$connect` with a ticket, `subscribe` and any other
//!   message, `$disconnect`); see `vigil::live::gateway`;
//! - the alerts table's stream, as its second reader beside `notify`: each batch's
//!   alert events pushed to the connections that want them (`vigil::notify::Pusher`),
//!   when `VIGIL_WS_ENDPOINT` names the WebSocket API's stage.
//!
//! Push and SNS are separate functions on purpose: they never share an invocation, a
//! timeout or a retry, so a slow or broken API Gateway cannot hold back (or repeat) a
//! notification, and an SNS outage cannot delay a push. A push never asks Lambda for a
//! retry either: it is a live view, and a browser that missed an event reads
//! `GET /alerts` when it reconnects; the record of what happened is the alert itself.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::time::Duration;
use vigil::{
    config::Config,
    live::gateway::{Gateway, GatewayEvent},
    metrics::{MetricSet, Unit},
    notify::{PushReport, Pusher, events_in},
    store::Stores,
};

/// Left of the invocation's time when a push is cut short, so the function always
/// answers before Lambda's timeout (which would retry the batch).
const MARGIN: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> Result<(), Error> {
    vigil::telemetry::init();
    let config = Config::from_env()?;
    vigil::metrics::init(&config.metrics);
    let aws = vigil::aws::sdk_config(&config).await;
    let stores = Stores::from_config(&config.store, aws.as_ref());
    let pusher = match (&config.notify.ws_endpoint, &aws) {
        (Some(endpoint), Some(aws)) => Some(Pusher::new(
            aws,
            endpoint,
            stores.live.clone(),
            stores.users.clone(),
        )),
        _ => None,
    };
    let gateway = &Gateway {
        live: stores.live.as_ref(),
        users: stores.users.as_ref(),
    };
    let pusher = pusher.as_ref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // One function, two event sources: stream records say where they come from.
        if event.payload["Records"][0]["eventSource"] == "aws:dynamodb" {
            let stream: Event = serde_json::from_value(event.payload)?;
            if let Some(pusher) = pusher {
                let left = Duration::from_millis(event.context.deadline)
                    .saturating_sub(since_epoch())
                    .saturating_sub(MARGIN);
                match tokio::time::timeout(left, pusher.push(&events_in(&stream))).await {
                    Ok(report) => emit(&report),
                    Err(_) => tracing::warn!("the push ran out of the invocation's time"),
                }
            }
            return Ok::<Value, Error>(json!({ "batchItemFailures": [] }));
        }
        let request: GatewayEvent = serde_json::from_value(event.payload)?;
        Ok(serde_json::to_value(gateway.handle(request).await)?)
    }))
    .await
}

fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// The push's outcome as metrics (`PushFailed` is alarmed in the template).
fn emit(report: &PushReport) {
    MetricSet::new()
        .metric("PushDelivered", Unit::Count, report.delivered as f64)
        .metric("PushGone", Unit::Count, report.gone as f64)
        .metric("PushClosed", Unit::Count, report.closed as f64)
        .metric("PushFailed", Unit::Count, report.failed as f64)
        .emit();
}
