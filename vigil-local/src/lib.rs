//! The local server's app: every capability's router merged behind one port, the
//! live-alerts WebSocket and the console page that shows it.

pub mod live;
pub mod openapi;

use axum::{
    http::header,
    response::{Html, IntoResponse},
    routing::get,
};
use std::sync::Arc;
use tokio::sync::mpsc;
use vigil::{
    config::{Config, StoreConfig},
    detect::Detector,
    health::Health,
    http::{cors_layer, finish_router},
    notify::{
        LogPublisher, Publisher, SnsPublisher,
        local::{self, LIVE_FEED_CAPACITY, LiveFeed},
    },
    startup::Services,
    store::{StoreError, StoredChange, Stores, embedded::EmbeddedAlertStore},
};

/// A live feed for [`app`] and [`start_notifications`] to share.
pub fn live_feed() -> LiveFeed {
    tokio::sync::broadcast::channel(LIVE_FEED_CAPACITY).0
}

/// Every route of every function, with the same handlers the Lambdas run, plus the
/// OpenAPI and AsyncAPI documents, the WebSocket at `/ws` (fed by `live`) and the
/// console page, behind the CORS policy the HttpApi applies in AWS.
pub fn app(services: &Services, detector: Arc<Detector>, live: &LiveFeed) -> axum::Router {
    let health = Health::new(Some(detector.schema().model.clone()));
    finish_router(
        vigil::auth::router(services.auth_state())
            .merge(vigil::detect::router(services.predict_state(detector)))
            .merge(vigil::alerts::router(services.alerts_state()))
            .merge(vigil::feedback::router(services.alerts_state()))
            .merge(vigil::reports::router(services.reports_state()))
            .merge(vigil::health::router(health))
            .route("/openapi.json", get(openapi_json))
            .route("/asyncapi.json", get(asyncapi_json))
            .route("/console", get(console))
            .merge(live::router(live::LiveState {
                tickets: services.stores.live.clone(),
                users: services.stores.users.clone(),
                feed: live.clone(),
            })),
    )
    .layer(cors_layer(&services.config.cors_origins))
}

/// The contract every route follows, generated from the handlers (see `openapi.json`).
/// Built once, on first request: it never changes while the process runs.
async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.get_or_init(openapi::document_json).as_str(),
    )
}

/// The WebSocket contract (see `asyncapi.json`).
async fn asyncapi_json() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT
            .get_or_init(vigil::live::asyncapi::document_json)
            .as_str(),
    )
}

/// The live console: log in, see the newest alerts, watch new ones arrive. One page,
/// plain HTML and JavaScript, compiled into the binary (no build step).
async fn console() -> Html<&'static str> {
    Html(include_str!("console.html"))
}

/// The stores for `config`; with the embedded store, also its change feed (the local
/// stand-in for the DynamoDB stream).
pub fn stores(
    config: &Config,
    aws: Option<&aws_config::SdkConfig>,
) -> (Stores, Option<mpsc::UnboundedReceiver<StoredChange>>) {
    match config.store {
        StoreConfig::Embedded => {
            let (tx, rx) = mpsc::unbounded_channel();
            let mut stores = Stores::embedded();
            stores.alerts = Arc::new(EmbeddedAlertStore::with_changes(tx));
            (stores, Some(rx))
        }
        StoreConfig::DynamoDb(_) => (Stores::from_config(&config.store, aws), None),
    }
}

/// Delivers alert changes to the notify handler, as the stream does in AWS: to SNS
/// when a topic is configured, else to the log; and their events to `live`. A topic is honoured with either store:
/// the embedded store needs no AWS, so the SNS client's settings are loaded here then.
pub async fn start_notifications(
    services: &Services,
    changes: Option<mpsc::UnboundedReceiver<StoredChange>>,
    topic_arn: Option<String>,
    live: LiveFeed,
) {
    let publisher: Arc<dyn Publisher> = match (topic_arn, &services.aws) {
        (Some(arn), Some(aws)) => Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(aws), arn)),
        (Some(arn), None) => {
            let aws = vigil::aws::load_sdk_config().await;
            Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(&aws), arn))
        }
        (None, _) => Arc::new(LogPublisher),
    };
    match (changes, &services.config.store, &services.aws) {
        (Some(rx), _, _) => {
            tokio::spawn(local::forward_changes(rx, publisher, live));
        }
        (None, StoreConfig::DynamoDb(tables), Some(aws)) => {
            // The follower logs when it is live; nothing here waits for that.
            let (ready, _) = tokio::sync::oneshot::channel();
            tokio::spawn(local::follow_stream(
                aws.clone(),
                tables.alerts.clone(),
                publisher,
                live,
                ready,
            ));
        }
        _ => {}
    }
}

/// `--init`: creates the DynamoDB tables as `template.yaml` defines them, and the
/// alerts topic, if missing. Returns the topic's ARN.
/// Why `--init` could not make the local resources.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("could not create the tables")]
    Tables(#[from] StoreError),
    #[error("could not create the alerts topic")]
    Topic(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub async fn init_resources(services: &Services) -> Result<Option<String>, InitError> {
    let (StoreConfig::DynamoDb(tables), Some(aws)) = (&services.config.store, &services.aws) else {
        return Ok(None);
    };
    let client = aws_sdk_dynamodb::Client::new(aws);
    vigil::store::dynamodb::create_tables(&client, tables).await?;
    tracing::info!(users = %tables.users, alerts = %tables.alerts, "tables ready");
    // CreateTopic is idempotent: it returns the existing topic's ARN.
    let topic = aws_sdk_sns::Client::new(aws)
        .create_topic()
        .name("vigil-alerts")
        .send()
        .await
        .map_err(|e| InitError::Topic(Box::new(e)))?;
    tracing::info!(topic = ?topic.topic_arn, "topic ready");
    Ok(topic.topic_arn)
}
