//! The objectives L-BFGS minimises: the mean (weighted) logistic loss with its L2 penalty and
//! gradient, over a row-major matrix ([`Objective`]) or summed by distinct row pattern
//! ([`PatternObjective`]), each in fixed chunks added in chunk order (bit-identical whatever the
//! thread count).

use rayon::prelude::*;

use super::CHUNK_ROWS;
use super::minimise::Loss;
use crate::design::Design;
use crate::features::NO_COLUMN;

/// The per-row objective and its gradient over weights `[w_0 .. w_{p-1}, b]`.
pub(super) struct Objective<'a> {
    pub(super) x: &'a [f64],
    pub(super) cols: usize,
    pub(super) y: &'a [bool],
    /// Per-row weights; `None` is all ones.
    pub(super) weights: Option<&'a [f64]>,
    /// What the summed loss is divided by: the row count or the weight sum.
    pub(super) total: f64,
    pub(super) alpha: f64,
    pub(super) threads: usize,
}

/// `a . b` with four running sums: a fixed order (so deterministic) that does not wait on one
/// long chain of additions.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (u, v) in ca.zip(cb) {
        acc[0] += u[0] * v[0];
        acc[1] += u[1] * v[1];
        acc[2] += u[2] * v[2];
        acc[3] += u[3] * v[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (u, v) in ra.iter().zip(rb) {
        s += u * v;
    }
    s
}

/// One chunk's summed (weighted) loss and gradient into `out = [loss, g_w.., g_b]`.
fn chunk_pass(x: &[f64], y: &[bool], weights: Option<&[f64]>, w: &[f64], b: f64, out: &mut [f64]) {
    let cols = w.len();
    let (loss_out, rest) = out.split_at_mut(1);
    let (gw, gb_out) = rest.split_at_mut(cols);
    let (mut loss, mut gb) = (0.0, 0.0);
    for (i, (row, &label)) in x.chunks_exact(cols).zip(y).enumerate() {
        // A weight of 1 multiplies exactly, so the unweighted fit keeps every bit.
        let sw = weights.map_or(1.0, |ws| ws[i]);
        let z = dot(row, w) + b;
        // log(1 + e^z) and sigmoid(z) from one exp(-|z|), stable for any z.
        let e = (-z.abs()).exp();
        let yv = if label { 1.0 } else { 0.0 };
        loss += sw * (z.max(0.0) + e.ln_1p() - yv * z);
        let p = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
        let d = sw * (p - yv);
        gb += d;
        for (g, &v) in gw.iter_mut().zip(row) {
            *g += d * v;
        }
    }
    loss_out[0] = loss;
    gb_out[0] = gb;
}

impl Objective<'_> {
    fn rows(&self) -> usize {
        self.y.len()
    }

    /// Per-row objective at `wb`, its gradient written into `g`.
    pub(super) fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64 {
        let (cols, rows) = (self.cols, self.rows());
        let (w, b) = (&wb[..cols], wb[cols]);
        let stride = cols + 2;
        let chunks = rows.div_ceil(CHUNK_ROWS);
        let mut partial = vec![0.0; chunks * stride];
        let threads = self.threads.min(chunks);
        let run = |first_chunk: usize, out: &mut [f64]| {
            for (k, slot) in out.chunks_exact_mut(stride).enumerate() {
                let r0 = (first_chunk + k) * CHUNK_ROWS;
                let r1 = (r0 + CHUNK_ROWS).min(rows);
                let weights = self.weights.map(|ws| &ws[r0..r1]);
                chunk_pass(&self.x[r0 * cols..r1 * cols], &self.y[r0..r1], weights, w, b, slot);
            }
        };
        if threads <= 1 {
            run(0, &mut partial);
        } else {
            let per = chunks.div_ceil(threads);
            std::thread::scope(|s| {
                for (t, out) in partial.chunks_mut(per * stride).enumerate() {
                    let run = &run;
                    s.spawn(move || run(t * per, out));
                }
            });
        }
        // Chunk order, whatever thread computed which chunk.
        let mut loss = 0.0;
        g.fill(0.0);
        for slot in partial.chunks_exact(stride) {
            loss += slot[0];
            for (gj, v) in g.iter_mut().zip(&slot[1..]) {
                *gj += v;
            }
        }
        let n = self.total;
        let l2 = self.alpha / n;
        let mut ww = 0.0;
        for (gj, &wj) in g[..cols].iter_mut().zip(w) {
            *gj = *gj / n + l2 * wj;
            ww += wj * wj;
        }
        g[cols] /= n;
        loss / n + 0.5 * l2 * ww
    }
}

