//! Floor 2: persistence. One trait per capability, two implementations each:
//! [`embedded`] (in-process, for local runs and fast tests) and [`dynamodb`].
//! The conformance suite in `shared/tests/it/stores.rs` runs against both.

pub mod counters;
pub mod dynamodb;
pub mod embedded;
mod query;

pub use query::{AlertPage, AlertQuery, MAX_ITEMS_READ};

use crate::{
    config::StoreConfig,
    domain::{Alert, AlertId, HistoryEntry, User, Username},
    live::{Connection, ConnectionId, Filters, TicketGrant, TicketHash},
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::{sync::Arc, time::Duration};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the item already exists")]
    AlreadyExists,
    #[error("the item does not exist")]
    NotFound,
    /// Optimistic locking: somebody else changed the item first.
    #[error("the item was changed by someone else (version conflict)")]
    VersionConflict,
    /// The store did not answer (throttled, unreachable): nothing was written.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A write was sent but not confirmed (timed out, connection lost mid-answer): it
    /// may have been applied. Only an idempotent resend can settle it.
    #[error("the store did not confirm the write; it may have been applied")]
    OutcomeUnknown(#[source] BoxError),
    /// Not attempted: the request's time budget ran out first. Nothing was written.
    #[error("not written: the request ran out of time")]
    OutOfTime,
    /// A stored item could not be read back into a domain type.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
    #[error("the store failed")]
    Other(#[source] BoxError),
}

/// A request sent with an `Idempotency-Key`: `id` scopes the key (route, caller, key),
/// `fingerprint` is the SHA-256 of what the request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    pub id: String,
    pub fingerprint: String,
}

/// How long an idempotency key (and what it stored) is kept.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// What [`AlertStore::claim`] found for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: this request is its first.
    First,
    /// The key came before with the same request: a resend.
    Resend,
    /// The key came before with another request.
    Mismatch,
}

/// How a batch of detections is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ingest<'a> {
    /// Makes each candidate's write happen once under this key: the candidate at
    /// index `i` of a resend finds what the first request stored for index `i`, and
    /// only what was not stored yet is written.
    pub request: Option<&'a IdempotentRequest>,
    /// Candidates whose write has not started by then are left unwritten
    /// ([`StoreError::OutOfTime`]).
    pub deadline: Option<tokio::time::Instant>,
}

/// Whose login attempts are counted together: one username from one source address.
/// Per source, so that failures from elsewhere never lock a user out of their own
/// address (the login route's own rate limit bounds guessing from many addresses).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginKey {
    pub username: Username,
    pub source: String,
}

impl std::fmt::Display for LoginKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.username, self.source)
    }
}

