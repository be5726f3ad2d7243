//! `GET /reports`' query string, parsed at the edge: the frame, the series' bucket,
//! the format and the filters.

use super::{MAX_DAYS, ReportFilter};
use crate::http::{ApiError, FieldError, Validation, query};
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};

/// `period`: a frame back from `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub enum ReportPeriod {
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl ReportPeriod {
    fn length(self) -> Duration {
        match self {
            ReportPeriod::Day => Duration::hours(24),
            ReportPeriod::Week => Duration::days(7),
            ReportPeriod::Month => Duration::days(30),
        }
    }
}

/// `bucket`: the series' granularity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[schema(as = ReportBucket)]
pub enum Bucket {
    Hour,
    Day,
}

/// `format`: JSON (default) or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Csv,
}

pub(super) struct ReportQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    pub filter: ReportFilter,
    pub csv: bool,
}

pub(super) fn parse_query(raw: Option<&str>, headers: &HeaderMap) -> Result<ReportQuery, ApiError> {
    let mut v = Validation::new();
    let (mut from, mut to, mut period) = (None, None, None);
    let mut bucket = None;
    let mut filter = ReportFilter::default();
    let mut csv = crate::http::accepts_csv(headers);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let field = |m: String| FieldError::new(key.to_string(), m);
        match key.as_ref() {
            "from" | "to" => match query::time(&value) {
                Ok(t) if key == "from" => from = Some(t),
                Ok(t) => to = Some(t),
                Err(m) => v.push(field(m)),
            },
            "period" => match query::word::<ReportPeriod>(&value) {
                Ok(p) => period = Some(p.length()),
                Err(m) => v.push(field(m)),
            },
            "bucket" => match query::word::<Bucket>(&value) {
                Ok(b) => bucket = Some(b),
                Err(m) => v.push(field(m)),
            },
            "format" => match query::word::<ReportFormat>(&value) {
                Ok(f) => csv = f == ReportFormat::Csv,
                Err(m) => v.push(field(m)),
            },
            "category" => {
                if let Err(m) = query::categories(&value, &mut filter.categories) {
                    v.push(field(m));
                }
            }
            "severity" => match query::severity(&value) {
                Ok(s) => filter.min_severity = Some(s),
                Err(m) => v.push(field(m)),
            },
            "status" => {
                if let Err(m) = query::statuses(&value, &mut filter.statuses) {
                    v.push(field(m));
                }
            }
            other => v.push(query::unknown(other)),
        }
    }
    v.finish()?;
    // From here on each value is valid alone but the combination is not (422).
    if period.is_some() && (from.is_some() || to.is_some()) {
        return Err(ApiError::unprocessable_field(
            "period",
            "give either period or from/to, not both",
        ));
    }
    let now = Utc::now();
    let to = to.unwrap_or(now);
    let from = match (from, period) {
        (Some(from), _) => from,
        (None, Some(p)) => to - p,
        (None, None) => to - Duration::hours(24),
    };
    query::frame(from, to)?;
    if to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::unprocessable_field(
            "from",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    let bucket = bucket.unwrap_or(if to - from > Duration::days(2) {
        Bucket::Day
    } else {
        Bucket::Hour
    });
    Ok(ReportQuery {
        from,
        to,
        bucket,
        filter,
        csv,
    })
}
