//! The contract: `openapi.json` is what the code generates, and vigil-local serves it.
//! After changing a route or a type, regenerate it with
//! `VIGIL_UPDATE_OPENAPI=1 cargo test -p vigil-local openapi::`.

use crate::common::TestApp;

#[test]
fn the_committed_openapi_json_is_what_the_code_generates() {
    crate::common::assert_committed("openapi.json", &vigil_local::openapi::document_json());
}

#[test]
fn every_route_is_in_the_contract_with_its_security() {
    let doc: serde_json::Value =
        serde_json::from_str(&vigil_local::openapi::document_json()).unwrap();
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
        ("/model", "get"),
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

/// A JSON request body the contract documents: where it goes, its schema, its example.
struct DocumentedBody {
    method: reqwest::Method,
    path: String,
    schema: serde_json::Value,
    example: serde_json::Value,
}

fn documented_bodies(doc: &serde_json::Value) -> Vec<DocumentedBody> {
    let mut bodies = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let content = &op["requestBody"]["content"]["application/json"]["schema"];
            let Some(reference) = content["$ref"].as_str() else {
                continue;
            };
            let name = reference.trim_start_matches("#/components/schemas/");
            let schema = doc["components"]["schemas"][name].clone();
            let example = schema
                .get("example")
                .cloned()
                .or_else(|| schema["examples"].get(0).cloned())
                .unwrap_or_else(|| panic!("{method} {path}: {name} documents no example"));
            bodies.push(DocumentedBody {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                schema,
                example,
            });
        }
    }
    bodies
}

/// The bounds a property states: (maxLength, minLength, maximum, minimum), looking
/// through `oneOf: [null, ...]`.
fn bounds(property: &serde_json::Value) -> [Option<f64>; 4] {
    let one = property["oneOf"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["type"] != "null"))
        .unwrap_or(property);
    ["maxLength", "minLength", "maximum", "minimum"]
        .map(|k| one[k].as_f64().or(property[k].as_f64()))
}

#[tokio::test]
async fn every_documented_request_example_parses_and_every_stated_bound_is_the_parsers() {
    // Given the contract, an admin, a user and an alert the examples can name
    let doc: serde_json::Value =
        serde_json::from_str(&vigil_local::openapi::document_json()).unwrap();
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_token("ana", "analyst").await;
    let alert: serde_json::Value = app
        .create_alert(
            &admin,
            serde_json::json!({"category": "dos", "severity": "low"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let send = |body: &DocumentedBody, json: serde_json::Value| {
        let path = body
            .path
            .replace("{id}", alert["id"].as_str().unwrap())
            .replace("{username}", "ana");
        app.client
            .request(body.method.clone(), app.url(&path))
            .bearer_auth(&admin)
            .json(&json)
            .send()
    };
    // Whether a request's answer blames `field` (a 400 naming it).
    async fn blames(response: reqwest::Response, field: &str) -> bool {
        assert!(response.status().as_u16() < 500, "{}", response.status());
        if response.status() != 400 {
            return false;
        }
        let problem: serde_json::Value = response.json().await.unwrap();
        crate::common::fields(&problem).iter().any(|f| f == field)
    }

    let bodies = documented_bodies(&doc);
    assert!(bodies.len() >= 7, "every JSON body is found");
    let mut checked = 0;
    for body in &bodies {
        let what = format!("{} {}", body.method, body.path);
        // When the example is sent, then it is not refused as malformed
        let response = send(body, body.example.clone()).await.unwrap();
        assert_ne!(
            response.status(),
            400,
            "{what}: its documented example is refused"
        );
        assert!(
            response.status().as_u16() < 500,
            "{what}: {}",
            response.status()
        );

        // And each bound its schema states is where the parser draws the line
        for (name, property) in body.schema["properties"].as_object().unwrap() {
            let with = |value: serde_json::Value| {
                let mut json = body.example.clone();
                json[name] = value;
                json
            };
            let [max_len, min_len, max, min] = bounds(property);
            let text = |n: f64| serde_json::Value::String("x".repeat(n as usize));
            let mut cases = Vec::new();
            if let Some(n) = max_len {
                cases.push((text(n), false, format!("{n} characters")));
                cases.push((text(n + 1.0), true, format!("{} characters", n + 1.0)));
            }
            if let Some(n) = min_len.filter(|n| *n >= 1.0) {
                cases.push((text(n), false, format!("{n} characters")));
                cases.push((text(n - 1.0), true, format!("{} characters", n - 1.0)));
            }
            if let Some(n) = max {
                cases.push((serde_json::json!(n), false, format!("{n}")));
                cases.push((serde_json::json!(n + 1.0), true, format!("{}", n + 1.0)));
            }
            if let Some(n) = min {
                cases.push((serde_json::json!(n), false, format!("{n}")));
                cases.push((serde_json::json!(n - 1.0), true, format!("{}", n - 1.0)));
            }
            for (value, refused, label) in cases {
                let blamed = blames(send(body, with(value)).await.unwrap(), name).await;
                assert_eq!(
                    blamed,
                    refused,
                    "{what}: {name} = {label} is {} by the parser, but the schema says it is {}",
                    if blamed { "refused" } else { "accepted" },
                    if refused { "out of bounds" } else { "allowed" },
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "{checked} bounds checked");
}
