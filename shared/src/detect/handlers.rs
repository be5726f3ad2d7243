//! The predict handler: the request parsed by `input.rs`, scored by the detector,
//! answered with `view.rs`, its threats stored by `ingest.rs`.

use super::{
    ConnectionRecord, Contribution, DetectError, Detector, PredictState, Prediction,
    ingest::{Groups, store_alerts},
    input::{MAX_BODY_BYTES, parse_batch, parse_store_param, too_large},
    view,
    view::{ModelView, PredictResponse, PredictionView, Summary},
};
use crate::{
    detect::request_schema::{CsvRecordsSchema, PredictRequestSchema},
    domain::{AlertId, Role},
    http::{
        ApiError, Caller, Problem, RawBody,
        idempotency::{self, IngestRoute, idempotent_request},
    },
    store::Ingest,
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::HeaderMap,
};
use std::{collections::HashMap, sync::Arc, time::Duration};

/// How long after the request arrived a batch may start writing groups: API Gateway
/// gives up at 29 s, so groups not started by 20 s are answered as not stored (and a
/// resend with the same Idempotency-Key stores them) rather than written after the
/// client has stopped listening.
const WRITE_BUDGET: Duration = Duration::from_secs(20);

/// Batches up to this size are scored on the request's own task: about 20 µs a record
/// (an explanation costs 40 model rows more), below what a hand-off to the blocking
/// pool and back costs in latency.
const INLINE_RECORDS: usize = 8;

