//! The contract: `openapi.json` is what the code generates, and vigil-local serves it.
//! After changing a route or a type, regenerate it with
//! `VIGIL_UPDATE_OPENAPI=1 cargo test -p vigil-local openapi::`.

use crate::common::TestApp;

#[test]
fn the_committed_openapi_json_is_what_the_code_generates() {
    crate::common::assert_committed("openapi.json", &vigil::openapi::document_json());
}

#[test]
fn every_route_is_in_the_contract_with_its_security() {
    let doc: serde_json::Value = serde_json::from_str(&vigil::openapi::document_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/health", "get"),
        ("/auth/login", "post"),
        ("/auth/register", "post"),
        ("/auth/me", "get"),
        ("/auth/users", "get"),
        ("/auth/users/{username}", "put"),
        ("/auth/ws-ticket", "post"),
        ("/threat-detection/predict", "post"),
        ("/predict", "post"),
        ("/alerts", "get"),
        ("/alerts", "post"),
        ("/alerts/bulk", "post"),
        ("/alerts/{id}", "get"),
        ("/alerts/{id}", "put"),
        ("/reports", "get"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} is missing");
        let public = matches!(path, "/health" | "/auth/login");
        assert_eq!(
            op["security"][0].get("bearer").is_some(),
            !public,
            "{method} {path}: security"
        );
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} is not problem+json"
                );
            }
        }
    }
    let csv = &paths["/threat-detection/predict"]["post"]["requestBody"]["content"]["text/csv"];
    assert!(csv.is_object(), "predict takes CSV");
    let report = &paths["/reports"]["get"]["responses"]["200"]["content"]["text/csv"];
    assert!(report.is_object(), "reports answer CSV");
}

#[tokio::test]
async fn vigil_local_serves_the_contract_and_health() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    let served: serde_json::Value = response.json().await.unwrap();
    assert_eq!(served["info"]["title"], "Vigil API");

    let response = app.get("/health", None).await;
    assert_eq!(response.status(), 200);
    let health: serde_json::Value = response.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["model"]["sha256"].as_str().unwrap().len(), 64);
}
