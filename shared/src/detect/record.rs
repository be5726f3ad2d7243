//! `ConnectionRecord`: one network connection as the model sees it — the 41 NSL-KDD
//! features — plus optional context the model ignores but alerts carry.

pub use super::word::Word;
use crate::http::{FieldError, Fields, Validation};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::net::IpAddr;

pub use crate::domain::{FEATURES, FeatureKind};
use FeatureKind::*;

/// The optional context fields of a JSON record.
pub const CONTEXT_FIELDS: [&str; 6] = [
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "sensor",
    "observed_at",
];

/// Columns NSL-KDD exports often carry that are not features; accepted and ignored.
const IGNORED_FIELDS: [&str; 2] = ["label", "difficulty"];

/// One hash lookup per key: records arrive by the ten thousand.
fn is_known_field(key: &str) -> bool {
    use std::{collections::HashSet, sync::OnceLock};
    static KNOWN: OnceLock<HashSet<&'static str>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            FEATURES
                .iter()
                .map(|(name, _)| *name)
                .chain(CONTEXT_FIELDS)
                .chain(IGNORED_FIELDS)
                .collect()
        })
        .contains(key)
}

/// Where a connection came from and went to; none of it is fed to the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordContext {
    pub src_ip: Option<IpAddr>,
    pub dst_ip: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub sensor: Option<String>,
    pub observed_at: Option<DateTime<Utc>>,
}

/// Numeric features a record has: all of [`FEATURES`] but the categoricals (38).
pub const NUMERIC_FEATURES: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < FEATURES.len() {
        if !matches!(FEATURES[i].1, Categorical) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// One parsed, valid connection record.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    /// The 38 numeric features, in [`FEATURES`] order with the categoricals left out.
    pub numeric: [f64; NUMERIC_FEATURES],
    pub protocol_type: Word,
    pub service: Word,
    pub flag: Word,
    pub context: RecordContext,
}

impl ConnectionRecord {
    /// The value of a numeric feature by name (`None` for categoricals and unknowns).
    pub fn numeric_by_name(&self, name: &str) -> Option<f64> {
        numeric_index(name).map(|i| self.numeric[i])
    }

    /// The record's 41 features as one NSL-KDD CSV line (no newline), which
    /// [`ConnectionRecord::from_csv`] reads back as the same record.
    pub fn to_csv_line(&self) -> String {
        use std::fmt::Write;
        let mut line = String::with_capacity(160);
        let (mut n, mut c) = (0, 0);
        let words = [&self.protocol_type, &self.service, &self.flag];
        for (i, (_, kind)) in FEATURES.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            if *kind == Categorical {
                line.push_str(words[c].as_str());
                c += 1;
            } else {
                let _ = write!(line, "{}", self.numeric[n]);
                n += 1;
            }
        }
        line
    }

    /// Parses a JSON object with named fields. `index` is the record's position in the
    /// request, reported with every error.
    pub fn from_json(value: &Value, index: usize) -> Result<Self, Vec<FieldError>> {
        let prefix = format!("records[{index}].");
        let Some(map) = value.as_object() else {
            return Err(vec![
                FieldError::new(format!("records[{index}]"), "must be a JSON object").at(index),
            ]);
        };
        parse_object(map, prefix, index)
    }

    /// Parses one CSV line in NSL-KDD column order; trailing extra columns (a label, a
    /// difficulty score) are ignored. `line_no` is 1-based, `index` the record's index.
    pub fn from_csv(line: &str, index: usize, line_no: usize) -> Result<Self, Vec<FieldError>> {
        // Cells are taken as they come (no Vec of them), split on the byte (a comma
        // never occurs inside a UTF-8 sequence) and trimmed of ASCII blanks: this is
        // the CSV path's loop, where `str::split` and Unicode trimming were a tenth
        // of the time.
        let mut cells = line
            .as_bytes()
            .split(|b| *b == b',')
            .map(<[u8]>::trim_ascii);
        let mut errors = Vec::new();
        let mut numeric = [0.0; NUMERIC_FEATURES];
        let mut categorical: [Option<Word>; 3] = [None; 3];
        let (mut n, mut c) = (0, 0);
        for (name, kind) in FEATURES.iter() {
            let Some(cell) = cells.next() else {
                return Err(vec![
                    FieldError::new(
                        format!("line {line_no}"),
                        format!(
                            "has {} columns; a record needs the 41 NSL-KDD features",
                            line.split(',').count()
                        ),
                    )
                    .at(index),
                ]);
            };
            // Only built when there is an error to report: this loop is the hot path.
            let field = || format!("line {line_no}: {name}");
            // A cell of a `str` split at an ASCII comma and trimmed of ASCII blanks is
            // UTF-8 still; numbers are read from the bytes, text only when needed.
            let text = || std::str::from_utf8(cell).unwrap_or_default();
            match kind {
                Categorical => {
                    match Word::parse_bytes(cell) {
                        Ok(word) => categorical[c] = Some(word),
                        Err(m) => errors.push(FieldError::new(field(), m).at(index)),
                    }
                    c += 1;
                }
                kind => {
                    let number = parse_number_bytes(cell).unwrap_or_else(|| text().parse());
                    match number {
                        Ok(x) => match check_number(*kind, x) {
                            Ok(x) => numeric[n] = x,
                            Err(m) => errors.push(FieldError::new(field(), m).at(index)),
                        },
                        Err(_) => errors.push(
                            FieldError::new(field(), format!("{:?} is not a number", text()))
                                .at(index),
                        ),
                    }
                    n += 1;
                }
            }
        }
        let [Some(protocol_type), Some(service), Some(flag)] = categorical else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            numeric,
            protocol_type,
            service,
            flag,
            context: RecordContext::default(),
        })
    }
}

