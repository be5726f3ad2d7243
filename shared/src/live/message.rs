use super::Filters;
use crate::domain::{Alert, AlertEvent, AlertView, Category, FieldError, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An alert event, as pushed to every connection whose filters match it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventMessage {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: AlertEvent,
    /// The same for every delivery of one change (and the SNS message's `message_id`):
    /// a client drops a message whose id it has seen.
    #[schema(example = "01JDQ5X4R3M2N1P0Q9R8S7T6V5:created:v1:1764597600000000")]
    pub id: String,
    /// The alert after the change, as `GET /alerts/{id}` returns it.
    pub alert: AlertView,
    /// When the change was made (the alert's `updated_at`).
    pub at: DateTime<Utc>,
}

impl EventMessage {
    /// The message for a committed change from `old` to `new`, if it is an event.
    pub fn for_change(old: Option<&Alert>, new: &Alert) -> Option<Self> {
        let kind = AlertEvent::between(old, new)?;
        Some(Self {
            kind,
            id: kind.message_id(new),
            alert: AlertView::from(new.clone()),
            at: new.updated_at,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscribedType {
    Subscribed,
}

/// The reply to `subscribe`: the filters now in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subscribed {
    #[serde(rename = "type")]
    pub kind: SubscribedType,
    pub filters: Filters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    Error,
}

/// The reply to a message the server could not take; the connection stays open.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErrorMessage {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    #[schema(example = "the message was not understood")]
    pub detail: String,
    /// Each field that was wrong, and why.
    pub errors: Vec<FieldError>,
}

impl ErrorMessage {
    pub fn new(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            kind: ErrorType::Error,
            detail: detail.into(),
            errors,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PongType {
    Pong,
}

/// The reply to `ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pong {
    #[serde(rename = "type")]
    pub kind: PongType,
}

/// Everything the server sends on a connection.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ServerMessage {
    Event(Box<EventMessage>),
    Subscribed(Subscribed),
    Pong(Pong),
    Error(ErrorMessage),
}

impl ServerMessage {
    /// The answer to a client's message: the filters in force after it, or a pong.
    pub fn reply_to(message: &ClientMessage, filters: &Filters) -> Self {
        match message.action {
            Action::Subscribe => ServerMessage::Subscribed(Subscribed {
                kind: SubscribedType::Subscribed,
                filters: filters.clone(),
            }),
            Action::Ping => ServerMessage::Pong(Pong {
                kind: PongType::Pong,
            }),
        }
    }
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace the connection's filters.
    Subscribe,
    /// Keep a quiet connection open: API Gateway closes one idle for 10 minutes.
    Ping,
}

/// What a client sends: `{"action": "subscribe", "min_severity": "high",
/// "categories": ["dos", "probe"]}`, or `{"action": "ping"}` (at least every 9
/// minutes on a quiet connection). API Gateway routes on `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClientMessage {
    pub action: Action,
    #[serde(flatten)]
    pub filters: Filters,
}

impl ClientMessage {
    /// Longer messages are refused unread: a subscribe is a few dozen bytes.
    pub const MAX_BYTES: usize = 4096;

    /// Parses a client's text frame, naming every field that is wrong.
    pub fn parse(text: &str) -> Result<Self, ErrorMessage> {
        let invalid = |errors| ErrorMessage::new("the message was not understood", errors);
        if text.len() > Self::MAX_BYTES {
            return Err(invalid(vec![FieldError::new(
                "body",
                format!("at most {} bytes", Self::MAX_BYTES),
            )]));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| invalid(vec![FieldError::new("body", format!("not JSON: {e}"))]))?;
        let Value::Object(object) = value else {
            return Err(invalid(vec![FieldError::new(
                "body",
                "must be a JSON object",
            )]));
        };
        let mut errors = Vec::new();
        let mut action = None;
        let mut filters = Filters::default();
        for (key, value) in &object {
            match key.as_str() {
                "action" => match value.as_str() {
                    Some("subscribe") => action = Some(Action::Subscribe),
                    Some("ping") => action = Some(Action::Ping),
                    _ => errors.push(FieldError::new("action", "must be subscribe or ping")),
                },
                "min_severity" => match value {
                    Value::Null => {}
                    Value::String(s) => match s.parse::<Severity>() {
                        Ok(severity) => filters.min_severity = Some(severity),
                        Err(e) => errors.push(FieldError::new("min_severity", e.to_string())),
                    },
                    _ => errors.push(FieldError::new("min_severity", "must be a string")),
                },
                "categories" => match value {
                    Value::Null => {}
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let field = format!("categories[{i}]");
                            match item.as_str().map(str::parse::<Category>) {
                                Some(Ok(c)) if !filters.categories.contains(&c) => {
                                    filters.categories.push(c)
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => errors.push(FieldError::new(field, e.to_string())),
                                None => errors.push(FieldError::new(field, "must be a string")),
                            }
                        }
                        filters.categories.sort();
                    }
                    _ => errors.push(FieldError::new("categories", "must be an array")),
                },
                other => errors.push(FieldError::new(other, "unknown field")),
            }
        }
        if action.is_none() && !errors.iter().any(|e| e.field == "action") {
            errors.push(FieldError::new("action", "is required"));
        }
        if action == Some(Action::Ping) && filters != Filters::default() {
            errors.push(FieldError::new("action", "ping takes no filters"));
        }
        match (action, errors.is_empty()) {
            (Some(action), true) => Ok(Self { action, filters }),
            _ => Err(invalid(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscribe_parses_into_filters() {
        let m = ClientMessage::parse(
            r#"{"action":"subscribe","min_severity":"high","categories":["probe","dos","dos"]}"#,
        )
        .unwrap();
        assert_eq!(m.action, Action::Subscribe);
        assert_eq!(m.filters.min_severity, Some(Severity::High));
        assert_eq!(m.filters.categories, vec![Category::Dos, Category::Probe]);
        let all = ClientMessage::parse(r#"{"action":"subscribe"}"#).unwrap();
        assert_eq!(all.filters, Filters::default());
        let ping = ClientMessage::parse(r#"{"action":"ping"}"#).unwrap();
        assert_eq!(ping.action, Action::Ping);
        assert_eq!(
            ServerMessage::reply_to(&ping, &Filters::default()).to_json(),
            r#"{"type":"pong"}"#
        );
        assert!(ClientMessage::parse(r#"{"action":"ping","min_severity":"low"}"#).is_err());
    }

    #[test]
    fn every_wrong_field_is_named() {
        let e = ClientMessage::parse(
            r#"{"action":"watch","min_severity":"urgent","categories":["dos",7],"x":1}"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["action", "categories[1]", "min_severity", "x"]);
        let e = ClientMessage::parse("{}").unwrap_err();
        assert_eq!(e.errors[0].field, "action");
        assert_eq!(e.errors[0].message, "is required");
        assert_eq!(
            ClientMessage::parse("[1]").unwrap_err().errors[0].field,
            "body"
        );
        assert_eq!(
            ClientMessage::parse("nope").unwrap_err().errors[0].field,
            "body"
        );
        let long = format!(r#"{{"action":"subscribe","pad":"{}"}}"#, "x".repeat(5000));
        assert!(
            ClientMessage::parse(&long).unwrap_err().errors[0]
                .message
                .contains("4096")
        );
    }

    #[test]
    fn server_messages_carry_their_type() {
        let subscribed = ServerMessage::Subscribed(Subscribed {
            kind: SubscribedType::Subscribed,
            filters: Filters {
                min_severity: Some(Severity::Critical),
                categories: vec![],
            },
        });
        assert_eq!(
            subscribed.to_json(),
            r#"{"type":"subscribed","filters":{"min_severity":"critical"}}"#
        );
        let error = ServerMessage::Error(ErrorMessage::new("bad", vec![]));
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","detail":"bad","errors":[]}"#
        );
    }
}
