//! Attack day through the store: a flood from thousands of sources, a scan of a
//! thousand ports, analysts writing a thousand notes. The alerts stay few, their
//! counts add up, and no stored item grows past its stated bound (checked on
//! DynamoDB, item by item, with DynamoDB's own size rule).

use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use std::{sync::Arc, time::Duration};
use vigil::{
    domain::{Alert, AlertStatus, Category, HISTORY_KEPT, Severity, Threat},
    store::{
        AlertStore, Stores,
        dynamodb::{DynamoAlertStore, items},
    },
};
use vigil_testkit::threats::{ip, threat};

const WINDOW: Duration = Duration::from_secs(3600);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
}

/// A SYN-flood record from source number `i` at one web server.
fn flood(i: u32, at: DateTime<Utc>) -> Threat {
    let target = ("10.0.0.9".parse().unwrap(), 80);
    threat(
        Category::Dos,
        Severity::High,
        ip(0xc612_0000, i),
        target,
        "http",
        at,
    )
}

/// A probe from one source at host `i`, port `i`.
fn scan(i: u32, at: DateTime<Utc>) -> Threat {
    let source = "203.0.113.66".parse().unwrap();
    let target = (ip(0x0a01_0000, i), i as u16 + 1);
    threat(
        Category::Probe,
        Severity::Medium,
        source,
        target,
        "private",
        at,
    )
}

/// What predict hands the store for a batch: the batch's threats grouped (here all
/// one campaign), as one candidate.
fn group(threats: impl IntoIterator<Item = Threat>, now: DateTime<Utc>) -> Alert {
    let mut threats = threats.into_iter();
    let mut alert = Alert::open(threats.next().unwrap(), "edge-1", now);
    for t in threats {
        alert.absorb_threat(&t, now);
    }
    alert
}

/// Ten batches of a thousand flood records, and a thousand-port scan: two alerts.
async fn an_attack_is_two_alerts(alerts: &dyn AlertStore) -> (Alert, Alert) {
    let mut flood_alert = None;
    for batch in 0..10u32 {
        let at = t0() + TimeDelta::seconds(i64::from(batch) * 30);
        let candidate = group((0..1000).map(|i| flood(batch * 1000 + i, at)), at);
        let outcome = alerts
            .record_detections(&[candidate], WINDOW, Default::default())
            .await;
        let detection = outcome.into_iter().next().unwrap().unwrap();
        assert_eq!(detection.created, batch == 0, "batch {batch}");
        flood_alert = Some(detection.alert);
    }
    let flood_alert = flood_alert.unwrap();
    assert_eq!(flood_alert.count, 10_000);
    let distinct = flood_alert.sources.distinct() as f64;
    assert!(
        (distinct - 10_000.0).abs() / 10_000.0 < 0.02,
        "sources.distinct {distinct}"
    );
    assert_eq!(
        flood_alert.targets, None,
        "a flood is grouped by its target"
    );

    let scan_alert = alerts
        .record_detection(&group((0..1000).map(|i| scan(i, t0())), t0()), WINDOW)
        .await
        .unwrap()
        .alert;
    assert_eq!(scan_alert.count, 1000);
    let ports = scan_alert.ports.as_ref().unwrap().distinct() as f64;
    let targets = scan_alert.targets.as_ref().unwrap().distinct() as f64;
    assert!((ports - 1000.0).abs() < 20.0, "ports.distinct {ports}");
    assert!(
        (targets - 1000.0).abs() < 20.0,
        "targets.distinct {targets}"
    );
    assert_eq!(scan_alert.sources.distinct(), 1);
    (flood_alert, scan_alert)
}

/// Analysts work the flood's alert hard: `notes` notes of 2,000 four-byte characters.
async fn analysts_write_notes(alerts: &dyn AlertStore, alert: &Alert, notes: usize) -> Alert {
    let note = "🛡".repeat(2000);
    for i in 0..notes {
        let mut a = alerts.get(alert.id).await.unwrap().unwrap();
        if i == 0 {
            a.move_to(AlertStatus::Acknowledged, "ana", None, t0())
                .unwrap();
        }
        a.add_note(note.clone(), "ana", t0() + TimeDelta::seconds(i as i64));
        a.version += 1;
        alerts.update(&a).await.unwrap();
    }
    let worked = alerts.get(alert.id).await.unwrap().unwrap();
    assert_eq!(worked.history_total, 2 + notes as u64);
    assert!(worked.history.len() <= HISTORY_KEPT);
    // Every entry is still there, in order, a page at a time.
    let mut seqs = Vec::new();
    let mut from = 1;
    loop {
        let page = alerts.history(alert.id, from, 100).await.unwrap().unwrap();
        seqs.extend(page.entries.iter().map(|e| e.seq));
        match page.next {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(seqs, (1..=worked.history_total).collect::<Vec<_>>());
    worked
}

#[tokio::test]
async fn an_attack_is_a_handful_of_alerts_on_the_embedded_store() {
    let stores = Stores::embedded();
    let (flood, _) = an_attack_is_two_alerts(stores.alerts.as_ref()).await;
    analysts_write_notes(stores.alerts.as_ref(), &flood, 300).await;
}

#[tokio::test]
async fn an_attack_keeps_every_dynamodb_item_within_its_bound() {
    let Some(tables) = vigil_testkit::dynamo_tables().await else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&vigil::aws::load_sdk_config().await);
    let alerts = Arc::new(DynamoAlertStore::new(client.clone(), tables.alerts.clone()));

    let (flood, _) = an_attack_is_two_alerts(alerts.as_ref()).await;
    analysts_write_notes(alerts.as_ref(), &flood, 1000).await;

    let mut checked = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(&tables.alerts)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in out.items.unwrap_or_default() {
            let pk = item["pk"].as_s().unwrap().clone();
            let (kind, bound) = match pk.split('#').next().unwrap() {
                "ALERT" => ("alert", items::ALERT_MAX_BYTES),
                "HISTORY" => ("history", items::HISTORY_MAX_BYTES),
                "COUNT" => ("counters", items::COUNTER_MAX_BYTES),
                "DEDUP" => ("pointer", items::SMALL_MAX_BYTES),
                other => panic!("an item of unknown kind {other}"),
            };
            let size = items::item_size(&item);
            assert!(size <= bound, "{pk}: {size} bytes, bound {bound}");
            let seen = checked.entry(kind).or_default();
            seen.0 += 1;
            seen.1 = seen.1.max(size);
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    eprintln!("items (count, largest bytes): {checked:?}");
    assert_eq!(checked["alert"].0, 2);
    assert!(checked["history"].0 >= 1000 - HISTORY_KEPT);
}
