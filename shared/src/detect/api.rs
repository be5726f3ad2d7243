//! `POST /threat-detection/predict` (alias `POST /predict`): connection records in,
//! predictions out; threats become (deduplicated) alerts.

use super::{ConnectionRecord, Detector, Prediction};
use crate::{
    detect::contract::{CsvRecordsSchema, PredictRequestSchema},
    domain::{Alert, AlertId, AlertIdText, Endpoint, ModelRef, Role, Severity, Threat},
    http::{
        ApiError, Authenticator, Caller, FieldError, Problem, RawBody, error_chain,
        idempotency::{self, IngestRoute, idempotent_request},
        media_type, parse_object, reads_as_json,
    },
    store::{AlertStore, Ingest, StoreError},
};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, FromRef, RawQuery, State},
    http::HeaderMap,
    routing::post,
};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use std::{collections::HashMap, sync::Arc, time::Duration};
use utoipa::ToSchema;

/// Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
pub const MAX_RECORDS: usize = 10_000;
/// A batch of bad records names at most this many problems.
const MAX_REPORTED_ERRORS: usize = 100;
/// How long after the request arrived a batch may start writing groups: API Gateway
/// gives up at 29 s, so groups not started by 20 s are answered as not stored (and a
/// resend with the same Idempotency-Key stores them) rather than written after the
/// client has stopped listening.
const WRITE_BUDGET: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct PredictState {
    pub detector: Arc<Detector>,
    pub alerts: Arc<dyn AlertStore>,
    pub authenticator: Authenticator,
    pub dedup_window: Duration,
}

impl FromRef<PredictState> for Authenticator {
    fn from_ref(state: &PredictState) -> Self {
        state.authenticator.clone()
    }
}

pub fn router(state: PredictState) -> Router {
    Router::new()
        .route("/threat-detection/predict", post(predict))
        .route("/predict", post(predict))
        // A little above the limit so that the limit itself gets our clear 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
        .with_state(state)
}

/// Predictions for a batch, in the order of its records.
#[derive(Serialize, ToSchema)]
pub struct PredictResponse {
    model: ModelInfo,
    threshold: f32,
    novelty_threshold: Option<f32>,
    predictions: Vec<PredictionView>,
    summary: Summary,
}

/// The model that scored the batch.
#[derive(Serialize, ToSchema)]
#[schema(as = PredictModel)]
struct ModelInfo {
    name: String,
    version: String,
    sha256: String,
}

/// The verdict on one record.
#[derive(Serialize, ToSchema)]
#[schema(as = Prediction)]
struct PredictionView {
    /// The record's position in the batch.
    index: usize,
    is_threat: bool,
    /// The probability that the record is an attack (1 − P(normal)).
    #[schema(minimum = 0.0, maximum = 1.0)]
    score: f32,
    /// `normal`, or the threat's category: dos, probe, r2l, u2r, anomaly.
    #[schema(value_type = String, example = "dos")]
    category: &'static str,
    /// The classifier's probability per class (normal, dos, probe, r2l, u2r).
    #[schema(value_type = HashMap<String, f32>)]
    probabilities: HashMap<&'static str, f32>,
    /// Distance from known-normal traffic; above `novelty_threshold` is an anomaly.
    novelty: f32,
    /// The threat's severity (low, medium, high, critical); null for normal records.
    #[schema(value_type = Option<Severity>)]
    severity: Option<&'static str>,
    /// The alert this threat was recorded in (when `store` is on).
    #[schema(value_type = Option<AlertIdText>)]
    alert_id: Option<AlertId>,
    /// Set when the record's alert could not be stored (nothing was written for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    alert_error: Option<&'static str>,
}

/// Counts for the batch.
#[derive(Serialize, Default, ToSchema)]
#[schema(as = PredictSummary)]
struct Summary {
    records: usize,
    threats: usize,
    alerts_created: usize,
    alerts_updated: usize,
    alerts_failed: usize,
}

const CLASS_NAMES: [&str; 5] = ["normal", "dos", "probe", "r2l", "u2r"];

/// The parsed request: records, and whether threats should be stored.
struct Batch {
    records: Vec<ConnectionRecord>,
    store: bool,
}

