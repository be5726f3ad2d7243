use super::{
    ReportsState, build_report,
    input::{Bucket, ReportFormat, ReportPeriod, parse_query},
    report::{self, Report},
};
use crate::{
    domain::{AlertStatus, Category, Severity},
    http::{ApiError, Caller, Problem},
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

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
pub async fn get_report(
    State(state): State<ReportsState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let q = parse_query(query.as_deref(), &headers)?;
    let counters = state.alerts.counters(q.from, q.to).await?;
    let report = build_report(q.from, q.to, q.bucket, &q.filter, &counters);
    if q.csv {
        Ok(crate::http::csv_response(report.to_csv()))
    } else {
        Ok(Json(report).into_response())
    }
}
