//! Failures in the middle of batches: a proxy between the DynamoDB store and moto
//! delays every call and loses requests and answers. Whatever it loses, a candidate reported as not stored
//! was not stored, a resend with the same Idempotency-Key completes the batch, every
//! threat is counted exactly once, and the report counters equal a recount.

use chrono::{Duration as TimeDelta, TimeZone, Utc};
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use vigil::{
    domain::{Alert, Category, Severity},
    store::{
        AlertQuery, AlertStore, IdempotentRequest, Ingest, StoreError,
        counters::{Counters, bucket_of, contribution},
        dynamodb::DynamoAlertStore,
    },
};
use vigil_testkit::{
    faults::FaultyProxy,
    threats::{ip, threat},
};

const WINDOW: Duration = Duration::from_secs(3600);

/// Group `g` of the attack: an r2l conversation from its own source.
fn group(g: u32, batch: u32) -> Alert {
    let at =
        Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap() + TimeDelta::seconds(i64::from(batch));
    let target = ("10.0.0.9".parse().unwrap(), 22);
    let threat = threat(
        Category::R2l,
        Severity::High,
        ip(0x0a05_0000, g),
        target,
        "ssh",
        at,
    );
    Alert::open(threat, "edge-1", at)
}

#[tokio::test]
async fn lost_requests_and_answers_count_nothing_twice_and_lose_nothing() {
    let Some(tables) = vigil_testkit::dynamo_tables().await else {
        return;
    };
    let moto: std::net::SocketAddr = std::env::var("AWS_ENDPOINT_URL")
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = FaultyProxy::start(moto).await;
    let faulty = vigil::aws::sdk_loader()
        .endpoint_url(proxy.endpoint())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    let through_proxy = DynamoAlertStore::new(
        aws_sdk_dynamodb::Client::new(&faulty),
        tables.alerts.clone(),
    );
    let direct_client = aws_sdk_dynamodb::Client::new(&vigil::aws::load_sdk_config().await);
    let direct = Arc::new(DynamoAlertStore::new(
        direct_client.clone(),
        tables.alerts.clone(),
    ));

    // 12 batches of 40: 30 new groups each, and 10 repeats of the batch before's.
    let mut expected: BTreeMap<u32, u64> = BTreeMap::new();
    let mut refused = 0;
    proxy.set(0.15, 0.15, Duration::from_millis(2));
    for batch in 0..12u32 {
        let groups: Vec<u32> = (0..30)
            .map(|i| batch * 30 + i)
            .chain((0..10).map(|i| batch.saturating_sub(1) * 30 + i))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let groups: Vec<u32> = groups.into_iter().filter(|g| seen.insert(*g)).collect();
        for g in &groups {
            *expected.entry(*g).or_default() += 1;
        }
        let request = IdempotentRequest {
            id: format!("predict|edge-1|faults-{batch}"),
            fingerprint: format!("batch-{batch}"),
        };
        let ingest = Ingest {
            request: Some(&request),
            deadline: None,
        };
        // The sensor resends until every group is stored (a fresh build of the same
        // batch each time, as a resent request is parsed again).
        let mut attempts = 0;
        loop {
            let mut stored_before = Vec::new();
            for index in 0..groups.len() {
                stored_before
                    .push(marker_exists(&direct_client, &tables.alerts, &request, index).await);
            }
            let candidates: Vec<Alert> = groups.iter().map(|g| group(*g, batch)).collect();
            let outcomes = through_proxy
                .record_detections(&candidates, WINDOW, ingest)
                .await;
            let mut pending = false;
            for (index, outcome) in outcomes.iter().enumerate() {
                match outcome {
                    Ok(_) => {}
                    Err(StoreError::Unavailable(_)) => {
                        // "Nothing was written": its marker (written in the same
                        // transaction as its alert) must not exist.
                        assert!(
                            stored_before[index]
                                || !marker_exists(&direct_client, &tables.alerts, &request, index)
                                    .await,
                            "batch {batch} #{index}: reported not stored, but stored"
                        );
                        pending = true;
                        refused += 1;
                    }
                    Err(StoreError::OutcomeUnknown(_)) => {
                        pending = true;
                        refused += 1;
                    }
                    Err(other) => panic!("batch {batch}: unexpected {other:?}"),
                }
            }
            if !pending {
                break;
            }
            attempts += 1;
            assert!(attempts < 30, "batch {batch} never completed");
        }
    }
    proxy.heal();
    let (lost_requests, lost_answers) = proxy.lost();
    eprintln!(
        "lost {lost_requests} requests and {lost_answers} answers; {refused} outcomes resent"
    );
    assert!(
        lost_requests + lost_answers > 0,
        "the proxy injected faults"
    );

    let all = direct
        .list(&AlertQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut alerts = all.items;
    let mut query = AlertQuery {
        limit: 200,
        ..Default::default()
    };
    let mut next = all.next;
    while let Some(before) = next {
        query.before = Some(before);
        let page = direct.list(&query).await.unwrap();
        alerts.extend(page.items);
        next = page.next;
    }
    assert_eq!(alerts.len(), expected.len(), "one alert per group");
    let counted: BTreeMap<u32, u64> = alerts
        .iter()
        .map(|a| {
            let ip = a.source.as_ref().unwrap().ip.unwrap().to_string();
            let n: std::net::Ipv4Addr = ip.parse().unwrap();
            (u32::from(n) - 0x0a05_0000, a.count)
        })
        .collect();
    assert_eq!(counted, expected, "every threat counted exactly once");

    let stored = direct
        .counters(
            Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 4, 0, 0, 0).unwrap(),
        )
        .await
        .unwrap();
    let mut recount: BTreeMap<_, Counters> = BTreeMap::new();
    for alert in &alerts {
        let bucket = recount.entry(bucket_of(alert.created_at)).or_default();
        for (k, v) in contribution(alert) {
            *bucket.entry(k).or_insert(0) += v;
        }
    }
    let stored: BTreeMap<_, Counters> = stored
        .into_iter()
        .map(|(b, hour)| {
            (
                b,
                hour.counts.into_iter().filter(|(_, v)| *v != 0).collect(),
            )
        })
        .collect();
    assert_eq!(stored, recount, "the counters equal a recount");
}

async fn marker_exists(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    request: &IdempotentRequest,
    index: usize,
) -> bool {
    let key = format!("IDEM#{}#{index}", request.id);
    client
        .get_item()
        .table_name(table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(key))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}