/// Score network connection records; threats become alerts.
///
/// Send JSON (`{"records": [...]}`) or NSL-KDD CSV (`Content-Type: text/csv`), up to
/// 10,000 records and 6 MB. Every bad record is named by index and field (400).
/// Threats are grouped by dedup key and recorded as alerts unless `store` is false.
/// With `Accept: text/csv` the answer is compact: a line per record (index, verdict,
/// category, severity, score, novelty, alert id or error), no explanations.
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
        (status = 200, description = "A prediction per record (`Accept: text/csv`: the compact form, a line per record)", content(
            (PredictResponse = "application/json"),
            (String = "text/csv", example = view::predictions_csv_example),
        )),
        (status = 422, description = "The Idempotency-Key came with another body", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn predict(
    State(state): State<PredictState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let started = std::time::Instant::now();
    caller.require(&[Role::Sensor, Role::Analyst, Role::Admin])?;
    // The compact answer for machines: `Accept: text/csv`.
    let wants_csv = crate::http::accepts_csv(&headers);
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

    let records = Arc::new(batch.records);
    // Inference is CPU work: a large batch is scored off the async workers. A few
    // records take tens of microseconds, less than handing them to another thread.
    let scored = if records.len() <= INLINE_RECORDS {
        let grouping = store.then(|| (&caller, chrono::Utc::now()));
        score(&state.detector, &records, grouping, wants_csv)
    } else {
        let (detector, scored, grouped_for) =
            (state.detector.clone(), records.clone(), caller.clone());
        tokio::task::spawn_blocking(move || {
            let grouping = store.then(|| (&grouped_for, chrono::Utc::now()));
            score(&detector, &scored, grouping, wants_csv)
        })
        .await
        .map_err(ApiError::internal)?
    };
    let Scored {
        predictions,
        explanations,
        groups,
    } = scored.map_err(ApiError::internal)?;

    let mut summary = Summary {
        records: records.len(),
        threats: predictions.iter().filter(|p| p.is_threat).count(),
        ..Default::default()
    };
    let mut outcomes: HashMap<usize, Result<AlertId, &'static str>> = HashMap::new();
    if let Some(groups) = groups {
        let ingest = Ingest {
            request: request.as_ref(),
            deadline: Some(tokio::time::Instant::from_std(started) + WRITE_BUDGET),
        };
        store_alerts(&state, groups, ingest, &mut outcomes, &mut summary).await;
    }
    let response = PredictResponse::new(
        &state.detector,
        &predictions,
        explanations,
        &outcomes,
        summary,
    );
    let summary = &response.summary;
    tracing::info!(
        records = summary.records,
        threats = summary.threats,
        alerts_created = summary.alerts_created,
        alerts_updated = summary.alerts_updated,
        alerts_failed = summary.alerts_failed,
        "records scored"
    );
    emit_metrics(
        &response.model.version,
        response.thresholds.novelty_threshold,
        summary,
        &response.predictions,
        started.elapsed(),
    );
    if wants_csv {
        return Ok(crate::http::csv_response(response.to_csv()));
    }
    Ok(Json(response).into_response())
}

/// A scored batch: a prediction per record, the explanations by record index, and
/// (when it is to be stored) its threats grouped into alerts.
pub(super) struct Scored {
    pub(super) predictions: Vec<Prediction>,
    pub(super) explanations: HashMap<usize, Vec<Contribution>>,
    pub(super) groups: Option<Groups>,
}

/// Scores a batch on the calling thread, and explains what needs explaining: every
/// threat for the JSON answer (it shows them); for the compact CSV answer (which shows
/// none) only the records the alerts keep as evidence. With `grouping` (the caller,
/// and the time), the threats are grouped into alerts to store, with their evidence.
pub(super) fn score(
    detector: &Detector,
    records: &[ConnectionRecord],
    grouping: Option<(&Caller, chrono::DateTime<chrono::Utc>)>,
    wants_csv: bool,
) -> Result<Scored, DetectError> {
    let predictions = detector.predict(records)?;
    let mut groups = grouping
        .map(|(caller, now)| Groups::of(detector.schema(), caller, records, &predictions, now));
    let explain: Vec<usize> = match (wants_csv, &groups) {
        (false, _) => (0..predictions.len())
            .filter(|&i| predictions[i].is_threat)
            .collect(),
        (true, Some(groups)) => groups.evidence_records(),
        (true, None) => Vec::new(),
    };
    let explained = detector.explain(records, &predictions, &explain)?;
    let explanations: HashMap<usize, Vec<Contribution>> =
        explain.into_iter().zip(explained).collect();
    if let Some(groups) = groups.as_mut() {
        groups.attach_evidence(records, &predictions, &explanations, detector.profile());
    }
    Ok(Scored {
        predictions,
        explanations,
        groups,
    })
}

/// The predict path of a batch that is not stored, as the handler runs it, on the
/// calling thread: the body (`csv_body`: NSL-KDD CSV, else JSON) read, scored,
/// explained and answered (`csv_answer`: the compact CSV form, else JSON). What the
/// benchmarks measure (`make bench`).
pub fn answer_unstored(
    detector: &Detector,
    body: &[u8],
    csv_body: bool,
    csv_answer: bool,
) -> Result<Vec<u8>, ApiError> {
    let batch = if csv_body {
        super::input::parse_csv(body)?
    } else {
        super::input::parse_json(body)?
    };
    let Scored {
        predictions,
        explanations,
        ..
    } = score(detector, &batch.records, None, csv_answer).map_err(ApiError::internal)?;
    Ok(answer_bytes(
        detector,
        &predictions,
        explanations,
        csv_answer,
    ))
}

/// The answer's bytes for unstored `predictions` (with `explanations` by index): the
/// response step alone, which the benchmarks also measure on its own.
pub fn answer_bytes(
    detector: &Detector,
    predictions: &[Prediction],
    explanations: HashMap<usize, Vec<Contribution>>,
    csv_answer: bool,
) -> Vec<u8> {
    let summary = Summary {
        records: predictions.len(),
        threats: predictions.iter().filter(|p| p.is_threat).count(),
        ..Default::default()
    };
    let response = PredictResponse::new(
        detector,
        predictions,
        explanations,
        &HashMap::new(),
        summary,
    );
    if csv_answer {
        response.to_csv().into_bytes()
    } else {
        // Serialising plain structs into a Vec cannot fail.
        serde_json::to_vec(&response).unwrap_or_default()
    }
}

/// One EMF line for the batch, and one per threat category found in it. The batch's
/// line carries the drift signals, by model version: the share of records beyond the
/// novelty threshold and the mean score. Traffic moving away from what the model
/// knows shows as `NoveltyShare` rising while the threats found do not explain it.
fn emit_metrics(
    model_version: &str,
    novelty_threshold: Option<f32>,
    summary: &Summary,
    predictions: &[PredictionView],
    latency: Duration,
) {
    use crate::metrics::{MetricSet, Unit};
    if !crate::metrics::enabled() || predictions.is_empty() {
        return;
    }
    let n = predictions.len() as f64;
    let novel =
        novelty_threshold.map_or(0, |t| predictions.iter().filter(|p| p.novelty >= t).count());
    let mean_score = predictions.iter().map(|p| f64::from(p.score)).sum::<f64>() / n;
    MetricSet::new()
        .dimension("ModelVersion", model_version)
        .metric("RecordsScored", Unit::Count, summary.records as f64)
        .metric("ThreatsDetected", Unit::Count, summary.threats as f64)
        .metric("NoveltyShare", Unit::Percent, 100.0 * novel as f64 / n)
        .metric("MeanScore", Unit::None, mean_score)
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

/// The model this deployment scores with: what it is, what it reads, how it decides,
/// how it did on validation, and what ATT&CK calls what it finds.
#[utoipa::path(
    get, path = "/model", tag = "predict", operation_id = "get_model",
    security(("bearer" = ["admin", "analyst", "viewer", "sensor"])),
    responses(
        (status = 200, description = "The model", body = ModelView),
    ),
)]
pub async fn model(State(state): State<PredictState>, _caller: Caller) -> Json<ModelView> {
    Json(ModelView::of(
        state.detector.schema(),
        state.detector.profile(),
    ))
}
