//! The alerts function driven by its API Gateway event fixtures (`events/alerts/`),
//! parsed as lambda_http parses them, in the order an analyst would use them.

use vigil_testkit::{embedded_services, fixture_with, serve_event};

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
}
