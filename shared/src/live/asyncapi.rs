//! `asyncapi.json`, the WebSocket contract (AsyncAPI 3.0), generated from the same
//! types the server sends and parses, so the document and the messages cannot drift
//! apart (`vigil-local/tests/it/live.rs` compares it with the committed file and
//! checks real pushed messages against it).

use super::{ClientMessage, ErrorMessage, EventMessage, Pong, Subscribed};
use serde_json::{Value, json};
use utoipa::{ToSchema, openapi::ComponentsBuilder};

/// The document, pretty-printed with a final newline (as committed).
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serialises");
    text.push('\n');
    text
}

pub fn document() -> Value {
    // Each message's schema and every schema it refers to (the alert and its parts).
    let mut referenced = Vec::new();
    EventMessage::schemas(&mut referenced);
    Subscribed::schemas(&mut referenced);
    Pong::schemas(&mut referenced);
    ErrorMessage::schemas(&mut referenced);
    ClientMessage::schemas(&mut referenced);
    let components = ComponentsBuilder::new()
        .schema_from::<EventMessage>()
        .schema_from::<Subscribed>()
        .schema_from::<Pong>()
        .schema_from::<ErrorMessage>()
        .schema_from::<ClientMessage>()
        .schemas_from_iter(referenced)
        .build();
    let schemas = serde_json::to_value(&components.schemas).expect("schemas serialise");
    let message = |name: &str, schema: &str, title: &str, summary: &str| {
        json!({
            "name": name,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "payload": { "$ref": format!("#/components/schemas/{schema}") },
        })
    };
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Vigil live alerts",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every alert event (created, escalated, status changed), pushed to \
                the analysts' browsers as it is committed. Connect with a single-use ticket \
                from `POST /auth/ws-ticket` (valid 60 s) as `?ticket=`; send `subscribe` to \
                narrow what arrives. The `alert` in an event is the REST API's alert \
                (`GET /alerts/{id}`). A missed event is never replayed: on reconnect, read \
                `GET /alerts` for what happened meanwhile, and drop events whose `id` was \
                seen (a client too slow to keep up is closed with code 1013 and should do \
                the same). A disabled user's connections are closed at the next push. \
                API Gateway closes a connection idle for 10 minutes (and any after 2 hours): \
                send `ping` at least every 9 minutes on a quiet one, and reconnect with a \
                fresh ticket when it closes.",
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:3000",
                "protocol": "ws",
                "pathname": "/ws",
                "description": "vigil-local (`make run`)",
            },
            "aws": {
                "host": "{apiId}.execute-api.{region}.amazonaws.com",
                "protocol": "wss",
                "pathname": "/{stage}",
                "description": "API Gateway WebSocket API (the stack's output WebSocketUrl)",
                "variables": {
                    "apiId": { "description": "the WebSocket API's id" },
                    "region": { "default": "us-east-1" },
                    "stage": { "default": "live" },
                },
            },
        },
        "channels": {
            "alerts": {
                "address": "/",
                "title": "The alert events of one connection",
                "messages": {
                    "alertEvent": { "$ref": "#/components/messages/alertEvent" },
                    "subscribed": { "$ref": "#/components/messages/subscribed" },
                    "pong": { "$ref": "#/components/messages/pong" },
                    "error": { "$ref": "#/components/messages/error" },
                    "subscribe": { "$ref": "#/components/messages/subscribe" },
                },
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "ticket": {
                                    "type": "string",
                                    "description": "From POST /auth/ws-ticket; works once, for 60 s. \
                                        A missing, bad, expired or used ticket is refused \
                                        with 401 before the upgrade.",
                                },
                            },
                            "required": ["ticket"],
                        },
                    },
                },
            },
        },
        "operations": {
            "pushAlertEvent": {
                "action": "send",
                "channel": { "$ref": "#/channels/alerts" },
                "summary": "An alert event that matches the connection's filters.",
                "messages": [{ "$ref": "#/channels/alerts/messages/alertEvent" }],
            },
            "subscribe": {
                "action": "receive",
                "channel": { "$ref": "#/channels/alerts" },
                "summary": "Replace the connection's filters (none: every event), or ping.",
                "messages": [{ "$ref": "#/channels/alerts/messages/subscribe" }],
                "reply": {
                    "channel": { "$ref": "#/channels/alerts" },
                    "messages": [
                        { "$ref": "#/channels/alerts/messages/subscribed" },
                        { "$ref": "#/channels/alerts/messages/pong" },
                        { "$ref": "#/channels/alerts/messages/error" },
                    ],
                },
            },
        },
        "components": {
            "messages": {
                "alertEvent": message("alertEvent", "EventMessage", "Alert event", "An alert was created, escalated or changed status."),
                "subscribed": message("subscribed", "Subscribed", "Subscribed", "The filters now in force."),
                "pong": message("pong", "Pong", "Pong", "The answer to ping."),
                "error": message("error", "ErrorMessage", "Error", "A client message the server could not take; the connection stays open."),
                "subscribe": message("subscribe", "ClientMessage", "Subscribe or ping", "Set the connection's filters, or keep it open."),
            },
            "schemas": schemas,
        },
    })
}
