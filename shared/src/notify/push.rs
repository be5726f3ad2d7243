//! Live push in AWS: each alert event of a stream batch, posted to every WebSocket
//! connection whose filters match, through the API Gateway Management API.
//!
//! The push runs in the `live` function, the stream's second reader, never in the
//! SNS publish's way (`notify` is the first): its failures are logged and counted,
//! never reported as batch failures, so a broken socket cannot hold back or repeat a
//! notification, and an SNS outage cannot delay a push. A push is not retried beyond
//! the SDK's few quick attempts, and a connection that fails is left for the next
//! batch: it is a live view, and a client that missed one reads `GET /alerts` when it
//! reconnects (the contract says so); the notification, which must not be lost, is
//! SNS's.

use crate::{
    domain::{User, Username},
    http::error_chain,
    live::{Connection, EventMessage, ServerMessage},
    store::{LiveStore, UserStore},
};
use aws_sdk_apigatewaymanagement::{
    Client, error::SdkError, operation::post_to_connection::PostToConnectionError, primitives::Blob,
};
use futures::{StreamExt, stream};
use std::{collections::HashMap, sync::Arc, time::Duration};

/// Connections posted to at once. Each connection's events go in order, one after the
/// other; connections proceed in parallel.
const CONCURRENCY: usize = 64;
/// How long after it was stored a connection may still be completing its handshake.
const CONNECTING: chrono::Duration = chrono::Duration::seconds(10);

/// A post that takes longer is given up (and retried by the SDK): a hung connection
/// to API Gateway must not hold the whole push.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Pusher {
    client: Client,
    connections: Arc<dyn LiveStore>,
    users: Arc<dyn UserStore>,
}

/// What one push did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushReport {
    /// Messages posted.
    pub delivered: usize,
    /// Connections found gone (410) and forgotten.
    pub gone: usize,
    /// Connections closed because their user was disabled, removed or logged out
    /// everywhere (token generation) since connecting.
    pub closed: usize,
    /// Messages not posted (API Gateway or a store failed).
    pub failed: usize,
}

impl Pusher {
    /// `endpoint` is the WebSocket API's stage URL,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub fn new(
        aws: &aws_config::SdkConfig,
        endpoint: &str,
        connections: Arc<dyn LiveStore>,
        users: Arc<dyn UserStore>,
    ) -> Self {
        let timeouts = aws_sdk_apigatewaymanagement::config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(ATTEMPT_TIMEOUT * 3)
            .build();
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(aws)
            .endpoint_url(endpoint)
            .timeout_config(timeouts)
            .build();
        Self {
            client: Client::from_conf(config),
            connections,
            users,
        }
    }

    /// Posts `events` (in order) to each connection they match.
    pub async fn push(&self, events: &[EventMessage]) -> PushReport {
        let mut report = PushReport::default();
        if events.is_empty() {
            return report;
        }
        let connections = match self.connections.connections(chrono::Utc::now()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "reading the connections failed; nothing pushed");
                report.failed = events.len();
                return report;
            }
        };
        if connections.is_empty() {
            return report;
        }
        let users = self.current_users(&connections).await;
        let messages: Vec<(&EventMessage, String)> = events
            .iter()
            .map(|e| (e, ServerMessage::Event(Box::new(e.clone())).to_json()))
            .collect();
        let outcomes: Vec<PushReport> = stream::iter(connections)
            .map(|connection| {
                let holder = users
                    .get(&connection.username)
                    .unwrap_or(&Holder::Unreadable);
                let messages = &messages;
                async move { self.serve(&connection, holder, messages).await }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for o in outcomes {
            report.delivered += o.delivered;
            report.gone += o.gone;
            report.closed += o.closed;
            report.failed += o.failed;
        }
        tracing::info!(
            events = events.len(),
            delivered = report.delivered,
            gone = report.gone,
            closed = report.closed,
            failed = report.failed,
            "live push"
        );
        report
    }

    /// Each connected user as stored now.
    async fn current_users(&self, connections: &[Connection]) -> HashMap<Username, Holder> {
        let mut names: Vec<&Username> = connections.iter().map(|c| &c.username).collect();
        names.sort();
        names.dedup();
        stream::iter(names)
            .map(|name| async move {
                let holder = match self.users.get(name).await {
                    Ok(user) => Holder::Known(user),
                    Err(e) => {
                        tracing::warn!(error = %error_chain(&e), "reading a connection's user failed");
                        Holder::Unreadable
                    }
                };
                (name.clone(), holder)
            })
            .buffer_unordered(16)
            .collect()
            .await
    }

    async fn serve(
        &self,
        connection: &Connection,
        holder: &Holder,
        messages: &[(&EventMessage, String)],
    ) -> PushReport {
        let mut report = PushReport::default();
        let wanted: Vec<&String> = messages
            .iter()
            .filter(|(event, _)| connection.filters.matches(&event.alert.alert))
            .map(|(_, json)| json)
            .collect();
        let user = match holder {
            // The user could not be read: skip this push, close nothing.
            Holder::Unreadable => {
                report.failed = wanted.len();
                return report;
            }
            Holder::Known(user) => user.as_ref(),
        };
        if !connection.still_allowed(user) {
            self.close(connection).await;
            report.closed = 1;
            return report;
        }
        for (sent, json) in wanted.iter().enumerate() {
            match self.post(connection, json).await {
                Ok(()) => report.delivered += 1,
                // API Gateway answers 410 until `$connect` has returned, and the
                // connection is stored just before: a new one is not gone yet.
                Err(Post::Gone) if chrono::Utc::now() - connection.connected_at < CONNECTING => {
                    report.failed += wanted.len() - sent;
                    return report;
                }
                // Nobody is there to miss the rest.
                Err(Post::Gone) => {
                    self.forget(connection).await;
                    report.gone = 1;
                    return report;
                }
                // The rest would likely fail too: not worth the batch's time.
                Err(Post::Failed) => {
                    report.failed += wanted.len() - sent;
                    return report;
                }
            }
        }
        report
    }

    /// One post; the SDK's standard retry already covers throttling and transient
    /// failures (three attempts with backoff), each attempt bounded by
    /// [`ATTEMPT_TIMEOUT`].
    async fn post(&self, connection: &Connection, json: &str) -> Result<(), Post> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(&connection.id.0)
            .data(Blob::new(json.as_bytes()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PostToConnectionError::GoneException(_)) =>
            {
                Err(Post::Gone)
            }
            Err(e) => {
                tracing::warn!(connection = %connection.id, error = %error_chain(&e), "push failed");
                Err(Post::Failed)
            }
        }
    }

    /// Closes a connection its user may no longer have, and forgets it.
    async fn close(&self, connection: &Connection) {
        let closed = self
            .client
            .delete_connection()
            .connection_id(&connection.id.0)
            .send()
            .await;
        if let Err(e) = closed {
            // Gone already, or not closable now: either way it is forgotten below,
            // and a socket left open receives nothing more.
            tracing::info!(connection = %connection.id, error = %error_chain(&e), "closing a connection failed");
        }
        tracing::info!(connection = %connection.id, user = %connection.username, "connection of a disabled user closed");
        self.forget(connection).await;
    }

    async fn forget(&self, connection: &Connection) {
        if let Err(e) = self.connections.disconnect(&connection.id).await {
            tracing::warn!(connection = %connection.id, error = %error_chain(&e), "forgetting a gone connection failed");
        }
    }
}

/// A connection's user, as the pusher found it.
enum Holder {
    Known(Option<User>),
    Unreadable,
}

enum Post {
    Gone,
    Failed,
}
