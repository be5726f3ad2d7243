//! The auth API, end to end through a spawned server.

use crate::common::{ADMIN_PASSWORD, TestApp, fields, problem};
use serde_json::{Value, json};

#[tokio::test]
async fn admin_logs_in_and_the_token_identifies_them() {
    let app = TestApp::spawn().await;

    let response = app.login("admin", ADMIN_PASSWORD).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["user"], json!({"username": "admin", "role": "admin"}));
    let me: Value = app
        .me(body["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::spawn().await;

    let wrong = problem(app.login("admin", "not-the-password").await, 401).await;
    let unknown = problem(app.login("nobody", "not-the-password").await, 401).await;
    let impossible = problem(app.login("x", "whatever").await, 401).await;

    assert_eq!(wrong, unknown);
    assert_eq!(wrong, impossible);
    assert_eq!(wrong["detail"], "invalid username or password");
}

#[tokio::test]
async fn five_failures_lock_a_username_out_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        problem(app.login("admin", "wrong-password-1").await, 401).await;
    }

    let response = app.login("admin", ADMIN_PASSWORD).await;

    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    let body = problem(response, 429).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("too many failed logins")
    );
}

#[tokio::test]
async fn unknown_usernames_are_locked_out_too() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        problem(app.login("ghost", "wrong-password-1").await, 401).await;
    }
    problem(app.login("ghost", "wrong-password-1").await, 429).await;
    // Other users are not affected.
    assert_eq!(app.login("admin", ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn malformed_login_bodies_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let send = |body: &'static str| {
        app.client
            .post(app.url("/auth/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let missing = problem(send(r#"{"username":"admin"}"#).await.unwrap(), 400).await;
    let wrong_type = problem(send(r#"{"username":1,"password":"x"}"#).await.unwrap(), 400).await;
    let broken = problem(send(r#"{"username":"#).await.unwrap(), 400).await;
    let not_object = problem(send("[]").await.unwrap(), 400).await;

    assert_eq!(fields(&missing), ["password"]);
    assert_eq!(fields(&wrong_type), ["username"]);
    assert_eq!(fields(&broken), ["body"]);
    assert_eq!(fields(&not_object), ["body"]);
}

#[tokio::test]
async fn non_json_content_types_are_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "text/plain")
        .body("admin:password")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
}

#[tokio::test]
async fn curl_default_form_content_type_with_a_json_body_is_accepted() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            r#"{{"username":"admin","password":"{ADMIN_PASSWORD}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn admins_register_users_who_can_then_log_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let response = app
        .register(
            &admin,
            json!({"username": "Ana.Lyst", "password": "analyst-password-1", "role": "analyst"}),
        )
        .await;

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/auth/users/ana.lyst");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["username"], "ana.lyst");
    assert_eq!(body["role"], "analyst");
    assert!(body.get("password_hash").is_none());
    assert_eq!(
        app.login("ana.lyst", "analyst-password-1").await.status(),
        200
    );
}

#[tokio::test]
async fn registering_a_taken_name_is_409() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let body = json!({"username": "sensor-1", "password": "sensor-password-1", "role": "sensor"});
    assert_eq!(app.register(&admin, body.clone()).await.status(), 201);

    problem(app.register(&admin, body).await, 409).await;
}

#[tokio::test]
async fn registration_validates_every_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let weak = app
        .register(
            &admin,
            json!({"username": "bob", "password": "short", "role": "viewer"}),
        )
        .await;
    let bad = app
        .register(
            &admin,
            json!({"username": "b b", "password": "long-enough-pass", "role": "root"}),
        )
        .await;

    assert_eq!(fields(&problem(weak, 400).await), ["password"]);
    assert_eq!(fields(&problem(bad, 400).await), ["username", "role"]);
}

#[tokio::test]
async fn registration_needs_an_admin_token() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let body = json!({"username": "eve", "password": "eve-password-12", "role": "admin"});

    let anonymous = app
        .client
        .post(app.url("/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Bearer realm=\"vigil\""
    );
    problem(anonymous, 401).await;
    problem(app.register("not-a-jwt", body.clone()).await, 401).await;
    problem(app.register(&analyst, body).await, 403).await;
}

#[tokio::test]
async fn tokens_signed_by_someone_else_are_refused() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let foreign = other.admin_token().await;

    problem(app.me(&foreign).await, 401).await;
}

#[tokio::test]
async fn admins_list_users_without_hashes() {
    let app = TestApp::spawn().await;
    app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;

    let body: Value = app.list_users(&admin).await.json().await.unwrap();

    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "ana"]);
    assert!(body.to_string().find("argon2").is_none());
    let viewer = app.user_token("vic", "viewer").await;
    problem(app.list_users(&viewer).await, 403).await;
}

