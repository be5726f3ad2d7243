//! The predict request as the OpenAPI contract states it, generated from [`FEATURES`]
//! so that the documented record and the parser can never disagree on a field.

use super::{
    record::{FEATURES, FeatureKind},
    word::{CATEGORY_PATTERN, MAX_CATEGORY_CHARS},
};
use crate::domain::IpAddress;
use serde_json::json;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, RefOr, SchemaFormat,
        schema::AdditionalProperties,
        schema::{Schema, SchemaType, Type},
    },
};

/// One connection record in JSON: the 41 NSL-KDD features by name, plus optional
/// context that alerts carry (addresses, ports, sensor, time).
pub struct ConnectionRecordSchema;

impl PartialSchema for ConnectionRecordSchema {
    fn schema() -> RefOr<Schema> {
        let mut record = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A network connection: the 41 NSL-KDD features by name (counts ≥ 0, rates from 0 to 1, flags 0 or 1), with optional context for the alerts it may raise. `label` and `difficulty` (NSL-KDD's last columns) are accepted and ignored.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for (name, kind) in FEATURES {
            let property = match kind {
                FeatureKind::Categorical => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(MAX_CATEGORY_CHARS))
                    .pattern(Some(CATEGORY_PATTERN)),
                FeatureKind::Count => ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.0)),
                FeatureKind::Rate => ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.0))
                    .maximum(Some(1.0)),
                // 0 or 1, and true/false are read as 1/0.
                FeatureKind::Flag => {
                    let flag = OneOfBuilder::new()
                        .item(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .enum_values(Some([0, 1])),
                        )
                        .item(ObjectBuilder::new().schema_type(Type::Boolean));
                    record = record.property(name, flag).required(name);
                    continue;
                }
            };
            record = record.property(name, property).required(name);
        }
        let port = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0.0))
                .maximum(Some(65535.0))
        };
        // Context is optional, and null means absent (as everywhere in Vigil's bodies).
        record
            .property("src_ip", or_null(IpAddress::schema()))
            .property("dst_ip", or_null(IpAddress::schema()))
            .property("src_port", or_null(port().into()))
            .property("dst_port", or_null(port().into()))
            .property(
                "sensor",
                or_null(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(128))
                        .into(),
                ),
            )
            .property(
                "observed_at",
                or_null(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                        .into(),
                ),
            )
            .property("label", ignored())
            .property("difficulty", ignored())
            .examples([example_record()])
            .into()
    }
}

impl ToSchema for ConnectionRecordSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "ConnectionRecord".into()
    }
}

/// Any value: read past, never used.
fn ignored() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("ignored"))
}

/// `schema`, or null.
fn or_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// A plausible record (a web request), for the document's examples.
fn example_record() -> serde_json::Value {
    let mut record = serde_json::Map::new();
    for (name, kind) in FEATURES {
        let value = match (name, kind) {
            ("protocol_type", _) => json!("tcp"),
            ("service", _) => json!("http"),
            ("flag", _) => json!("SF"),
            ("src_bytes", _) => json!(232),
            ("dst_bytes", _) => json!(8153),
            ("logged_in", _) => json!(1),
            ("count" | "srv_count", _) => json!(5),
            ("same_srv_rate" | "dst_host_same_srv_rate", _) => json!(1.0),
            ("dst_host_count" | "dst_host_srv_count", _) => json!(255),
            _ => json!(0),
        };
        record.insert(name.into(), value);
    }
    record.insert("src_ip".into(), json!("198.51.100.23"));
    record.insert("dst_ip".into(), json!("10.0.0.5"));
    record.insert("dst_port".into(), json!(80));
    record.insert("sensor".into(), json!("edge-1"));
    json!(record)
}

/// The JSON body of a predict request.
pub struct PredictRequestSchema;

impl PartialSchema for PredictRequestSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .property(
                "records",
                ArrayBuilder::new()
                    .items(ConnectionRecordSchema::schema())
                    .min_items(Some(1))
                    .max_items(Some(super::input::MAX_RECORDS)),
            )
            .required("records")
            .property(
                "store",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some(
                        "Whether threats become alerts (default true); `?store=false` also turns it off",
                    )),
            )
            .examples([json!({ "records": [example_record()] })])
            .into()
    }
}

impl ToSchema for PredictRequestSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "PredictRequest".into()
    }
}

/// The CSV body of a predict request: NSL-KDD lines, one record per line, an optional
/// header line. The pattern is the strict form the generator uses (integers for
/// counts, two decimals for rates); the parser also accepts any decimal number and
/// extra trailing columns (such as NSL-KDD's label and difficulty).
pub struct CsvRecordsSchema;

impl CsvRecordsSchema {
    fn line_pattern() -> String {
        FEATURES
            .iter()
            .map(|(_, kind)| match kind {
                FeatureKind::Categorical => "[A-Za-z0-9_]{1,16}",
                FeatureKind::Count => "(0|[1-9][0-9]{0,8})",
                FeatureKind::Rate => r"(0(\.[0-9]{1,2})?|1(\.0{1,2})?)",
                FeatureKind::Flag => "[01]",
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl PartialSchema for CsvRecordsSchema {
    fn schema() -> RefOr<Schema> {
        let line = Self::line_pattern();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^{line}(\\n{line}){{0,20}}\\n?$")))
            .description(Some(
                "NSL-KDD CSV: one record per line, the 41 features in their standard order; an optional header line starting with `duration,` is skipped",
            ))
            .examples([json!(
                "0,tcp,http,SF,232,8153,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,5,5,0,0,0,0,1,0,0,255,255,1,0,0,0,0,0,0,0\n"
            )])
            .into()
    }
}

impl ToSchema for CsvRecordsSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "CsvRecords".into()
    }
}
