//! Synthetic connection records for tests: built by hand from what each kind of
//! traffic looks like, never copied from a data set.

use serde_json::{Map, Value, json};
use vigil::detect::{FEATURES, FeatureKind};

/// A record with every feature at a neutral value; `overrides` set the rest.
fn record(overrides: &[(&str, Value)]) -> Value {
    let mut map = Map::new();
    for (name, kind) in FEATURES {
        let value = match kind {
            FeatureKind::Categorical => json!(""),
            _ => json!(0),
        };
        map.insert(name.to_owned(), value);
    }
    for (name, value) in overrides {
        map.insert((*name).to_owned(), value.clone());
    }
    Value::Object(map)
}

/// An ordinary web request: a completed TCP connection with a normal exchange.
pub fn web_browsing() -> Value {
    record(&[
        ("protocol_type", json!("tcp")),
        ("service", json!("http")),
        ("flag", json!("SF")),
        ("src_bytes", json!(230)),
        ("dst_bytes", json!(2400)),
        ("logged_in", json!(1)),
        ("count", json!(4)),
        ("srv_count", json!(6)),
        ("same_srv_rate", json!(1.0)),
        ("srv_diff_host_rate", json!(0.1)),
        ("dst_host_count", json!(60)),
        ("dst_host_srv_count", json!(255)),
        ("dst_host_same_srv_rate", json!(1.0)),
        ("dst_host_same_src_port_rate", json!(0.02)),
        ("dst_host_srv_diff_host_rate", json!(0.04)),
    ])
}

/// A SYN flood: hundreds of half-open connections (flag S0) to one host.
pub fn syn_flood() -> Value {
    record(&[
        ("protocol_type", json!("tcp")),
        ("service", json!("private")),
        ("flag", json!("S0")),
        ("count", json!(220)),
        ("srv_count", json!(12)),
        ("serror_rate", json!(1.0)),
        ("srv_serror_rate", json!(1.0)),
        ("same_srv_rate", json!(0.05)),
        ("diff_srv_rate", json!(0.07)),
        ("dst_host_count", json!(255)),
        ("dst_host_srv_count", json!(12)),
        ("dst_host_same_srv_rate", json!(0.05)),
        ("dst_host_diff_srv_rate", json!(0.07)),
        ("dst_host_serror_rate", json!(1.0)),
        ("dst_host_srv_serror_rate", json!(1.0)),
    ])
}

/// A port scan (satan-like): one source's connections rejected (flag REJ) across
/// many ports of many hosts.
pub fn port_scan() -> Value {
    record(&[
        ("protocol_type", json!("tcp")),
        ("service", json!("private")),
        ("flag", json!("REJ")),
        ("count", json!(150)),
        ("srv_count", json!(2)),
        ("rerror_rate", json!(0.95)),
        ("srv_rerror_rate", json!(1.0)),
        ("same_srv_rate", json!(0.02)),
        ("diff_srv_rate", json!(0.9)),
        ("dst_host_count", json!(255)),
        ("dst_host_srv_count", json!(2)),
        ("dst_host_same_srv_rate", json!(0.01)),
        ("dst_host_diff_srv_rate", json!(0.6)),
        ("dst_host_rerror_rate", json!(0.6)),
        ("dst_host_srv_rerror_rate", json!(1.0)),
    ])
}

/// `record` with context fields added.
pub fn with_context(mut record: Value, context: Value) -> Value {
    for (k, v) in context.as_object().expect("context is an object") {
        record[k] = v.clone();
    }
    record
}

/// One CSV line in NSL-KDD column order (context fields are not part of CSV).
pub fn csv_line(record: &Value) -> String {
    FEATURES
        .iter()
        .map(|(name, _)| match &record[name] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}
