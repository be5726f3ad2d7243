//! The WebSocket API's routes in AWS (`functions/live`): API Gateway calls the
//! function with `$connect` (the handshake, with `?ticket=`), each client message
//! (`subscribe`, or `$default` for any other action) and `$disconnect`. Connections are
//! written to the connections table, where the pusher (`notify`) finds them.

use super::{Action, ClientMessage, Connection, ConnectionId, ErrorMessage, ServerMessage, Ticket};
use crate::{
    http::{FieldError, error_chain},
    store::{LiveStore, StoreError, UserStore},
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The parts of API Gateway's WebSocket event that the routes read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayEvent {
    pub request_context: RequestContext,
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    pub route_key: String,
    pub connection_id: String,
}

/// What the route answers: for `$connect`, a status other than 200 refuses the
/// handshake; for messages, `body` goes back to the client (the template gives those
/// routes a route response).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayResponse {
    pub status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl GatewayResponse {
    fn ok() -> Self {
        Self {
            status_code: 200,
            body: None,
        }
    }

    fn message(status_code: u16, message: ServerMessage) -> Self {
        Self {
            status_code,
            body: Some(message.to_json()),
        }
    }

    fn error(status_code: u16, detail: &str, errors: Vec<FieldError>) -> Self {
        Self::message(
            status_code,
            ServerMessage::Error(ErrorMessage::new(detail, errors)),
        )
    }
}

pub struct Gateway<'a> {
    pub live: &'a dyn LiveStore,
    pub users: &'a dyn UserStore,
}

impl Gateway<'_> {
    pub async fn handle(&self, event: GatewayEvent) -> GatewayResponse {
        let id = ConnectionId(event.request_context.connection_id.clone());
        let outcome = match event.request_context.route_key.as_str() {
            "$connect" => self.connect(id, &event).await,
            "$disconnect" => self
                .live
                .disconnect(&id)
                .await
                .map(|()| GatewayResponse::ok()),
            _ => self.message(&id, event.body.as_deref().unwrap_or("")).await,
        };
        outcome.unwrap_or_else(|e| {
            tracing::error!(route = %event.request_context.route_key, error = %error_chain(&e), "live route failed");
            GatewayResponse::error(500, "the server could not do that now; try again", vec![])
        })
    }

    async fn connect(
        &self,
        id: ConnectionId,
        event: &GatewayEvent,
    ) -> Result<GatewayResponse, StoreError> {
        let refused = |detail: &str| {
            tracing::info!(connection = %id, reason = detail, "live connection refused");
            Ok(GatewayResponse::error(401, detail, vec![]))
        };
        let raw = event
            .query_string_parameters
            .as_ref()
            .and_then(|q| q.get("ticket"));
        let Some(ticket) = raw.and_then(|t| Ticket::parse(t).ok()) else {
            return refused("a ticket is required: ?ticket= from POST /auth/ws-ticket");
        };
        let now = chrono::Utc::now();
        let Some(grant) = self.live.redeem_ticket(&ticket.hash(), now).await? else {
            return refused("the ticket is unknown, expired or already used");
        };
        let Some(user) = self
            .users
            .get(&grant.username)
            .await?
            .filter(|u| grant.admits(u))
        else {
            return refused("the user is disabled, logged out or no longer exists");
        };
        let connection = Connection::open(id, &user, now);
        self.live.connect(&connection).await?;
        tracing::info!(connection = %connection.id, user = %connection.username, "live connection opened");
        Ok(GatewayResponse::ok())
    }

    async fn message(&self, id: &ConnectionId, body: &str) -> Result<GatewayResponse, StoreError> {
        let message = match ClientMessage::parse(body) {
            Ok(message) => message,
            Err(error) => return Ok(GatewayResponse::message(400, ServerMessage::Error(error))),
        };
        if message.action == Action::Ping {
            return Ok(GatewayResponse::message(
                200,
                ServerMessage::reply_to(&message, &message.filters),
            ));
        }
        match self.live.subscribe(id, &message.filters).await {
            Ok(connection) => Ok(GatewayResponse::message(
                200,
                ServerMessage::reply_to(&message, &connection.filters),
            )),
            Err(StoreError::NotFound) => Ok(GatewayResponse::error(
                410,
                "this connection is not registered (it expired); reconnect",
                vec![],
            )),
            Err(e) => Err(e),
        }
    }
}
