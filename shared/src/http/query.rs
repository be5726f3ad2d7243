//! Query-string values, parsed one way for every route: times, statuses, severities,
//! categories, and the error for a parameter a route does not know. The list and
//! report filters (and predict's flags) read their parameters through these, so the
//! same parameter means and says the same on every route.

use super::FieldError;
use crate::domain::{AlertStatus, Category, Severity};
use chrono::{DateTime, Utc};

/// An RFC 3339 date-time (query parameters and body fields alike).
pub fn time(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 date-time such as 2026-11-26T10:00:00Z".to_owned())
}

/// Statuses separated by commas (the parameter may also repeat), each once.
pub fn statuses(raw: &str, into: &mut Vec<AlertStatus>) -> Result<(), String> {
    list(raw, into)
}

/// Categories separated by commas (the parameter may also repeat), each once.
pub fn categories(raw: &str, into: &mut Vec<Category>) -> Result<(), String> {
    list(raw, into)
}

/// A minimum severity.
pub fn severity(raw: &str) -> Result<Severity, String> {
    raw.parse()
        .map_err(|e: crate::domain::Invalid| e.to_string())
}

/// One of the words an enum's serde names give it (`#[serde(rename...)]`, which the
/// OpenAPI schema is generated from too): the parser and the contract share one list.
pub fn word<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|e| {
        // serde says "unknown variant `x`, expected one of `a`, `b`": keep the list.
        let message = e.to_string();
        match message.split_once("expected ") {
            Some((_, expected)) => format!("must be {}", expected.replace('`', "")),
            None => message,
        }
    })
}

/// `from` and `to` together: a frame that does not run backwards. Each may be valid
/// alone and the pair ask for nothing, so this is a 422, not a 400.
pub fn frame(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), super::ApiError> {
    if from > to {
        return Err(super::ApiError::unprocessable_field(
            "from",
            "must not be after `to`",
        ));
    }
    Ok(())
}

/// A route's answer to a parameter it does not take.
pub fn unknown(key: &str) -> FieldError {
    FieldError::new(key, "is not a known query parameter")
}

fn list<T>(raw: &str, into: &mut Vec<T>) -> Result<(), String>
where
    T: std::str::FromStr<Err = crate::domain::Invalid> + PartialEq,
{
    for item in raw.split(',') {
        let value = item.parse::<T>().map_err(|e| e.to_string())?;
        if !into.contains(&value) {
            into.push(value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_one_of_the_serde_names_and_the_error_lists_them() {
        assert_eq!(word::<Severity>("high"), Ok(Severity::High));
        assert_eq!(
            word::<Severity>("urgent"),
            Err("must be one of low, medium, high, critical".to_owned())
        );
    }
}
