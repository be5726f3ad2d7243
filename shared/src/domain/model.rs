use serde::{Deserialize, Serialize};

/// A trained model, as its card names it: what predict answers with, what
/// `GET /health` reports, and what the feature contract (`model/feature_schema.json`)
/// records for the bundled file. One type for all three, so they cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Model {
    #[schema(example = "vigil-nslkdd-mlp")]
    pub name: String,
    #[schema(example = "1.1.0")]
    pub version: String,
    /// SHA-256 of the ONNX file, as its model card states it.
    #[schema(example = "99f00e90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c")]
    pub sha256: String,
}

impl Model {
    /// What an alert keeps of the model that raised it.
    pub fn reference(&self) -> ModelRef {
        ModelRef {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

/// Which model raised an alert: its name and version. (Not the digest: a version
/// names one file, and alerts stored before digests were recorded have none.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}
