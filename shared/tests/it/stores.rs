//! The store conformance suite: every test runs against the embedded store and against
//! DynamoDB over the wire (moto, started by `make test`). Each DynamoDB test gets fresh
//! tables, so tests run in parallel without seeing each other's data.

use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use std::{net::IpAddr, sync::Arc, time::Duration};
use vigil::{
    domain::{
        Alert, AlertId, AlertStatus, Category, Contribution, Endpoint, Evidence, FeatureValue,
        Profile, Role, Severity, Sighting, Threat, User, Username,
    },
    live::{CONNECTION_TTL, Connection, ConnectionId, Filters, TICKET_TTL, Ticket, TicketGrant},
    store::{
        AlertQuery, Claim, Detection, IdempotentRequest, Ingest, LoginKey, StoreError, Stores,
        dynamodb::{DynamoAlertStore, DynamoLiveStore, DynamoUserStore, create_tables},
    },
};

fn embedded() -> Stores {
    Stores::embedded()
}

/// Fresh DynamoDB tables at `AWS_ENDPOINT_URL`, or `None` (test skipped) when the
/// suite runs without moto. `make test` always provides it; in CI a missing endpoint
/// is a failure, not a skip.
async fn dynamodb() -> Option<Stores> {
    let tables = vigil_testkit::dynamo_tables().await?;
    let client = aws_sdk_dynamodb::Client::new(&vigil::aws::load_sdk_config().await);
    // Idempotent: a second call finds the tables and leaves them alone.
    create_tables(&client, &tables)
        .await
        .expect("create tables twice");
    Some(Stores {
        users: Arc::new(DynamoUserStore::new(client.clone(), tables.users)),
        alerts: Arc::new(DynamoAlertStore::new(client.clone(), tables.alerts)),
        live: Arc::new(DynamoLiveStore::new(client, tables.connections)),
    })
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(#[tokio::test] async fn $name() { super::$name(super::embedded()).await })*
        }
        mod dynamodb_store {
            $(#[tokio::test] async fn $name() {
                if let Some(stores) = super::dynamodb().await { super::$name(stores).await }
            })*
        }
    };
}

conformance!(
    users_are_created_once_and_read_back,
    users_are_replaced_only_when_they_exist,
    users_are_listed_by_name,
    failed_logins_count_inside_a_window_and_restart_after_it,
    alerts_are_created_once_and_read_back,
    alert_updates_need_the_current_version,
    alerts_list_newest_first,
    alerts_filter_by_every_field,
    alerts_page_without_gaps_or_repeats,
    alerts_filter_by_time_range,
    detections_aggregate_repeats_inside_the_window,
    a_repeat_moves_the_latest_evidence_and_keeps_the_first,
    detections_never_aggregate_into_closed_alerts,
    workflow_updates_leave_counters_alone,
    report_counters_equal_a_recount,
    concurrent_detections_make_one_alert,
    a_resend_with_the_same_key_counts_nothing_twice,
    a_batch_out_of_time_is_stored_by_its_resend,
    a_rare_filter_pages_through_a_large_index,
    a_ticket_is_redeemed_once_and_only_before_it_expires,
    connections_are_kept_with_their_filters_until_they_go,
);

fn name(n: &str) -> Username {
    Username::parse(n).unwrap()
}

fn login_key(n: &str) -> LoginKey {
    LoginKey {
        username: name(n),
        source: "198.51.100.1".into(),
    }
}

fn user(n: &str, role: Role) -> User {
    vigil_testkit::users::user(n, role)
}

