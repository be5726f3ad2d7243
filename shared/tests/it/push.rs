//! Live push in AWS, over the wire against moto: connections in the connections
//! table (DynamoDB), posts through the API Gateway Management API. A matching
//! connection receives the event, a filtered one does not, a gone one (410) is
//! forgotten, a disabled user's is closed; and a push failure leaves SNS alone.

use chrono::Utc;
use futures::StreamExt;
use vigil::{
    domain::{Alert, Category, Role, Severity, User},
    live::{Connection, ConnectionId, EventMessage, Filters},
    notify::{PushReport, Pusher},
    store::Stores,
};
use vigil_testkit::{apigateway, aws_available, dynamo_tables, threats::sighting};

fn alert(severity: Severity) -> Alert {
    let now = Utc::now();
    Alert::open(sighting(Category::Dos, severity, now), "edge-1", now)
}

fn user(name: &str) -> User {
    vigil_testkit::users::user(name, Role::Analyst)
}

struct Live {
    stores: Stores,
    pusher: Pusher,
}

/// Fresh tables on moto and a pusher posting to moto's Management API.
async fn live() -> Live {
    let tables = dynamo_tables().await.expect("moto is running");
    let aws = vigil::aws::load_sdk_config().await;
    let config = vigil::config::StoreConfig::DynamoDb(tables);
    let stores = Stores::from_config(&config, Some(&aws));
    let pusher = Pusher::new(
        &aws,
        &apigateway::endpoint(),
        stores.live.clone(),
        stores.users.clone(),
    );
    Live { stores, pusher }
}

/// A connection of `user` with `filters`, open at API Gateway unless `gone`.
async fn connected(live: &Live, user: &User, filters: Filters, gone: bool) -> ConnectionId {
    let id = ConnectionId(format!("conn-{}", ulid::Ulid::new()));
    if !gone {
        apigateway::open_connection(&id.0).await;
    }
    // Connected a minute ago: past its handshake, when a 410 means gone.
    let mut connection =
        Connection::open(id.clone(), user, Utc::now() - chrono::Duration::minutes(1));
    connection.filters = filters;
    live.stores.live.connect(&connection).await.unwrap();
    id
}

#[tokio::test]
async fn an_event_reaches_the_connections_that_want_it_and_the_gone_are_forgotten() {
    if !aws_available() {
        return;
    }
    // Given ana with three connections (everything, critical only, one whose browser
    // went away) and bob with one, bob disabled since he connected
    let live = live().await;
    let (ana, mut bob) = (user("ana"), user("bob"));
    live.stores.users.create(&ana).await.unwrap();
    live.stores.users.create(&bob).await.unwrap();
    let everything = connected(&live, &ana, Filters::default(), false).await;
    let critical = Filters {
        min_severity: Some(Severity::Critical),
        categories: vec![],
    };
    let critical_only = connected(&live, &ana, critical, false).await;
    let gone = connected(&live, &ana, Filters::default(), true).await;
    let bobs = connected(&live, &bob, Filters::default(), false).await;
    bob.disabled = true;
    bob.version += 1;
    live.stores.users.replace(&bob).await.unwrap();

    // When a high alert is created
    let high = alert(Severity::High);
    let event = EventMessage::for_change(None, &high).unwrap();
    let report = live.pusher.push(std::slice::from_ref(&event)).await;

    // Then the catch-all connection received it, as the contract states it
    let posts = apigateway::posts(&everything.0).await.expect("still open");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["type"], "created");
    assert_eq!(posts[0]["id"], event.id);
    assert_eq!(posts[0]["alert"]["id"], high.id.to_string());
    assert_eq!(posts[0]["alert"]["severity"], "high");
    // And the critical-only one nothing
    assert_eq!(apigateway::posts(&critical_only.0).await, Some(vec![]));
    // And bob's was closed at API Gateway; it and the gone one are forgotten
    assert_eq!(apigateway::posts(&bobs.0).await, None);
    let left: Vec<ConnectionId> = live
        .stores
        .live
        .connections(Utc::now())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(left.contains(&everything) && left.contains(&critical_only));
    assert!(!left.contains(&gone) && !left.contains(&bobs), "{left:?}");
    assert_eq!(
        report,
        PushReport {
            delivered: 1,
            gone: 1,
            closed: 1,
            failed: 0
        }
    );
}

#[tokio::test]
async fn events_arrive_in_order_and_an_unreachable_api_fails_only_the_push() {
    if !aws_available() {
        return;
    }
    // Given a connection, and a pusher whose Management API does not answer
    let live = live().await;
    let ana = user("ana");
    live.stores.users.create(&ana).await.unwrap();
    let id = connected(&live, &ana, Filters::default(), false).await;
    let aws = vigil::aws::load_sdk_config().await;
    let unreachable = Pusher::new(
        &aws,
        "http://127.0.0.1:9",
        live.stores.live.clone(),
        live.stores.users.clone(),
    );

    // When an alert is created, then escalated
    let medium = alert(Severity::Medium);
    let mut critical = medium.clone();
    critical.severity = Severity::Critical;
    critical.version += 1;
    let events = [
        EventMessage::for_change(None, &medium).unwrap(),
        EventMessage::for_change(Some(&medium), &critical).unwrap(),
    ];
    let failed = unreachable.push(&events).await;
    let report = live.pusher.push(&events).await;

    // Then the unreachable push reports both as failed and forgets nothing
    assert_eq!(failed.failed, 2);
    assert_eq!(failed.gone + failed.closed, 0);
    // And the working one delivered both, in order
    assert_eq!(report.delivered, 2);
    let posts = apigateway::posts(&id.0).await.unwrap();
    let kinds: Vec<&str> = posts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "escalated"]);
}

#[tokio::test]
async fn a_thousand_connections_each_receive_the_event() {
    if !aws_available() {
        return;
    }
    // Given 1,000 open connections
    let live = live().await;
    let ana = user("ana");
    live.stores.users.create(&ana).await.unwrap();
    let ids: Vec<ConnectionId> = futures::stream::iter(0..1_000)
        .map(|_| connected(&live, &ana, Filters::default(), false))
        .buffer_unordered(16)
        .collect()
        .await;

    // When an alert is created
    let event = EventMessage::for_change(None, &alert(Severity::High)).unwrap();
    let report = live.pusher.push(std::slice::from_ref(&event)).await;

    // Then every one of them received it
    assert_eq!(report.delivered, 1_000, "{report:?}");
    for id in ids.iter().step_by(97) {
        assert_eq!(apigateway::posts(&id.0).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_connection_still_in_its_handshake_is_not_taken_for_gone() {
    if !aws_available() {
        return;
    }
    // Given a connection stored a moment ago, which API Gateway does not know yet
    // (it answers 410 until `$connect` has returned)
    let live = live().await;
    let ana = user("ana");
    live.stores.users.create(&ana).await.unwrap();
    let id = ConnectionId(format!("conn-{}", ulid::Ulid::new()));
    let connection = Connection::open(id.clone(), &ana, Utc::now());
    live.stores.live.connect(&connection).await.unwrap();

    // When an event is pushed
    let event = EventMessage::for_change(None, &alert(Severity::High)).unwrap();
    let report = live.pusher.push(std::slice::from_ref(&event)).await;

    // Then it is counted as not delivered, and the connection is kept
    assert_eq!((report.failed, report.gone), (1, 0), "{report:?}");
    let kept = live.stores.live.connections(Utc::now()).await.unwrap();
    assert!(kept.iter().any(|c| c.id == id));
}
