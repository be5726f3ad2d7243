//! What the bench binaries need: a bearer token for the server they started.

use serde_json::{Value, json};

/// Logs in as `admin` with `password` at `base` and returns the token.
pub async fn admin_token(client: &reqwest::Client, base: &str, password: &str) -> String {
    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().expect("a token").to_owned()
}
