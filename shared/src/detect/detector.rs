//! The detector: the bundled ONNX model, optimised by tract once at start-up (for
//! chunks of a fixed size, and for any smaller rest), behind `predict`, which splits a
//! large batch across the cores the process has.

use super::{
    features::{CATEGORIES, Encoded, FeatureEncoder},
    prediction::{CLASS_COUNT, Prediction},
    record::ConnectionRecord,
    schema::{FeatureSchema, Thresholds},
};
use crate::domain::Profile;
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

/// Rows per run of the fixed-size plan. tract's plan for a concrete batch size runs
/// this MLP about twice as fast per record as its plan for a symbolic one (measured:
/// 690 k vs 320 k records/s at 10,240 rows), and 256 was the fastest of 64/256/1024.
const CHUNK_ROWS: usize = 256;

/// The novelty head's values the plans stop at (`model/gather.py` names them): each
/// row's squared-distance terms to every centroid, `[n, k]`, and the row's own
/// squared norm, `[n, 1]`; and the head's final scale, a constant. `novelty` below
/// does what the graph does with them.
const NOVELTY_DISTANCES: &str = "km_cross";
const NOVELTY_NORM: &str = "xnorm";
const NOVELTY_SCALE: &str = "nov_scale";

/// A batch is split across threads only when each thread gets at least this many
/// rows: below that, starting a thread costs more than it saves.
const MIN_ROWS_PER_THREAD: usize = 4 * CHUNK_ROWS;

