//! The auth function as Lambda runs it, driven by the API Gateway (HTTP API v2) event
//! fixtures in `events/auth/`:
//! - in process: each fixture parsed by lambda_http exactly as the runtime parses it,
//!   then served by the function's app;
//! - as a binary: the real `auth` executable, started against a Runtime API emulator
//!   with Lambda's environment and DynamoDB (moto) as its store.

use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigil::{
    config::Config,
    domain::{Password, Role, Username},
    startup::Services,
    store::Stores,
};
use vigil_testkit::{RuntimeApi, api_response, dynamo_tables, fixture, lambda_env};

/// The password the `login.json` fixture carries.
const FIXTURE_ADMIN_PASSWORD: &str = "change-me-to-the-admin-password";

async fn services() -> Services {
    let config = Config::from_lookup(|_| None).unwrap();
    let services = Services::with_stores(config, None, Stores::embedded())
        .await
        .unwrap();
    services
        .ensure_admin(Password::parse_new(FIXTURE_ADMIN_PASSWORD).unwrap())
        .await
        .unwrap();
    services
}

fn admin_token(services: &Services) -> String {
    let admin = Username::parse("admin").unwrap();
    let issued = services
        .tokens
        .issue(&admin, Role::Admin, chrono::Utc::now());
    issued.unwrap().token
}

/// Serves one fixture in process; returns the status and the JSON body.
async fn serve(services: &Services, name: &str, token: &str) -> (u16, Value) {
    let raw = fixture(&format!("auth/{name}"), token);
    let request = lambda_http::request::from_str(&raw)
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway event: {e}"));
    let response = auth::app(services).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn login_event_returns_a_token() {
    let services = services().await;
    let (status, body) = serve(&services, "login.json", "").await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn register_event_creates_the_user() {
    let services = services().await;
    let (status, body) = serve(&services, "register.json", &admin_token(&services)).await;
    assert_eq!(status, 201);
    assert_eq!(body["role"], "analyst");
}

#[tokio::test]
async fn me_event_returns_the_caller() {
    let services = services().await;
    let (status, body) = serve(&services, "me.json", &admin_token(&services)).await;
    assert_eq!(status, 200);
    assert_eq!(body["username"], "admin");
}

#[tokio::test]
async fn list_users_event_lists_them() {
    let services = services().await;
    let (status, body) = serve(&services, "list-users.json", &admin_token(&services)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"][0]["username"], "admin");
}

#[tokio::test]
async fn update_user_event_disables_the_user() {
    let services = services().await;
    let token = admin_token(&services);
    assert_eq!(serve(&services, "register.json", &token).await.0, 201);
    let (status, body) = serve(&services, "update-user.json", &token).await;
    assert_eq!(status, 200);
    assert_eq!(body["disabled"], true);
}

/// Sends a fixture to the running binary; returns the API Gateway response.
async fn invoke(runtime: &mut RuntimeApi, name: &str, token: &str) -> Value {
    let event: Value = serde_json::from_str(&fixture(&format!("auth/{name}"), token)).unwrap();
    runtime.respond(event).await
}

#[tokio::test]
async fn the_lambda_binary_serves_every_fixture_against_dynamodb() {
    // Given tables in DynamoDB and the auth binary running as Lambda would run it
    let Some(tables) = dynamo_tables().await else {
        return;
    };
    let mut env = lambda_env(&tables);
    env.push(("VIGIL_ADMIN_PASSWORD", FIXTURE_ADMIN_PASSWORD.into()));
    let mut runtime = RuntimeApi::start().await;
    runtime.spawn_function(env!("CARGO_BIN_EXE_auth"), "auth", &env);

    // When the fixtures arrive one after another
    let login = invoke(&mut runtime, "login.json", "").await;
    let (status, body) = api_response(&login);
    assert_eq!(status, 200, "{login}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(login["headers"]["content-type"], "application/json");

    // Then each one is answered as the API expects
    assert_eq!(
        api_response(&invoke(&mut runtime, "register.json", &token).await).0,
        201
    );
    let (status, me) = api_response(&invoke(&mut runtime, "me.json", &token).await);
    assert_eq!((status, me["username"].as_str()), (200, Some("admin")));
    let (status, users) = api_response(&invoke(&mut runtime, "list-users.json", &token).await);
    assert_eq!(
        (status, users["items"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    assert_eq!(
        api_response(&invoke(&mut runtime, "update-user.json", &token).await).0,
        200
    );
    let anonymous = invoke(&mut runtime, "me.json", "").await;
    assert_eq!(api_response(&anonymous).0, 401);
    assert_eq!(
        anonymous["headers"]["content-type"],
        "application/problem+json"
    );
}
