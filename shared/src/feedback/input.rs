//! `GET /feedback`'s query string: the frame, the page and the format.

use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::{
    alerts::Cursor,
    domain::AlertStatus,
    http::{ApiError, FieldError, Validation, query},
    store::AlertQuery,
};
use axum::http::HeaderMap;

/// `format`: JSON (default) or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackFormat {
    Json,
    Csv,
}

pub(super) struct FeedbackQuery {
    /// The closed alerts to read: a verdict is a resolution or a false positive.
    pub alerts: AlertQuery,
    pub csv: bool,
}

/// The statuses that are verdicts.
pub(super) const VERDICTS: [AlertStatus; 2] = [AlertStatus::FalsePositive, AlertStatus::Resolved];

pub(super) fn parse_query(
    raw: Option<&str>,
    headers: &HeaderMap,
) -> Result<FeedbackQuery, ApiError> {
    let mut alerts = AlertQuery {
        statuses: VERDICTS.to_vec(),
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    let mut csv = crate::http::accepts_csv(headers);
    let mut cursor = None;
    let mut v = Validation::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let field = |m: String| FieldError::new(key.to_string(), m);
        match key.as_ref() {
            "from" | "to" => match query::time(&value) {
                Ok(t) if key == "from" => alerts.from = Some(t),
                Ok(t) => alerts.to = Some(t),
                Err(m) => v.push(field(m)),
            },
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => alerts.limit = n,
                _ => v.push(field(format!(
                    "must be a whole number from 1 to {MAX_LIMIT}"
                ))),
            },
            "format" => match query::word::<FeedbackFormat>(&value) {
                Ok(f) => csv = f == FeedbackFormat::Csv,
                Err(m) => v.push(field(m)),
            },
            "cursor" => cursor = Some(value.into_owned()),
            other => v.push(query::unknown(other)),
        }
    }
    v.finish()?;
    if let (Some(from), Some(to)) = (alerts.from, alerts.to) {
        query::frame(from, to)?;
    }
    if let Some(raw) = cursor {
        alerts.before = Some(Cursor::decode(&raw, &alerts)?);
    }
    Ok(FeedbackQuery { alerts, csv })
}
