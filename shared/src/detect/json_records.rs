//! The fast reader of a JSON predict body: one pass over the bytes, straight into
//! [`ConnectionRecord`]s, with no `serde_json::Value` tree (which cost 8 µs and ~3 KB a
//! record, most of the JSON path's time and of its peak memory) and no serde visitor
//! (which still cost 2.5 µs a record). It reads the shape sensors send: an object
//! with `records` (an array of flat objects of numbers, plain strings and booleans)
//! and `store`, whitespace anywhere JSON allows it.
//!
//! It accepts only what the full reader (`input::parse_json`, over `Value`) accepts,
//! and gives up at the first thing it is not sure of: a bad or unusual value (an
//! escaped string, a null, a nested value), an unknown or repeated field, a missing
//! feature, too many records, bytes after the body. The caller then runs the full
//! reader, which names every problem by record index and field. So a valid body is
//! read once, fast; anything else twice, with the same answers as ever — bad bodies
//! are rare and small next to the batches sensors send. Numbers are read as
//! `str::parse` reads them (correctly rounded), after checking JSON's grammar.

use super::record::{
    CONTEXT_FIELDS, ConnectionRecord, FEATURES, FeatureKind, NUMERIC_FEATURES, RecordContext, Word,
    check_number, context, exact_decimal,
};
use serde_json::Value;

/// A valid body's records and `store` flag, or `None` to let the full reader explain.
pub(super) fn read(body: &[u8], max_records: usize) -> Option<(Vec<ConnectionRecord>, bool)> {
    let mut at = Scanner {
        bytes: body,
        pos: 0,
    };
    let (mut records, mut store) = (None, None);
    at.expect(b'{')?;
    if !at.eat(b'}') {
        loop {
            match at.string()? {
                "records" if records.is_none() => {
                    at.expect(b':')?;
                    records = Some(read_records(&mut at, max_records)?);
                }
                "store" if store.is_none() => {
                    at.expect(b':')?;
                    store = Some(at.boolean()?);
                }
                _ => return None,
            }
            if !at.eat(b',') {
                at.expect(b'}')?;
                break;
            }
        }
    }
    at.skip_blanks();
    if at.pos != body.len() {
        return None;
    }
    let records = records.filter(|r| !r.is_empty())?;
    Some((records, store.unwrap_or(true)))
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

/// Every key a record may have, features first in their CSV order. The records of a
/// body usually share one order of keys (the CSV's, or sorted, as many JSON writers
/// do), so the reader learns it: each key is first looked for where the previous
/// record had it (`Order`), before the whole table is searched.
struct Keys {
    names: Vec<&'static str>,
    slots: Vec<Slot>,
    /// The fewest bytes a record can take (every feature, one-character values, no
    /// blanks): a body holds at most `len / min_record_bytes` records, the capacity
    /// reserved up front so the batch is not moved while it grows.
    min_record_bytes: usize,
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
        // `{`, `}`, and for each feature `"name":v` and a comma (one fewer).
        let min_record_bytes = 1 + FEATURES.iter().map(|(n, _)| n.len() + 5).sum::<usize>();
        Keys {
            names,
            slots,
            min_record_bytes,
        }
    })
}

impl Keys {
    /// The key's position in the table.
    fn find(&self, key: &[u8]) -> Option<usize> {
        self.names.iter().position(|n| n.as_bytes() == key)
    }
}

fn read_records(at: &mut Scanner, max: usize) -> Option<Vec<ConnectionRecord>> {
    at.expect(b'[')?;
    let room = at.bytes.len().saturating_sub(at.pos) / keys().min_record_bytes;
    let mut records = Vec::with_capacity(room.min(max));
    let mut order = Order::new();
    if at.eat(b']') {
        return Some(records);
    }
    loop {
        if records.len() == max {
            return None;
        }
        records.push(read_record(at, &mut order)?);
        if !at.eat(b',') {
            at.expect(b']')?;
            return Some(records);
        }
    }
}

/// The order of keys in the body's records so far: for each key, the key that came
/// after it (`FIRST`: the one a record starts with). It starts as the table's order.
struct Order {
    after: Vec<usize>,
}

