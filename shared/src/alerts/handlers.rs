use super::{
    AlertsState, Cursor,
    input::{
        AlertUpdateRequest, BulkRequest, NewAlertRequest, alert_change, bulk_change, history_query,
        list_query,
    },
    view::{AlertList, BulkOutcome, BulkResponse, BulkResult, HistoryList},
};
use crate::{
    domain::{
        Alert, AlertId, AlertStatus, AlertView, Category, IpAddress, Role, Severity, Username,
    },
    http::{
        ApiError, Caller, FieldError, JsonBody, Problem,
        idempotency::{self, IngestRoute, idempotent_request},
    },
    metrics::{MetricSet, Unit},
    store::{Ingest, StoreError},
};
use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;

const WRITERS: [Role; 2] = [Role::Analyst, Role::Admin];

/// List alerts, newest first, filtered and paginated.
#[utoipa::path(
    get, path = "/alerts", tag = "alerts", operation_id = "list_alerts",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    params(
        ("status" = Option<Vec<AlertStatus>>, Query, style = Form, explode,
            description = "Any of these statuses (repeat the parameter, or separate with commas)"),
        ("severity" = Option<Severity>, Query, description = "This severity or higher"),
        ("category" = Option<Category>, Query),
        ("from" = Option<DateTime<Utc>>, Query, description = "Created at or after (RFC 3339)"),
        ("to" = Option<DateTime<Utc>>, Query, description = "Created at or before (RFC 3339)"),
        ("assignee" = Option<Username>, Query),
        ("source_ip" = Option<IpAddress>, Query),
        ("tactic" = Option<String>, Query, example = "TA0040", description = "Alerts MITRE ATT&CK files under this tactic (see the README's mapping)"),
        ("technique" = Option<String>, Query, example = "T1498", description = "Alerts MITRE ATT&CK files under this technique"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of alerts", body = AlertList),
        (status = 400, description = "The request is not valid (see `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` is after `to`, or the cursor does not continue this listing", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(state): State<AlertsState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<AlertList>, ApiError> {
    let query = list_query(query.as_deref())?;
    let page = state.alerts.list(&query).await?;
    let next_cursor = page.next.map(|id| Cursor::encode(id, &query));
    Ok(Json(AlertList {
        items: page.items.into_iter().map(AlertView::from).collect(),
        next_cursor,
    }))
}

fn parse_id(raw: &str) -> Result<AlertId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no alert with id {raw:?}")))
}

async fn load(state: &AlertsState, id: AlertId) -> Result<Alert, ApiError> {
    state
        .alerts
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no alert with id {id}")))
}

/// One alert, with its history.
#[utoipa::path(
    get, path = "/alerts/{id}", tag = "alerts", operation_id = "get_alert",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    params(("id" = String, Path, description = "The alert's id (a ULID)")),
    responses(
        (status = 200, description = "The alert", body = AlertView),
        (status = 404, description = "No such alert", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_one(
    State(state): State<AlertsState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    Ok(Json(AlertView::from(load(&state, parse_id(&id)?).await?)))
}

/// An alert's whole history, oldest first, a page at a time.
///
/// The alert itself carries only its newest entries (at most 50); this is every entry
/// it ever had. Entries never change once written, so `from` (an entry's `seq`) is a
/// stable cursor.
#[utoipa::path(
    get, path = "/alerts/{id}/history", tag = "alerts", operation_id = "get_alert_history",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    params(
        ("id" = String, Path, description = "The alert's id (a ULID)"),
        ("from" = Option<u32>, Query, minimum = 1, maximum = 2147483647, description = "The first entry's seq (default 1)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 100)"),
    ),
    responses(
        (status = 200, description = "A page of the history", body = HistoryList),
        (status = 400, description = "The request is not valid (see `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alert", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn history(
    State(state): State<AlertsState>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<HistoryList>, ApiError> {
    let id = parse_id(&id)?;
    let query = history_query(query.as_deref())?;
    let page = state
        .alerts
        .history(id, query.from, query.limit)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no alert with id {id}")))?;
    Ok(Json(HistoryList {
        items: page.entries,
        total: page.total,
        next_from: page.next,
    }))
}

/// Report a threat (sensors, analysts, admins).
///
/// A threat of an open alert's campaign (see the README's campaign grouping) inside the
/// dedup window is aggregated into it: 200 with its `count` raised. A new threat is
/// 201. With an `Idempotency-Key`, a resend of the same body answers the same alert and
/// counts nothing twice; the same key with another body is 422.
#[utoipa::path(
    post, path = "/alerts", tag = "alerts", operation_id = "create_alert",
    security(("bearer" = ["admin", "analyst", "sensor"])),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
        description = "Makes a resend safe: the same key and body are stored once (kept 24 h)")),
    request_body(content = NewAlertRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "A new alert", body = AlertView, headers(("Location" = String, description = "The alert's URL")),
            links(
                ("GetAlert" = (operation_id = "get_alert", parameters(("id" = "$response.body#/id")))),
                ("UpdateAlert" = (operation_id = "update_alert",
                    parameters(("id" = "$response.body#/id")),
                    request_body = json!({"version": "$response.body#/version", "note": "triaged"}))),
            )),
        (status = 200, description = "The threat repeats an open alert: that alert, counted", body = AlertView),
        (status = 422, description = "The Idempotency-Key came with another body", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(state): State<AlertsState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Sensor, Role::Analyst, Role::Admin])?;
    let now = Utc::now();
    let mut threat = NewAlertRequest::parse(&body)?.into_threat(now);
    // The parsed body, serialised again: a resend with other whitespace is the same.
    let canonical = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    let request = idempotent_request(&headers, IngestRoute::CreateAlert, &caller, &canonical, "")?;
    if let Some(request) = &request {
        idempotency::claim(state.alerts.as_ref(), request).await?;
    }
    // A sensor that names no sensor reports as itself.
    if threat.sensor.is_none() && caller.role == Role::Sensor {
        threat.sensor = Some(caller.username.to_string());
    }
    let candidate = Alert::open(threat, caller.username.as_str(), now);
    let ingest = Ingest {
        request: request.as_ref(),
        deadline: None,
    };
    let detection = state
        .alerts
        .record_detections(std::slice::from_ref(&candidate), state.dedup_window, ingest)
        .await
        .pop()
        .unwrap_or(Err(StoreError::Other("no outcome for the alert".into())))?;
    let alert = detection.alert;
    let metric = if detection.created {
        "AlertsCreated"
    } else {
        "AlertsDeduplicated"
    };
    MetricSet::new().metric(metric, Unit::Count, 1.0).emit();
    if detection.created {
        tracing::info!(alert_id = %alert.id, category = %alert.category, "alert created");
        let location = format!("/alerts/{}", alert.id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(AlertView::from(alert)),
        )
            .into_response())
    } else {
        tracing::info!(alert_id = %alert.id, count = alert.count, "alert deduplicated");
        Ok(Json(AlertView::from(alert)).into_response())
    }
}

/// Applies a change to `alert` (not stored yet).
async fn apply(
    state: &AlertsState,
    alert: &mut Alert,
    change: AlertUpdateRequest,
    caller: &Caller,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let by = caller.username.as_str();
    if let Some(Some(assignee)) = &change.assignee
        && state.users.get(assignee).await?.is_none_or(|u| u.disabled)
    {
        return Err(ApiError::Unprocessable {
            detail: format!("{assignee} is not an active user"),
            errors: vec![FieldError::new("assignee", "must name an active user")],
        });
    }
    let mut note = change.note;
    if let Some(status) = change.status
        && status != alert.status
    {
        alert
            .move_to(status, by, note.take(), now)
            .map_err(|e| ApiError::Unprocessable {
                detail: e.to_string(),
                errors: vec![FieldError::new("status", e.to_string())],
            })?;
    }
    if let Some(assignee) = change.assignee {
        alert.assign(assignee, by, now);
    }
    if let Some(note) = note {
        alert.add_note(note, by, now);
    }
    alert.updated_at = now;
    alert.version += 1;
    Ok(())
}

fn conflict(current: &Alert) -> ApiError {
    ApiError::Conflict {
        detail: format!(
            "the alert changed since the version you sent; it is now at version {}",
            current.version
        ),
        current: serde_json::to_value(AlertView::from(current.clone())).ok(),
    }
}

/// The `AlertStatusChanges` metric, by the status moved to.
fn status_changes(to: AlertStatus, count: usize) {
    if count > 0 {
        MetricSet::new()
            .dimension("ToStatus", to.as_str())
            .metric("AlertStatusChanges", Unit::Count, count as f64)
            .emit();
    }
}

/// Move an alert through the workflow, assign it, or add a note.
///
/// Send the `version` you read: if the alert changed since, the answer is 409 with the
/// current alert in `current`. A move the workflow forbids is 422.
#[utoipa::path(
    put, path = "/alerts/{id}", tag = "alerts", operation_id = "update_alert",
    security(("bearer" = ["admin", "analyst"])),
    params(("id" = String, Path, description = "The alert's id (a ULID)")),
    request_body(content = AlertUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated alert", body = AlertView),
        (status = 404, description = "No such alert", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The alert changed since `version`; `current` holds it now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The workflow forbids this move, or the assignee is not an active user", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn update(
    State(state): State<AlertsState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<AlertView>, ApiError> {
    caller.require(&WRITERS)?;
    let id = parse_id(&id)?;
    let change = alert_change(&body)?;
    let mut alert = load(&state, id).await?;
    if alert.version != change.version {
        return Err(conflict(&alert));
    }
    let before = alert.status;
    apply(&state, &mut alert, change, &caller).await?;
    match state.alerts.update(&alert).await {
        Ok(()) => {}
        Err(StoreError::VersionConflict) => return Err(conflict(&load(&state, id).await?)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(alert_id = %id, from = %before, to = %alert.status, "alert updated");
    if alert.status != before {
        status_changes(alert.status, 1);
    }
    // Counters may have moved meanwhile: answer with the stored alert.
    Ok(Json(AlertView::from(load(&state, id).await?)))
}

/// One status change for up to 100 alerts, with a result per id.
///
/// Each alert is its own conditional write: one failing leaves the others done.
#[utoipa::path(
    post, path = "/alerts/bulk", tag = "alerts", operation_id = "bulk_update_alerts",
    security(("bearer" = ["admin", "analyst"])),
    request_body(content = BulkRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A result per id", body = BulkResponse),
    ),
)]
pub async fn bulk(
    State(state): State<AlertsState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&WRITERS)?;
    let change = bulk_change(&body)?;
    let mut results = Vec::with_capacity(change.ids.len());
    for id in change.ids {
        results.push(bulk_one(&state, &caller, id, change.status, change.note.clone()).await);
    }
    let updated = results
        .iter()
        .filter(|r| r.outcome == BulkOutcome::Updated)
        .count();
    status_changes(change.status, updated);
    tracing::info!(updated, total = results.len(), to = %change.status, "bulk status change");
    Ok(Json(BulkResponse { updated, results }))
}

async fn bulk_one(
    state: &AlertsState,
    caller: &Caller,
    id: AlertId,
    status: crate::domain::AlertStatus,
    note: Option<String>,
) -> BulkResult {
    let result = |outcome, alert: Option<&Alert>, detail: Option<String>| BulkResult {
        id,
        outcome,
        status: alert.map(|a| a.status),
        version: alert.map(|a| a.version),
        detail,
    };
    // A concurrent change between read and write is retried a couple of times.
    for _ in 0..3 {
        let mut alert = match state.alerts.get(id).await {
            Ok(Some(a)) => a,
            Ok(None) => return result(BulkOutcome::NotFound, None, None),
            Err(e) => {
                return result(
                    BulkOutcome::NotDone,
                    None,
                    Some(ApiError::from(e).to_string()),
                );
            }
        };
        if alert.status == status {
            return result(BulkOutcome::Unchanged, Some(&alert), None);
        }
        let change = AlertUpdateRequest {
            version: alert.version,
            status: Some(status),
            assignee: None,
            note: note.clone(),
        };
        if let Err(e) = apply(state, &mut alert, change, caller).await {
            return result(
                BulkOutcome::InvalidTransition,
                Some(&alert),
                Some(e.to_string()),
            );
        }
        match state.alerts.update(&alert).await {
            Ok(()) => return result(BulkOutcome::Updated, Some(&alert), None),
            Err(StoreError::VersionConflict) => continue,
            Err(e) => {
                return result(
                    BulkOutcome::NotDone,
                    None,
                    Some(ApiError::from(e).to_string()),
                );
            }
        }
    }
    result(
        BulkOutcome::Conflict,
        None,
        Some("the alert kept changing; try again".into()),
    )
}