#[tokio::test]
async fn disabling_a_user_stops_their_tokens_and_logins() {
    let app = TestApp::spawn().await;
    let analyst = app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;
    assert_eq!(app.me(&analyst).await.status(), 200);

    let response = app
        .update_user(&admin, "ana", json!({"disabled": true}))
        .await;

    assert_eq!(response.status(), 200);
    problem(app.me(&analyst).await, 401).await;
    problem(app.login("ana", "ana-password-1").await, 401).await;
    app.update_user(&admin, "ana", json!({"disabled": false}))
        .await;
    // Enabled again: the tokens from before the disable stay ended; a new login works.
    problem(app.me(&analyst).await, 401).await;
    let fresh = app.token("ana", "ana-password-1").await;
    assert_eq!(app.me(&fresh).await.status(), 200);
}

#[tokio::test]
async fn a_password_reset_ends_every_earlier_token() {
    let app = TestApp::spawn().await;
    let stolen = app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;

    app.update_user(&admin, "ana", json!({"password": "a-brand-new-password"}))
        .await;

    let body = problem(app.me(&stolen).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    let fresh = app.token("ana", "a-brand-new-password").await;
    assert_eq!(app.me(&fresh).await.status(), 200);
}

#[tokio::test]
async fn parallel_wrong_passwords_are_all_counted() {
    let app = TestApp::spawn().await;
    // Sent together, each on a task of its own.
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url("/auth/login"));
            tokio::spawn(async move {
                let body = json!({"username": "admin", "password": "wrong-password-1"});
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();

    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }

    let passed = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        passed <= 5,
        "{passed} attempts reached the password check: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20 - passed);
}

#[tokio::test]
async fn failures_from_one_address_do_not_lock_the_user_out_of_another() {
    let app = TestApp::spawn().await;
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    for _ in 0..6 {
        elsewhere
            .post(app.url("/auth/login"))
            .json(&json!({"username": "admin", "password": "wrong-password-1"}))
            .send()
            .await
            .unwrap();
    }
    let from_there = elsewhere
        .post(app.url("/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();

    assert_eq!(
        from_there.status(),
        429,
        "locked out where the failures came from"
    );
    assert_eq!(
        app.login("admin", ADMIN_PASSWORD).await.status(),
        200,
        "not from here"
    );
}

#[tokio::test]
async fn role_changes_apply_at_the_next_request() {
    let app = TestApp::spawn().await;
    let ana = app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;

    app.update_user(&admin, "ana", json!({"role": "admin"}))
        .await;

    assert_eq!(app.list_users(&ana).await.status(), 200);
}

#[tokio::test]
async fn admins_reset_passwords_but_cannot_lock_themselves_out() {
    let app = TestApp::spawn().await;
    app.user_token("ana", "analyst").await;
    let admin = app.admin_token().await;

    let reset = app
        .update_user(&admin, "ana", json!({"password": "a-brand-new-password"}))
        .await;
    let self_disable = app
        .update_user(&admin, "admin", json!({"disabled": true}))
        .await;
    let empty = app.update_user(&admin, "ana", json!({})).await;
    let missing = app
        .update_user(&admin, "nobody", json!({"disabled": true}))
        .await;

    assert_eq!(reset.status(), 200);
    assert_eq!(app.login("ana", "a-brand-new-password").await.status(), 200);
    problem(self_disable, 422).await;
    problem(empty, 400).await;
    problem(missing, 404).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let app = TestApp::spawn().await;
    let not_found = app.client.get(app.url("/nope")).send().await.unwrap();
    let wrong_method = app.client.get(app.url("/auth/login")).send().await.unwrap();
    problem(not_found, 404).await;
    problem(wrong_method, 405).await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/auth/me"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-123");
}

#[tokio::test]
async fn a_login_name_outside_the_contract_is_a_bad_request_naming_the_field() {
    let app = TestApp::spawn().await;

    let too_long = problem(app.login(&"a".repeat(257), "whatever").await, 400).await;
    let empty = problem(app.login("", "whatever").await, 400).await;

    assert_eq!(fields(&too_long), ["username"]);
    assert_eq!(fields(&empty), ["username"]);
}