async fn users_are_created_once_and_read_back(stores: Stores) {
    let alice = user("alice", Role::Analyst);
    stores.users.create(&alice).await.unwrap();
    assert_eq!(
        stores.users.get(&name("alice")).await.unwrap(),
        Some(alice.clone())
    );
    assert!(matches!(
        stores.users.create(&alice).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(stores.users.get(&name("bob")).await.unwrap(), None);
}

async fn users_are_replaced_only_when_they_exist(stores: Stores) {
    let mut alice = user("alice", Role::Analyst);
    assert!(matches!(
        stores.users.replace(&alice).await,
        Err(StoreError::NotFound)
    ));
    stores.users.create(&alice).await.unwrap();
    // Two admins read alice at version 1: one disables her, the other changes her
    // role. The second write names the version it read, so it cannot undo the first.
    let mut disabled = alice.clone();
    disabled.disabled = true;
    disabled.version = 2;
    let mut demoted = alice.clone();
    demoted.role = Role::Viewer;
    demoted.version = 2;
    stores.users.replace(&disabled).await.unwrap();
    assert!(matches!(
        stores.users.replace(&demoted).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(
        stores.users.get(&name("alice")).await.unwrap(),
        Some(disabled)
    );
    alice.version = 2;
    assert!(matches!(
        stores.users.replace(&alice).await,
        Err(StoreError::VersionConflict)
    ));
}

async fn users_are_listed_by_name(stores: Stores) {
    for n in ["carol", "alice", "bob"] {
        stores.users.create(&user(n, Role::Viewer)).await.unwrap();
    }
    // Failed-login records live beside users and must not show up as users.
    stores
        .users
        .record_failed_login(&login_key("alice"), Utc::now(), Duration::from_secs(60))
        .await
        .unwrap();
    let names: Vec<String> = stores
        .users
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username.to_string())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
}

async fn failed_logins_count_inside_a_window_and_restart_after_it(stores: Stores) {
    let window = Duration::from_secs(15 * 60);
    let t0 = Utc::now();
    let who = login_key("mallory");
    let elsewhere = LoginKey {
        source: "203.0.113.9".into(),
        ..who.clone()
    };
    assert_eq!(
        stores.users.failed_logins(&who, t0, window).await.unwrap(),
        None
    );
    for expected in 1..=3 {
        let at = t0 + TimeDelta::seconds(expected);
        let f = stores
            .users
            .record_failed_login(&who, at, window)
            .await
            .unwrap();
        assert_eq!(f.count, expected as u32);
    }
    let current = stores
        .users
        .failed_logins(&who, t0 + TimeDelta::minutes(14), window)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.count, 3);
    assert_eq!(
        stores
            .users
            .failed_logins(&elsewhere, t0, window)
            .await
            .unwrap(),
        None,
        "another source address has a count of its own"
    );
    assert_eq!(
        current.window_start.timestamp_millis(),
        (t0 + TimeDelta::seconds(1)).timestamp_millis()
    );
    // After the window, the old failures no longer count and a new window starts.
    let later = t0 + TimeDelta::minutes(16);
    assert_eq!(
        stores
            .users
            .failed_logins(&who, later, window)
            .await
            .unwrap(),
        None
    );
    let f = stores
        .users
        .record_failed_login(&who, later, window)
        .await
        .unwrap();
    assert_eq!(f.count, 1);
    stores.users.clear_failed_logins(&who).await.unwrap();
    assert_eq!(
        stores
            .users
            .failed_logins(&who, later, window)
            .await
            .unwrap(),
        None
    );
}

/// An alert opened at `at`, with an id from that instant.
fn alert_at(at: DateTime<Utc>, category: Category, severity: Severity) -> Alert {
    let (source, target) = (
        "10.0.0.5".parse().unwrap(),
        ("10.0.0.9".parse().unwrap(), 80),
    );
    let threat = Threat {
        summary: Some("synthetic".into()),
        ..vigil_testkit::threats::threat(category, severity, source, target, "http", at)
    };
    let mut alert = Alert::open(threat, "edge-1", at);
    alert.id = AlertId::from_parts(at.timestamp_millis() as u64, rand_bits());
    alert
}

fn rand_bits() -> u128 {
    ulid::Ulid::new().random()
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

async fn alerts_are_created_once_and_read_back(stores: Stores) {
    let a = alert_at(base_time(), Category::Dos, Severity::High);
    stores.alerts.create(&a).await.unwrap();
    assert_eq!(stores.alerts.get(a.id).await.unwrap(), Some(a.clone()));
    assert!(matches!(
        stores.alerts.create(&a).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(stores.alerts.get(AlertId::new()).await.unwrap(), None);
}

async fn alert_updates_need_the_current_version(stores: Stores) {
    let mut a = alert_at(base_time(), Category::Probe, Severity::Low);
    stores.alerts.create(&a).await.unwrap();
    a.status = AlertStatus::Acknowledged;
    a.version = 2;
    stores.alerts.update(&a).await.unwrap();
    // A writer still holding version 1 loses.
    let mut stale = a.clone();
    stale.status = AlertStatus::Resolved;
    assert!(matches!(
        stores.alerts.update(&stale).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(
        stores.alerts.get(a.id).await.unwrap().unwrap().status,
        AlertStatus::Acknowledged
    );
    let missing = alert_at(base_time(), Category::Dos, Severity::Low);
    let mut missing = missing;
    missing.version = 2;
    assert!(matches!(
        stores.alerts.update(&missing).await,
        Err(StoreError::NotFound)
    ));
}

async fn seed(stores: &Stores, n: usize) -> Vec<Alert> {
    let mut all = Vec::new();
    for i in 0..n {
        let category = Category::ALL[i % 5];
        let severity = Severity::ALL[i % 4];
        let mut a = alert_at(
            base_time() + TimeDelta::minutes(i as i64),
            category,
            severity,
        );
        if i % 3 == 0 {
            a.status = AlertStatus::Acknowledged;
            a.assignee = Some(name("alice"));
        }
        if i % 7 == 0 {
            a.source = Some(Endpoint {
                ip: Some("192.0.2.7".parse().unwrap()),
                port: None,
            });
        }
        stores.alerts.create(&a).await.unwrap();
        all.push(a);
    }
    all.reverse(); // newest first
    all
}

fn ids(alerts: &[Alert]) -> Vec<AlertId> {
    alerts.iter().map(|a| a.id).collect()
}

async fn alerts_list_newest_first(stores: Stores) {
    let all = seed(&stores, 6).await;
    let page = stores
        .alerts
        .list(&AlertQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.items), ids(&all));
    assert_eq!(page.next, None);
}

async fn alerts_filter_by_every_field(stores: Stores) {
    let all = seed(&stores, 30).await;
    let source: IpAddr = "192.0.2.7".parse().unwrap();
    let queries = [
        AlertQuery {
            statuses: vec![AlertStatus::Acknowledged],
            ..Default::default()
        },
        AlertQuery {
            statuses: vec![AlertStatus::Open, AlertStatus::Acknowledged],
            min_severity: Some(Severity::High),
            ..Default::default()
        },
        AlertQuery {
            min_severity: Some(Severity::Medium),
            ..Default::default()
        },
        AlertQuery {
            category: Some(Category::Probe),
            min_severity: Some(Severity::Medium),
            ..Default::default()
        },
        AlertQuery {
            assignee: Some(name("alice")),
            ..Default::default()
        },
        AlertQuery {
            source_ip: Some(source),
            ..Default::default()
        },
        AlertQuery {
            statuses: vec![AlertStatus::Open],
            source_ip: Some(source),
            category: Some(Category::Dos),
            ..Default::default()
        },
    ];
    for mut q in queries {
        q.limit = 100;
        let expected: Vec<AlertId> = all.iter().filter(|a| q.matches(a)).map(|a| a.id).collect();
        assert!(
            !expected.is_empty() || q.category.is_some(),
            "query selects something: {q:?}"
        );
        let page = stores.alerts.list(&q).await.unwrap();
        assert_eq!(ids(&page.items), expected, "query {q:?}");
    }
}

async fn alerts_page_without_gaps_or_repeats(stores: Stores) {
    let all = seed(&stores, 23).await;
    for filter in [
        AlertQuery::default(),
        AlertQuery {
            min_severity: Some(Severity::Medium),
            ..Default::default()
        },
        AlertQuery {
            statuses: vec![AlertStatus::Open, AlertStatus::Acknowledged],
            ..Default::default()
        },
    ] {
        let expected: Vec<AlertId> = all
            .iter()
            .filter(|a| filter.matches(a))
            .map(|a| a.id)
            .collect();
        let mut seen = Vec::new();
        let mut before = None;
        for _ in 0..50 {
            let page = stores
                .alerts
                .list(&AlertQuery {
                    before,
                    limit: 4,
                    ..filter.clone()
                })
                .await
                .unwrap();
            assert!(page.items.len() <= 4);
            seen.extend(ids(&page.items));
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "paging with {filter:?}");
    }
}

async fn alerts_filter_by_time_range(stores: Stores) {
    let all = seed(&stores, 10).await;
    let q = AlertQuery {
        from: Some(base_time() + TimeDelta::minutes(3)),
        to: Some(base_time() + TimeDelta::minutes(6)),
        limit: 100,
        ..Default::default()
    };
    let page = stores.alerts.list(&q).await.unwrap();
    let expected: Vec<AlertId> = all.iter().filter(|a| q.matches(a)).map(|a| a.id).collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(ids(&page.items), expected);
}

const WINDOW: Duration = Duration::from_secs(3600);

fn detection_at(at: DateTime<Utc>, severity: Severity) -> Alert {
    alert_at(at, Category::Dos, severity)
}

async fn detections_aggregate_repeats_inside_the_window(stores: Stores) {
    let t0 = base_time();
    let first = stores
        .alerts
        .record_detection(&detection_at(t0, Severity::Medium), WINDOW)
        .await
        .unwrap();
    assert!(first.created);

    let repeat = stores
        .alerts
        .record_detection(
            &detection_at(t0 + TimeDelta::minutes(10), Severity::High),
            WINDOW,
        )
        .await
        .unwrap();

    assert!(!repeat.created);
    assert_eq!(repeat.alert.id, first.alert.id);
    assert_eq!(repeat.alert.count, 2);
    assert_eq!(repeat.alert.severity, Severity::High);
    assert_eq!(repeat.alert.last_seen, t0 + TimeDelta::minutes(10));
    assert_eq!(
        stores
            .alerts
            .get(first.alert.id)
            .await
            .unwrap()
            .unwrap()
            .count,
        2
    );

    // Hours after the last sighting, the same threat is a new alert.
    let later = stores
        .alerts
        .record_detection(
            &detection_at(t0 + TimeDelta::hours(3), Severity::Low),
            WINDOW,
        )
        .await
        .unwrap();
    assert!(later.created);
    assert_ne!(later.alert.id, first.alert.id);
}

fn sighted_at(at: DateTime<Utc>, record: &str) -> Alert {
    let mut alert = detection_at(at, Severity::High);
    alert.evidence = Some(Evidence::of(Sighting {
        seen_at: at,
        record: record.into(),
        score: 0.99,
        novelty: 0.4,
        profile: Profile::Balanced,
        explanation: vec![Contribution {
            feature: "serror_rate".into(),
            value: FeatureValue::Number(1.0),
            contribution: 2.5,
        }],
    }));
    alert
}

async fn a_repeat_moves_the_latest_evidence_and_keeps_the_first(stores: Stores) {
    // Given an alert opened with its first record as evidence
    let t0 = base_time();
    let first = stores
        .alerts
        .record_detection(&sighted_at(t0, "first"), WINDOW)
        .await
        .unwrap();

    // When repeats arrive, the last of them out of order
    for (minutes, record) in [(5, "second"), (9, "third"), (7, "late")] {
        stores
            .alerts
            .record_detection(
                &sighted_at(t0 + TimeDelta::minutes(minutes), record),
                WINDOW,
            )
            .await
            .unwrap();
    }

    // Then the stored alert holds the first and the latest seen, nothing more
    let stored = stores.alerts.get(first.alert.id).await.unwrap().unwrap();
    assert_eq!(stored.count, 4);
    let evidence = stored.evidence.unwrap();
    assert_eq!(evidence.first.record, "first");
    assert_eq!(evidence.latest.record, "third");
    assert_eq!(evidence.latest.seen_at, t0 + TimeDelta::minutes(9));
    assert_eq!(evidence.latest.explanation[0].feature, "serror_rate");
}

async fn detections_never_aggregate_into_closed_alerts(stores: Stores) {
    let t0 = base_time();
    let Detection {
        alert: mut first, ..
    } = stores
        .alerts
        .record_detection(&detection_at(t0, Severity::Medium), WINDOW)
        .await
        .unwrap();
    first.status = AlertStatus::Resolved;
    first.version += 1;
    stores.alerts.update(&first).await.unwrap();

    let again = stores
        .alerts
        .record_detection(
            &detection_at(t0 + TimeDelta::minutes(1), Severity::Medium),
            WINDOW,
        )
        .await
        .unwrap();

    assert!(again.created);
    let repeat = stores
        .alerts
        .record_detection(
            &detection_at(t0 + TimeDelta::minutes(2), Severity::Medium),
            WINDOW,
        )
        .await
        .unwrap();
    assert_eq!((repeat.created, repeat.alert.id), (false, again.alert.id));
}

async fn workflow_updates_leave_counters_alone(stores: Stores) {
    let t0 = base_time();
    let first = stores
        .alerts
        .record_detection(&detection_at(t0, Severity::Medium), WINDOW)
        .await
        .unwrap();
    // An analyst opened the alert at count 1; meanwhile a repeat arrives.
    let mut seen_by_analyst = first.alert.clone();
    stores
        .alerts
        .record_detection(
            &detection_at(t0 + TimeDelta::minutes(1), Severity::Medium),
            WINDOW,
        )
        .await
        .unwrap();

    seen_by_analyst.status = AlertStatus::Acknowledged;
    seen_by_analyst.assignee = Some(name("alice"));
    seen_by_analyst.version += 1;
    stores.alerts.update(&seen_by_analyst).await.unwrap();

    let stored = stores.alerts.get(first.alert.id).await.unwrap().unwrap();
    assert_eq!(stored.count, 2);
    assert_eq!(stored.status, AlertStatus::Acknowledged);
    assert_eq!(stored.assignee, Some(name("alice")));
    // Unassigning removes the assignee.
    let mut unassigned = stored.clone();
    unassigned.assignee = None;
    unassigned.version += 1;
    stores.alerts.update(&unassigned).await.unwrap();
    assert_eq!(
        stores
            .alerts
            .get(first.alert.id)
            .await
            .unwrap()
            .unwrap()
            .assignee,
        None
    );
}

async fn concurrent_detections_make_one_alert(stores: Stores) {
    let t0 = base_time();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let alerts = stores.alerts.clone();
            tokio::spawn(async move {
                alerts
                    .record_detection(
                        &detection_at(t0 + TimeDelta::seconds(i), Severity::Low),
                        WINDOW,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap().created);
    }
    assert_eq!(created, 1);
    let page = stores
        .alerts
        .list(&AlertQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].count, 50);
}

async fn report_counters_equal_a_recount(stores: Stores) {
    use std::collections::BTreeMap;
    use vigil::store::counters::{Counters, bucket_of, contribution};
    let t0 = base_time();
    // Detections (some repeats, one escalation), then workflow changes.
    let mut ids = Vec::new();
    for i in 0..12i64 {
        let mut a = detection_at(
            t0 + TimeDelta::minutes(37 * i),
            Severity::ALL[(i % 4) as usize],
        );
        a.dedup_key = format!("key-{}", i % 5);
        a.category = Category::ALL[(i % 5) as usize];
        a.source = Some(Endpoint {
            ip: Some(format!("10.9.0.{}", i % 3).parse().unwrap()),
            port: None,
        });
        let d = stores
            .alerts
            .record_detection(&a, Duration::from_secs(6 * 3600))
            .await
            .unwrap();
        if d.created {
            ids.push(d.alert.id);
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let mut a = stores.alerts.get(*id).await.unwrap().unwrap();
        let at = a.created_at + TimeDelta::minutes(5);
        a.move_to(AlertStatus::Acknowledged, "ana", None, at)
            .unwrap();
        if i % 2 == 0 {
            a.move_to(
                AlertStatus::Resolved,
                "ana",
                None,
                at + TimeDelta::minutes(30),
            )
            .unwrap();
        }
        a.version += 1;
        stores.alerts.update(&a).await.unwrap();
    }

    let stored = stores
        .alerts
        .counters(t0 - TimeDelta::days(1), t0 + TimeDelta::days(2))
        .await
        .unwrap();

    let page = stores
        .alerts
        .list(&AlertQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut recount: BTreeMap<DateTime<Utc>, Counters> = BTreeMap::new();
    for alert in &page.items {
        let bucket = recount.entry(bucket_of(alert.created_at)).or_default();
        for (k, v) in contribution(alert) {
            *bucket.entry(k).or_insert(0) += v;
        }
    }
    let stored: BTreeMap<DateTime<Utc>, Counters> = stored
        .into_iter()
        .map(|(b, hour)| {
            let mut c = hour.counts;
            c.retain(|_, v| *v != 0);
            (b, c)
        })
        .filter(|(_, c)| !c.is_empty())
        .collect();
    assert!(!recount.is_empty());
    assert_eq!(stored, recount);
}

fn request(key: &str, body: &str) -> IdempotentRequest {
    IdempotentRequest {
        id: format!("predict|edge-1|{key}"),
        fingerprint: body.into(),
    }
}

/// Three groups of a batch, as a resend would rebuild them: new ids, same keys.
fn batch_groups(at: DateTime<Utc>) -> Vec<Alert> {
    (0..3)
        .map(|i| {
            let mut a = alert_at(at, Category::R2l, Severity::High);
            a.dedup_key = format!("r2l|edge-1|10.0.0.{i}|10.0.0.9|http");
            a
        })
        .collect()
}

async fn a_resend_with_the_same_key_counts_nothing_twice(stores: Stores) {
    let t0 = base_time();
    let first = request("k1", "body-a");
    let ingest = Ingest {
        request: Some(&first),
        deadline: None,
    };
    assert_eq!(stores.alerts.claim(&first, t0).await.unwrap(), Claim::First);
    let stored: Vec<Detection> = stores
        .alerts
        .record_detections(&batch_groups(t0), WINDOW, ingest)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(stored.iter().all(|d| d.created));

    // The resend: the same key and body, rebuilt into candidates with new ids.
    assert_eq!(
        stores.alerts.claim(&first, t0).await.unwrap(),
        Claim::Resend
    );
    let resent: Vec<Detection> = stores
        .alerts
        .record_detections(&batch_groups(t0), WINDOW, ingest)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (a, b) in stored.iter().zip(&resent) {
        assert_eq!(
            b.alert.id, a.alert.id,
            "the resend answers the stored alert"
        );
        assert!(b.created, "as the first request answered it");
    }
    for d in &stored {
        let now = stores.alerts.get(d.alert.id).await.unwrap().unwrap();
        assert_eq!(now.count, 1, "counted once");
    }
    // The same key with another body is refused; another key is new.
    assert_eq!(
        stores
            .alerts
            .claim(&request("k1", "body-b"), t0)
            .await
            .unwrap(),
        Claim::Mismatch
    );
    assert_eq!(
        stores
            .alerts
            .claim(&request("k2", "body-b"), t0)
            .await
            .unwrap(),
        Claim::First
    );
}

async fn a_batch_out_of_time_is_stored_by_its_resend(stores: Stores) {
    let t0 = base_time();
    let key = request("late", "body");
    let late = Ingest {
        request: Some(&key),
        deadline: Some(tokio::time::Instant::now()),
    };
    let outcomes = stores
        .alerts
        .record_detections(&batch_groups(t0), WINDOW, late)
        .await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Err(StoreError::OutOfTime)))
    );
    let page = stores
        .alerts
        .list(&AlertQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty(), "nothing written");

    let in_time = Ingest {
        request: Some(&key),
        deadline: None,
    };
    let outcomes = stores
        .alerts
        .record_detections(&batch_groups(t0), WINDOW, in_time)
        .await;
    assert!(outcomes.iter().all(|o| o.as_ref().is_ok_and(|d| d.created)));
}

/// DynamoDB only (the pointer is its item): the dedup pointer's expiry follows the
/// campaign, not the day it was created, and a backfilled sighting does not create a
/// pointer that is already expired.
#[tokio::test]
async fn the_dedup_pointer_lives_as_long_as_its_campaign() {
    use vigil::store::AlertStore;
    let Some(tables) = vigil_testkit::dynamo_tables().await else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&vigil::aws::load_sdk_config().await);
    let alerts = DynamoAlertStore::new(client.clone(), tables.alerts.clone());
    let expires_at = |key: String| {
        let (client, table) = (client.clone(), tables.alerts.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("DEDUP#{key}")),
                )
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            item["expires_at"].as_n().unwrap().parse::<i64>().unwrap()
        }
    };
    let month = TimeDelta::days(30).num_seconds();
    // Backfilled: observed 60 days ago.
    let long_ago = Utc::now() - TimeDelta::days(60);
    let first = detection_at(long_ago, Severity::Low);
    alerts.record_detection(&first, WINDOW).await.unwrap();
    let created = expires_at(first.dedup_key.clone()).await;
    assert!(
        created >= Utc::now().timestamp() + month - 60,
        "not born expired"
    );

    // A repeat 20 days into the campaign moves the expiry on.
    let later = detection_at(long_ago + TimeDelta::minutes(10), Severity::Low);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let repeat = alerts.record_detection(&later, WINDOW).await.unwrap();
    assert!(!repeat.created);
    assert!(expires_at(first.dedup_key.clone()).await > created);
}

/// 1,500 alerts, 3 of them (the oldest) from one source: no request reads more than
/// its budget (so the first page comes back empty, with a cursor), and following the
/// cursor finds exactly those 3.
async fn a_rare_filter_pages_through_a_large_index(stores: Stores) {
    let t0 = base_time();
    let candidates: Vec<Alert> = (0..1500u32)
        .map(|i| {
            let mut a = alert_at(
                t0 + TimeDelta::seconds(i64::from(i)),
                Category::R2l,
                Severity::High,
            );
            let source = if i < 3 {
                "192.0.2.66".to_owned()
            } else {
                format!("10.1.{}.{}", i / 250, i % 250)
            };
            a.source = Some(Endpoint {
                ip: Some(source.parse().unwrap()),
                port: None,
            });
            a.dedup_key = format!("rare-{i}");
            a
        })
        .collect();
    let stored = stores
        .alerts
        .record_detections(&candidates, WINDOW, Ingest::default())
        .await;
    assert!(stored.iter().all(|d| d.is_ok()));

    let mut query = AlertQuery {
        limit: 10,
        source_ip: Some("192.0.2.66".parse().unwrap()),
        ..Default::default()
    };
    let first = stores.alerts.list(&query).await.unwrap();
    assert!(
        first.items.is_empty() && first.next.is_some(),
        "the first request reads its budget of the newest alerts, finds none, and says where to go on"
    );
    let (mut found, mut pages) = (Vec::new(), 0);
    loop {
        let page = stores.alerts.list(&query).await.unwrap();
        pages += 1;
        found.extend(page.items.iter().map(|a| a.id));
        match page.next {
            Some(next) => query.before = Some(next),
            None => break,
        }
        assert!(pages < 20, "the cursor moves on");
    }
    let mut expected: Vec<AlertId> = candidates[..3].iter().map(|a| a.id).collect();
    expected.reverse();
    assert_eq!(found, expected);
}

async fn a_ticket_is_redeemed_once_and_only_before_it_expires(stores: Stores) {
    // Given two tickets issued to ana
    let now = Utc::now();
    let (first, second) = (Ticket::generate(), Ticket::generate());
    let grant = TicketGrant::new(name("ana"), 0, now);
    stores
        .live
        .issue_ticket(&first.hash(), &grant)
        .await
        .unwrap();
    stores
        .live
        .issue_ticket(&second.hash(), &grant)
        .await
        .unwrap();

    // When the first is redeemed twice, concurrently
    let hash = first.hash();
    let (a, b) = tokio::join!(
        stores.live.redeem_ticket(&hash, now),
        stores.live.redeem_ticket(&hash, now),
    );

    // Then exactly one redeemer gets ana
    let winners: Vec<TicketGrant> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(winners[0].username, name("ana"));
    // And the second, redeemed after its minute, lets nobody in, nor again after that
    let late = now + TICKET_TTL + chrono::Duration::seconds(1);
    assert_eq!(
        stores
            .live
            .redeem_ticket(&second.hash(), late)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .live
            .redeem_ticket(&second.hash(), now)
            .await
            .unwrap(),
        None
    );
    // And a ticket never issued lets nobody in
    let unknown = Ticket::generate().hash();
    assert_eq!(
        stores.live.redeem_ticket(&unknown, now).await.unwrap(),
        None
    );
}

async fn connections_are_kept_with_their_filters_until_they_go(stores: Stores) {
    // Given two open connections
    let now = Utc::now();
    let ana = user("ana", Role::Analyst);
    let first = Connection::open(ConnectionId(format!("c1-{}", ulid::Ulid::new())), &ana, now);
    let second = Connection::open(ConnectionId(format!("c2-{}", ulid::Ulid::new())), &ana, now);
    stores.live.connect(&first).await.unwrap();
    stores.live.connect(&second).await.unwrap();

    // When the first subscribes to high dos and probe alerts
    let filters = Filters {
        min_severity: Some(Severity::High),
        categories: vec![Category::Dos, Category::Probe],
    };
    let subscribed = stores.live.subscribe(&first.id, &filters).await.unwrap();

    // Then both are listed, the first with its filters
    assert_eq!(subscribed.filters, filters);
    let mut listed = stores.live.connections(now).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, first.id);
    assert_eq!(listed[0].filters, filters);
    assert_eq!(listed[0].username, name("ana"));
    assert_eq!(listed[1].filters, Filters::default());
    // And one past its two hours is not listed
    let later = now + CONNECTION_TTL + chrono::Duration::seconds(1);
    assert!(stores.live.connections(later).await.unwrap().is_empty());

    // When the second disconnects (twice: API Gateway may repeat it)
    stores.live.disconnect(&second.id).await.unwrap();
    stores.live.disconnect(&second.id).await.unwrap();

    // Then only the first is left, and the second cannot subscribe
    let left = stores.live.connections(now).await.unwrap();
    assert_eq!(left.iter().map(|c| &c.id).collect::<Vec<_>>(), [&first.id]);
    assert!(matches!(
        stores.live.subscribe(&second.id, &filters).await,
        Err(StoreError::NotFound)
    ));
}
