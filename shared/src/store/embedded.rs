//! In-process stores. Each method takes its lock once, so every write is atomic, just
//! as the conditional writes of the DynamoDB store are.

use super::{AlertPage, AlertQuery, AlertStore, FailedLogins, StoreError, UserStore};
use crate::domain::{Alert, AlertId, User, Username};
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
    failed_logins: RwLock<HashMap<Username, FailedLogins>>,
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
            Some(stored) => {
                *stored = user.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.users.read().map_err(poisoned)?.values().cloned().collect())
    }

    async fn failed_logins(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<Option<FailedLogins>, StoreError> {
        Ok(self
            .failed_logins
            .read()
            .map_err(poisoned)?
            .get(username)
            .filter(|f| window_contains(f, now, window))
            .copied())
    }

    async fn record_failed_login(
        &self,
        username: &Username,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<FailedLogins, StoreError> {
        let mut all = self.failed_logins.write().map_err(poisoned)?;
        let entry = all.entry(username.clone()).or_insert(FailedLogins {
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

    async fn clear_failed_logins(&self, username: &Username) -> Result<(), StoreError> {
        self.failed_logins.write().map_err(poisoned)?.remove(username);
        Ok(())
    }
}

#[derive(Default)]
pub struct EmbeddedAlertStore {
    alerts: RwLock<BTreeMap<AlertId, Alert>>,
}

#[async_trait]
impl AlertStore for EmbeddedAlertStore {
    async fn create(&self, alert: &Alert) -> Result<(), StoreError> {
        let mut alerts = self.alerts.write().map_err(poisoned)?;
        if alerts.contains_key(&alert.id) {
            return Err(StoreError::AlreadyExists);
        }
        alerts.insert(alert.id, alert.clone());
        Ok(())
    }

    async fn get(&self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        Ok(self.alerts.read().map_err(poisoned)?.get(&id).cloned())
    }

    async fn update(&self, alert: &Alert) -> Result<(), StoreError> {
        let mut alerts = self.alerts.write().map_err(poisoned)?;
        let stored = alerts.get_mut(&alert.id).ok_or(StoreError::NotFound)?;
        if stored.version + 1 != alert.version {
            return Err(StoreError::VersionConflict);
        }
        *stored = alert.clone();
        Ok(())
    }

    async fn list(&self, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let (lower, upper) = query.id_range();
        if lower > upper {
            return Ok(AlertPage {
                items: Vec::new(),
                next: None,
            });
        }
        let alerts = self.alerts.read().map_err(poisoned)?;
        let mut items: Vec<Alert> = alerts
            .range(lower..=upper)
            .rev()
            .map(|(_, a)| a)
            .filter(|a| query.matches(a))
            .take(query.limit + 1)
            .cloned()
            .collect();
        let next = if items.len() > query.limit {
            items.truncate(query.limit);
            items.last().map(|a| a.id)
        } else {
            None
        };
        Ok(AlertPage { items, next })
    }
}
