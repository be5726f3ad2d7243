use super::{Item, ItemKind, from_item, is_condition_failure, n, number, s, sdk_error, to_item};
use crate::{
    domain::{User, Username},
    store::{FailedLogins, LoginKey, StoreError, UserStore},
};
use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    types::{AttributeValue, ReturnValue},
};
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    fn user_key(username: &Username) -> AttributeValue {
        s(format!("USER#{username}"))
    }

    fn login_key(key: &LoginKey) -> AttributeValue {
        s(format!("LOGIN#{key}"))
    }

    fn user_item(user: &User) -> Result<Item, StoreError> {
        let mut item = to_item(user)?;
        item.insert("pk".into(), Self::user_key(&user.username));
        item.insert(ItemKind::ATTRIBUTE.into(), ItemKind::User.value());
        Ok(item)
    }
}

fn failed_logins_from(item: &Item) -> Result<FailedLogins, StoreError> {
    let window_start = Utc
        .timestamp_millis_opt(number(item, "window_start")?)
        .single()
        .ok_or_else(|| StoreError::Corrupt("window_start is out of range".into()))?;
    Ok(FailedLogins {
        count: number(item, "count")?.clamp(0, u32::MAX as i64) as u32,
        window_start,
    })
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::user_item(user)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    StoreError::AlreadyExists
                } else {
                    sdk_error(e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::user_key(username))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }

    async fn replace(&self, user: &User) -> Result<(), StoreError> {
        let expected = user.version.saturating_sub(1);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::user_item(user)?))
            .expression_attribute_values(":expected", n(expected));
        // Users written before versions existed have none: version 0.
        put = if expected == 0 {
            put.condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :expected)",
            )
        } else {
            put.condition_expression("attribute_exists(pk) AND version = :expected")
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => match self.get(&user.username).await? {
                Some(_) => Err(StoreError::VersionConflict),
                None => Err(StoreError::NotFound),
            },
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by-kind")
                .key_condition_expression("#kind = :user")
                .expression_attribute_names("#kind", ItemKind::ATTRIBUTE)
                .expression_attribute_values(":user", s(ItemKind::User.as_str()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                users.push(from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(users)
    }

    async fn failed_logins(
        &self,
        key: &LoginKey,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<Option<FailedLogins>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::login_key(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                let f = failed_logins_from(&item)?;
                Ok((now < f.window_start + window).then_some(f))
            }
        }
    }

    async fn record_failed_login(
        &self,
        key: &LoginKey,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<FailedLogins, StoreError> {
        let cutoff = (now - window).timestamp_millis();
        let expires_at = (now + window).timestamp() + 60;
        // Two conditional writes instead of a read-modify-write: concurrent failures
        // from several Lambda instances are all counted. A few rounds settle the race
        // between "window passed, start a new one" and a concurrent increment.
        for _ in 0..3 {
            let increment = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", Self::login_key(key))
                .update_expression("SET #count = #count + :one")
                .condition_expression("attribute_exists(pk) AND window_start > :cutoff")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cutoff", n(cutoff))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match increment {
                Ok(out) => return failed_logins_from(&out.attributes.unwrap_or_default()),
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(sdk_error(e)),
            }
            let fresh = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", Self::login_key(key))
                .item("count", n(1))
                .item("window_start", n(now.timestamp_millis()))
                .item("expires_at", n(expires_at))
                .condition_expression("attribute_not_exists(pk) OR window_start <= :cutoff")
                .expression_attribute_values(":cutoff", n(cutoff))
                .send()
                .await;
            match fresh {
                Ok(_) => {
                    return Ok(FailedLogins {
                        count: 1,
                        window_start: now,
                    });
                }
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(sdk_error(e)),
            }
        }
        Err(StoreError::Unavailable(
            "failed-login counter kept changing under contention".into(),
        ))
    }

    async fn clear_failed_logins(&self, key: &LoginKey) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", Self::login_key(key))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
