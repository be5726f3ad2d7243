use super::{
    AuthState, LOCKOUT_WINDOW, MAX_FAILED_LOGINS, UserView, hash_password, verify_password,
};
use crate::{
    domain::{Password, Role, User, Username},
    http::{ApiError, Caller, Fields, JsonBody, Validation, parse},
    store::StoreError,
};
use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    token_type: &'static str,
    expires_in: u64,
    user: LoginUser,
}

#[derive(Serialize)]
struct LoginUser {
    username: Username,
    role: Role,
}

fn invalid_credentials() -> ApiError {
    // One message for every way a login can fail, so it reveals nothing.
    ApiError::Unauthorized("invalid username or password".into())
}

/// `POST /auth/login`
pub async fn login(
    State(state): State<AuthState>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let fields = Fields::new(&body);
    let mut v = Validation::new();
    let raw_username = fields.required(&mut v, "username", |x| parse::string(x).map(str::to_owned));
    let password = fields.required(&mut v, "password", |x| {
        Password::parse_attempt(parse::string(x)?).map_err(|e| e.to_string())
    });
    fields.deny_unknown(&mut v, &["username", "password"]);
    v.finish()?;
    let (raw_username, password) = (raw_username.expect("checked"), password.expect("checked"));

    let now = Utc::now();
    // A name that cannot exist is still a failed login, answered the same way.
    let Ok(username) = Username::parse(&raw_username) else {
        verify_password(password, None).await?;
        return Err(invalid_credentials());
    };
    if let Some(failed) = state
        .users
        .failed_logins(&username, now, LOCKOUT_WINDOW)
        .await?
        && failed.count >= MAX_FAILED_LOGINS
    {
        let retry_after = (failed.window_start + LOCKOUT_WINDOW - now)
            .num_seconds()
            .max(1) as u64;
        tracing::warn!(username = %username, "login locked out after repeated failures");
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many failed logins for this user; try again in {retry_after} seconds"
            ),
            retry_after,
        });
    }

    let user = state.users.get(&username).await?;
    let verified =
        verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    match user {
        Some(user) if verified && !user.disabled => {
            state.users.clear_failed_logins(&username).await?;
            let issued = state
                .tokens
                .issue(&user.username, user.role, now)
                .map_err(ApiError::internal)?;
            tracing::info!(username = %user.username, "login succeeded");
            Ok(Json(LoginResponse {
                token: issued.token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                user: LoginUser {
                    username: user.username,
                    role: user.role,
                },
            }))
        }
        _ => {
            state
                .users
                .record_failed_login(&username, now, LOCKOUT_WINDOW)
                .await?;
            tracing::info!(username = %username, "login failed");
            Err(invalid_credentials())
        }
    }
}

/// `POST /auth/register` (admin)
pub async fn register(
    State(state): State<AuthState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let fields = Fields::new(&body);
    let mut v = Validation::new();
    let username = fields.required(&mut v, "username", |x| {
        Username::parse(parse::string(x)?).map_err(|e| e.to_string())
    });
    let password = fields.required(&mut v, "password", |x| {
        Password::parse_new(parse::string(x)?).map_err(|e| e.to_string())
    });
    let role = fields.required(&mut v, "role", parse::from_str::<Role>);
    fields.deny_unknown(&mut v, &["username", "password", "role"]);
    v.finish()?;
    let (username, password, role) = (
        username.expect("checked"),
        password.expect("checked"),
        role.expect("checked"),
    );

    let now = Utc::now();
    let user = User {
        username,
        role,
        password_hash: hash_password(password).await?,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    match state.users.create(&user).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(ApiError::Conflict {
                detail: format!("the user {} already exists", user.username),
                current: None,
            });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(username = %user.username, role = %user.role, by = %caller.username, "user registered");
    let location = format!("/auth/users/{}", user.username);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserView::from(&user)),
    ))
}

/// `GET /auth/me`
pub async fn me(
    State(state): State<AuthState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let user = state
        .users
        .get(&caller.username)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the user no longer exists".into()))?;
    Ok(Json(UserView::from(&user)))
}

/// `GET /auth/users` (admin)
pub async fn list_users(
    State(state): State<AuthState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let users = state.users.list().await?;
    let items: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(Json(json!({ "items": items })))
}

/// `PUT /auth/users/{username}` (admin): change role, disable/enable, reset password.
pub async fn update_user(
    State(state): State<AuthState>,
    caller: Caller,
    Path(raw_username): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let username = Username::parse(&raw_username)
        .map_err(|_| ApiError::NotFound(format!("no user named {raw_username:?}")))?;
    let fields = Fields::new(&body);
    let mut v = Validation::new();
    let role = fields.optional(&mut v, "role", parse::from_str::<Role>);
    let disabled = fields.optional(&mut v, "disabled", parse::bool);
    let password = fields.optional(&mut v, "password", |x| {
        Password::parse_new(parse::string(x)?).map_err(|e| e.to_string())
    });
    fields.deny_unknown(&mut v, &["role", "disabled", "password"]);
    if v.is_ok() && role.is_none() && disabled.is_none() && password.is_none() {
        v.push(fields.error("body", "name at least one of role, disabled, password"));
    }
    v.finish()?;

    let mut user = state
        .users
        .get(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user named {username}")))?;
    // An admin locking themselves out would leave nobody to undo it.
    if username == caller.username
        && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::Unprocessable {
            detail: "admins cannot disable or demote themselves".into(),
            errors: vec![],
        });
    }
    if let Some(role) = role {
        user.role = role;
    }
    if let Some(disabled) = disabled {
        user.disabled = disabled;
    }
    if let Some(password) = password {
        user.password_hash = hash_password(password).await?;
    }
    user.updated_at = Utc::now();
    state.users.replace(&user).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("no user named {username}")),
        other => other.into(),
    })?;
    tracing::info!(username = %user.username, by = %caller.username, "user updated");
    Ok(Json(UserView::from(&user)))
}
