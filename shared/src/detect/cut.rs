//! Where Vigil's plans cut the bundled graph (`model/gather.py` writes it and names
//! its values), and the Rust that does what lies outside the cut.
//!
//! tract runs the graph's matrix products well, and its small element-wise and
//! gather steps poorly: per 256-row chunk, the categorical gather and its sums and
//! slices were 40 % of the graph's time, the numeric clip 14 %, the novelty's
//! `ReduceMin` a third before that (`VIGIL_BENCH_PROFILE=nodes` times each node).
//! Each of them is a few lines of Rust on data already in cache. So the plans begin
//! after them and end before the last steps:
//!
//! - **In front** (`Cut::fill`): the clip `xn = c - relu(c - numeric)`, its square, and
//!   the sum of each record's three `cat_table` rows, split into the first layer's,
//!   the novelty cross term's and the squared norm's parts.
//! - **Behind** (`softmax.rs`, `Cut::novelty`): the five-way softmax and the nearest
//!   centroid.
//!
//! Every step is the graph's own arithmetic in the graph's order and precision
//! (f32; sums left to right from 0, as tract's `ReduceSum` does), so the outputs are
//! the graph's to the bit: `detector.rs`'s test holds every plan to the whole graph.
//! The constants come from the model file itself, never from a copy.

use super::features::CATEGORIES;
use tract_onnx::prelude::*;

/// The values the plans begin at, in the order they take them.
const INPUTS: [&str; 5] = [XN, XSQ, CAT_H, CAT_CROSS, CAT_SQ];
const XN: &str = "xn";
const XSQ: &str = "xsq";
const CAT_H: &str = "cat_h";
const CAT_CROSS: &str = "cat_cross";
const CAT_SQ: &str = "cat_sq";

/// The values the plans end at (besides the logits the schema names): each row's
/// squared-distance terms to every centroid, `[n, k]`, and its squared norm, `[n, 1]`.
const NOVELTY_DISTANCES: &str = "km_cross";
const NOVELTY_NORM: &str = "xnorm";

/// A cut plan's inputs (in [`INPUTS`] order), `[rows, width]` each: made once per
/// call and filled anew for each chunk, since tract lets go of them after a run.
/// (Fresh buffers a chunk cost more than the filling.)
pub(super) struct Inputs {
    rows: usize,
    tensors: [Arc<Tensor>; 5],
}

impl Inputs {
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The values to run a plan on (sharing the tensors).
    pub(super) fn values(&self) -> TVec<TValue> {
        self.tensors
            .iter()
            .map(|t| TValue::from_const(t.clone()))
            .collect()
    }
}

/// The graph's constants that the Rust steps use.
const CLIP: &str = "clip_c";
const TABLE: &str = "cat_table";
const TABLE_SPLIT: &str = "cat_split";
const NOVELTY_SCALE: &str = "nov_scale";

/// The graph's front and back, from its constants.
pub(super) struct Cut {
    /// The numeric block's clip value.
    clip: f32,
    /// `cat_table`, `[slots + 1, hidden + centroids + 1]`, row-major; its last row
    /// (all zeros) is "no category".
    table: Vec<f32>,
    /// The first layer's width and the centroids: how a table row splits.
    hidden: usize,
    centroids: usize,
    /// The numeric block's width.
    numeric: usize,
    /// The novelty head's final scale.
    novelty_scale: f32,
}

impl Cut {
    /// Reads the constants from `model` and cuts it: its inputs become the values in
    /// [`INPUTS`], its outputs `logits` and the novelty's two values. `numeric` is the
    /// numeric block's width, `rows` the table rows the encoder's slots need.
    pub(super) fn new(
        model: &mut InferenceModel,
        logits: &str,
        numeric: usize,
        rows: usize,
    ) -> Result<Self, String> {
        let clip = scalar(model, CLIP)?;
        let novelty_scale = scalar(model, NOVELTY_SCALE)?;
        let table = constant(model, TABLE)?;
        let split: Vec<i64> = constant(model, TABLE_SPLIT)?
            .to_plain_array_view::<i64>()
            .map_err(|e| format!("{TABLE_SPLIT}: {e}"))?
            .iter()
            .copied()
            .collect();
        let (hidden, centroids) = match split[..] {
            [h, k, 1] if h > 0 && k > 0 => (h as usize, k as usize),
            _ => return Err(format!("{TABLE_SPLIT} is {split:?}, not [hidden, k, 1]")),
        };
        if table.shape() != [rows, hidden + centroids + 1] {
            return Err(format!(
                "{TABLE} is {:?}, the encoder needs [{rows}, {}]",
                table.shape(),
                hidden + centroids + 1
            ));
        }
        let table = table
            .to_plain_array_view::<f32>()
            .map_err(|e| format!("{TABLE}: {e}"))?
            .iter()
            .copied()
            .collect();

        let sources = INPUTS
            .iter()
            .map(|name| {
                let outlet = model
                    .find_outlet_label(name)
                    .ok_or_else(|| format!("the model has no value {name}"))?;
                let successors = model.outlet_successors(outlet).to_vec();
                let source = model
                    .add_source(format!("{name}.input"), InferenceFact::default())
                    .map_err(|e| format!("{e:#}"))?;
                for inlet in successors {
                    model
                        .add_edge(source, inlet)
                        .map_err(|e| format!("{e:#}"))?;
                }
                Ok(source)
            })
            .collect::<Result<Vec<_>, String>>()?;
        // Then everything outside the cut goes, the ops `onnx_ops.rs` leaves
        // unimplemented among it.
        model
            .set_input_outlets(&sources)
            .and_then(|_| model.select_outputs_by_name([logits, NOVELTY_DISTANCES, NOVELTY_NORM]))
            .and_then(|_| model.compact())
            .map_err(|e| format!("{e:#}"))?;
        Ok(Self {
            clip,
            table,
            hidden,
            centroids,
            numeric,
            novelty_scale,
        })
    }

