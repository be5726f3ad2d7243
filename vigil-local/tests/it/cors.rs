//! CORS as a frontend sees it: vigil-local allows the configured origins (by default
//! the usual dev-server origins), refuses others, and never allows credentials.

use crate::common::TestApp;

const ALLOWED: &str = "http://localhost:5173";
const REFUSED: &str = "https://evil.example.com";

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_with_the_policy() {
    let app = TestApp::spawn().await;

    let response = app
        .preflight("/alerts/01KB0Q3W5N8X4ZJ6D2C1V9R7TE", ALLOWED, "PUT")
        .await;

    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let methods = header(&response, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("PUT") && methods.contains("POST"),
        "{methods}"
    );
    let headers = header(&response, "access-control-allow-headers").unwrap();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(header(&response, "access-control-max-age"), Some("600"));
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_permission() {
    let app = TestApp::spawn().await;

    let response = app.preflight("/alerts", REFUSED, "POST").await;

    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn cross_origin_requests_carry_the_origin_only_when_it_is_allowed() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    let allowed = app.list_alerts_from(&token, ALLOWED).await;
    let refused = app.list_alerts_from(&token, REFUSED).await;

    assert_eq!(allowed.status(), 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let exposed = header(&allowed, "access-control-expose-headers").unwrap();
    assert!(
        exposed.contains("location") && exposed.contains("retry-after"),
        "{exposed}"
    );
    // The server still answers (CORS is the browser's to enforce), without the header
    // that would let a page on another origin read the answer.
    assert_eq!(refused.status(), 200);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
}
