//! The detector: the bundled ONNX model, optimised by tract once at start-up (for
//! chunks of a fixed size, and for any smaller rest), behind `predict`, which splits a
//! large batch across the cores the process has.

use super::{
    cut::Cut,
    features::{CATEGORIES, Encoded, FeatureEncoder},
    prediction::{CLASS_COUNT, Prediction},
    record::ConnectionRecord,
    schema::{FeatureSchema, Thresholds},
    softmax::softmax_rows,
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
/// this MLP about twice as fast per record as its plan for a symbolic one. Since the
/// cut (`cut.rs`), 512 rows run 5 % faster per record than 256 and as fast as 1,024
/// (`VIGIL_BENCH_PROFILE=model`, each size built in turn).
const CHUNK_ROWS: usize = 512;

/// A rest of at least this many rows runs through the chunk plan, padded with zeros
/// (whose results are dropped): the symbolic plan costs about 0.6 µs a row, a padded
/// chunk about 60 µs in all, so from about 96 rows padding is the faster
/// (`VIGIL_BENCH_PROFILE=rest` times one call per batch size). 1,000 records were 3
/// chunks and a 232-row rest at 139 µs; they are now 2 chunks.
const PAD_FROM: usize = 96;

/// A batch is split across threads only when each thread gets at least this many
/// rows: below that, starting a thread costs more than it saves.
const MIN_ROWS_PER_THREAD: usize = 2 * CHUNK_ROWS;

pub struct Detector {
    /// Threads a large batch is scored on: the cores this process may use (in Lambda,
    /// the function's vCPUs, which its memory size decides).
    threads: usize,
    /// For whole chunks of `CHUNK_ROWS` rows, and rests of `PAD_FROM` rows or more.
    chunk_plan: Arc<TypedRunnableModel>,
    /// For a smaller rest (fewer than `PAD_FROM` rows): a symbolic batch size, so a few
    /// records cost a few rows, not a padded chunk.
    any_plan: Arc<TypedRunnableModel>,
    /// For a single record, the commonest request of all: a plan for exactly one row
    /// runs it in a fraction of the symbolic plan's time.
    one_plan: Arc<TypedRunnableModel>,
    /// What the plans leave out of the graph, done in Rust (`cut.rs`).
    cut: Cut,
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
        // Parsed once, with only the ops the plans run (`onnx_ops.rs`); each plan then
        // fixes the input shapes on its own copy.
        let mut model = super::onnx_ops::served_ops()
            .model_for_read(&mut &onnx[..])
            .map_err(load)?;
        // The plans run the graph's matrix products; Rust does its small steps in
        // front of and behind them, which tract ran slowly (`cut.rs` says which).
        let cut = Cut::new(
            &mut model,
            &schema.outputs.logits,
            encoder.numeric_width(),
            encoder.no_category() as usize + 1,
        )
        .map_err(DetectError::Load)?;
        let widths = cut.input_widths();
        Ok(Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_plan: plan(model.clone(), &widths, Some(CHUNK_ROWS))?,
            one_plan: plan(model.clone(), &widths, Some(1))?,
            any_plan: plan(model, &widths, None)?,
            cut,
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
    /// per-node profile (`VIGIL_BENCH_PROFILE=nodes`), which times tract's own steps
    /// (with inputs from `plan_inputs`).
    pub fn chunk_plan(&self) -> (&Arc<TypedRunnableModel>, usize) {
        (&self.chunk_plan, CHUNK_ROWS)
    }

    /// A plan's inputs for whole rows of encoded `numeric` features and `categories`,
    /// padded to the plan's `rows`.
    pub fn plan_inputs(
        &self,
        numeric: &[f32],
        categories: &[i64],
        rows: usize,
    ) -> Result<TVec<TValue>, DetectError> {
        let mut inputs = self.cut.inputs(rows).map_err(DetectError::Inference)?;
        self.cut
            .fill(numeric, categories, &mut inputs)
            .map_err(DetectError::Inference)?;
        Ok(inputs.values())
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
        // One state and one set of inputs for every whole chunk of the call:
        // `plan.run` would set up (and tear down) a state per chunk, forty times for
        // 10,000 records, and fresh inputs cost more than filling them.
        let mut chunk = None;
        for (numeric, categories) in features
            .numeric
            .chunks(CHUNK_ROWS * width)
            .zip(features.categories.chunks(CHUNK_ROWS * CATEGORIES))
        {
            let here = numeric.len() / width;
            let mut other: Option<(TypedSimpleState, _)> = None;
            let (state, inputs) = match here {
                PAD_FROM.. => match &mut chunk {
                    Some((state, inputs)) => (state, inputs),
                    None => {
                        let inputs = self
                            .cut
                            .inputs(CHUNK_ROWS)
                            .map_err(DetectError::Inference)?;
                        let (state, inputs) = chunk.insert((spawn(&self.chunk_plan)?, inputs));
                        (state, inputs)
                    }
                },
                _ => {
                    let plan = if here == 1 {
                        &self.one_plan
                    } else {
                        &self.any_plan
                    };
                    let inputs = self.cut.inputs(here).map_err(DetectError::Inference)?;
                    let (state, inputs) = other.insert((spawn(plan)?, inputs));
                    (state, inputs)
                }
            };
            self.cut
                .fill(numeric, categories, inputs)
                .map_err(DetectError::Inference)?;
            self.run_plan(state, inputs.values(), inputs.rows(), here, &mut rows)?;
        }
        Ok(rows)
    }

    /// Runs one chunk (`n` rows, padding included) through a state of its plan,
    /// appending a result for each of the first `keep` rows.
    fn run_plan(
        &self,
        state: &mut TypedSimpleState,
        inputs: TVec<TValue>,
        n: usize,
        keep: usize,
        rows: &mut Vec<([f32; CLASS_COUNT], f32)>,
    ) -> Result<(), DetectError> {
        let infer = |e: TractError| DetectError::Inference(format!("{e:#}"));
        let outputs = state.run(inputs).map_err(infer)?;
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
        let start = rows.len();
        rows.extend(
            distances
                .chunks_exact(centroids)
                .zip(norms)
                .take(keep)
                .map(|(d, norm)| ([0.0; CLASS_COUNT], self.cut.novelty(d, *norm))),
        );
        softmax_rows(
            &logits[..keep * CLASS_COUNT],
            rows[start..].iter_mut().map(|(p, _)| p),
        );
        Ok(())
    }
}

/// The optimised, runnable (cut) `model` for inputs `[batch, width]`, a width per
/// input (`None`: any batch).
fn plan(
    mut model: InferenceModel,
    widths: &[usize],
    batch: Option<usize>,
) -> Result<Arc<TypedRunnableModel>, DetectError> {
    let load = |e: TractError| DetectError::Load(format!("{e:#}"));
    let batch = match batch {
        Some(rows) => rows.to_dim(),
        None => model.symbols.sym("N").to_dim(),
    };
    for (i, width) in widths.iter().enumerate() {
        model
            .set_input_fact(i, f32::fact([batch.clone(), width.to_dim()]).into())
            .map_err(load)?;
    }
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(load)
}

fn spawn(plan: &Arc<TypedRunnableModel>) -> Result<TypedSimpleState, DetectError> {
    plan.spawn()
        .map_err(|e| DetectError::Inference(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut plans, with Rust in front of and behind them, give the whole graph's
    /// novelty and (through the same softmax) its probabilities bit for bit, on
    /// inputs all over the place (clipped, "no category", every plan).
    #[test]
    fn the_cut_plans_are_the_whole_graph_to_the_bit() {
        let detector = Detector::bundled().unwrap();
        let width = detector.encoder.numeric_width();
        let slots = detector.encoder.no_category();
        let n = CHUNK_ROWS + 1 + 44 + PAD_FROM;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Beyond the clip (10) now and then.
        let numeric: Vec<f32> = (0..n * width)
            .map(|_| (next() % 4000) as f32 / 100.0 - 10.0)
            .collect();
        let categories: Vec<i64> = (0..n * CATEGORIES)
            .map(|_| (next() % (slots as u64 + 1)) as i64)
            .collect();

        // The whole graph, planned for the same batch size as the detector's plan.
        let whole_graph = |batch: Option<usize>| {
            let schema = FeatureSchema::bundled().unwrap();
            let mut model = tract_onnx::onnx()
                .model_for_read(&mut &BUNDLED_MODEL[..])
                .unwrap();
            model
                .select_outputs_by_name([
                    schema.outputs.logits.as_str(),
                    schema.outputs.novelty.as_str(),
                ])
                .unwrap();
            let batch = match batch {
                Some(rows) => rows.to_dim(),
                None => model.symbols.sym("N").to_dim(),
            };
            model
                .set_input_fact(0, f32::fact([batch.clone(), width.to_dim()]).into())
                .unwrap();
            model
                .set_input_fact(1, i64::fact([batch, CATEGORIES.to_dim()]).into())
                .unwrap();
            model.into_optimized().unwrap().into_runnable().unwrap()
        };

        // A whole chunk, a single row, a small rest, a padded rest: every plan.
        for (start, rows, batch) in [
            (0, CHUNK_ROWS, Some(CHUNK_ROWS)),
            (CHUNK_ROWS, 1, Some(1)),
            (CHUNK_ROWS + 1, 44, None),
            (CHUNK_ROWS + 45, PAD_FROM, Some(CHUNK_ROWS)),
        ] {
            let graph = whole_graph(batch);
            let encoded = Encoded {
                numeric: numeric[start * width..(start + rows) * width].to_vec(),
                categories: categories[start * CATEGORIES..(start + rows) * CATEGORIES].to_vec(),
            };
            let ours = detector.run(&encoded, rows).unwrap();
            // A padded rest is the whole graph's chunk with zero rows of no category.
            let graph_rows = batch.unwrap_or(rows);
            let mut padded = encoded.clone();
            padded.numeric.resize(graph_rows * width, 0.0);
            padded.categories.resize(graph_rows * CATEGORIES, slots);
            let outputs = graph
                .run(tvec!(
                    Tensor::from_shape(&[graph_rows, width], &padded.numeric)
                        .unwrap()
                        .into(),
                    Tensor::from_shape(&[graph_rows, CATEGORIES], &padded.categories)
                        .unwrap()
                        .into()
                ))
                .unwrap();
            let logits = outputs[0].to_plain_array_view::<f32>().unwrap();
            let novelty = outputs[1].to_plain_array_view::<f32>().unwrap();
            let logits = logits.as_slice().unwrap();
            assert_eq!((ours.len(), novelty.len()), (rows, graph_rows));
            for (i, ((p, mine), graph)) in ours.iter().zip(novelty.iter()).enumerate() {
                assert_eq!(
                    mine.to_bits(),
                    graph.to_bits(),
                    "row {i} of {rows}: novelty {mine} vs {graph}"
                );
                let theirs = crate::detect::softmax::softmax(
                    &logits[i * CLASS_COUNT..(i + 1) * CLASS_COUNT],
                );
                assert_eq!(
                    p.map(f32::to_bits),
                    theirs.map(f32::to_bits),
                    "row {i} of {rows}: {p:?} vs {theirs:?}"
                );
            }
        }
    }
}
