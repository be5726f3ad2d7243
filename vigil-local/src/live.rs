//! `ws://127.0.0.1:3000/ws`: the live-alerts WebSocket on a laptop, with the protocol
//! of the API Gateway WebSocket API (`asyncapi.json`): connect with `?ticket=` from
//! `POST /auth/ws-ticket`, send `subscribe` to set filters, receive every matching
//! alert event from the same change feed that feeds notifications.
//!
//! The sockets live in this process, so connections are not written to a store (in
//! AWS they are, because the pusher is another function). As there, a user disabled
//! or logged out everywhere since connecting is disconnected at the next event, and a
//! connection ends after two hours.

use axum::{
    Router,
    extract::{
        Query, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code},
    },
    response::{IntoResponse, Response},
    routing::get,
};
use futures::{SinkExt, StreamExt};
use std::{collections::HashMap, sync::Arc};
use tokio::sync::broadcast::error::RecvError;
use vigil::{
    domain::User,
    http::ApiError,
    live::{Action, ClientMessage, Connection, ConnectionId, EventMessage, ServerMessage, Ticket},
    notify::local::LiveFeed,
    store::{LiveStore, UserStore},
};

#[derive(Clone)]
pub struct LiveState {
    pub tickets: Arc<dyn LiveStore>,
    pub users: Arc<dyn UserStore>,
    pub feed: LiveFeed,
}

pub fn router(state: LiveState) -> Router {
    Router::new().route("/ws", get(connect)).with_state(state)
}

/// The upgrade, after the ticket is redeemed: a bad, expired or used ticket gets a
/// 401 problem and no socket.
async fn connect(
    State(state): State<LiveState>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // Not an upgrade request: say so before a ticket is spent on it.
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    match admit(&state, query.get("ticket").map(String::as_str)).await {
        Ok(user) => {
            let connection = Connection::open(
                ConnectionId(ulid::Ulid::new().to_string()),
                &user,
                chrono::Utc::now(),
            );
            // Subscribed before the upgrade completes: no event in between is missed.
            let events = state.feed.subscribe();
            tracing::info!(connection = %connection.id, user = %connection.username, "live connection opened");
            upgrade.on_upgrade(move |socket| serve(socket, connection, events, state.users))
        }
        Err(e) => e.into_response(),
    }
}

async fn admit(state: &LiveState, ticket: Option<&str>) -> Result<User, ApiError> {
    let ticket = ticket
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "a ticket is required: ?ticket= from POST /auth/ws-ticket".into(),
            )
        })
        .and_then(|t| Ticket::parse(t).map_err(|e| ApiError::Unauthorized(e.to_string())))?;
    let grant = state
        .tickets
        .redeem_ticket(&ticket.hash(), chrono::Utc::now())
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("the ticket is unknown, expired or already used".into())
        })?;
    state
        .users
        .get(&grant.username)
        .await?
        .filter(|u| grant.admits(u))
        .ok_or_else(|| {
            ApiError::Unauthorized("the user is disabled, logged out or no longer exists".into())
        })
}

async fn serve(
    socket: WebSocket,
    mut connection: Connection,
    mut events: tokio::sync::broadcast::Receiver<Arc<EventMessage>>,
    users: Arc<dyn UserStore>,
) {
    let (mut tx, mut rx) = socket.split();
    let expiry = (connection.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let expired = tokio::time::sleep(expiry);
    tokio::pin!(expired);
    let close = |reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code: close_code::POLICY,
            reason: reason.into(),
        }))
    };
    loop {
        let outgoing = tokio::select! {
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => Some(match ClientMessage::parse(text.as_str()) {
                    Ok(message) => {
                        if message.action == Action::Subscribe {
                            connection.filters = message.filters.clone();
                        }
                        ServerMessage::reply_to(&message, &connection.filters)
                    }
                    Err(error) => ServerMessage::Error(error),
                }),
                Some(Ok(Message::Binary(_))) => Some(ServerMessage::Error(
                    vigil::live::ErrorMessage::new("send text frames of JSON", vec![]),
                )),
                // Pings are answered by axum; pongs need nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            event = events.recv() => match event {
                Ok(event) => {
                    // The user as stored now, at every event, matching or not (as the
                    // pusher does in AWS); one that cannot be read skips this event.
                    match users.get(&connection.username).await {
                        Ok(user) if !connection.still_allowed(user.as_ref()) => {
                            let _ = tx.send(close("the user was disabled or logged out")).await;
                            break;
                        }
                        Ok(_) => connection
                            .filters
                            .matches(&event.alert.alert)
                            .then(|| ServerMessage::Event(Box::new(event.as_ref().clone()))),
                        Err(e) => {
                            tracing::warn!(connection = %connection.id, error = %vigil::http::error_chain(&e), "reading a live client's user failed; event skipped");
                            None
                        }
                    }
                }
                // Too far behind to catch up: say so, so the client reconnects and
                // reads GET /alerts, rather than go on with a gap it cannot see.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(connection = %connection.id, missed, "a slow live client missed events; closed");
                    let _ = tx
                        .send(Message::Close(Some(CloseFrame {
                            code: close_code::AGAIN,
                            reason: "missed events: reconnect and read GET /alerts".into(),
                        })))
                        .await;
                    break;
                }
                Err(RecvError::Closed) => break,
            },
            () = &mut expired => {
                let _ = tx.send(close("connections last two hours; reconnect")).await;
                break;
            }
        };
        if let Some(message) = outgoing
            && tx
                .send(Message::Text(message.to_json().into()))
                .await
                .is_err()
        {
            break;
        }
    }
    tracing::info!(connection = %connection.id, "live connection closed");
}
