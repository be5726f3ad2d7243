//! Attack day, measured: vigil-local's routes over HTTP on the DynamoDB store, against
//! moto on loopback, as a sensor and an analyst would use them. Run with
//! `make bench-attack` (release build; moto started by tools/with-moto.sh).
//!
//! Scenarios (Done of issue 11):
//! 1. a SYN flood of 10,000 sources on one target, in 10 batches of 1,000;
//! 2. 10,000 distinct attacker/target pairs in one hour, 10 batches of 1,000, beside
//!    the alternative in the same run: the same groups written one at a time
//!    (`record_detection` per group, what predict did before);
//! 3. a scan of 1,000 ports from one source;
//! 4. 300 notes of 2,000 characters on the flood's alert, and its item's size;
//! 5. an analyst acknowledging an alert of each kind from the attack hour.
//!
//! Notifications are off: in AWS the stream is read by the notify function, not by
//! the process that writes.

mod support;

use serde_json::{Value, json};
use std::{sync::Arc, time::Instant};
use vigil::{
    config::Config,
    domain::{Alert, Category::Dos, Severity::High, Threat},
    startup::Services,
};
use vigil_testkit::records::{port_scan, syn_flood, with_context};

const PASSWORD: &str = "bench-admin-password-1";

fn ip(base: u32, i: u32) -> String {
    std::net::Ipv4Addr::from(base + i).to_string()
}

