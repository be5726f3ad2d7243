//! In-process stores. Each method takes its lock once, so every write is atomic, just
//! as the conditional writes of the DynamoDB store are.

use super::counters::{Hour, bucket_of, delta, sources_seen};
use super::{
    AlertPage, AlertQuery, AlertStore, Claim, Detection, FailedLogins, HistoryPage,
    IDEMPOTENCY_TTL, IdempotentRequest, Ingest, LiveStore, LoginKey, MAX_ITEMS_READ, StoreError,
    StoredChange, UserStore,
};
use crate::domain::{Alert, AlertId, HistoryEntry, User, Username};
use crate::live::{Connection, ConnectionId, Filters, TicketGrant, TicketHash};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::{
    collections::{BTreeMap, HashMap},
    sync::RwLock,
    time::Duration,
};

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Other("a lock of the embedded store was poisoned".into())
}

#[derive(Default)]
pub struct EmbeddedUserStore {
    users: RwLock<BTreeMap<Username, User>>,
    failed_logins: RwLock<HashMap<LoginKey, FailedLogins>>,
}

fn window_contains(f: &FailedLogins, now: DateTime<Utc>, window: Duration) -> bool {
    now < f.window_start + window
}

#[async_trait]
impl UserStore for EmbeddedUserStore {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        let mut users = self.users.write().map_err(poisoned)?;
        if users.contains_key(&user.username) {
            return Err(StoreError::AlreadyExists);
        }
        users.insert(user.username.clone(), user.clone());
        Ok(())
    }

    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(self.users.read().map_err(poisoned)?.get(username).cloned())
    }

    async fn replace(&self, user: &User) -> Result<(), StoreError> {
        let mut users = self.users.write().map_err(poisoned)?;
        match users.get_mut(&user.username) {
            Some(stored) if stored.version + 1 == user.version => {
                *stored = user.clone();
                Ok(())
            }
            Some(_) => Err(StoreError::VersionConflict),
            None => Err(StoreError::NotFound),
        }
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self
            .users
            .read()
            .map_err(poisoned)?
            .values()
            .cloned()
            .collect())
    }

    async fn failed_logins(
        &self,
        key: &LoginKey,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<Option<FailedLogins>, StoreError> {
        Ok(self
            .failed_logins
            .read()
            .map_err(poisoned)?
            .get(key)
            .filter(|f| window_contains(f, now, window))
            .copied())
    }

    async fn record_failed_login(
        &self,
        key: &LoginKey,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<FailedLogins, StoreError> {
        let mut all = self.failed_logins.write().map_err(poisoned)?;
        let entry = all.entry(key.clone()).or_insert(FailedLogins {
            count: 0,
            window_start: now,
        });
        if !window_contains(entry, now, window) {
            *entry = FailedLogins {
                count: 0,
                window_start: now,
            };
        }
        entry.count += 1;
        Ok(*entry)
    }

    async fn clear_failed_logins(&self, key: &LoginKey) -> Result<(), StoreError> {
        self.failed_logins.write().map_err(poisoned)?.remove(key);
        Ok(())
    }
}

#[derive(Default)]
pub struct EmbeddedAlertStore {
    state: RwLock<AlertState>,
    /// The embedded store's stand-in for a DynamoDB stream: every committed change,
    /// in order, for the local notification loop.
    changes: Option<tokio::sync::mpsc::UnboundedSender<StoredChange>>,
}

impl EmbeddedAlertStore {
    /// A store that reports each committed change on `changes`.
    pub fn with_changes(changes: tokio::sync::mpsc::UnboundedSender<StoredChange>) -> Self {
        Self {
            state: RwLock::default(),
            changes: Some(changes),
        }
    }

    fn emit(&self, old: Option<Alert>, new: &Alert) {
        if let Some(tx) = &self.changes {
            // A closed receiver only means nobody listens any more.
            let _ = tx.send(StoredChange {
                old,
                new: new.clone(),
            });
        }
    }
}

#[derive(Default)]
struct AlertState {
    alerts: BTreeMap<AlertId, Alert>,
    /// dedup key -> the alert that repeats of it aggregate into
    dedup: HashMap<String, AlertId>,
    /// hour bucket -> report counters, kept under the same lock as the alerts
    counters: BTreeMap<DateTime<Utc>, Hour>,
    /// history entries moved off their alert by its bound, oldest first
    archived: HashMap<AlertId, Vec<HistoryEntry>>,
    /// idempotency key -> (fingerprint, expiry)
    claims: HashMap<String, (String, DateTime<Utc>)>,
    /// (idempotency key, candidate index) -> (its alert, created, expiry)
    markers: HashMap<(String, usize), (AlertId, bool, DateTime<Utc>)>,
}

impl AlertState {
    fn count(&mut self, old: Option<&Alert>, new: &Alert) {
        let bucket = self.counters.entry(bucket_of(new.created_at)).or_default();
        for (name, value) in delta(old, new) {
            *bucket.counts.entry(name).or_insert(0) += value;
        }
    }

    /// Adds the sources `seen` brought to `alert`'s hour.
    fn count_sources(&mut self, alert: &Alert, seen: &Alert) {
        let bucket = self
            .counters
            .entry(bucket_of(alert.created_at))
            .or_default();
        let (category, top) = sources_seen(seen);
        bucket.sources.entry(category).or_default().merge(&top);
    }

    fn record_detection(
        &mut self,
        candidate: &Alert,
        window: Duration,
    ) -> Result<(Option<Alert>, Detection), StoreError> {
        let existing = self
            .dedup
            .get(&candidate.dedup_key)
            .and_then(|id| self.alerts.get(id))
            .filter(|existing| existing.absorbs(candidate, window))
            .map(|existing| existing.id);
        if let Some(id) = existing {
            let stored = self.alerts.get_mut(&id).expect("looked up above");
            let old = stored.clone();
            stored.absorb(candidate, Utc::now());
            let new = stored.clone();
            self.count(Some(&old), &new);
            self.count_sources(&new, candidate);
            return Ok((
                Some(old),
                Detection {
                    alert: new,
                    created: false,
                },
            ));
        }
        if self.alerts.contains_key(&candidate.id) {
            return Err(StoreError::AlreadyExists);
        }
        self.alerts.insert(candidate.id, candidate.clone());
        self.dedup.insert(candidate.dedup_key.clone(), candidate.id);
        self.count(None, candidate);
        self.count_sources(candidate, candidate);
        Ok((
            None,
            Detection {
                alert: candidate.clone(),
                created: true,
            },
        ))
    }
}

#[async_trait]
impl AlertStore for EmbeddedAlertStore {
    async fn create(&self, alert: &Alert) -> Result<(), StoreError> {
        let mut state = self.state.write().map_err(poisoned)?;
        if state.alerts.contains_key(&alert.id) {
            return Err(StoreError::AlreadyExists);
        }
        state.alerts.insert(alert.id, alert.clone());
        state.count(None, alert);
        state.count_sources(alert, alert);
        self.emit(None, alert);
        Ok(())
    }

    async fn get(&self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        Ok(self
            .state
            .read()
            .map_err(poisoned)?
            .alerts
            .get(&id)
            .cloned())
    }

    async fn update(&self, alert: &Alert) -> Result<(), StoreError> {
        let mut state = self.state.write().map_err(poisoned)?;
        let stored = state
            .alerts
            .get_mut(&alert.id)
            .ok_or(StoreError::NotFound)?;
        if stored.version + 1 != alert.version {
            return Err(StoreError::VersionConflict);
        }
        let old = stored.clone();
        stored.take_workflow(alert);
        let archived = stored.archive_history();
        let new = stored.clone();
        state.archived.entry(alert.id).or_default().extend(archived);
        state.count(Some(&old), &new);
        self.emit(Some(old), &new);
        Ok(())
    }

    async fn record_detections(
        &self,
        candidates: &[Alert],
        window: Duration,
        ingest: Ingest<'_>,
    ) -> Vec<Result<Detection, StoreError>> {
        let mut state = match self.state.write() {
            Ok(state) => state,
            Err(_) => return candidates.iter().map(|_| Err(poisoned(()))).collect(),
        };
        let now = Utc::now();
        candidates
            .iter()
            .enumerate()
            .map(|(i, candidate)| {
                if ingest
                    .deadline
                    .is_some_and(|d| tokio::time::Instant::now() >= d)
                {
                    return Err(StoreError::OutOfTime);
                }
                let marker = ingest.request.map(|r| (r.id.clone(), i));
                if let Some((id, created, _)) = marker
                    .as_ref()
                    .and_then(|m| state.markers.get(m))
                    .filter(|(_, _, expires)| *expires > now)
                {
                    let alert = state.alerts.get(id).cloned().ok_or(StoreError::NotFound)?;
                    return Ok(Detection {
                        alert,
                        created: *created,
                    });
                }
                let (old, detection) = state.record_detection(candidate, window)?;
                if let Some(marker) = marker {
                    let entry = (detection.alert.id, detection.created, now + IDEMPOTENCY_TTL);
                    state.markers.insert(marker, entry);
                }
                self.emit(old, &detection.alert);
                Ok(detection)
            })
            .collect()
    }

    async fn claim(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let mut state = self.state.write().map_err(poisoned)?;
        match state.claims.get(&request.id) {
            Some((fingerprint, expires)) if *expires > now => {
                Ok(if *fingerprint == request.fingerprint {
                    Claim::Resend
                } else {
                    Claim::Mismatch
                })
            }
            _ => {
                let claim = (request.fingerprint.clone(), now + IDEMPOTENCY_TTL);
                state.claims.insert(request.id.clone(), claim);
                Ok(Claim::First)
            }
        }
    }

    async fn history(
        &self,
        id: AlertId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Option<HistoryPage>, StoreError> {
        let state = self.state.read().map_err(poisoned)?;
        let Some(alert) = state.alerts.get(&id) else {
            return Ok(None);
        };
        let archived = state.archived.get(&id).cloned().unwrap_or_default();
        Ok(Some(HistoryPage::assemble(
            alert, archived, from_seq, limit,
        )))
    }

    async fn counters(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Hour)>, StoreError> {
        let state = self.state.read().map_err(poisoned)?;
        Ok(state
            .counters
            .range(bucket_of(from)..=bucket_of(to))
            .map(|(bucket, counters)| (*bucket, counters.clone()))
            .collect())
    }

    async fn list(&self, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let (lower, upper) = query.id_range();
        if lower > upper {
            return Ok(AlertPage {
                items: Vec::new(),
                next: None,
            });
        }
        let state = self.state.read().map_err(poisoned)?;
        let mut items: Vec<Alert> = Vec::new();
        let mut stopped_at = None;
        for (read, (id, alert)) in state.alerts.range(lower..=upper).rev().enumerate() {
            if read == MAX_ITEMS_READ {
                // The read budget ran out: everything newer than `id` was read.
                stopped_at = Some(*id);
                break;
            }
            if query.matches(alert) {
                items.push(alert.clone());
                if items.len() > query.limit {
                    break;
                }
            }
        }
        let next = if items.len() > query.limit {
            items.truncate(query.limit);
            items.last().map(|a| a.id)
        } else {
            // The next page starts below the first unread alert.
            stopped_at.map(|id| ulid::Ulid(id.0.saturating_add(1)))
        };
        Ok(AlertPage { items, next })
    }
}

/// Tickets and connections in memory: for vigil-local and the tests.
#[derive(Default)]
pub struct EmbeddedLiveStore {
    tickets: RwLock<HashMap<TicketHash, TicketGrant>>,
    connections: RwLock<BTreeMap<ConnectionId, Connection>>,
}

#[async_trait]
impl LiveStore for EmbeddedLiveStore {
    async fn issue_ticket(
        &self,
        ticket: &TicketHash,
        grant: &TicketGrant,
    ) -> Result<(), StoreError> {
        let mut tickets = self.tickets.write().map_err(poisoned)?;
        // Expired tickets go as new ones come, so the map stays as small as the
        // tickets of the last minute.
        let now = Utc::now();
        tickets.retain(|_, g| g.is_valid_at(now));
        tickets.insert(ticket.clone(), grant.clone());
        Ok(())
    }

    async fn redeem_ticket(
        &self,
        ticket: &TicketHash,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketGrant>, StoreError> {
        let taken = self.tickets.write().map_err(poisoned)?.remove(ticket);
        Ok(taken.filter(|g| g.is_valid_at(now)))
    }

    async fn connect(&self, connection: &Connection) -> Result<(), StoreError> {
        self.connections
            .write()
            .map_err(poisoned)?
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn subscribe(
        &self,
        id: &ConnectionId,
        filters: &Filters,
    ) -> Result<Connection, StoreError> {
        let mut connections = self.connections.write().map_err(poisoned)?;
        let connection = connections.get_mut(id).ok_or(StoreError::NotFound)?;
        connection.filters = filters.clone();
        Ok(connection.clone())
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError> {
        self.connections.write().map_err(poisoned)?.remove(id);
        Ok(())
    }

    async fn connections(&self, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        let connections = self.connections.read().map_err(poisoned)?;
        Ok(connections
            .values()
            .filter(|c| now < c.expires_at)
            .cloned()
            .collect())
    }
}
