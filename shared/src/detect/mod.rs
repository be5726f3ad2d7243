//! Floor 3: detection — connection records in, predictions out, from the bundled
//! ONNX model. Compiled only with the `detect` feature (predict and vigil-local).

pub mod api;
mod detector;
mod features;
mod ingest;
mod input;
mod prediction;
mod record;
pub(crate) mod request_schema;
mod schema;
mod view;

pub use detector::{BUNDLED_MODEL, DetectError, Detector};
pub use features::{FeatureEncoder, SchemaMismatch};
pub use prediction::{CLASS_COUNT, Prediction, severity_for};
pub use record::{CONTEXT_FIELDS, ConnectionRecord, FEATURES, FeatureKind, RecordContext};
pub use schema::{BUNDLED_SCHEMA, FeatureSchema};