/// How a CSV cell is read as a number (the tests hold it to `str::parse`).
#[cfg(test)]
fn parse_number(cell: &str) -> Result<f64, std::num::ParseFloatError> {
    parse_number_bytes(cell.as_bytes()).unwrap_or_else(|| cell.parse())
}

/// A decimal number as `str::parse::<f64>` reads it, the common forms (`0`, `255`,
/// `0.05`) without its general algorithm: digits with an optional fraction, at most
/// 15 significant digits, are an integer below 2^53 over a power of ten, and one
/// IEEE division of two exact values is the correctly rounded result — the same
/// double `parse` gives (Clinger's fast path). `None` for everything else, which
/// `parse` decides.
fn parse_number_bytes(bytes: &[u8]) -> Option<Result<f64, std::num::ParseFloatError>> {
    let (mut mantissa, mut digits, mut fraction) = (0u64, 0usize, None::<usize>);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
            }
            b'.' if fraction.is_none() && i > 0 && i + 1 < bytes.len() => {
                fraction = Some(bytes.len() - i - 1)
            }
            _ => return None,
        }
        if digits > 15 {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    Some(Ok(exact_decimal(mantissa, fraction.unwrap_or(0))))
}

/// `mantissa / 10^fraction`, correctly rounded, for a mantissa below 10^15 (so exact
/// as a double). Trailing zeros of the fraction go first (`1.0` is 10 over 10, the
/// same value as 1 over 1): a whole number then needs no division at all. That is
/// most cells of a record, and the division was the number reader's main cost.
#[inline]
pub(super) fn exact_decimal(mut mantissa: u64, mut fraction: usize) -> f64 {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    while fraction > 0 && mantissa.is_multiple_of(10) {
        mantissa /= 10;
        fraction -= 1;
    }
    if fraction == 0 {
        mantissa as f64
    } else {
        mantissa as f64 / POW10[fraction]
    }
}

pub(super) fn numeric_index(name: &str) -> Option<usize> {
    FEATURES
        .iter()
        .filter(|(_, kind)| *kind != Categorical)
        .position(|(n, _)| *n == name)
}

#[inline]
pub(super) fn check_number(kind: FeatureKind, x: f64) -> Result<f64, String> {
    if !x.is_finite() {
        return Err("must be a finite number".into());
    }
    match kind {
        Count if x < 0.0 => Err("must not be negative".into()),
        Rate if !(0.0..=1.0).contains(&x) => Err("must be between 0 and 1".into()),
        Flag if x != 0.0 && x != 1.0 => Err("must be 0 or 1".into()),
        _ => Ok(x),
    }
}

