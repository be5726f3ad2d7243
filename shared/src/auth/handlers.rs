use super::{
    AuthState, LOCKOUT_WINDOW, MAX_FAILED_LOGINS, hash_password,
    input::{LoginRequest, RegisterRequest, UserUpdate},
    verify_password,
    view::{LoginResponse, LoginUser, UserList, UserView},
};
use crate::{
    domain::{Role, User, Username},
    http::{ApiError, Caller, ClientAddr, JsonBody, Problem},
    live::{TICKET_TTL, Ticket, TicketGrant, TicketIssued},
    store::{LoginKey, StoreError},
};
use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::Utc;

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
    let LoginRequest {
        username: raw_username,
        password,
    } = LoginRequest::parse(&body)?;

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
    let RegisterRequest {
        username,
        password,
        role,
    } = RegisterRequest::parse(&body)?;

    let now = Utc::now();
    let user = User::new(username, role, hash_password(password).await?, now);
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
    let UserUpdate {
        role,
        disabled,
        password,
    } = UserUpdate::parse(&body)?;

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

/// A ticket to open the live-alerts WebSocket with (`?ticket=`): it works once, within
/// 60 seconds. The messages are described in `asyncapi.json`.
#[utoipa::path(
    post, path = "/auth/ws-ticket", tag = "auth", operation_id = "ws_ticket",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    responses(
        (status = 201, description = "A ticket for one WebSocket connection", body = TicketIssued),
    ),
)]
pub async fn ws_ticket(
    State(state): State<AuthState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let now = Utc::now();
    let ticket = Ticket::generate();
    let grant = TicketGrant::new(caller.username, caller.generation, now);
    state.live.issue_ticket(&ticket.hash(), &grant).await?;
    Ok((
        StatusCode::CREATED,
        Json(TicketIssued {
            ticket: ticket.expose().to_owned(),
            expires_at: grant.expires_at,
            expires_in: TICKET_TTL.num_seconds(),
        }),
    ))
}