impl Loss for Objective<'_> {
    fn cols(&self) -> usize {
        self.cols
    }

    fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64 {
        Objective::eval(self, wb, g)
    }
}

/// Patterns per partial sum of [`fit_logistic_patterns`]'s loss pass. Fixed, as [`CHUNK_ROWS`].
const PATTERN_CHUNK: usize = 2048;

/// Rows of a [`Design`] to fit on, gathered by pattern: the total weight of each pattern's
/// negative and positive rows (a row listed twice counts twice).
#[derive(Debug, Clone)]
pub(crate) struct PatternRows {
    /// Patterns with at least one row, increasing.
    pub(super) ids: Vec<u32>,
    /// Per listed pattern: the weight of its negative rows, of its positive rows.
    weight: Vec<[f64; 2]>,
    /// The weight of all rows (what the summed loss is divided by).
    pub(super) total: f64,
    /// Rows of each class, `[negative, positive]`.
    pub(super) counts: [usize; 2],
}

impl PatternRows {
    /// The rows `rows` (labels `y[row]`), each of weight 1 or, with `class_weighted`, its
    /// class's [`balanced_class_weights`] among these rows.
    pub(crate) fn new(design: &Design, rows: &[usize], y: &[bool], class_weighted: bool) -> Self {
        let mut per = vec![[0u32; 2]; design.patterns()];
        let mut counts = [0usize; 2];
        for &r in rows {
            let c = usize::from(y[r]);
            per[design.pattern_of(r)][c] += 1;
            counts[c] += 1;
        }
        let class = if class_weighted {
            let n = rows.len() as f64;
            counts.map(|c| if c == 0 { 0.0 } else { n / (2.0 * c as f64) })
        } else {
            [1.0, 1.0]
        };
        let (mut ids, mut weight) = (Vec::new(), Vec::new());
        for (u, c) in per.iter().enumerate() {
            if c[0] + c[1] > 0 {
                ids.push(u as u32);
                weight.push([f64::from(c[0]) * class[0], f64::from(c[1]) * class[1]]);
            }
        }
        let total = counts[0] as f64 * class[0] + counts[1] as f64 * class[1];
        Self { ids, weight, total, counts }
    }
}

/// The weighted objective of [`fit_logistic_lbfgs_weighted`] with the rows summed by pattern:
/// a pattern of weights `W-` (negative rows) and `W+` (positive rows) contributes
/// `W- softplus(z) + W+ softplus(-z)` to the loss and `W- p - W+ (1 - p)` to `dL/dz`, one
/// `exp` and one `ln` for all its rows.
pub(super) struct PatternObjective<'a> {
    pub(super) design: &'a Design,
    pub(super) rows: &'a PatternRows,
    pub(super) alpha: f64,
    pub(super) threads: usize,
}

/// `ln(1 + e)` for `e` in `[0, 1]` from `u = 1 + e` (rounded) and `r = 1 / u`: `ln(u)` corrected
/// by the rounding of `u` (`u - 1` is exact), as accurate as `ln_1p` and several times cheaper.
#[inline]
fn ln_1p_from(e: f64, u: f64, r: f64) -> f64 {
    u.ln() + (e - (u - 1.0)) * r
}