/// Login attempts for one [`LoginKey`] inside the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    pub count: u32,
    pub window_start: DateTime<Utc>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user; [`StoreError::AlreadyExists`] when the name is taken.
    async fn create(&self, user: &User) -> Result<(), StoreError>;
    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError>;
    /// Replaces an existing user if the stored version is `user.version - 1`:
    /// [`StoreError::VersionConflict`] otherwise, [`StoreError::NotFound`] when there
    /// is none. So two concurrent changes never undo each other (a role change read
    /// before a disable cannot write the user enabled again).
    async fn replace(&self, user: &User) -> Result<(), StoreError>;
    /// Every user, ordered by name (a handful of people and sensors: no paging).
    async fn list(&self) -> Result<Vec<User>, StoreError>;

    /// The attempts recorded in the window that contains `now`, if any.
    async fn failed_logins(
        &self,
        key: &LoginKey,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<Option<FailedLogins>, StoreError>;
    /// Counts one attempt (before its password is checked, so that parallel attempts
    /// are all counted): starts a new window when the last one has passed.
    async fn record_failed_login(
        &self,
        key: &LoginKey,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<FailedLogins, StoreError>;
    async fn clear_failed_logins(&self, key: &LoginKey) -> Result<(), StoreError>;
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Adds a new alert; [`StoreError::AlreadyExists`] if the id is taken.
    async fn create(&self, alert: &Alert) -> Result<(), StoreError>;
    async fn get(&self, id: AlertId) -> Result<Option<Alert>, StoreError>;
    /// Writes the workflow fields of `alert` ([`Alert::take_workflow`]) only if the
    /// stored version is `alert.version - 1`: [`StoreError::VersionConflict`]
    /// otherwise, [`StoreError::NotFound`] if missing. History beyond the alert's
    /// bound ([`Alert::archive_history`]) moves to history items in the same write.
    ///
    /// Detection fields (`count`, `last_seen`, `severity`, `score`, summaries) are
    /// left alone: detections keep aggregating into an alert while an analyst works on
    /// it, and neither side has to retry because of the other.
    async fn update(&self, alert: &Alert) -> Result<(), StoreError>;
    /// Records a detected threat: when an open alert with the same dedup key was last
    /// seen within `window` of `candidate.last_seen`, adds `candidate.count` to it
    /// (raising severity and score if the candidate's are higher); otherwise stores
    /// `candidate` as a new alert. Safe under concurrency: conditional writes decide
    /// which of two simultaneous detections creates and which increments.
    async fn record_detection(
        &self,
        candidate: &Alert,
        window: Duration,
    ) -> Result<Detection, StoreError> {
        self.record_detections(std::slice::from_ref(candidate), window, Ingest::default())
            .await
            .pop()
            .unwrap_or(Err(StoreError::Other(
                "no outcome for the detection".into(),
            )))
    }
    /// [`AlertStore::record_detection`] for many candidates with distinct dedup keys
    /// (a predict batch's groups): an outcome per candidate, in order. Each candidate
    /// is stored whole or not at all; the store batches and parallelises the writes.
    async fn record_detections(
        &self,
        candidates: &[Alert],
        window: Duration,
        ingest: Ingest<'_>,
    ) -> Vec<Result<Detection, StoreError>>;
    /// Registers an idempotency key with its request's fingerprint (kept
    /// [`IDEMPOTENCY_TTL`]), or says how it was used before.
    async fn claim(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    /// An alert's history, oldest first, from entry `from_seq` on, at most `limit`
    /// entries; `None` when there is no such alert.
    async fn history(
        &self,
        id: AlertId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Option<HistoryPage>, StoreError>;
    /// Newest first, filtered, one page at a time. Never a table scan.
    async fn list(&self, query: &AlertQuery) -> Result<AlertPage, StoreError>;
    /// The report counters of each hour from `from` to `to` (hour buckets, inclusive)
    /// that has any; see [`counters`].
    async fn counters(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, counters::Hour)>, StoreError>;
}

/// WebSocket tickets and connections (see [`crate::live`]).
#[async_trait]
pub trait LiveStore: Send + Sync {
    /// Keeps a ticket until it is redeemed or expires.
    async fn issue_ticket(
        &self,
        ticket: &TicketHash,
        grant: &TicketGrant,
    ) -> Result<(), StoreError>;
    /// Takes the ticket away and returns whom it lets in, if it exists and is still
    /// valid at `now`. Atomic: of two redeemers of one ticket, one gets it.
    async fn redeem_ticket(
        &self,
        ticket: &TicketHash,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketGrant>, StoreError>;
    async fn connect(&self, connection: &Connection) -> Result<(), StoreError>;
    /// Replaces a connection's filters and returns it; [`StoreError::NotFound`] if it
    /// is not (or no longer) connected.
    async fn subscribe(
        &self,
        id: &ConnectionId,
        filters: &Filters,
    ) -> Result<Connection, StoreError>;
    /// Forgets a connection (whether or not it was there).
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError>;
    /// Every connection not yet expired at `now`. A table of open browsers, read
    /// whole once per stream batch: dozens to thousands of small items.
    async fn connections(&self, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError>;
}

/// One page of an alert's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// The seq to ask for next, when there are more entries.
    pub next: Option<u64>,
    /// How many entries the alert has in all.
    pub total: u64,
}

impl HistoryPage {
    /// The page of `alert`'s history from `from_seq`, given the archived entries
    /// the store read for it (those before the alert's first kept entry).
    pub fn assemble(
        alert: &Alert,
        archived: Vec<HistoryEntry>,
        from_seq: u64,
        limit: usize,
    ) -> Self {
        let from_seq = from_seq.max(1);
        let mut entries: Vec<HistoryEntry> = archived
            .into_iter()
            .chain(alert.history.iter().cloned())
            .filter(|e| e.seq >= from_seq)
            .collect();
        entries.sort_by_key(|e| e.seq);
        entries.dedup_by_key(|e| e.seq);
        entries.truncate(limit);
        let last = entries.last().map_or(from_seq.saturating_sub(1), |e| e.seq);
        Self {
            entries,
            next: (last < alert.history_total).then_some(last + 1),
            total: alert.history_total,
        }
    }
}

/// The outcome of [`AlertStore::record_detection`].
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub alert: Alert,
    /// True when a new alert was created, false when a repeat was aggregated.
    pub created: bool,
}

/// One committed alert change, as the embedded store reports it (the DynamoDB store's
/// changes come from the table's stream instead).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    pub old: Option<Alert>,
    pub new: Alert,
}

/// The stores a function uses, built once at start-up from config.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub live: Arc<dyn LiveStore>,
}

impl Stores {
    pub fn embedded() -> Self {
        Self {
            users: Arc::new(embedded::EmbeddedUserStore::default()),
            alerts: Arc::new(embedded::EmbeddedAlertStore::default()),
            live: Arc::new(embedded::EmbeddedLiveStore::default()),
        }
    }

    /// `aws` is needed only for the DynamoDB store.
    pub fn from_config(config: &StoreConfig, aws: Option<&aws_config::SdkConfig>) -> Self {
        match (config, aws) {
            (StoreConfig::DynamoDb(tables), Some(aws)) => {
                let client = aws_sdk_dynamodb::Client::new(aws);
                Self {
                    users: Arc::new(dynamodb::DynamoUserStore::new(
                        client.clone(),
                        tables.users.clone(),
                    )),
                    alerts: Arc::new(dynamodb::DynamoAlertStore::new(
                        client.clone(),
                        tables.alerts.clone(),
                    )),
                    live: Arc::new(dynamodb::DynamoLiveStore::new(
                        client,
                        tables.connections.clone(),
                    )),
                }
            }
            _ => Self::embedded(),
        }
    }
}
