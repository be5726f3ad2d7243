//! The fast reader of a JSON predict body: one pass over the bytes, straight into
//! [`ConnectionRecord`]s, no `serde_json::Value` tree (which cost 8 µs and ~3 KB a
//! record, most of the JSON path's time and of its peak memory).
//!
//! It accepts only what the full reader (`input::parse_json`, over `Value`) accepts,
//! and gives up at the first thing it does not like: a bad value, an unknown or
//! repeated field, a missing feature, too many records. The caller then runs the full
//! reader, which names every problem by record index and field. So a valid body is
//! read once, fast; a bad one twice, with the same error messages as ever — bad
//! bodies are rare and small next to the batches sensors send.

use super::record::{
    CONTEXT_FIELDS, ConnectionRecord, FEATURES, FeatureKind, RecordContext, check_category,
    check_number, context,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::{borrow::Cow, fmt};

/// A valid body's records and `store` flag, or `None` to let the full reader explain.
pub(super) fn read(body: &[u8], max_records: usize) -> Option<(Vec<ConnectionRecord>, bool)> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let batch = de.deserialize_map(BodyVisitor { max_records }).ok()?;
    de.end().ok()?;
    Some(batch)
}

/// Where a key of a record goes.
#[derive(Clone, Copy)]
enum Slot {
    /// Index into `numeric`, and the feature's kind.
    Numeric(usize, FeatureKind),
    /// 0 = protocol_type, 1 = service, 2 = flag.
    Categorical(usize),
    /// Index into [`CONTEXT_FIELDS`].
    Context(usize),
    /// `label`, `difficulty`: accepted and ignored.
    Ignored,
}

/// Every key a record may have, features first in their CSV order: a record's keys
/// usually come in that order, so the next key is looked for where the last one was
/// found, before the whole table is searched.
struct Keys {
    names: Vec<&'static str>,
    slots: Vec<Slot>,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let (mut names, mut slots) = (Vec::new(), Vec::new());
        let (mut n, mut c) = (0, 0);
        for (name, kind) in FEATURES {
            names.push(name);
            slots.push(match kind {
                FeatureKind::Categorical => {
                    c += 1;
                    Slot::Categorical(c - 1)
                }
                kind => {
                    n += 1;
                    Slot::Numeric(n - 1, kind)
                }
            });
        }
        for (i, name) in CONTEXT_FIELDS.iter().enumerate() {
            names.push(name);
            slots.push(Slot::Context(i));
        }
        for name in ["label", "difficulty"] {
            names.push(name);
            slots.push(Slot::Ignored);
        }
        Keys { names, slots }
    })
}

impl Keys {
    /// The key's position in the table, trying `guess` first.
    fn find(&self, key: &str, guess: usize) -> Option<usize> {
        if self.names.get(guess) == Some(&key) {
            return Some(guess);
        }
        self.names.iter().position(|n| *n == key)
    }
}

struct BodyVisitor {
    max_records: usize,
}

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = (Vec<ConnectionRecord>, bool);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a predict body")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut records, mut store) = (None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "records" if records.is_none() => {
                    records = Some(map.next_value_seed(RecordsSeed {
                        max: self.max_records,
                    })?)
                }
                "store" if store.is_none() => store = Some(map.next_value::<bool>()?),
                _ => return Err(de::Error::custom("not for the fast reader")),
            }
        }
        match records {
            Some(records) if !records.is_empty() => Ok((records, store.unwrap_or(true))),
            _ => Err(de::Error::custom("no records")),
        }
    }
}

struct RecordsSeed {
    max: usize,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = Vec<ConnectionRecord>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = Vec<ConnectionRecord>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        while let Some(record) = seq.next_element_seed(RecordSeed)? {
            if records.len() == self.max {
                return Err(de::Error::custom("too many records"));
            }
            records.push(record);
        }
        Ok(records)
    }
}

struct RecordSeed;