pub struct Detector {
    /// Threads a large batch is scored on: the cores this process may use (in Lambda,
    /// the function's vCPUs, which its memory size decides).
    threads: usize,
    /// For whole chunks of `CHUNK_ROWS` rows.
    chunk_plan: Arc<TypedRunnableModel>,
    /// For the rest (fewer than `CHUNK_ROWS` rows): a symbolic batch size, so a few
    /// records cost a few rows, not a padded chunk.
    any_plan: Arc<TypedRunnableModel>,
    /// For a single record, the commonest request of all: a plan for exactly one row
    /// runs it in a fraction of the symbolic plan's time.
    one_plan: Arc<TypedRunnableModel>,
    /// The novelty head's final scale (`novelty` below).
    novelty_scale: f32,
    encoder: FeatureEncoder,
    schema: FeatureSchema,
    /// The operating point every prediction is decided at, and its thresholds.
    profile: Profile,
    thresholds: Thresholds,
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
        // Parsed once; each plan then fixes the input shape on its own copy.
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut &onnx[..])
            .map_err(load)?;
        // The logits, not the graph's softmax: tract runs its softmax kernel once per
        // 5-wide row, a quarter of the model's time; five exponentials in Rust cost
        // next to nothing (`softmax` below). Likewise the novelty head's last steps:
        // tract's ReduceMin over the 24 centroid distances of a row was a third of the
        // whole graph's time (`VIGIL_BENCH_PROFILE=nodes`), a loop in Rust is nothing.
        let novelty_scale = model
            .node_by_name(NOVELTY_SCALE)
            .ok()
            .and_then(|node| node.op_as::<tract_onnx::tract_core::ops::konst::Const>())
            .and_then(|c| {
                c.val()
                    .to_plain_array_view::<f32>()
                    .ok()?
                    .iter()
                    .next()
                    .copied()
            })
            .ok_or_else(|| DetectError::Load(format!("the model has no {NOVELTY_SCALE}")))?;
        model
            .select_outputs_by_name([
                schema.outputs.logits.as_str(),
                NOVELTY_DISTANCES,
                NOVELTY_NORM,
            ])
            .map_err(load)?;
        let width = encoder.numeric_width();
        Ok(Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_plan: plan(model.clone(), width, Some(CHUNK_ROWS))?,
            one_plan: plan(model.clone(), width, Some(1))?,
            any_plan: plan(model, width, None)?,
            novelty_scale,
            encoder,
            profile: Profile::default(),
            thresholds: schema.profiles.of(Profile::default()),
            schema,
        })
    }

    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// The profile predictions are decided at.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The active profile's thresholds.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The same detector deciding at `profile`'s thresholds.
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self.thresholds = self.schema.profiles.of(profile);
        self
    }

    pub fn encoder(&self) -> &FeatureEncoder {
        &self.encoder
    }

    /// The same detector scoring on at most `threads` threads (1: the caller's only).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Scores a batch: features and model, split into contiguous parts of whole
    /// chunks across the detector's threads when the batch is large enough. Each
    /// chunk runs the same plan whichever thread it lands on, so the predictions are
    /// the same, in the same order, on one thread or many.
    pub fn predict(&self, records: &[ConnectionRecord]) -> Result<Vec<Prediction>, DetectError> {
        let parts = self.parts(records.len());
        if parts <= 1 {
            return self.predict_here(records);
        }
        let per_part = records.len().div_ceil(parts).div_ceil(CHUNK_ROWS) * CHUNK_ROWS;
        let results: Vec<Result<Vec<Prediction>, DetectError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = records
                .chunks(per_part)
                .map(|part| scope.spawn(move || self.predict_here(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(DetectError::Inference("a scoring thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut predictions = Vec::with_capacity(records.len());
        for part in results {
            predictions.extend(part?);
        }
        Ok(predictions)
    }

    /// How many threads `n` rows are scored on.
    pub(super) fn parts(&self, n: usize) -> usize {
        self.threads.min(n / MIN_ROWS_PER_THREAD).max(1)
    }

    /// Scores records on the calling thread: all their features, then the model over
    /// them a chunk at a time. (Encoding a chunk at a time into one small buffer was
    /// measured too: 2 % faster on one thread, 23 % slower on two.)
    fn predict_here(&self, records: &[ConnectionRecord]) -> Result<Vec<Prediction>, DetectError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut features = Encoded::default();
        self.encoder.encode(records, &mut features);
        let raw = self.run(&features, records.len())?;
        Ok(raw
            .into_iter()
            .map(|(probabilities, novelty)| {
                Prediction::new(probabilities, novelty, self.thresholds)
            })
            .collect())
    }

    /// The plan whole chunks run through, and its chunk size: for the benchmark's
    /// per-node profile (`VIGIL_BENCH_PROFILE=nodes`), which times tract's own steps.
    pub fn chunk_plan(&self) -> (&Arc<TypedRunnableModel>, usize) {
        (&self.chunk_plan, CHUNK_ROWS)
    }

    /// Runs encoded records through the model; per row, the class probabilities and
    /// the novelty score.
    pub fn run(
        &self,
        features: &Encoded,
        n: usize,
    ) -> Result<Vec<([f32; CLASS_COUNT], f32)>, DetectError> {
        let width = self.encoder.numeric_width();
        if features.numeric.len() != n * width || features.categories.len() != n * CATEGORIES {
            return Err(DetectError::Inference(format!(
                "{} numeric and {} categorical inputs for {n} records",
                features.numeric.len(),
                features.categories.len()
            )));
        }
        let mut rows = Vec::with_capacity(n);
        // One state for every whole chunk of the call: `plan.run` would set up (and
        // tear down) a state per chunk, forty times for 10,000 records.
        let mut chunk_state = None;
        for (numeric, categories) in features
            .numeric
            .chunks(CHUNK_ROWS * width)
            .zip(features.categories.chunks(CHUNK_ROWS * CATEGORIES))
        {
            let mut other_state;
            let state = match numeric.len() / width {
                CHUNK_ROWS => match &mut chunk_state {
                    Some(state) => state,
                    None => chunk_state.insert(spawn(&self.chunk_plan)?),
                },
                1 => {
                    other_state = spawn(&self.one_plan)?;
                    &mut other_state
                }
                _ => {
                    other_state = spawn(&self.any_plan)?;
                    &mut other_state
                }
            };
            run_plan(
                state,
                numeric,
                categories,
                width,
                self.novelty_scale,
                &mut rows,
            )?;
        }
        Ok(rows)
    }
}

/// The optimised, runnable `model` for `[batch, width]` numeric inputs and `[batch,
/// 3]` categorical slots (`None`: any batch).
fn plan(
    mut model: InferenceModel,
    width: usize,
    batch: Option<usize>,
) -> Result<Arc<TypedRunnableModel>, DetectError> {
    let load = |e: TractError| DetectError::Load(format!("{e:#}"));
    let batch = match batch {
        Some(rows) => rows.to_dim(),
        None => model.symbols.sym("N").to_dim(),
    };
    model
        .set_input_fact(0, f32::fact([batch.clone(), width.to_dim()]).into())
        .and_then(|_| model.set_input_fact(1, i64::fact([batch, CATEGORIES.to_dim()]).into()))
        .map_err(load)?;
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(load)
}

fn spawn(plan: &Arc<TypedRunnableModel>) -> Result<TypedSimpleState, DetectError> {
    plan.spawn()
        .map_err(|e| DetectError::Inference(format!("{e:#}")))
}

/// Runs one chunk (whole rows) through a state of its plan, appending a result per row.
fn run_plan(
    state: &mut TypedSimpleState,
    numeric: &[f32],
    categories: &[i64],
    width: usize,
    novelty_scale: f32,
    rows: &mut Vec<([f32; CLASS_COUNT], f32)>,
) -> Result<(), DetectError> {
    let infer = |e: TractError| DetectError::Inference(format!("{e:#}"));
    let n = numeric.len() / width;
    let numeric = Tensor::from_shape(&[n, width], numeric).map_err(infer)?;
    let categories = Tensor::from_shape(&[n, CATEGORIES], categories).map_err(infer)?;
    let outputs = state
        .run(tvec!(numeric.into(), categories.into()))
        .map_err(infer)?;
    let [logits, distances, norms] = [0, 1, 2].map(|i| outputs[i].to_plain_array_view::<f32>());
    let (logits, distances, norms) = (
        logits.map_err(infer)?,
        distances.map_err(infer)?,
        norms.map_err(infer)?,
    );
    let (Some(logits), Some(distances), Some(norms)) =
        (logits.as_slice(), distances.as_slice(), norms.as_slice())
    else {
        return Err(DetectError::Inference("an output is not contiguous".into()));
    };
    let centroids = distances.len() / n.max(1);
    if logits.len() != n * CLASS_COUNT
        || norms.len() != n
        || centroids == 0
        || distances.len() != n * centroids
    {
        return Err(DetectError::Inference(format!(
            "unexpected output sizes {}, {} and {} for {n} records",
            logits.len(),
            distances.len(),
            norms.len()
        )));
    }
    rows.extend(
        logits
            .chunks_exact(CLASS_COUNT)
            .zip(distances.chunks_exact(centroids))
            .zip(norms)
            .map(|((z, d), norm)| (softmax(z), novelty(d, *norm, novelty_scale))),
    );
    Ok(())
}

/// The graph's novelty from the head's values: the squared distance to the nearest
/// centroid (the least distance term plus the row's norm), never below 0, scaled;
/// in f32 and in the graph's order (`ReduceMin`, `Add`, `Relu`, `Mul`), so the bits
/// are the graph's.
fn novelty(distances: &[f32], norm: f32, scale: f32) -> f32 {
    let nearest = distances.iter().copied().fold(f32::INFINITY, f32::min);
    (nearest + norm).max(0.0) * scale
}

/// The graph's own softmax over one row of logits: `exp(z - max) / sum`, in f32 as
/// onnxruntime computes it.
fn softmax(z: &[f32]) -> [f32; CLASS_COUNT] {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p = [0.0; CLASS_COUNT];
    for (p, z) in p.iter_mut().zip(z) {
        *p = (z - max).exp();
    }
    let sum: f32 = p.iter().sum();
    p.map(|x| x / sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The novelty computed in Rust from the head's values is, bit for bit, the
    /// graph's own `novelty` output, on inputs all over the place.
    #[test]
    fn novelty_in_rust_is_the_graphs_to_the_bit() {
        let detector = Detector::bundled().unwrap();
        let width = detector.encoder.numeric_width();
        let slots = detector.encoder.no_category();
        let n = 300;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let numeric: Vec<f32> = (0..n * width)
            .map(|_| (next() % 2000) as f32 / 100.0 - 10.0)
            .collect();
        let categories: Vec<i64> = (0..n * CATEGORIES)
            .map(|_| (next() % (slots as u64 + 1)) as i64)
            .collect();
        let encoded = Encoded {
            numeric: numeric.clone(),
            categories: categories.clone(),
        };
        let ours = detector.run(&encoded, n).unwrap();

        let schema = FeatureSchema::bundled().unwrap();
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut &BUNDLED_MODEL[..])
            .unwrap();
        model
            .select_outputs_by_name([schema.outputs.novelty.as_str()])
            .unwrap();
        let graph = plan(model, width, None).unwrap();
        let outputs = graph
            .run(tvec!(
                Tensor::from_shape(&[n, width], &numeric).unwrap().into(),
                Tensor::from_shape(&[n, CATEGORIES], &categories)
                    .unwrap()
                    .into()
            ))
            .unwrap();
        let theirs = outputs[0].to_plain_array_view::<f32>().unwrap();
        assert_eq!((ours.len(), theirs.len()), (n, n));
        for (i, ((_, mine), graph)) in ours.iter().zip(theirs.iter()).enumerate() {
            assert_eq!(
                mine.to_bits(),
                graph.to_bits(),
                "row {i}: {mine} vs {graph}"
            );
        }
    }
}
