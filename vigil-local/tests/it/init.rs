//! `vigil-local --init` against moto: the tables and the alerts topic, idempotently.

use vigil::{
    config::Config,
    domain::{Alert, Category, Severity},
    startup::Services,
};
use vigil_testkit::aws_available;

#[tokio::test]
async fn init_creates_the_tables_and_the_alerts_topic_and_can_run_again() {
    if !aws_available() {
        return;
    }
    // Given vigil-local configured for DynamoDB tables that do not exist yet
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let env = [
        ("VIGIL_STORE", "dynamodb".to_owned()),
        ("VIGIL_USERS_TABLE", format!("users-{run}")),
        ("VIGIL_ALERTS_TABLE", format!("alerts-{run}")),
    ];
    let config =
        Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
    let services = Services::from_config(config).await.unwrap();

    // When --init runs, twice
    let first = vigil_local::init_resources(&services).await.unwrap();
    let second = vigil_local::init_resources(&services).await.unwrap();

    // Then the topic exists (the same one both times) and the store works
    let topic = first.expect("a topic ARN");
    assert!(topic.ends_with(":vigil-alerts"), "{topic}");
    assert_eq!(second.as_deref(), Some(topic.as_str()));
    let now = chrono::Utc::now();
    let threat = vigil_testkit::threats::sighting(Category::Probe, Severity::Low, now);
    let alert = Alert::open(threat, "admin", now);
    services.stores.alerts.create(&alert).await.unwrap();
    assert!(
        services
            .stores
            .alerts
            .get(alert.id)
            .await
            .unwrap()
            .is_some()
    );
}