struct Bench {
    base: String,
    client: reqwest::Client,
    token: String,
    services: Services,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Bench {
    async fn start() -> Self {
        let run = ulid::Ulid::new().to_string().to_lowercase();
        let (users, alerts) = (format!("bench-users-{run}"), format!("bench-alerts-{run}"));
        let config = Config::from_lookup(|k| match k {
            "VIGIL_STORE" => Some("dynamodb".into()),
            "VIGIL_USERS_TABLE" => Some(users.clone()),
            "VIGIL_ALERTS_TABLE" => Some(alerts.clone()),
            other => std::env::var(other).ok(),
        })
        .expect("config");
        let aws = vigil::aws::sdk_config(&config).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(
            aws.as_ref()
                .expect("AWS_ENDPOINT_URL: run under tools/with-moto.sh"),
        );
        let (stores, _) = vigil_local::stores(&config, aws.as_ref());
        let services = Services::with_stores(config, aws, stores)
            .await
            .expect("services");
        vigil_local::init_resources(&services)
            .await
            .expect("tables");
        services
            .ensure_admin(vigil::domain::Password::parse_new(PASSWORD).unwrap())
            .await
            .expect("admin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let detector = Arc::new(vigil::detect::Detector::bundled().expect("model"));
        let app = vigil_local::app(&services, detector, &vigil_local::live_feed());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        let token = support::admin_token(&client, &base, PASSWORD).await;
        Self {
            base,
            client,
            token,
            services,
            dynamodb,
            table: alerts,
        }
    }

    async fn predict(&self, records: Vec<Value>) -> (Value, f64) {
        self.predict_keyed(records, None).await
    }

    async fn predict_keyed(&self, records: Vec<Value>, key: Option<&str>) -> (Value, f64) {
        let started = Instant::now();
        let mut request = self
            .client
            .post(format!("{}/threat-detection/predict", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "records": records }));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        (body, started.elapsed().as_secs_f64())
    }

    /// Alerts and occurrences over the last day, from the report.
    async fn totals(&self) -> (i64, i64) {
        let report: Value = self
            .client
            .get(format!("{}/reports?period=24h", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            report["total"].as_i64().unwrap(),
            report["occurrences"].as_i64().unwrap(),
        )
    }

    async fn alert(&self, id: &str) -> Value {
        self.client
            .get(format!("{}/alerts/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn update(&self, id: &str, body: Value) -> reqwest::StatusCode {
        self.client
            .put(format!("{}/alerts/{id}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The alert's item as stored, and its size as DynamoDB counts it.
    async fn item_bytes(&self, id: &str) -> usize {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("ALERT#{id}")),
            )
            .send()
            .await
            .unwrap();
        vigil::store::dynamodb::item_size(&out.item.unwrap())
    }
}

fn seconds(all: &[f64]) -> String {
    all.iter()
        .map(|s| format!("{s:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() {
    let bench = Bench::start().await;
    println!(
        "attack bench: vigil-local (release) on DynamoDB at {}",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
    );

    // 1. A SYN flood of 10,000 sources on one target.
    let mut times = Vec::new();
    let mut flood_id = String::new();
    for batch in 0..10u32 {
        let records = (0..1000)
            .map(|i| {
                with_context(
                    syn_flood(),
                    json!({"src_ip": ip(0xc612_0000, batch * 1000 + i), "dst_ip": "10.0.0.9", "dst_port": 80, "sensor": "edge-1"}),
                )
            })
            .collect();
        let (body, s) = bench.predict(records).await;
        times.push(s);
        flood_id = body["predictions"][0]["alert_id"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    let flood = bench.alert(&flood_id).await;
    let distinct = flood["sources"]["distinct"].as_f64().unwrap();
    println!(
        "1. SYN flood, 10 x 1,000 records, 10,000 sources, one target: batches {} s; \
         alert count {}, sources.distinct {} ({:+.2} %)",
        seconds(&times),
        flood["count"],
        distinct,
        (distinct - 10_000.0) / 100.0,
    );

    // 2. 10,000 distinct attacker/target pairs: 1,000 new groups a batch.
    let pairs = |batch: u32| -> Vec<Value> {
        (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                with_context(
                    syn_flood(),
                    json!({"src_ip": ip(0xcb00_7100, n), "dst_ip": ip(0x0a10_0000, n), "dst_port": 443, "sensor": "edge-2"}),
                )
            })
            .collect()
    };
    let mut times = Vec::new();
    let mut pair_id = String::new();
    for batch in 0..10u32 {
        let key = format!("pairs-{batch}");
        let (body, s) = bench.predict_keyed(pairs(batch), Some(&key)).await;
        assert_eq!(
            body["summary"]["alerts_created"], 1000,
            "{}",
            body["summary"]
        );
        times.push(s);
        pair_id = body["predictions"][999]["alert_id"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    println!(
        "2. 10,000 attacker/target pairs, 10 x 1,000 new groups: batches {} s (first {:.2}, last {:.2})",
        seconds(&times),
        times[0],
        times[9]
    );
    // A sensor that timed out resends its last batch with the same key.
    let before = bench.totals().await;
    let (body, s) = bench.predict_keyed(pairs(9), Some("pairs-9")).await;
    let after = bench.totals().await;
    println!(
        "   resend of the last batch, same Idempotency-Key: {s:.2} s, alert ids the same: {}; \
         report (alerts, occurrences) before {before:?}, after {after:?}",
        body["predictions"][999]["alert_id"].as_str() == Some(pair_id.as_str()),
    );
    // Beside it: the same kind of 1,000 groups, one record_detection at a time.
    let now = chrono::Utc::now();
    let candidates: Vec<Alert> = (0..1000u32)
        .map(|n| {
            let source = ip(0xcb00_7100, 20_000 + n).parse().unwrap();
            let target = (ip(0x0a20_0000, n).parse().unwrap(), 443);
            let threat = Threat {
                sensor: Some("edge-3".into()),
                ..vigil_testkit::threats::threat(Dos, High, source, target, "private", now)
            };
            Alert::open(threat, "edge-3", now)
        })
        .collect();
    let window = std::time::Duration::from_secs(900);
    let started = Instant::now();
    for c in &candidates[..500] {
        bench
            .services
            .stores
            .alerts
            .record_detection(c, window)
            .await
            .unwrap();
    }
    let one_by_one = started.elapsed().as_secs_f64() * 2.0;
    let started = Instant::now();
    let batched = bench
        .services
        .stores
        .alerts
        .record_detections(&candidates[500..], window, Default::default())
        .await;
    assert!(batched.iter().all(|d| d.as_ref().is_ok_and(|d| d.created)));
    let batched = started.elapsed().as_secs_f64() * 2.0;
    println!(
        "   store only, per 1,000 new groups: one at a time {one_by_one:.2} s, batched {batched:.2} s ({:.1}x)",
        one_by_one / batched
    );

    // 3. A scan of 1,000 ports from one source.
    let records = (0..1000)
        .map(|port| with_context(port_scan(), json!({"src_ip": "203.0.113.66", "dst_ip": "10.0.0.20", "dst_port": port + 1, "sensor": "edge-1"})))
        .collect();
    let (body, s) = bench.predict(records).await;
    let scan_id = body["predictions"][0]["alert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scan = bench.alert(&scan_id).await;
    println!(
        "3. port scan, 1,000 ports: {s:.2} s, alerts created {}, ports.distinct {}",
        body["summary"]["alerts_created"], scan["ports"]["distinct"]
    );

    // 4. 300 long notes on the flood's alert.
    let note = "n".repeat(2000);
    let first = flood["version"].as_u64().unwrap();
    let mut ok = 0;
    let started = Instant::now();
    for version in first..first + 300 {
        let body = json!({"version": version, "note": note});
        if bench.update(&flood_id, body).await == 200 {
            ok += 1;
        }
    }
    let per_note = started.elapsed().as_secs_f64() / 300.0 * 1000.0;
    println!(
        "4. 300 notes of 2,000 characters: {ok} succeeded, {per_note:.1} ms each; the alert's item: {} bytes",
        bench.item_bytes(&flood_id).await
    );

    // 5. An analyst acknowledges an alert of each kind from the attack hour.
    let mut acknowledged = Vec::new();
    for id in [&flood_id, &pair_id, &scan_id] {
        let current = bench.alert(id).await;
        let status = bench
            .update(
                id,
                json!({"version": current["version"], "status": "acknowledged"}),
            )
            .await;
        acknowledged.push(status.as_u16());
    }
    println!("5. acknowledge flood, pair and scan alerts: {acknowledged:?}");
}