impl Order {
    /// The slot of `after` that stands for the opening brace.
    const FIRST: usize = 0;

    fn new() -> Self {
        // `after[0]` is the start; `after[k + 1]` follows key k.
        Self {
            after: (0..=keys().names.len()).collect(),
        }
    }

    fn expected_after(&self, previous: Option<usize>) -> usize {
        self.after[previous.map_or(Self::FIRST, |k| k + 1)]
    }

    fn learn(&mut self, previous: Option<usize>, found: usize) {
        self.after[previous.map_or(Self::FIRST, |k| k + 1)] = found;
    }
}

fn read_record(at: &mut Scanner, order: &mut Order) -> Option<ConnectionRecord> {
    let keys = keys();
    let mut numeric = [0.0; NUMERIC_FEATURES];
    let mut categorical: [Option<Word>; 3] = [None; 3];
    let mut context = RecordContext::default();
    // One bit per key of the table: a repeated key is refused, a missing feature
    // found at the end.
    let mut seen = 0u64;
    let mut previous = None;
    at.expect(b'{')?;
    if !at.eat(b'}') {
        loop {
            let expected = order.expected_after(previous);
            let found = if keys.names.get(expected).is_some_and(|name| at.key(name)) {
                expected
            } else {
                let found = keys.find(at.raw_string()?)?;
                order.learn(previous, found);
                found
            };
            if seen & (1 << found) != 0 {
                return None;
            }
            seen |= 1 << found;
            previous = Some(found);
            at.expect(b':')?;
            match keys.slots[found] {
                Slot::Numeric(i, kind) => {
                    let x = match at.peek()? {
                        b't' | b'f' if kind == FeatureKind::Flag => {
                            f64::from(u8::from(at.boolean()?))
                        }
                        _ => at.number()?.0,
                    };
                    numeric[i] = check_number(kind, x).ok()?;
                }
                Slot::Categorical(i) => categorical[i] = Some(Word::from_bytes(at.raw_string()?)?),
                Slot::Context(i) => {
                    // Rare next to the features: checked by the full reader's own
                    // parsers, on the value as it would have read it.
                    let value = match at.peek()? {
                        b'"' => Value::from(at.string()?),
                        _ => match at.number()? {
                            (_, Some(whole)) => Value::from(whole),
                            (x, None) => Value::from(x),
                        },
                    };
                    let port = crate::http::parse::port;
                    match CONTEXT_FIELDS[i] {
                        "src_ip" => context.src_ip = Some(context::ip(&value).ok()?),
                        "dst_ip" => context.dst_ip = Some(context::ip(&value).ok()?),
                        "src_port" => context.src_port = Some(port(&value).ok()?),
                        "dst_port" => context.dst_port = Some(port(&value).ok()?),
                        "sensor" => context.sensor = Some(context::sensor(&value).ok()?),
                        _ => context.observed_at = Some(context::observed_at(&value).ok()?),
                    }
                }
                Slot::Ignored => match at.peek()? {
                    b'"' => drop(at.string()?),
                    b't' | b'f' => drop(at.boolean()?),
                    _ => drop(at.number()?),
                },
            }
            if !at.eat(b',') {
                at.expect(b'}')?;
                break;
            }
        }
    }
    let every_feature = (1u64 << FEATURES.len()) - 1;
    if seen & every_feature != every_feature {
        return None;
    }
    let [Some(protocol_type), Some(service), Some(flag)] = categorical else {
        return None;
    };
    Some(ConnectionRecord {
        numeric,
        protocol_type,
        service,
        flag,
        context,
    })
}

/// `a == b`, eight bytes at a time in registers (a key is at most 27 bytes). Slice
/// equality calls `memcmp`, 41 times a record here: this measured 5-10 % faster on
/// the whole JSON path (`VIGIL_BENCH_PROFILE=json`, the two builds in turn).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let words_equal = (&mut a8).zip(&mut b8).all(|(x, y)| {
        let word = |s: &[u8]| u64::from_ne_bytes(s.try_into().unwrap_or_default());
        word(x) == word(y)
    });
    words_equal
        && a.len() == b.len()
        && a8
            .remainder()
            .iter()
            .zip(b8.remainder())
            .all(|(x, y)| x == y)
}