/// Score network connection records; threats become alerts.
///
/// Send JSON (`{"records": [...]}`) or NSL-KDD CSV (`Content-Type: text/csv`), up to
/// 10,000 records and 6 MB. Every bad record is named by index and field (400).
/// Threats are grouped by dedup key and recorded as alerts unless `store` is false.
#[utoipa::path(
    post, path = "/threat-detection/predict", tag = "predict", operation_id = "predict",
    security(("bearer" = ["admin", "analyst", "sensor"])),
    params(
        ("store" = Option<bool>, Query, description = "false: score only, record no alerts"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
            description = "Makes a resend safe: groups the first request stored are answered from it, the rest written, nothing counted twice (kept 24 h)"),
    ),
    request_body(content(
        (PredictRequestSchema = "application/json"),
        (CsvRecordsSchema = "text/csv"),
    )),
    responses(
        (status = 200, description = "A prediction per record", body = PredictResponse),
        (status = 422, description = "The Idempotency-Key came with another body", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn predict(
    State(state): State<PredictState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Json<PredictResponse>, ApiError> {
    let started = std::time::Instant::now();
    caller.require(&[Role::Sensor, Role::Analyst, Role::Admin])?;
    let RawBody(body) = body.map_err(|e| match e {
        ApiError::PayloadTooLarge { .. } => too_large(),
        other => other,
    })?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let store_param = parse_store_param(query.as_deref())?;
    let batch = parse_batch(&headers, &body)?;
    let store = store_param.unwrap_or(true) && batch.store;
    // Only a storing request writes anything for a key to guard.
    let request = match store {
        true => idempotent_request(&headers, IngestRoute::Predict, &caller, &body, "store")?,
        false => None,
    };
    if let Some(request) = &request {
        idempotency::claim(state.alerts.as_ref(), request).await?;
    }

    let detector = state.detector.clone();
    let records = Arc::new(batch.records);
    let scored = records.clone();
    // Inference is CPU work: keep it off the async workers.
    let predictions = tokio::task::spawn_blocking(move || detector.predict(&scored))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;

    let mut summary = Summary {
        records: records.len(),
        threats: predictions.iter().filter(|p| p.is_threat).count(),
        ..Default::default()
    };
    let mut outcomes: HashMap<usize, Result<AlertId, &'static str>> = HashMap::new();
    if store {
        let ingest = Ingest {
            request: request.as_ref(),
            deadline: Some(tokio::time::Instant::from_std(started) + WRITE_BUDGET),
        };
        store_alerts(
            &state,
            &caller,
            &records,
            &predictions,
            ingest,
            &mut outcomes,
            &mut summary,
        )
        .await;
    }
    let schema = state.detector.schema();
    let predictions: Vec<PredictionView> = predictions
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let outcome = outcomes.get(&index);
            PredictionView {
                index,
                is_threat: p.is_threat,
                score: p.score,
                category: p.category.map(|c| c.as_str()).unwrap_or("normal"),
                probabilities: CLASS_NAMES.iter().copied().zip(p.probabilities).collect(),
                novelty: p.novelty,
                severity: p.severity.map(|s| s.as_str()),
                alert_id: outcome.and_then(|o| o.ok()),
                alert_error: outcome.and_then(|o| o.err()),
            }
        })
        .collect();
    tracing::info!(
        records = summary.records,
        threats = summary.threats,
        alerts_created = summary.alerts_created,
        alerts_updated = summary.alerts_updated,
        alerts_failed = summary.alerts_failed,
        "records scored"
    );
    emit_metrics(
        &schema.model.version,
        &summary,
        &predictions,
        started.elapsed(),
    );
    Ok(Json(PredictResponse {
        model: ModelInfo {
            name: schema.model.name.clone(),
            version: schema.model.version.clone(),
            sha256: schema.model.sha256.clone(),
        },
        threshold: schema.threshold,
        novelty_threshold: schema.novelty_threshold,
        predictions,
        summary,
    }))
}

/// One EMF line for the batch, and one per threat category found in it.
fn emit_metrics(
    model_version: &str,
    summary: &Summary,
    predictions: &[PredictionView],
    latency: Duration,
) {
    use crate::metrics::{MetricSet, Unit};
    if !crate::metrics::enabled() {
        return;
    }
    MetricSet::new()
        .dimension("ModelVersion", model_version)
        .metric("RecordsScored", Unit::Count, summary.records as f64)
        .metric("ThreatsDetected", Unit::Count, summary.threats as f64)
        .metric(
            "PredictLatency",
            Unit::Milliseconds,
            latency.as_secs_f64() * 1000.0,
        )
        .emit();
    let mut by_category: HashMap<&str, usize> = HashMap::new();
    for p in predictions.iter().filter(|p| p.is_threat) {
        *by_category.entry(p.category).or_default() += 1;
    }
    for (category, threats) in by_category {
        MetricSet::new()
            .dimension("Category", category)
            .dimension("ModelVersion", model_version)
            .metric("ThreatsDetected", Unit::Count, threats as f64)
            .emit();
    }
    if summary.alerts_created + summary.alerts_updated > 0 {
        MetricSet::new()
            .metric("AlertsCreated", Unit::Count, summary.alerts_created as f64)
            .metric(
                "AlertsDeduplicated",
                Unit::Count,
                summary.alerts_updated as f64,
            )
            .emit();
    }
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge {
        detail: format!(
            "a request may carry at most {MAX_RECORDS} records and {MAX_BODY_BYTES} bytes; split the batch"
        ),
    }
}

/// The query string: only `store`. Every bad parameter is named, like every other
/// query parser does (not just the first).
fn parse_store_param(query: Option<&str>) -> Result<Option<bool>, ApiError> {
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

fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Batch, ApiError> {
    match media_type(headers).as_deref() {
        Some("text/csv") => parse_csv(body),
        json if reads_as_json(json) => parse_json(body),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "send records as application/json or text/csv, not {}",
            other.unwrap_or_default()
        ))),
    }
}

