use super::{
    AlertsState, Cursor,
    input::{AlertChange, alert_change, bulk_change, list_query, new_alert},
};
use crate::{
    domain::{Alert, AlertId, AlertStatus, HistoryEntry, Role, new_alert_id},
    http::{ApiError, Caller, FieldError, JsonBody},
    store::StoreError,
};
use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

const WRITERS: [Role; 2] = [Role::Analyst, Role::Admin];

#[derive(Serialize)]
pub struct AlertList {
    items: Vec<Alert>,
    next_cursor: Option<String>,
}

/// `GET /alerts`
pub async fn list(
    State(state): State<AlertsState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<AlertList>, ApiError> {
    let query = list_query(query.as_deref())?;
    let page = state.alerts.list(&query).await?;
    let next_cursor = page.next.map(|id| Cursor::encode(id, &query));
    Ok(Json(AlertList {
        items: page.items,
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

/// `GET /alerts/{id}`
pub async fn get_one(
    State(state): State<AlertsState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(load(&state, parse_id(&id)?).await?))
}

/// `POST /alerts`: a threat reported by a sensor or an analyst. Repeats inside the
/// dedup window aggregate into the open alert (200); a new threat is 201.
pub async fn create(
    State(state): State<AlertsState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Sensor, Role::Analyst, Role::Admin])?;
    let new = new_alert(&body)?;
    let now = Utc::now();
    let sensor = new
        .sensor
        .or_else(|| (caller.role == Role::Sensor).then(|| caller.username.to_string()));
    let dedup_key = Alert::dedup_key_for(
        new.category,
        sensor.as_deref(),
        new.source.as_ref(),
        new.destination.as_ref(),
        new.service.as_deref(),
    );
    let candidate = Alert {
        id: new_alert_id(),
        created_at: now,
        updated_at: now,
        last_seen: new.observed_at.unwrap_or(now),
        category: new.category,
        severity: new.severity,
        score: new.score,
        status: AlertStatus::Open,
        assignee: None,
        source: new.source,
        destination: new.destination,
        protocol: new.protocol,
        service: new.service,
        sensor,
        summary: new.summary,
        model: None,
        dedup_key,
        count: 1,
        history: vec![HistoryEntry {
            at: now,
            by: caller.username.to_string(),
            action: "created".into(),
            from: None,
            to: Some(AlertStatus::Open.as_str().into()),
            note: None,
        }],
        version: 1,
    };
    let detection = state
        .alerts
        .record_detection(&candidate, state.dedup_window)
        .await?;
    let alert = detection.alert;
    if detection.created {
        tracing::info!(alert_id = %alert.id, category = %alert.category, "alert created");
        let location = format!("/alerts/{}", alert.id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(alert),
        )
            .into_response())
    } else {
        tracing::info!(alert_id = %alert.id, count = alert.count, "alert deduplicated");
        Ok(Json(alert).into_response())
    }
}

/// Applies a change to `alert` (not stored yet).
async fn apply(
    state: &AlertsState,
    alert: &mut Alert,
    change: AlertChange,
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
        current: serde_json::to_value(current).ok(),
    }
}

/// `PUT /alerts/{id}`: status, assignee and notes, against the version the client saw.
pub async fn update(
    State(state): State<AlertsState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Alert>, ApiError> {
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
    // Counters may have moved meanwhile: answer with the stored alert.
    Ok(Json(load(&state, id).await?))
}

#[derive(Serialize)]
struct BulkResult {
    id: AlertId,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<AlertStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// `POST /alerts/bulk`: one status change for up to 100 alerts, a result per id.
/// Each alert is its own conditional write: one alert failing leaves the others done.
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
    let updated = results.iter().filter(|r| r.outcome == "updated").count();
    tracing::info!(updated, total = results.len(), to = %change.status, "bulk status change");
    Ok(Json(json!({ "updated": updated, "results": results })))
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
            Ok(None) => return result("not_found", None, None),
            Err(e) => return result("not_done", None, Some(ApiError::from(e).to_string())),
        };
        if alert.status == status {
            return result("unchanged", Some(&alert), None);
        }
        let change = AlertChange {
            version: alert.version,
            status: Some(status),
            assignee: None,
            note: note.clone(),
        };
        if let Err(e) = apply(state, &mut alert, change, caller).await {
            return result("invalid_transition", Some(&alert), Some(e.to_string()));
        }
        match state.alerts.update(&alert).await {
            Ok(()) => return result("updated", Some(&alert), None),
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return result("not_done", None, Some(ApiError::from(e).to_string())),
        }
    }
    result(
        "conflict",
        None,
        Some("the alert kept changing; try again".into()),
    )
}