impl<'de> DeserializeSeed<'de> for RecordSeed {
    type Value = ConnectionRecord;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed {
    type Value = ConnectionRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let bad = || de::Error::custom("not for the fast reader");
        let keys = keys();
        let mut numeric = [0.0; 38];
        let mut categorical: [String; 3] = Default::default();
        let mut context = RecordContext::default();
        // One bit per key of the table: a repeated key is refused, a missing feature
        // found at the end.
        let mut seen = 0u64;
        let mut next = 0;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let at = keys.find(&key, next).ok_or_else(bad)?;
            if seen & (1 << at) != 0 {
                return Err(bad());
            }
            seen |= 1 << at;
            next = at + 1;
            match keys.slots[at] {
                Slot::Numeric(i, kind) => {
                    let x = map.next_value_seed(NumberSeed { kind })?;
                    numeric[i] = check_number(kind, x).map_err(|_| bad())?;
                }
                Slot::Categorical(i) => {
                    let s = map.next_value::<Cow<'de, str>>()?;
                    categorical[i] = check_category(&s).map_err(|_| bad())?;
                }
                Slot::Context(i) => {
                    // Rare and small: read as a value and checked by the full
                    // reader's own parsers.
                    let v = map.next_value::<serde_json::Value>()?;
                    let port = crate::http::parse::port;
                    match CONTEXT_FIELDS[i] {
                        "src_ip" => context.src_ip = Some(context::ip(&v).map_err(|_| bad())?),
                        "dst_ip" => context.dst_ip = Some(context::ip(&v).map_err(|_| bad())?),
                        "src_port" => context.src_port = Some(port(&v).map_err(|_| bad())?),
                        "dst_port" => context.dst_port = Some(port(&v).map_err(|_| bad())?),
                        "sensor" => context.sensor = Some(context::sensor(&v).map_err(|_| bad())?),
                        _ => {
                            context.observed_at = Some(context::observed_at(&v).map_err(|_| bad())?)
                        }
                    }
                }
                Slot::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let every_feature = (1u64 << FEATURES.len()) - 1;
        if seen & every_feature != every_feature {
            return Err(bad());
        }
        let [protocol_type, service, flag] = categorical;
        Ok(ConnectionRecord {
            numeric,
            protocol_type,
            service,
            flag,
            context,
        })
    }
}

/// A number, or for a flag also `true`/`false` (as 1/0), like the full reader.
struct NumberSeed {
    kind: FeatureKind,
}

impl<'de> DeserializeSeed<'de> for NumberSeed {
    type Value = f64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NumberSeed {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<f64, E> {
        match self.kind {
            FeatureKind::Flag => Ok(f64::from(u8::from(v))),
            _ => Err(E::custom("not a number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A record with every feature, in an unusual order, with context, a flag as a
    /// boolean, an escaped string and NSL-KDD's label.
    fn record(i: usize) -> Value {
        let mut map = serde_json::Map::new();
        for (name, kind) in FEATURES.iter().rev() {
            let value = match kind {
                FeatureKind::Categorical => json!(match *name {
                    "protocol_type" => "tcp",
                    "service" => "ftp_data",
                    _ => "SF",
                }),
                FeatureKind::Count => json!(i * 7),
                FeatureKind::Rate => json!(0.25),
                FeatureKind::Flag => json!(i.is_multiple_of(2)),
            };
            map.insert((*name).to_owned(), value);
        }
        map.insert("src_ip".into(), json!("192.0.2.1"));
        map.insert("dst_port".into(), json!(443));
        map.insert("observed_at".into(), json!("2026-12-01T10:00:00Z"));
        map.insert("label".into(), json!("normal"));
        Value::Object(map)
    }

    fn full(body: &[u8]) -> Result<Vec<ConnectionRecord>, Vec<crate::http::FieldError>> {
        let value: Value = serde_json::from_slice(body).unwrap();
        value["records"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, r)| ConnectionRecord::from_json(r, i))
            .collect()
    }

    #[test]
    fn a_valid_body_reads_as_the_full_reader_reads_it() {
        let records: Vec<Value> = (0..5).map(record).collect();
        let body = serde_json::to_string(&json!({"store": false, "records": records}))
            .unwrap()
            .replace("ftp_data", "ftp\\u005fdata")
            .into_bytes();
        let (fast, store) = read(&body, 10).expect("the fast reader takes a valid body");
        assert!(!store);
        assert_eq!(fast, full(&body).unwrap());
        assert_eq!(fast[0].service, "ftp_data");
        assert_eq!(fast[1].context.dst_port, Some(443));
    }

    #[test]
    fn anything_the_full_reader_refuses_is_left_to_it() {
        let bad_values = [
            ("serror_rate", json!(1.5)),
            ("src_bytes", json!(-1)),
            ("src_bytes", json!("3")),
            ("land", json!(2)),
            ("service", json!(7)),
            ("service", json!("a,b")),
            ("src_ip", json!("nope")),
            ("dst_port", json!(70000)),
            ("sensor", json!("")),
            ("observed_at", json!("yesterday")),
            ("colour", json!("red")),
        ];
        for (field, value) in bad_values {
            let mut r = record(1);
            r[field] = value.clone();
            let body = serde_json::to_vec(&json!({"records": [record(0), r]})).unwrap();
            assert!(read(&body, 10).is_none(), "{field} = {value}");
            assert!(full(&body).is_err(), "{field} = {value}");
        }
        let mut missing = record(0);
        missing.as_object_mut().unwrap().remove("duration");
        for body in [
            json!({"records": [missing]}),
            json!({"records": []}),
            json!({"records": [record(0)], "extra": 1}),
            json!({"records": [record(0)], "store": "yes"}),
            json!({"records": {}}),
            json!([record(0)]),
        ] {
            assert!(
                read(&serde_json::to_vec(&body).unwrap(), 10).is_none(),
                "{body}"
            );
        }
        // A repeated key, which a Value keeps the last of
        let twice = br#"{"records": [], "records": []}"#;
        assert!(read(twice, 10).is_none());
        // More records than allowed, and trailing bytes
        let three =
            serde_json::to_vec(&json!({"records": [record(0), record(1), record(2)]})).unwrap();
        assert!(read(&three, 2).is_none());
        assert!(read(&[three.as_slice(), b" x"].concat(), 10).is_none());
    }
}