/// The context fields' parsers, shared by both JSON readers.
pub(super) mod context {
    use super::*;

    pub fn ip(x: &Value) -> Result<IpAddr, String> {
        x.as_str()
            .ok_or("must be a string")?
            .parse()
            .map_err(|_| "must be an IPv4 or IPv6 address".to_owned())
    }

    pub fn sensor(x: &Value) -> Result<String, String> {
        let s = x.as_str().ok_or("must be a string")?;
        if s.is_empty() || s.chars().count() > 128 {
            return Err("must be 1 to 128 characters".to_owned());
        }
        Ok(s.to_owned())
    }

    pub fn observed_at(x: &Value) -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(x.as_str().ok_or("must be a string")?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| "must be an RFC 3339 date-time".to_owned())
    }
}

fn parse_object(
    map: &Map<String, Value>,
    prefix: String,
    index: usize,
) -> Result<ConnectionRecord, Vec<FieldError>> {
    let fields = Fields::nested(map, prefix, Some(index));
    let mut v = Validation::new();
    let mut numeric = [0.0; NUMERIC_FEATURES];
    let mut categorical: [Option<Word>; 3] = [None; 3];
    let (mut n, mut c) = (0, 0);
    for (name, kind) in FEATURES {
        match kind {
            Categorical => {
                if let Some(word) = fields.required(&mut v, name, |x| {
                    Word::parse(x.as_str().ok_or("must be a string")?)
                }) {
                    categorical[c] = Some(word);
                }
                c += 1;
            }
            kind => {
                if let Some(x) = fields.required(&mut v, name, |x| {
                    let number = match x {
                        Value::Number(num) => num.as_f64().ok_or("must be a number")?,
                        Value::Bool(b) if kind == Flag => f64::from(u8::from(*b)),
                        _ => return Err("must be a number".to_owned()),
                    };
                    check_number(kind, number)
                }) {
                    numeric[n] = x;
                }
                n += 1;
            }
        }
    }
    let port = crate::http::parse::port;
    let context = RecordContext {
        src_ip: fields.optional(&mut v, "src_ip", context::ip),
        dst_ip: fields.optional(&mut v, "dst_ip", context::ip),
        src_port: fields.optional(&mut v, "src_port", port),
        dst_port: fields.optional(&mut v, "dst_port", port),
        sensor: fields.optional(&mut v, "sensor", context::sensor),
        observed_at: fields.optional(&mut v, "observed_at", context::observed_at),
    };
    for key in map.keys().filter(|k| !is_known_field(k)) {
        v.push(fields.error(key, "is not a known field"));
    }
    let ([Some(protocol_type), Some(service), Some(flag)], true) = (categorical, v.is_ok()) else {
        return Err(v.into_errors());
    };
    Ok(ConnectionRecord {
        numeric,
        protocol_type,
        service,
        flag,
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A plausible synthetic record (not a data set row).
    pub fn synthetic() -> Value {
        let mut map = Map::new();
        for (name, kind) in FEATURES {
            let value = match kind {
                Categorical => json!(match name {
                    "protocol_type" => "tcp",
                    "service" => "http",
                    _ => "SF",
                }),
                Count => json!(3),
                Rate => json!(0.25),
                Flag => json!(1),
            };
            map.insert(name.to_owned(), value);
        }
        Value::Object(map)
    }

    fn csv(record: &Value) -> String {
        FEATURES
            .iter()
            .map(|(name, _)| match &record[name] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn json_and_csv_parse_to_the_same_record() {
        let json = ConnectionRecord::from_json(&synthetic(), 0).unwrap();
        let line = format!("{},normal,21", csv(&synthetic()));
        let from_csv = ConnectionRecord::from_csv(&line, 0, 1).unwrap();
        assert_eq!(json, from_csv);
        assert_eq!(json.numeric_by_name("src_bytes"), Some(3.0));
        assert_eq!(json.service, "http");
    }

    #[test]
    fn a_record_reads_back_the_same_from_the_csv_line_it_writes() {
        let mut value = synthetic();
        value["serror_rate"] = json!(0.07);
        value["src_bytes"] = json!(123456789.0);
        value["service"] = json!("Z39_50");
        let record = ConnectionRecord::from_json(&value, 0).unwrap();
        let line = record.to_csv_line();
        assert_eq!(line, csv(&value).replace("123456789.0", "123456789"));
        assert_eq!(ConnectionRecord::from_csv(&line, 0, 1).unwrap(), record);
    }

    #[test]
    fn a_categorical_value_is_a_token_that_a_csv_line_can_carry() {
        for bad in ["a,b", "tcp ", "ü", "a\tb"] {
            let mut value = synthetic();
            value["service"] = json!(bad);
            let errors = ConnectionRecord::from_json(&value, 0).unwrap_err();
            assert_eq!(errors[0].field, "records[0].service", "{bad:?}");
        }
        let pattern = regex_lite(super::super::word::CATEGORY_PATTERN);
        assert!(pattern("ftp_data") && pattern("S0") && pattern("a-b~!"));
        assert!(!pattern("a,b") && !pattern("a b"));
    }

    /// The schema's pattern as a matcher, for the two character ranges it has.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        assert_eq!(pattern, "^[!-+\\--~]+$");
        |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| ('!'..='+').contains(&c) || ('-'..='~').contains(&c))
        }
    }

    #[test]
    fn numbers_read_exactly_as_the_standard_parser_reads_them() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut cells: Vec<String> = [
            "0",
            "1",
            "255",
            "0.05",
            "0.5",
            "1.00",
            "0.00",
            "120.000",
            "100.50",
            "007",
            "0.1",
            "0.3",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "1e3",
            "1E-2",
            ".5",
            "5.",
            "-1",
            "+2",
            "1.2.3",
            "",
            "inf",
            "NaN",
            "0x10",
            "12a",
            "3.14159265358979",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let int = next() % 10u64.pow((next() % 16) as u32 + 1);
            let places = (next() % 8) as usize;
            let text = int.to_string();
            cells.push(if places == 0 || places >= text.len() {
                text
            } else {
                format!(
                    "{}.{}",
                    &text[..text.len() - places],
                    &text[text.len() - places..]
                )
            });
        }
        for cell in &cells {
            match (parse_number(cell), cell.parse::<f64>()) {
                (Ok(a), Ok(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{cell:?}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{cell:?}: {a:?} vs {b:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_record_and_field() {
        let mut bad = synthetic();
        bad["serror_rate"] = json!(1.5);
        bad["src_bytes"] = json!(-1);
        bad["service"] = json!(7);
        bad.as_object_mut().unwrap().remove("duration");
        let errors = ConnectionRecord::from_json(&bad, 4).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "records[4].duration",
                "records[4].service",
                "records[4].src_bytes",
                "records[4].serror_rate"
            ]
        );
        assert!(errors.iter().all(|e| e.index == Some(4)));
    }

    #[test]
    fn csv_rejects_short_lines_and_non_finite_numbers() {
        assert!(ConnectionRecord::from_csv("0,tcp,http", 0, 1).is_err());
        let line = csv(&synthetic()).replacen("3", "NaN", 1);
        let errors = ConnectionRecord::from_csv(&line, 2, 3).unwrap_err();
        assert_eq!(errors[0].field, "line 3: duration");
        assert_eq!(errors[0].index, Some(2));
    }

    #[test]
    fn context_is_parsed_and_checked() {
        let mut r = synthetic();
        r["src_ip"] = json!("10.0.0.5");
        r["dst_port"] = json!(80);
        r["observed_at"] = json!("2026-11-26T10:00:00Z");
        let record = ConnectionRecord::from_json(&r, 0).unwrap();
        assert_eq!(record.context.src_ip, Some("10.0.0.5".parse().unwrap()));
        r["src_ip"] = json!("10.0.0.500");
        r["dst_port"] = json!(70000);
        let errors = ConnectionRecord::from_json(&r, 0).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
