//! The detector: the bundled ONNX model, optimised by tract once at start-up for any
//! batch size, behind `predict`.

use super::{
    features::FeatureEncoder,
    prediction::{CLASS_COUNT, Prediction},
    record::ConnectionRecord,
    schema::FeatureSchema,
};
use tract_onnx::prelude::*;

/// The model the predict function serves: part of the binary, so the deployment
/// package is the executable alone.
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../../model/vigil.onnx");

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("the bundled model could not be loaded: {0}")]
    Load(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

pub struct Detector {
    plan: std::sync::Arc<TypedRunnableModel>,
    encoder: FeatureEncoder,
    schema: FeatureSchema,
}

impl Detector {
    /// Loads the bundled model and schema. Call once, at init.
    pub fn bundled() -> Result<Self, DetectError> {
        let schema = FeatureSchema::bundled().map_err(|e| DetectError::Load(e.to_string()))?;
        Self::load(BUNDLED_MODEL, schema)
    }

    pub fn load(onnx: &[u8], schema: FeatureSchema) -> Result<Self, DetectError> {
        let load = |e: TractError| DetectError::Load(format!("{e:#}"));
        let encoder = FeatureEncoder::new(&schema).map_err(|e| DetectError::Load(e.to_string()))?;
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut &onnx[..])
            .map_err(load)?;
        // One symbolic batch dimension: the same optimised plan serves 1 or 10,000 rows.
        let batch = model.symbols.sym("N");
        model
            .set_input_fact(
                0,
                f32::fact([batch.to_dim(), encoder.width().to_dim()]).into(),
            )
            .map_err(load)?;
        model
            .select_outputs_by_name([
                schema.outputs.class_probabilities.as_str(),
                schema.outputs.novelty.as_str(),
            ])
            .map_err(load)?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(load)?;
        Ok(Self {
            plan,
            encoder,
            schema,
        })
    }

    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    pub fn encoder(&self) -> &FeatureEncoder {
        &self.encoder
    }

    /// Scores a batch in one run of the model.
    pub fn predict(&self, records: &[ConnectionRecord]) -> Result<Vec<Prediction>, DetectError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut features = Vec::new();
        self.encoder.encode(records, &mut features);
        let raw = self.run(features, records.len())?;
        Ok(raw
            .into_iter()
            .map(|(probabilities, novelty)| Prediction::new(probabilities, novelty, &self.schema))
            .collect())
    }

    /// Runs encoded features `[n, width]` through the model; per row, the class
    /// probabilities and the novelty score.
    pub fn run(
        &self,
        features: Vec<f32>,
        n: usize,
    ) -> Result<Vec<([f32; CLASS_COUNT], f32)>, DetectError> {
        let infer = |e: TractError| DetectError::Inference(format!("{e:#}"));
        let input = tract_ndarray::Array2::from_shape_vec((n, self.encoder.width()), features)
            .map_err(|e| DetectError::Inference(e.to_string()))?;
        let outputs = self
            .plan
            .run(tvec!(Tensor::from(input).into()))
            .map_err(infer)?;
        let probabilities = outputs[0].to_plain_array_view::<f32>().map_err(infer)?;
        let novelty = outputs[1].to_plain_array_view::<f32>().map_err(infer)?;
        let probabilities = probabilities
            .as_slice()
            .ok_or_else(|| DetectError::Inference("probabilities are not contiguous".into()))?;
        let novelty = novelty
            .as_slice()
            .ok_or_else(|| DetectError::Inference("novelty is not contiguous".into()))?;
        if probabilities.len() != n * CLASS_COUNT || novelty.len() != n {
            return Err(DetectError::Inference(format!(
                "unexpected output sizes {} and {} for {n} records",
                probabilities.len(),
                novelty.len()
            )));
        }
        Ok(probabilities
            .chunks_exact(CLASS_COUNT)
            .zip(novelty)
            .map(|(p, nov)| {
                let mut row = [0.0; CLASS_COUNT];
                row.copy_from_slice(p);
                (row, *nov)
            })
            .collect())
    }
}
