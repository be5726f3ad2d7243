//! WebSocket tickets and connections on DynamoDB, in the connections table (key `pk`,
//! TTL `expires_at`):
//!
//! - ticket: `pk = TICKET#<sha256 of the ticket>`, `username`, `expires_at`. Redeemed
//!   by a DeleteItem that returns the deleted item: of two redeemers, only one gets
//!   it back. < 200 B.
//! - connection: `pk = CONN#<connection id>`, `kind = connection`, the user, role,
//!   token generation, filters (at most one of each category) and `expires_at` (two
//!   hours on, when API Gateway closes the socket anyway). < 1 KB.
//!
//! The pusher reads every connection once per stream batch through the sparse index
//! `by-kind` (`kind`, `id`), which holds connections only: tickets, however many are
//! asked for, are never read by a push. TTL deletes up to days late, so reads also
//! check `expires_at`.

use super::{Item, ItemKind, from_item, n, s, sdk_error, to_item};
use crate::{
    domain::{Role, Username},
    live::{Connection, ConnectionId, Filters, TicketGrant, TicketHash},
    store::{LiveStore, StoreError},
};
use async_trait::async_trait;
use aws_sdk_dynamodb::{Client, types::ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub struct DynamoLiveStore {
    client: Client,
    table: String,
}

impl DynamoLiveStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

/// The sparse index that lists connections (tickets have no `kind`).
const BY_KIND: &str = "by-kind";

fn ticket_key(ticket: &TicketHash) -> String {
    format!("TICKET#{}", ticket.as_str())
}

fn connection_key(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}

/// A connection as stored: its fields, with `expires_at` in epoch seconds (the TTL).
#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    kind: String,
    id: ConnectionId,
    username: Username,
    role: Role,
    generation: u32,
    filters: Filters,
    connected_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_seconds")]
    expires_at: DateTime<Utc>,
}

impl From<ConnectionItem> for Connection {
    fn from(item: ConnectionItem) -> Self {
        Connection {
            id: item.id,
            username: item.username,
            role: item.role,
            generation: item.generation,
            filters: item.filters,
            connected_at: item.connected_at,
            expires_at: item.expires_at,
        }
    }
}

fn expires_at(item: &Item) -> Option<DateTime<Utc>> {
    let seconds = item.get("expires_at")?.as_n().ok()?.parse().ok()?;
    DateTime::from_timestamp(seconds, 0)
}

#[async_trait]
impl LiveStore for DynamoLiveStore {
    async fn issue_ticket(
        &self,
        ticket: &TicketHash,
        grant: &TicketGrant,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(ticket_key(ticket)))
            .item("username", s(grant.username.as_str()))
            .item("generation", n(grant.generation))
            .item("expires_at", n(grant.expires_at.timestamp()))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn redeem_ticket(
        &self,
        ticket: &TicketHash,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketGrant>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(ticket_key(ticket)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(item) = out.attributes else {
            return Ok(None);
        };
        let username = item
            .get("username")
            .and_then(|v| v.as_s().ok())
            .and_then(|u| Username::parse(u).ok())
            .ok_or_else(|| StoreError::Corrupt("a ticket without a username".into()))?;
        let expires_at = expires_at(&item)
            .ok_or_else(|| StoreError::Corrupt("a ticket without expires_at".into()))?;
        let generation = super::number(&item, "generation")? as u32;
        let grant = TicketGrant {
            username,
            generation,
            expires_at,
        };
        Ok(grant.is_valid_at(now).then_some(grant))
    }

    async fn connect(&self, c: &Connection) -> Result<(), StoreError> {
        let item = to_item(&ConnectionItem {
            pk: connection_key(&c.id),
            kind: ItemKind::Connection.as_str().into(),
            id: c.id.clone(),
            username: c.username.clone(),
            role: c.role,
            generation: c.generation,
            filters: c.filters.clone(),
            connected_at: c.connected_at,
            expires_at: c.expires_at,
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn subscribe(
        &self,
        id: &ConnectionId,
        filters: &Filters,
    ) -> Result<Connection, StoreError> {
        let filters = serde_dynamo::to_attribute_value(filters)
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(connection_key(id)))
            .update_expression("SET filters = :f")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":f", filters)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Corrupt("no connection returned".into()))?;
                Ok(from_item::<ConnectionItem>(item)?.into())
            }
            Err(e) if super::is_condition_failure(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(connection_key(id)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn connections(&self, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        let mut connections = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_KIND)
                .key_condition_expression("#kind = :kind")
                .filter_expression("expires_at > :now")
                .expression_attribute_names("#kind", ItemKind::ATTRIBUTE)
                .expression_attribute_values(":kind", ItemKind::Connection.value())
                .expression_attribute_values(":now", n(now.timestamp()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                connections.push(from_item::<ConnectionItem>(item)?.into());
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(connections);
            }
        }
    }
}
