//! `POST /auth/ws-ticket`: a bearer token traded for a single-use WebSocket ticket
//! (see [`crate::live`] for why tickets and not the token in the URL).

use super::AuthState;
use crate::{
    http::{ApiError, Caller},
    live::{TICKET_TTL, Ticket, TicketGrant, TicketIssued},
};
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::Utc;

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
    let grant = TicketGrant::new(caller.username, now);
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