fn parse_json(body: &[u8]) -> Result<Batch, ApiError> {
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

fn parse_csv(body: &[u8]) -> Result<Batch, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_field("body", "CSV must be UTF-8 text"))?;
    let mut records = Vec::new();
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

fn invalid(mut errors: Vec<FieldError>) -> ApiError {
    let total = errors.len();
    errors.truncate(MAX_REPORTED_ERRORS);
    let detail = if total > MAX_REPORTED_ERRORS {
        format!("{total} problems in the records; the first {MAX_REPORTED_ERRORS} are listed")
    } else {
        "the records are not valid".to_owned()
    };
    ApiError::BadRequest { detail, errors }
}

/// Groups the batch's threats by campaign (one write per group, however many records
/// it holds), then records the groups in the alert store in one batched call.
async fn store_alerts(
    state: &PredictState,
    caller: &Caller,
    records: &[ConnectionRecord],
    predictions: &[Prediction],
    ingest: Ingest<'_>,
    outcomes: &mut HashMap<usize, Result<AlertId, &'static str>>,
    summary: &mut Summary,
) {
    let schema = state.detector.schema();
    let now = Utc::now();
    let mut groups: Vec<(Alert, Vec<usize>)> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (index, (record, prediction)) in records.iter().zip(predictions).enumerate() {
        let (Some(category), Some(severity)) = (prediction.category, prediction.severity) else {
            continue;
        };
        let ctx = &record.context;
        let sensor = ctx
            .sensor
            .clone()
            .or_else(|| (caller.role == Role::Sensor).then(|| caller.username.to_string()));
        let source = (ctx.src_ip.is_some() || ctx.src_port.is_some()).then_some(Endpoint {
            ip: ctx.src_ip,
            port: ctx.src_port,
        });
        let destination = (ctx.dst_ip.is_some() || ctx.dst_port.is_some()).then_some(Endpoint {
            ip: ctx.dst_ip,
            port: ctx.dst_port,
        });
        let threat = Threat {
            category,
            severity,
            score: Some(f64::from(prediction.score)),
            source,
            destination,
            protocol: Some(record.protocol_type.clone()),
            service: Some(record.service.clone()),
            sensor,
            summary: None,
            model: None,
            seen_at: ctx.observed_at.unwrap_or(now),
        };
        // Repeats inside the batch are absorbed here, by the same rule the stores use
        // for repeats across batches, so a group costs one write however many repeat;
        // only a group's first threat opens an alert (an id, a summary, a history).
        let key = threat.dedup_key();
        match by_key.get(&key) {
            Some(&g) => {
                let (alert, members) = &mut groups[g];
                alert.absorb_threat(&threat, now);
                members.push(index);
            }
            None => {
                let threat = Threat {
                    summary: Some(format!(
                        "{category} traffic detected by {} {}",
                        schema.model.name, schema.model.version
                    )),
                    model: Some(ModelRef {
                        name: schema.model.name.clone(),
                        version: schema.model.version.clone(),
                    }),
                    ..threat
                };
                by_key.insert(key, groups.len());
                groups.push((
                    Alert::open(threat, caller.username.as_str(), now),
                    vec![index],
                ));
            }
        }
    }
    let (candidates, members): (Vec<Alert>, Vec<Vec<usize>>) = groups.into_iter().unzip();
    let detections = state
        .alerts
        .record_detections(&candidates, state.dedup_window, ingest)
        .await;
    for (outcome, members) in detections.into_iter().zip(members) {
        let outcome = match outcome {
            Ok(detection) => {
                if detection.created {
                    summary.alerts_created += 1;
                } else {
                    summary.alerts_updated += 1;
                }
                Ok(detection.alert.id)
            }
            Err(e) => {
                summary.alerts_failed += 1;
                log_store_failure(&e);
                Err(not_stored(&e))
            }
        };
        for index in members {
            outcomes.insert(index, outcome);
        }
    }
}

/// What a record's `alert_error` says, by what is known of the write.
fn not_stored(e: &StoreError) -> &'static str {
    match e {
        StoreError::OutOfTime => {
            "not stored: the request ran out of time first; resend it with the same \
             Idempotency-Key to store the rest without counting anything twice"
        }
        StoreError::OutcomeUnknown(_) => {
            "the store did not confirm this alert: it may have been stored; resend with \
             the same Idempotency-Key to settle it without counting it twice"
        }
        _ => "the alert could not be stored; nothing was written for it, resend the record",
    }
}

fn log_store_failure(e: &StoreError) {
    tracing::error!(error = %error_chain(e), "storing a detected threat failed");
}