impl PatternObjective<'_> {
    /// One chunk's summed loss and gradient into `out = [loss, g_w.., g_b]`. Consecutive
    /// patterns mostly share their one-hot columns: their weights are added into `z`, and `dL/dz`
    /// into their gradients, once per run.
    fn chunk(&self, k: usize, w: &[f64], b: f64, out: &mut [f64]) {
        let design = self.design;
        let n_num = design.n_num;
        let (loss_out, rest) = out.split_at_mut(1);
        let (gw, gb_out) = rest.split_at_mut(w.len());
        let (mut loss, mut gb) = (0.0, 0.0);
        let r0 = k * PATTERN_CHUNK;
        let r1 = (r0 + PATTERN_CHUNK).min(self.rows.ids.len());
        let flush = |gw: &mut [f64], combo: u32, d: f64| {
            for &c in design.combo_hot(combo) {
                if c != NO_COLUMN {
                    gw[c as usize] += d;
                }
            }
        };
        let (mut combo, mut hot_z, mut hot_d) = (u32::MAX, 0.0, 0.0);
        for (&u, &[wn, wp]) in self.rows.ids[r0..r1].iter().zip(&self.rows.weight[r0..r1]) {
            let u = u as usize;
            let c = design.combo_of(u);
            if c != combo {
                if combo != u32::MAX {
                    flush(gw, combo, hot_d);
                }
                combo = c;
                hot_z = design.combo_hot(c).iter().filter(|&&h| h != NO_COLUMN).map(|&h| w[h as usize]).sum::<f64>();
                hot_d = 0.0;
            }
            let x = design.numeric(u);
            let mut z = hot_z + b;
            for (xj, wj) in x.iter().zip(&w[..n_num]) {
                z += xj * wj;
            }
            let e = (-z.abs()).exp();
            let one_e = 1.0 + e;
            let r = 1.0 / one_e;
            let l = ln_1p_from(e, one_e, r);
            // softplus(z) = max(z, 0) + ln(1 + e^-|z|); sigmoid(z) and 1 - sigmoid(z) without
            // cancellation.
            let (p, q) = if z >= 0.0 { (r, e * r) } else { (e * r, r) };
            loss += wn * (z.max(0.0) + l) + wp * ((-z).max(0.0) + l);
            let d = wn * p - wp * q;
            gb += d;
            hot_d += d;
            for (g, xj) in gw[..n_num].iter_mut().zip(x) {
                *g += d * xj;
            }
        }
        if combo != u32::MAX {
            flush(gw, combo, hot_d);
        }
        loss_out[0] = loss;
        gb_out[0] = gb;
    }
}

impl Loss for PatternObjective<'_> {
    fn cols(&self) -> usize {
        self.design.cols
    }

    fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64 {
        let cols = self.design.cols;
        let (w, b) = (&wb[..cols], wb[cols]);
        let stride = cols + 2;
        let chunks = self.rows.ids.len().div_ceil(PATTERN_CHUNK);
        let mut partial = vec![0.0; chunks * stride];
        if self.threads <= 1 || chunks <= 1 {
            for (k, slot) in partial.chunks_exact_mut(stride).enumerate() {
                self.chunk(k, w, b, slot);
            }
        } else {
            partial.par_chunks_exact_mut(stride).enumerate().for_each(|(k, slot)| self.chunk(k, w, b, slot));
        }
        // Chunk order, whatever thread computed which chunk.
        let mut loss = 0.0;
        g.fill(0.0);
        for slot in partial.chunks_exact(stride) {
            loss += slot[0];
            for (gj, v) in g.iter_mut().zip(&slot[1..]) {
                *gj += v;
            }
        }
        let n = self.rows.total;
        let l2 = self.alpha / n;
        let mut ww = 0.0;
        for (gj, &wj) in g[..cols].iter_mut().zip(w) {
            *gj = *gj / n + l2 * wj;
            ww += wj * wj;
        }
        g[cols] /= n;
        loss / n + 0.5 * l2 * ww
    }
}
