//! The feedback export's handler.

use super::{
    input::{FeedbackFormat, parse_query},
    view::{self, FeedbackList, Item},
};
use crate::{
    alerts::{AlertsState, Cursor},
    domain::Role,
    http::{ApiError, Caller, Problem},
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

/// The analysts' verdicts as labelled records, for retraining (admin).
///
/// Every alert the model raised that an analyst closed gives its first and latest
/// record: labelled `normal` when marked a false positive, with its category when
/// resolved as a real threat. Newest alerts first, a page of `limit` alerts at a time
/// (JSON `next_cursor`; CSV: the `Link` header's `rel="next"`). CSV with `format=csv`
/// or `Accept: text/csv`: the NSL-KDD columns and `label`, which `make model
/// FEEDBACK=...` reads.
#[utoipa::path(
    get, path = "/feedback", tag = "alerts", operation_id = "export_feedback",
    security(("bearer" = ["admin"])),
    params(
        ("from" = Option<DateTime<Utc>>, Query, description = "Alerts created at or after (RFC 3339)"),
        ("to" = Option<DateTime<Utc>>, Query, description = "Alerts created at or before (RFC 3339)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Alerts per page (default 200); each gives one or two records"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("format" = Option<FeedbackFormat>, Query),
    ),
    responses(
        (status = 200, description = "A page of labelled records", content(
            (FeedbackList = "application/json"),
            (String = "text/csv", example = view::feedback_csv_example),
        )),
        (status = 400, description = "A parameter is not valid (see `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` is after `to`, or the cursor does not continue this export", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn export(
    State(state): State<AlertsState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin])?;
    let q = parse_query(query.as_deref(), &headers)?;
    let page = state.alerts.list(&q.alerts).await?;
    let next_cursor = page.next.map(|id| Cursor::encode(id, &q.alerts));
    let list = FeedbackList {
        items: page.items.iter().flat_map(Item::of).collect(),
        next_cursor,
    };
    if !q.csv {
        return Ok(Json(list).into_response());
    }
    let mut response = crate::http::csv_response(list.to_csv());
    if let Some(next) = &list.next_cursor {
        // The same query with the next cursor; the cursor is URL-safe base64.
        let mut next_query: Vec<(String, String)> =
            form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "cursor")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        next_query.push(("cursor".into(), next.clone()));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(next_query)
            .finish();
        if let Ok(link) = HeaderValue::from_str(&format!("</feedback?{encoded}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}
