//! Values as the OpenAPI contract describes them where the Rust type has no schema of
//! its own (`IpAddr`, `Ulid` in requests). Documentation only: parsing stays in the
//! domain types.

use serde_json::json;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        KnownFormat, ObjectBuilder, OneOfBuilder, RefOr, SchemaFormat,
        schema::{Schema, Type},
    },
};

/// An IPv4 or IPv6 address, as `std::net::IpAddr` parses it.
pub struct IpAddress;

impl PartialSchema for IpAddress {
    fn schema() -> RefOr<Schema> {
        let format = |f| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(f)))
        };
        OneOfBuilder::new()
            .item(format(KnownFormat::Ipv4))
            .item(format(KnownFormat::Ipv6))
            .description(Some("An IPv4 or IPv6 address"))
            .examples([json!("203.0.113.7")])
            .into()
    }
}

impl ToSchema for IpAddress {}

/// An alert id: a ULID in Crockford base 32, as the API writes it.
pub struct AlertIdText;

impl AlertIdText {
    pub const PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";
}

impl PartialSchema for AlertIdText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Self::PATTERN))
            .description(Some("A ULID: unique, and sortable by creation time"))
            .examples([json!("01KB0Q3W5N8X4ZJ6D2C1V9R7TE")])
            .into()
    }
}

impl ToSchema for AlertIdText {}