    /// Each input's width (its shape is `[batch, width]`), in [`INPUTS`] order.
    pub(super) fn input_widths(&self) -> [usize; 5] {
        [self.numeric, self.numeric, self.hidden, self.centroids, 1]
    }

    /// Zeroed inputs for a plan of `rows` rows.
    pub(super) fn inputs(&self, rows: usize) -> Result<Inputs, String> {
        let [a, b, c, d, e] = self.input_widths().map(|w| {
            Tensor::zero::<f32>(&[rows, w])
                .map(Arc::new)
                .map_err(|e| format!("{e:#}"))
        });
        Ok(Inputs {
            rows,
            tensors: [a?, b?, c?, d?, e?],
        })
    }

    /// Writes rows of the encoder's `numeric` block and category slots into
    /// `inputs`, and zeros into the rows past them (a zero row is a zero numeric
    /// block with "no category": zeros in every input).
    pub(super) fn fill(
        &self,
        numeric: &[f32],
        categories: &[i64],
        inputs: &mut Inputs,
    ) -> Result<(), String> {
        let rows = numeric.len() / self.numeric;
        if rows > inputs.rows || categories.len() != rows * CATEGORIES {
            return Err(format!(
                "{rows} rows for a plan of {}, with {} category slots",
                inputs.rows,
                categories.len()
            ));
        }
        let width = self.hidden + self.centroids + 1;
        // A tensor tract still holds (it never should, after a run) is copied.
        let mut slices = inputs
            .tensors
            .iter_mut()
            .map(|t| {
                Arc::make_mut(t)
                    .to_plain_array_view_mut::<f32>()
                    .ok()
                    .and_then(|view| view.into_slice())
            })
            .collect::<Option<Vec<_>>>()
            .ok_or("an input is not a plain f32 tensor")?;
        let [xn, xsq, h, cross, sq] = &mut slices[..] else {
            return Err("five inputs".into());
        };
        // One pass a loop, over whole buffers: the compiler vectorises these.
        for ((v, x), x2) in numeric.iter().zip(xn.iter_mut()).zip(xsq.iter_mut()) {
            *x = self.clip - (self.clip - v).max(0.0);
            *x2 = *x * *x;
        }
        let row = |slot: i64| {
            usize::try_from(slot)
                .ok()
                .and_then(|s| self.table.get(s * width..(s + 1) * width))
                .ok_or_else(|| format!("category slot {slot} is not in the table"))
        };
        for (((slots, h), cross), sq) in categories
            .chunks_exact(CATEGORIES)
            .zip(h.chunks_exact_mut(self.hidden))
            .zip(cross.chunks_exact_mut(self.centroids))
            .zip(sq.iter_mut())
        {
            let [a, b, c] = [row(slots[0])?, row(slots[1])?, row(slots[2])?];
            // ReduceSum's order: from 0, then each row in turn.
            let sum = |out: &mut [f32], from: usize| {
                for (((o, a), b), c) in out
                    .iter_mut()
                    .zip(&a[from..])
                    .zip(&b[from..])
                    .zip(&c[from..])
                {
                    *o = 0.0 + a + b + c;
                }
            };
            sum(h, 0);
            sum(cross, self.hidden);
            sum(std::slice::from_mut(sq), width - 1);
        }
        for (values, w) in slices.iter_mut().zip(self.input_widths()) {
            values[rows * w..].fill(0.0);
        }
        Ok(())
    }

    /// The graph's novelty from the head's values: the squared distance to the
    /// nearest centroid (the least distance term plus the row's norm), never below
    /// 0, scaled; in the graph's order (`ReduceMin`, `Add`, `Relu`, `Mul`).
    pub(super) fn novelty(&self, distances: &[f32], norm: f32) -> f32 {
        (nearest(distances) + norm).max(0.0) * self.novelty_scale
    }
}

/// The least of a row's distance terms. Eight running minima side by side, which the
/// compiler turns into vector instructions, where one `fold` was a chain of 24
/// dependent comparisons. The least value is the same whichever order it is found
/// in (no NaN reaches here; a zero's sign cannot change `novelty`, which adds a
/// non-negative norm).
fn nearest(distances: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut least = [f32::INFINITY; LANES];
    let mut lanes = distances.chunks_exact(LANES);
    for chunk in &mut lanes {
        for (m, d) in least.iter_mut().zip(chunk) {
            *m = if *d < *m { *d } else { *m };
        }
    }
    let rest = lanes.remainder().iter();
    least
        .into_iter()
        .chain(rest.copied())
        .fold(f32::INFINITY, |m, d| if d < m { d } else { m })
}

fn constant(model: &InferenceModel, name: &str) -> Result<Arc<Tensor>, String> {
    model
        .node_by_name(name)
        .ok()
        .and_then(|node| node.op_as::<tract_onnx::tract_core::ops::konst::Const>())
        .map(|c| c.val().clone())
        .ok_or_else(|| format!("the model has no constant {name}"))
}

fn scalar(model: &InferenceModel, name: &str) -> Result<f32, String> {
    let value = constant(model, name)?;
    match value.to_plain_array_view::<f32>() {
        Ok(view) if view.len() == 1 => Ok(view.iter().copied().next().unwrap_or_default()),
        _ => Err(format!("{name} is not one f32")),
    }
}
