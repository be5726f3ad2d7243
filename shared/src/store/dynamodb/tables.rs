//! Creating the tables (vigil-local --init, the tests) exactly as `template.yaml` does.

use super::sdk_error;
use crate::{config::TableNames, store::StoreError};
use aws_sdk_dynamodb::{
    Client,
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
        TimeToLiveSpecification,
    },
};

/// Creates the users, alerts and connections tables as `template.yaml` defines them, when missing.
/// Used by `vigil-local --init` and the tests.
pub async fn create_tables(client: &Client, tables: &TableNames) -> Result<(), StoreError> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition has all fields")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema has all fields")
    };
    let gsi = |name: &str, hash: &str, range: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(range, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index has all fields")
    };

    if !table_exists(client, &tables.users).await? {
        client
            .create_table()
            .table_name(&tables.users)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attr("pk"))
            .attribute_definitions(string_attr("kind"))
            .attribute_definitions(string_attr("username"))
            .key_schema(key("pk", KeyType::Hash))
            .global_secondary_indexes(gsi("by-kind", "kind", "username"))
            .send()
            .await
            .map_err(sdk_error)?;
        enable_ttl(client, &tables.users).await?;
    }
    if !table_exists(client, &tables.alerts).await? {
        let mut create = client
            .create_table()
            .table_name(&tables.alerts)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .expect("stream spec has all fields"),
            );
        for attr in ["pk", "kind", "id", "status", "severity", "category"] {
            create = create.attribute_definitions(string_attr(attr));
        }
        for (name, hash) in [
            ("by-kind", "kind"),
            ("by-status", "status"),
            ("by-severity", "severity"),
            ("by-category", "category"),
        ] {
            create = create.global_secondary_indexes(gsi(name, hash, "id"));
        }
        create.send().await.map_err(sdk_error)?;
        enable_ttl(client, &tables.alerts).await?;
    }
    if !table_exists(client, &tables.connections).await? {
        client
            .create_table()
            .table_name(&tables.connections)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attr("pk"))
            .attribute_definitions(string_attr("kind"))
            .attribute_definitions(string_attr("id"))
            .key_schema(key("pk", KeyType::Hash))
            .global_secondary_indexes(gsi("by-kind", "kind", "id"))
            .send()
            .await
            .map_err(sdk_error)?;
        enable_ttl(client, &tables.connections).await?;
    }
    Ok(())
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("ttl has all fields"),
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

async fn table_exists(client: &Client, name: &str) -> Result<bool, StoreError> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
        Err(e) => Err(sdk_error(e)),
    }
}
