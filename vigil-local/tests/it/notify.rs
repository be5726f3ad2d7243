//! Notifications from vigil-local: with the embedded store and `VIGIL_TOPIC_ARN` set,
//! alert changes go to that SNS topic (moto), not only to the log.

use vigil::{
    config::Config,
    domain::{Alert, Category, Severity},
    startup::Services,
};
use vigil_testkit::{
    aws_available,
    fanout::{Subscription, received, topic_with_queue},
};

#[tokio::test]
async fn with_the_embedded_store_a_configured_topic_receives_alert_changes() {
    if !aws_available() {
        return;
    }
    // Given vigil-local on the embedded store with a topic configured
    let aws = vigil::aws::load_sdk_config().await;
    let Subscription {
        topic_arn,
        queue_url,
    } = topic_with_queue(&aws, None).await;
    let config = Config::from_lookup(|_| None).unwrap();
    let (stores, changes) = vigil_local::stores(&config, None);
    let services = Services::with_stores(config, None, stores).await.unwrap();
    vigil_local::start_notifications(
        &services,
        changes,
        Some(topic_arn),
        vigil_local::live_feed(),
    )
    .await;

    // When an alert opens
    let now = chrono::Utc::now();
    let threat = vigil_testkit::threats::sighting(Category::Dos, Severity::High, now);
    let alert = Alert::open(threat, "edge-1", now);
    services.stores.alerts.create(&alert).await.unwrap();

    // Then the topic's subscriber receives it (waiting for delivery, not for a while)
    let mut messages = Vec::new();
    for _ in 0..30 {
        messages = received(&aws, &queue_url).await;
        if !messages.is_empty() {
            break;
        }
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["event"], "created");
    assert_eq!(messages[0]["alert_id"], alert.id.to_string());
}
