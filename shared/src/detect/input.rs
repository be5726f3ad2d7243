//! Predict's request parsed at the edge: the query flag, and records from JSON or
//! NSL-KDD CSV, every bad field named with its record index.

use super::ConnectionRecord;
use crate::http::{ApiError, FieldError, media_type, parse_object, reads_as_json};
use axum::http::HeaderMap;
use serde_json::Value;

/// Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// The most records one request may carry.
pub const MAX_RECORDS: usize = 10_000;

/// A batch of bad records names at most this many problems.
const MAX_REPORTED_ERRORS: usize = 100;

/// The parsed request: records, and whether threats should be stored.
pub(super) struct Batch {
    pub(super) records: Vec<ConnectionRecord>,
    pub(super) store: bool,
}

pub(super) fn too_large() -> ApiError {
    ApiError::PayloadTooLarge {
        detail: format!(
            "a request may carry at most {MAX_RECORDS} records and {MAX_BODY_BYTES} bytes; split the batch"
        ),
    }
}

/// The query string: only `store`. Every bad parameter is named, like every other
/// query parser does (not just the first).
pub(super) fn parse_store_param(query: Option<&str>) -> Result<Option<bool>, ApiError> {
    let mut store = None;
    let mut v = crate::http::Validation::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "store" => match value.as_ref() {
                "true" | "1" => store = Some(true),
                "false" | "0" => store = Some(false),
                _ => v.push(FieldError::new("store", "must be true or false")),
            },
            other => v.push(crate::http::query::unknown(other)),
        }
    }
    v.finish()?;
    Ok(store)
}

pub(super) fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Batch, ApiError> {
    match media_type(headers).as_deref() {
        Some("text/csv") => parse_csv(body),
        json if reads_as_json(json) => parse_json(body),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "send records as application/json or text/csv, not {}",
            other.unwrap_or_default()
        ))),
    }
}

pub(super) fn parse_json(body: &[u8]) -> Result<Batch, ApiError> {
    // A valid body is read in one pass; anything else is read again below, by the
    // reader that names every problem.
    if let Some((records, store)) = super::json_records::read(body, MAX_RECORDS) {
        return Ok(Batch { records, store });
    }
    let object = parse_object(body)?;
    let mut errors = Vec::new();
    for key in object.keys() {
        if key != "records" && key != "store" {
            errors.push(FieldError::new(key.clone(), "is not a known field"));
        }
    }
    let store = match object.get("store") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new("store", "must be true or false"));
            true
        }
    };
    let records = match object.get("records") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("records", "must be an array of records"));
            return Err(invalid(errors));
        }
        None => {
            errors.push(FieldError::new("records", "is required"));
            return Err(invalid(errors));
        }
    };
    if records.len() > MAX_RECORDS {
        return Err(too_large());
    }
    if records.is_empty() {
        errors.push(FieldError::new("records", "must hold at least one record"));
    }
    let mut parsed = Vec::with_capacity(records.len());
    for (index, value) in records.iter().enumerate() {
        match ConnectionRecord::from_json(value, index) {
            Ok(record) => parsed.push(record),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(Batch {
            records: parsed,
            store,
        })
    } else {
        Err(invalid(errors))
    }
}

pub(super) fn parse_csv(body: &[u8]) -> Result<Batch, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_field("body", "CSV must be UTF-8 text"))?;
    // Room for every line up front, so the batch is not moved while it grows.
    let lines = count_lines(body);
    let mut records = Vec::with_capacity(lines.min(MAX_RECORDS));
    let mut errors = Vec::new();
    // `index` counts records (data lines), as in a JSON batch; `i + 1` is the line.
    let mut index = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        // Blank lines and an optional header line are skipped.
        if line.is_empty() || (i == 0 && line.starts_with("duration,")) {
            continue;
        }
        if index >= MAX_RECORDS {
            return Err(too_large());
        }
        match ConnectionRecord::from_csv(line, index, i + 1) {
            Ok(record) => records.push(record),
            Err(mut e) => errors.append(&mut e),
        }
        index += 1;
    }
    if records.is_empty() && errors.is_empty() {
        errors.push(FieldError::new("body", "holds no records"));
    }
    if errors.is_empty() {
        Ok(Batch {
            records,
            store: true,
        })
    } else {
        Err(invalid(errors))
    }
}

/// Lines in `body` (newlines + 1). Counted in runs of 255 bytes into a byte-sized
/// counter, which the compiler does 16 bytes an instruction; a `filter().count()`
/// widened every byte to 64 bits, an eighth of the CSV path's time.
fn count_lines(body: &[u8]) -> usize {
    let newlines: usize = body
        .chunks(255)
        .map(|run| {
            let in_run = run.iter().fold(0u8, |n, b| n + u8::from(*b == b'\n'));
            usize::from(in_run)
        })
        .sum();
    newlines + 1
}

pub(super) fn invalid(mut errors: Vec<FieldError>) -> ApiError {
    let total = errors.len();
    errors.truncate(MAX_REPORTED_ERRORS);
    let detail = if total > MAX_REPORTED_ERRORS {
        format!("{total} problems in the records; the first {MAX_REPORTED_ERRORS} are listed")
    } else {
        "the records are not valid".to_owned()
    };
    ApiError::BadRequest { detail, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_across_runs_of_any_length() {
        for (len, every) in [(0, 1), (254, 1), (255, 1), (256, 1), (1000, 3), (70_000, 1)] {
            let body: Vec<u8> = (0..len)
                .map(|i| if i % every == 0 { b'\n' } else { b'x' })
                .collect();
            let naive = body.iter().filter(|b| **b == b'\n').count() + 1;
            assert_eq!(count_lines(&body), naive, "{len} bytes, every {every}");
        }
    }
}
