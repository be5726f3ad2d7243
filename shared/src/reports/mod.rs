//! Floor 3: `GET /reports` — what happened over a time frame, from the hourly report
//! counters the stores keep up to date (never by reading every alert).

mod report;

pub use report::{Report, ReportFilter, build_report};

use crate::{
    domain::{AlertStatus, Category, Severity},
    http::{ApiError, Authenticator, Caller, FieldError, Problem, Validation, query},
    store::AlertStore,
};
use axum::{
    Json, Router,
    extract::{FromRef, RawQuery, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// The longest time frame one report may cover (about a quarter).
pub const MAX_DAYS: i64 = 92;

#[derive(Clone)]
pub struct ReportsState {
    pub alerts: Arc<dyn AlertStore>,
    pub authenticator: Authenticator,
}

impl FromRef<ReportsState> for Authenticator {
    fn from_ref(state: &ReportsState) -> Self {
        state.authenticator.clone()
    }
}

pub fn router(state: ReportsState) -> Router {
    Router::new()
        .route("/reports", get(get_report))
        .with_state(state)
}

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

struct ReportQuery {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    filter: ReportFilter,
    csv: bool,
}

fn parse_query(raw: Option<&str>, headers: &HeaderMap) -> Result<ReportQuery, ApiError> {
    let mut v = Validation::new();
    let (mut from, mut to, mut period) = (None, None, None);
    let mut bucket = None;
    let mut filter = ReportFilter::default();
    let mut csv = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
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
    if from > to {
        return Err(ApiError::unprocessable_field(
            "from",
            "must not be after `to`",
        ));
    }
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

/// What happened over a time frame: totals, breakdowns, a series, top sources, and
/// mean times to acknowledge and resolve.
///
/// The frame is `from`/`to`, or `period` back from now (default: the last 24 hours),
/// at most 92 days. CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get, path = "/reports", tag = "reports", operation_id = "get_report",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    params(
        ("from" = Option<DateTime<Utc>>, Query, description = "Start of the frame (RFC 3339)"),
        ("to" = Option<DateTime<Utc>>, Query, description = "End of the frame (RFC 3339; default now)"),
        ("period" = Option<ReportPeriod>, Query, description = "The frame back from `to`, instead of `from`"),
        ("bucket" = Option<Bucket>, Query, description = "Series granularity (default: hour up to 2 days, else day)"),
        ("format" = Option<ReportFormat>, Query),
        ("category" = Option<Vec<Category>>, Query, style = Form, explode, description = "Any of these categories (repeat the parameter, or separate with commas)"),
        ("severity" = Option<Severity>, Query, description = "This severity or higher"),
        ("status" = Option<Vec<AlertStatus>>, Query, style = Form, explode, description = "Any of these statuses (repeat the parameter, or separate with commas)"),
    ),
    responses(
        (status = 200, description = "The report", content(
            (Report = "application/json"),
            (String = "text/csv", example = report::csv_example),
        )),
        (status = 400, description = "A parameter is not valid (see `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The frame is empty or longer than 92 days, or `period` is combined with `from`/`to`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn get_report(
    State(state): State<ReportsState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let q = parse_query(query.as_deref(), &headers)?;
    let counters = state.alerts.counters(q.from, q.to).await?;
    let report = build_report(q.from, q.to, q.bucket, &q.filter, &counters);
    if q.csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report.to_csv(),
        )
            .into_response())
    } else {
        Ok(Json(report).into_response())
    }
}
