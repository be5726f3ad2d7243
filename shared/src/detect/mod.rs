//! Floor 3: detection — `POST /threat-detection/predict` (alias `POST /predict`):
//! connection records in, predictions out, from the bundled ONNX model; threats become
//! alerts. Compiled only with the `detect` feature (predict and vigil-local). The
//! router is here; `handlers.rs` the handler, `input.rs` the request, `view.rs` the
//! reply, `ingest.rs` the alerts.

mod cut;
mod detector;
mod explain;
mod features;
pub mod handlers;
mod ingest;
mod input;
mod json_records;
mod onnx_ops;
mod prediction;
mod record;
pub(crate) mod request_schema;
mod schema;
mod softmax;
mod view;
mod word;

pub use crate::domain::{Contribution, FeatureValue};
pub use detector::{BUNDLED_MODEL, DetectError, Detector};
pub use explain::TOP_FEATURES;
pub use features::{CATEGORIES, Encoded, FeatureEncoder, Occlusion, SchemaMismatch};
pub use prediction::{CLASS_COUNT, Prediction, severity_for};
pub use record::{CONTEXT_FIELDS, ConnectionRecord, FEATURES, FeatureKind, RecordContext};
pub use schema::{BUNDLED_SCHEMA, FeatureSchema, Profiles, Thresholds};
pub use view::{PREDICTIONS_CSV_EXAMPLE, PREDICTIONS_CSV_HEADER};
pub use word::Word;

use crate::{http::Authenticator, store::AlertStore};
use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRef},
    routing::post,
};
use input::MAX_BODY_BYTES;
use std::{sync::Arc, time::Duration};

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
        .route("/threat-detection/predict", post(handlers::predict))
        .route("/predict", post(handlers::predict))
        .route("/model", axum::routing::get(handlers::model))
        // A little above the limit so that the limit itself gets our clear 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
        .with_state(state)
}
