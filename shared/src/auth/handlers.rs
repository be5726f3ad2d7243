use super::{
    AuthState, LOCKOUT_WINDOW, MAX_FAILED_LOGINS, UserView, hash_password, verify_password,
};
use crate::{
    domain::{Password, Role, User, Username},
    http::{ApiError, Caller, ClientAddr, Fields, JsonBody, Problem, Validation, parse},
    store::{LoginKey, StoreError},
};
use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// A JWT (HS256) to send as `Authorization: Bearer <token>`.
    token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    expires_in: u64,
    user: LoginUser,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LoginUser {
    username: Username,
    role: Role,
}

// The request bodies as the contract states them. The handlers parse bodies with
// `Fields` (to name every bad field at once); these types only describe the same rules.

/// The longest name `POST /auth/login` reads (as the schema below states).
const LOGIN_NAME_MAX_CHARS: usize = 256;

/// The body of `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct LoginRequest {
    #[schema(min_length = 1, max_length = 256, example = "admin")]
    username: String,
    #[schema(max_length = 256, format = Password, example = "correct horse battery staple")]
    password: String,
}

/// The body of `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct RegisterRequest {
    username: Username,
    /// 12 to 256 characters, not only white space.
    #[schema(min_length = 12, max_length = 256, pattern = "\\S", format = Password, example = "a long passphrase 42")]
    password: String,
    role: Role,
}

/// The body of `PUT /auth/users/{username}`: at least one of the fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct UserUpdate {
    role: Option<Role>,
    disabled: Option<bool>,
    /// A new password: 12 to 256 characters, not only white space.
    #[schema(min_length = 12, max_length = 256, pattern = "\\S", format = Password)]
    password: Option<String>,
}

/// `GET /auth/users`.
// The reply is built as this type, so it cannot drift from its schema.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserList {
    items: Vec<UserView>,
}

fn invalid_credentials() -> ApiError {
    // One message for every way a login can fail, so it reveals nothing.
    ApiError::Unauthorized("invalid username or password".into())
}

/// Log in: a username and password for a bearer token.
///
/// Five failed logins for a username within 15 minutes lock it for the rest of that
/// window (429 with `Retry-After`), whether or not the user exists.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth", operation_id = "login",
    security(()),
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong username or password, or a disabled user", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this username", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a login may be tried again"))),
    ),
)]
pub async fn login(
    State(state): State<AuthState>,
    ClientAddr(source): ClientAddr,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let fields = Fields::new(&body);
    let mut v = Validation::new();
    // Any name of 1 to 256 characters is a login attempt (one that cannot exist fails
    // like a wrong password, below); past that it is a malformed request.
    let raw_username = fields.required(&mut v, "username", |x| {
        let name = parse::string(x)?;
        match name.chars().count() {
            1..=LOGIN_NAME_MAX_CHARS => Ok(name.to_owned()),
            _ => Err(format!("must be 1 to {LOGIN_NAME_MAX_CHARS} characters")),
        }
    });
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
    // Counted before the password is checked: of many parallel attempts, only the
    // first MAX_FAILED_LOGINS get as far as argon2.
    let key = LoginKey {
        username: username.clone(),
        source,
    };
    let attempts = state
        .users
        .record_failed_login(&key, now, LOCKOUT_WINDOW)
        .await?;
    if attempts.count > MAX_FAILED_LOGINS {
        let failed = attempts;
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
            state.users.clear_failed_logins(&key).await?;
            let issued = state
                .tokens
                .issue_generation(&user.username, user.role, user.token_generation, now)
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
            // Already counted above.
            tracing::info!(username = %username, "login failed");
            Err(invalid_credentials())
        }
    }
}

/// Create a user (admins only).
#[utoipa::path(
    post, path = "/auth/register", tag = "auth", operation_id = "register",
    security(("bearer" = ["admin"])),
    request_body(content = RegisterRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The user was created", body = UserView,
            headers(("Location" = String, description = "The user's URL")),
            links(("Login" = (operation_id = "login", request_body = json!({
                "username": "$request.body#/username",
                "password": "$request.body#/password",
            }))))),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
        token_generation: 0,
        version: 1,
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

/// The calling user.
#[utoipa::path(
    get, path = "/auth/me", tag = "auth", operation_id = "me",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    responses(
        (status = 200, description = "The caller", body = UserView),
    ),
)]
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

/// Every user (admins only).
#[utoipa::path(
    get, path = "/auth/users", tag = "auth", operation_id = "list_users",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The users", body = UserList),
    ),
)]
pub async fn list_users(
    State(state): State<AuthState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let users = state.users.list().await?;
    let items: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(Json(UserList { items }))
}

/// Change a user's role, disable or enable them, or reset their password (admins only).
///
/// Admins cannot disable or demote themselves (422).
#[utoipa::path(
    put, path = "/auth/users/{username}", tag = "auth", operation_id = "update_user",
    security(("bearer" = ["admin"])),
    params(("username" = String, Path, description = "The user to change")),
    request_body(content = UserUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An admin tried to disable or demote themselves", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

    // An admin locking themselves out would leave nobody to undo it.
    if username == caller.username
        && (disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::Unprocessable {
            detail: "admins cannot disable or demote themselves".into(),
            errors: vec![],
        });
    }
    let password_hash = match password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let not_found = || ApiError::NotFound(format!("no user named {username}"));
    // The change goes on top of the user as stored: when another admin's change lands
    // in between, read again and apply this one on top of theirs.
    let mut attempts = 0;
    let user = loop {
        let mut user = state.users.get(&username).await?.ok_or_else(not_found)?;
        if let Some(role) = role {
            user.role = role;
        }
        // Disabling, or a new password, ends every token issued before.
        if disabled == Some(true) || password_hash.is_some() {
            user.token_generation = user.token_generation.wrapping_add(1);
        }
        if let Some(disabled) = disabled {
            user.disabled = disabled;
        }
        if let Some(hash) = &password_hash {
            user.password_hash = hash.clone();
        }
        user.updated_at = Utc::now();
        user.version += 1;
        match state.users.replace(&user).await {
            Ok(()) => break user,
            Err(StoreError::VersionConflict) if attempts < 5 => attempts += 1,
            Err(StoreError::VersionConflict) => {
                return Err(ApiError::Unavailable(
                    "the user kept changing under concurrent updates; nothing was changed, \
                     please retry"
                        .into(),
                ));
            }
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        }
    };
    tracing::info!(username = %user.username, by = %caller.username, "user updated");
    Ok(Json(UserView::from(&user)))
}
