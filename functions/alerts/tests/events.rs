//! The alerts function driven by its API Gateway event fixtures (`events/alerts/`),
//! in the order an analyst would use them: in process (parsed as lambda_http parses
//! them), and as the real binary against a Runtime API emulator and DynamoDB.

use vigil_testkit::{
    api_response, embedded_services, fixture_with, serve_event, start_function_on_dynamodb,
};

#[tokio::test]
async fn every_alerts_fixture_is_answered() {
    let (services, token) = embedded_services().await;
    let app = || alerts::app(&services);
    let event = |name: &str, id: &str| {
        fixture_with(
            &format!("alerts/{name}"),
            &[("{{token}}", &token), ("{{alert_id}}", id)],
        )
    };

    let (status, created) = serve_event(app(), &event("create.json", "")).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, listed) = serve_event(app(), &event("list.json", "")).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"][0]["id"], id.as_str());

    let (status, got) = serve_event(app(), &event("get.json", &id)).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(id.as_str())));

    let (status, updated) = serve_event(app(), &event("update.json", &id)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "acknowledged");

    let (status, bulk) = serve_event(app(), &event("bulk.json", &id)).await;
    assert_eq!(status, 200, "{bulk}");
    assert_eq!(bulk["results"][0]["outcome"], "updated");

    // The verdicts export (an alert made by hand has no evidence, so no records)
    let (status, feedback) = serve_event(app(), &event("feedback.json", "")).await;
    assert_eq!(status, 200, "{feedback}");
    assert_eq!(feedback["items"], serde_json::json!([]));
}

#[tokio::test]
async fn the_lambda_binary_works_an_alert_through_dynamodb() {
    // Given tables in DynamoDB, an admin, and the alerts binary as Lambda runs it
    let binary = env!("CARGO_BIN_EXE_alerts");
    let Some((mut runtime, token)) = start_function_on_dynamodb(binary, "alerts", &[]).await else {
        return;
    };
    let event = |name: &str, id: &str| {
        let raw = fixture_with(
            &format!("alerts/{name}"),
            &[("{{token}}", &token), ("{{alert_id}}", id)],
        );
        serde_json::from_str(&raw).unwrap()
    };

    // When an analyst creates, lists, reads, acknowledges and bulk-updates an alert
    let (status, created) = api_response(&runtime.respond(event("create.json", "")).await);
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, listed) = api_response(&runtime.respond(event("list.json", "")).await);
    let (_, got) = api_response(&runtime.respond(event("get.json", &id)).await);
    let (_, updated) = api_response(&runtime.respond(event("update.json", &id)).await);
    let (_, bulk) = api_response(&runtime.respond(event("bulk.json", &id)).await);

    // Then each step is answered from the table
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(got["id"], id.as_str());
    assert_eq!(updated["status"], "acknowledged", "{updated}");
    assert_eq!(bulk["results"][0]["outcome"], "updated", "{bulk}");
}
