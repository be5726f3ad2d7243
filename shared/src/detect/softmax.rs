//! The graph's five-way softmax, done in Rust behind the cut (`cut.rs`): per row,
//! `exp(z - max) / sum`, in f32 and in the graph's order.
//!
//! Two things make it fast, both measured on the model-only bench
//! (`VIGIL_BENCH_PROFILE=model` under `perf`): `f32::exp` is a call into libm per
//! value, which the compiler cannot vectorise (it was 14 % of the model's time, the
//! row-by-row divisions and comparisons around it another 10 %); so the rows go
//! through in blocks, a column per class, where every step is one loop over
//! [`BLOCK`] lanes, and the exponential is [`exp_nonpositive`], plain arithmetic the
//! compiler turns into vector instructions.
//!
//! The price is libm's last bit: [`exp_nonpositive`] is within 2 ULP of the true value
//! (its test measures it) where glibc's `expf` is within 1, so a probability can
//! differ from onnxruntime's in the 7th significant digit; and a probability under
//! 1e-37 is 0 (see [`FLUSH_BELOW`]). The golden test's tolerance is 1e-4. libm's last
//! bit was never the same everywhere anyway: glibc picks its `expf` by CPU, and other
//! libms round differently.

use super::prediction::CLASS_COUNT;

/// Rows a block: a column of them is a few vector registers' worth.
const BLOCK: usize = 64;

/// The softmax of each row of `logits` (`[rows, CLASS_COUNT]`, row-major), written to
/// `out`, one array per row in order; `out` may be longer (its rest is left alone)
/// but not shorter.
pub(super) fn softmax_rows<'a>(
    logits: &[f32],
    out: impl IntoIterator<Item = &'a mut [f32; CLASS_COUNT]>,
) {
    let mut out = out.into_iter();
    for block in logits.chunks(BLOCK * CLASS_COUNT) {
        let rows = block.len() / CLASS_COUNT;
        // A column per class; lanes past `rows` stay 0 and come out as 1/5, unused.
        let mut p = [[0.0f32; BLOCK]; CLASS_COUNT];
        for (i, z) in block.chunks_exact(CLASS_COUNT).enumerate() {
            for (column, z) in p.iter_mut().zip(z) {
                column[i] = *z;
            }
        }
        // A plain comparison, not `f32::max` and its NaN checks: logits are finite.
        let mut max = [f32::NEG_INFINITY; BLOCK];
        for column in &p {
            for (m, z) in max.iter_mut().zip(column) {
                *m = if *z > *m { *z } else { *m };
            }
        }
        let mut sum = [0.0f32; BLOCK];
        for column in &mut p {
            for ((z, m), s) in column.iter_mut().zip(&max).zip(&mut sum) {
                *z = exp_nonpositive(*z - *m);
                *s += *z;
            }
        }
        for column in &mut p {
            for (e, s) in column.iter_mut().zip(&sum) {
                *e /= *s;
            }
        }
        for (i, row) in out.by_ref().take(rows).enumerate() {
            for (v, column) in row.iter_mut().zip(&p) {
                *v = column[i];
            }
        }
    }
}

/// The softmax of one row of logits (the same arithmetic as [`softmax_rows`]).
#[cfg(test)]
pub(super) fn softmax(z: &[f32]) -> [f32; CLASS_COUNT] {
    let mut p = [0.0; CLASS_COUNT];
    softmax_rows(z, [&mut p]);
    p
}

/// `e^x` for `x ≤ 0` in f32, within 2 ULP, and 0 below [`FLUSH_BELOW`]: Cephes'
/// `expf`. `x = n ln 2 + r` with `|r| ≤ ln 2 / 2`, a degree-6 polynomial for `e^r`,
/// and `2^n` put in the exponent bits. `e^0` is exactly 1, so a row's largest logit
/// contributes exactly 1 to its sum. No branches and no calls, so it vectorises.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    // Adding 1.5 × 2^23 rounds to an integer, which lands in the low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    // ln 2 in two parts: LN2_HI is 355/512 exactly, so `n * LN2_HI` is exact for
    // every n here.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let flushed = x < FLUSH_BELOW;
    let x = if flushed { FLUSH_BELOW } else { x };
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let k = t.to_bits() as i32 - SHIFT.to_bits() as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = (p * (r * r) + r + 1.0) * f32::from_bits(((k + 127) as u32) << 23);
    if flushed { 0.0 } else { e }
}

/// Below this, `e^x` is taken as 0 (it is under 1.2e-37): then neither it nor a
/// probability made from it (it over a sum from 1 to 5) is a subnormal float, which
/// x86 cores compute through a microcode assist a hundred times slower than a normal
/// one. Logits that far below a row's largest are common (a confident "normal"), and
/// libm's subnormal answers made the softmax a fifth of the model's time.
const FLUSH_BELOW: f32 = -85.0;

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units of the last place between two non-negative floats.
    fn ulps(a: f32, b: f32) -> u32 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_true_value_and_never_subnormal() {
        assert_eq!(0.693_359_4f32, 355.0 / 512.0);
        assert_eq!(exp_nonpositive(0.0).to_bits(), 1.0f32.to_bits());
        assert_eq!(exp_nonpositive(-0.0).to_bits(), 1.0f32.to_bits());
        assert_eq!(exp_nonpositive(-85.000_01), 0.0);
        assert_eq!(exp_nonpositive(-110.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        // Every 5,141st float from 0 down to the flush (210 thousand of them), and
        // the stretch just above it densely.
        let mut worst = 0;
        let mut bits = 0x8000_0000u32;
        while f32::from_bits(bits) >= FLUSH_BELOW {
            let x = f32::from_bits(bits);
            let truth = (x as f64).exp() as f32;
            let ours = exp_nonpositive(x);
            assert!(ulps(ours, truth) <= 2, "e^{x}: {ours:e} vs {truth:e}");
            assert!(ours.is_normal(), "e^{x}: {ours:e}");
            worst = worst.max(ulps(ours, truth));
            bits += if x < -84.0 { 7 } else { 97 * 53 };
        }
        assert!(worst >= 1, "the sample reached rounding differences");
    }

    #[test]
    fn a_row_softmax_matches_libm_to_within_a_few_ulp_and_sums_to_one() {
        let rows: Vec<f32> = (0..7 * BLOCK * CLASS_COUNT / 3)
            .map(|i| ((i * 7919) % 4001) as f32 / 40.0 - 50.0)
            .collect();
        let rows = &rows[..rows.len() / CLASS_COUNT * CLASS_COUNT];
        let mut out = vec![[0.0; CLASS_COUNT]; rows.len() / CLASS_COUNT];
        softmax_rows(rows, &mut out);
        for (z, p) in rows.chunks_exact(CLASS_COUNT).zip(&out) {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e = z
                .iter()
                .map(|z| ((z - max) as f64).exp())
                .collect::<Vec<_>>();
            let sum: f64 = e.iter().sum();
            for (p, e) in p.iter().zip(&e) {
                let truth = e / sum;
                assert!(*p == 0.0 || p.is_normal(), "{z:?}: {p:?}");
                let within = if *p == 0.0 { 1e-37 } else { 6e-7 * truth };
                assert!((*p as f64 - truth).abs() <= within, "{z:?}: {p:?}");
            }
            assert!((p.iter().sum::<f32>() - 1.0).abs() <= 1e-6);
            assert_eq!(*p, softmax(z), "one row at a time is the same arithmetic");
        }
    }
}
