//! Live alerts, measured: `make bench-live` (release build; moto started by
//! tools/with-moto.sh). Prints one line per figure.
//!
//! 1. Push latency on vigil-local: an alert written through the store → its message
//!    received by a WebSocket client over loopback. On the embedded store (its change
//!    feed) and on DynamoDB in moto (the stream follower, which reads the stream four times
//!    a second, as Lambda's event source mapping does).
//! 2. Fan-out as in AWS: one event, then ten, posted to 1,000 connections through the
//!    API Gateway Management API (moto), connections read from DynamoDB (moto).
//!
//! There is no alternative to run beside these: the Python stack Vigil replaces has no
//! push at all (its frontend polls).

mod support;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio_tungstenite::tungstenite::Message;
use vigil::{
    config::{Config, StoreConfig},
    domain::{Alert, Category, Role, Severity, Threat},
    live::{Connection, ConnectionId, EventMessage},
    notify::{LogPublisher, Pusher, local},
    startup::Services,
    store::Stores,
};
use vigil_testkit::{apigateway, threats::sighting};

const PASSWORD: &str = "bench-admin-password-1";

fn alert(n: u32) -> Alert {
    let now = chrono::Utc::now();
    let threat = Threat {
        sensor: Some(format!("bench-{n}")),
        ..sighting(Category::Dos, Severity::High, now)
    };
    Alert::open(threat, "bench", now)
}

fn percentiles(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize] * 1000.0;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} pushes)",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        samples.len()
    )
}

/// vigil-local in process on `config`, with its change feed or stream follower wired
/// to a live feed, and a WebSocket client connected as admin.
async fn live_server(
    config: Config,
) -> (
    Services,
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) {
    let aws = vigil::aws::sdk_config(&config).await;
    let (stores, changes) = vigil_local::stores(&config, aws.as_ref());
    let services = Services::with_stores(config, aws, stores).await.unwrap();
    vigil_local::init_resources(&services).await.unwrap();
    services
        .ensure_admin(vigil::domain::Password::parse_new(PASSWORD).unwrap())
        .await
        .unwrap();
    let feed = vigil_local::live_feed();
    match (changes, &services.config.store, &services.aws) {
        (Some(changes), _, _) => {
            tokio::spawn(local::forward_changes(
                changes,
                Arc::new(LogPublisher),
                feed.clone(),
            ));
        }
        (None, StoreConfig::DynamoDb(tables), Some(aws)) => {
            let (ready, following) = tokio::sync::oneshot::channel();
            tokio::spawn(local::follow_stream(
                aws.clone(),
                tables.alerts.clone(),
                Arc::new(LogPublisher),
                feed.clone(),
                ready,
            ));
            following.await.unwrap();
        }
        _ => unreachable!(),
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let detector = Arc::new(vigil::detect::Detector::bundled().unwrap());
    let app = vigil_local::app(&services, detector, &feed)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let token = support::admin_token(&client, &base, PASSWORD).await;
    let ticket: Value = client
        .post(format!("{base}/auth/ws-ticket"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/ws?ticket={}",
        base.replace("http://", "ws://"),
        ticket["ticket"].as_str().unwrap()
    );
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    (services, socket)
}

async fn push_latency(label: &str, config: Config, rounds: u32) {
    let (services, mut socket) = live_server(config).await;
    socket
        .send(Message::text(json!({"action": "subscribe"}).to_string()))
        .await
        .unwrap();
    socket.next().await.unwrap().unwrap(); // subscribed
    let mut samples = Vec::new();
    for n in 0..rounds {
        let alert = alert(n);
        let written = Instant::now();
        services.stores.alerts.create(&alert).await.unwrap();
        let received = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a push within 10 s")
            .unwrap()
            .unwrap();
        samples.push(written.elapsed().as_secs_f64());
        let message: Value = serde_json::from_str(received.to_text().unwrap()).unwrap();
        assert_eq!(message["alert"]["id"], alert.id.to_string());
    }
    println!(
        "push latency, {label}: write → message {}",
        percentiles(samples)
    );
}

async fn fan_out() {
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let config = StoreConfig::DynamoDb(vigil::config::TableNames {
        users: format!("bench-users-{run}"),
        alerts: format!("bench-alerts-{run}"),
        connections: format!("bench-connections-{run}"),
    });
    let aws = vigil::aws::load_sdk_config().await;
    let StoreConfig::DynamoDb(tables) = &config else {
        unreachable!()
    };
    vigil::store::dynamodb::create_tables(&aws_sdk_dynamodb::Client::new(&aws), tables)
        .await
        .unwrap();
    let stores = Stores::from_config(&config, Some(&aws));
    let now = chrono::Utc::now();
    let analyst = vigil_testkit::users::user("ana", Role::Analyst);
    stores.users.create(&analyst).await.unwrap();
    let connections = 1_000;
    futures::stream::iter(0..connections)
        .map(|i| {
            let (stores, analyst, run) = (&stores, &analyst, &run);
            async move {
                let id = ConnectionId(format!("bench-{run}-{i}"));
                apigateway::open_connection(&id.0).await;
                let connection = Connection::open(id, analyst, now);
                stores.live.connect(&connection).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let pusher = Pusher::new(
        &aws,
        &apigateway::endpoint(),
        stores.live.clone(),
        stores.users.clone(),
    );
    for events in [1usize, 1, 10] {
        let batch: Vec<EventMessage> = (0..events)
            .map(|n| EventMessage::for_change(None, &alert(n as u32)).unwrap())
            .collect();
        let started = Instant::now();
        let report = pusher.push(&batch).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(report.delivered, events * connections);
        println!(
            "fan-out, moto: {events} event(s) to {connections} connections in {seconds:.2} s \
             ({:.0} posts/s, connections read and users checked included)",
            report.delivered as f64 / seconds
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let embedded = Config::from_lookup(|k| match k {
            "VIGIL_STORE" => Some("embedded".into()),
            _ => None,
        })
        .unwrap();
        push_latency("embedded store (change feed)", embedded, 500).await;
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let dynamodb = Config::from_lookup(|k| match k {
            "VIGIL_STORE" => Some("dynamodb".into()),
            "VIGIL_USERS_TABLE" => Some(format!("bench-users-{run}")),
            "VIGIL_ALERTS_TABLE" => Some(format!("bench-alerts-{run}")),
            "VIGIL_CONNECTIONS_TABLE" => Some(format!("bench-connections-{run}")),
            other => std::env::var(other).ok(),
        })
        .unwrap();
        push_latency(
            "DynamoDB store in moto (stream follower, 4 reads/s)",
            dynamodb,
            20,
        )
        .await;
        fan_out().await;
    });
}