/// A cursor over the body. Every method skips the blanks before its token.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn skip_blanks(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_blanks();
        self.bytes.get(self.pos).copied()
    }

    /// Takes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.pos += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// A string without escapes or control characters (anything else: the full
    /// reader's).
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// A string's bytes, unchecked for UTF-8 (a key is only compared with the table's).
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match *self.bytes.get(self.pos)? {
                b'"' => break,
                b'\\' | 0..0x20 => return None,
                _ => self.pos += 1,
            }
        }
        self.pos += 1;
        Some(&self.bytes[start..self.pos - 1])
    }

    /// Takes the key `name` (a table name: no quotes, escapes or control characters)
    /// if it comes next. Keys usually come in the table's order, so this compares the
    /// expected one whole instead of scanning the bytes of each for its end.
    fn key(&mut self, name: &str) -> bool {
        self.skip_blanks();
        let rest = &self.bytes[self.pos..];
        let name = name.as_bytes();
        let found = rest.len() > name.len() + 1
            && rest[0] == b'"'
            && same_bytes(&rest[1..=name.len()], name)
            && rest[name.len() + 1] == b'"';
        if found {
            self.pos += name.len() + 2;
        }
        found
    }

    fn boolean(&mut self) -> Option<bool> {
        self.skip_blanks();
        let rest = &self.bytes[self.pos..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.pos += len;
        Some(value)
    }

    /// A number by JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`),
    /// and its value as a whole number too when it is written as one at or above 0.
    /// The common forms (up to 15 digits, no exponent) are computed while scanning, by
    /// the same fast path as CSV cells; the rest by `str::parse`.
    fn number(&mut self) -> Option<(f64, Option<u64>)> {
        self.skip_blanks();
        let start = self.pos;
        let (mut mantissa, mut count) = (0u64, 0usize);
        let mut digits = |s: &mut Self| {
            let from = s.pos;
            while let Some(d @ b'0'..=b'9') = s.bytes.get(s.pos).copied() {
                if count < 19 {
                    mantissa = mantissa * 10 + u64::from(d - b'0');
                }
                count += 1;
                s.pos += 1;
            }
            s.pos - from
        };
        let negative = self.bytes.get(self.pos) == Some(&b'-');
        self.pos += usize::from(negative);
        let int_start = self.pos;
        let int_digits = digits(self);
        if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
            return None;
        }
        let mut fraction = 0;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            fraction = digits(self);
            if fraction == 0 {
                return None;
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            let from = self.pos;
            while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            if self.pos == from {
                return None;
            }
            exponent = true;
        }
        // A whole number at or above 0 is read as one, as serde_json does; the rest
        // as a float (`-0` too, which serde_json reads as -0.0).
        if !exponent && count <= 15 && !(negative && mantissa == 0) {
            let value = exact_decimal(mantissa, fraction);
            let whole = (fraction == 0 && !negative).then_some(mantissa);
            return Some((if negative { -value } else { value }, whole));
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).ok()?;
        if fraction == 0
            && !exponent
            && !negative
            && let Ok(n) = text.parse::<u64>()
        {
            return Some((n as f64, Some(n)));
        }
        Some((text.parse::<f64>().ok()?, None))
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
        let compact = serde_json::to_vec(&json!({"store": false, "records": records})).unwrap();
        let pretty = serde_json::to_vec_pretty(&json!({"records": records})).unwrap();
        for body in [compact, pretty] {
            let (fast, _) = read(&body, 10).expect("the fast reader takes a valid body");
            assert_eq!(fast, full(&body).unwrap());
            assert_eq!(fast[0].service, "ftp_data");
            assert_eq!(fast[1].context.dst_port, Some(443));
        }
        let (_, store) =
            read(br#"{"store": false, "records": [{}]}"#, 1).map_or((vec![], true), |x| x);
        assert!(
            store,
            "a record without features is not for the fast reader"
        );
    }

    /// The reader learns the body's order of keys, and still reads records in
    /// another order, or with keys that its order did not have, right.
    #[test]
    fn records_read_the_same_whatever_order_their_keys_come_in() {
        let in_order = |record: &Value, names: &mut dyn Iterator<Item = &str>| {
            let fields: Vec<String> = names
                .filter_map(|n| Some(format!("{n:?}:{}", record.get(n)?)))
                .collect();
            format!("{{{}}}", fields.join(","))
        };
        let table = |i| {
            let r = record(i);
            in_order(&r, &mut keys().names.iter().copied())
        };
        let reversed = |i| {
            let r = record(i);
            in_order(&r, &mut keys().names.iter().rev().copied())
        };
        let sorted = |i| serde_json::to_string(&record(i)).unwrap();
        let records = [
            table(0),
            table(1),
            sorted(2),
            sorted(3),
            reversed(4),
            table(5),
        ];
        let body = format!(r#"{{"records":[{}]}}"#, records.join(","));
        let (fast, _) = read(body.as_bytes(), 10).expect("a valid body");
        assert_eq!(fast, full(body.as_bytes()).unwrap());
        assert_eq!(fast.len(), 6);
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for (text, x) in [
            ("0", 0.0),
            ("-0", -0.0),
            ("7", 7.0),
            ("0.25", 0.25),
            ("1e2", 100.0),
            ("2.5E-1", 0.25),
            ("123456789012345678", 123456789012345678.0),
        ] {
            let mut r = record(0);
            r["src_bytes"] = serde_json::from_str(text).unwrap();
            let body = format!(
                "{{\"records\": [{}]}}",
                serde_json::to_string(&r).unwrap().replace(
                    &format!("\"src_bytes\":{}", r["src_bytes"]),
                    &format!("\"src_bytes\":{text}")
                )
            );
            let (fast, _) = read(body.as_bytes(), 1).unwrap_or_else(|| panic!("{text}"));
            let slow = full(body.as_bytes()).unwrap();
            let i = super::super::record::numeric_index("src_bytes").unwrap();
            assert_eq!(
                fast[0].numeric[i].to_bits(),
                slow[0].numeric[i].to_bits(),
                "{text}"
            );
            assert_eq!(fast[0].numeric[i], x, "{text}");
        }
        // And any number a sensor might write, bit for bit as serde_json reads it
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let digits = (rng % 18) as u32 + 1;
            let int = (rng >> 8) % 10u64.pow(digits);
            let text = match rng % 4 {
                0 => int.to_string(),
                1 => format!("{}.{:0width$}", int / 1000, int % 1000, width = 3),
                2 => format!("-{}.{}", int % 100, int),
                _ => format!("{}e-{}", int, rng % 30),
            };
            let mut at = Scanner {
                bytes: text.as_bytes(),
                pos: 0,
            };
            let fast = at.number().unwrap_or_else(|| panic!("{text}")).0;
            let slow = serde_json::from_str::<Value>(&text)
                .unwrap()
                .as_f64()
                .unwrap();
            assert_eq!(fast.to_bits(), slow.to_bits(), "{text}");
        }
        // Not JSON numbers: left to the full reader (which refuses them)
        for text in ["01", "1.", ".5", "+1", "1e", "NaN", "0x10"] {
            let body = serde_json::to_string(&json!({"records": [record(0)]}))
                .unwrap()
                .replacen("\"src_bytes\":0", &format!("\"src_bytes\":{text}"), 1);
            assert!(read(body.as_bytes(), 1).is_none(), "{text}");
        }
    }

    #[test]
    fn escaped_strings_are_left_to_the_full_reader() {
        let body = serde_json::to_string(&json!({"records": [record(0)]}))
            .unwrap()
            .replace("ftp_data", "ftp\\u005fdata");
        assert!(read(body.as_bytes(), 1).is_none());
        assert_eq!(full(body.as_bytes()).unwrap()[0].service, "ftp_data");
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
