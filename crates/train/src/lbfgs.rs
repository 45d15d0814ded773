//! L2-penalised binary logistic regression fitted with our own L-BFGS.
//!
//! The objective is smartcore's (and scikit-learn's with `C = 1 / alpha`):
//! `sum_i [log(1 + exp(z_i)) - y_i z_i] + alpha / 2 * ||w||^2` with `z_i = x_i . w + b` and
//! the intercept `b` unpenalised. It is minimised divided by the row count, as scikit-learn
//! does, so that `tol` means what it means there: the largest gradient component of the
//! *mean* loss. The iteration follows scipy's L-BFGS-B on an unbounded problem (memory 10,
//! Moré–Thuente line search with `ftol = 1e-3`, `gtol = 0.9`, `xtol = 0.1`, first step
//! `1 / ||d||`, stop on `max |g| <= tol` or a relative decrease of `f` below `factr * eps`),
//! with scikit-learn's settings (`factr = 64`, 50 line-search evaluations).
//!
//! With sample weights ([`fit_logistic_lbfgs_weighted`]) each row's loss is multiplied by its
//! weight and the objective is divided by the weight sum instead of the row count, exactly as
//! scikit-learn's `_logistic_regression_path` does (`l2_reg_strength = 1 / (C * sw_sum)` over
//! `LinearModelLoss`'s weighted mean); `class_weight="balanced"` is the weights of
//! [`balanced_class_weights`].
//!
//! The loss and gradient come from one pass over a row-major matrix. Rows are cut into
//! fixed chunks of [`CHUNK_ROWS`]; each chunk's sums are kept apart and added in chunk order,
//! so the result is bit-identical whatever the number of threads or their scheduling.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::design::Design;
use crate::features::NO_COLUMN;

/// Rows per partial sum. Fixed (not derived from the thread count) so that the floating-point
/// summation order, hence every bit of the result, never depends on the machine.
pub const CHUNK_ROWS: usize = 4096;

/// Settings of [`fit_logistic_lbfgs`]; the defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsOptions {
    /// Most iterations (line searches); reaching it is reported, not an error.
    pub max_iter: usize,
    /// Stop when the largest gradient component of the mean objective is at most this.
    pub tol: f64,
    /// Stop when the relative decrease of the objective is at most `factr * f64::EPSILON`.
    pub factr: f64,
    /// Correction pairs kept.
    pub memory: usize,
    /// Objective evaluations allowed per line search.
    pub max_line_search: usize,
    /// Worker threads for the loss pass (the result does not depend on it).
    pub threads: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        Self { max_iter: 100, tol: 1e-4, factr: 64.0, memory: 10, max_line_search: 50, threads: 1 }
    }
}

/// Why the iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The largest gradient component fell to `tol` (converged).
    Gradient,
    /// The relative decrease of the objective fell below `factr * eps` (converged).
    Function,
    /// `max_iter` iterations ran out.
    MaxIter,
    /// No step satisfying the Wolfe conditions was found, even along the steepest descent.
    LineSearch,
}

impl StopReason {
    /// Whether this counts as convergence (as scipy reports it).
    pub fn converged(self) -> bool {
        matches!(self, Self::Gradient | Self::Function)
    }
}

/// What [`fit_logistic_lbfgs`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticFit {
    /// One weight per feature column.
    pub coefficients: Vec<f64>,
    /// The unpenalised intercept.
    pub intercept: f64,
    /// Iterations done (scikit-learn's `n_iter_`).
    pub iterations: usize,
    /// Objective evaluations (one pass over the rows each).
    pub evaluations: usize,
    /// Why it stopped.
    pub stop: StopReason,
    /// The objective at the result, per row (mean log loss plus `alpha / (2 n) ||w||^2`; with
    /// weights, the weighted mean and `n` = the weight sum).
    pub objective: f64,
    /// The largest gradient component of the per-row objective at the result.
    pub gradient_max: f64,
}

/// Fits logistic regression on the row-major matrix `x` (`y.len()` rows of `cols` values;
/// `y` true = positive class) with L2 strength `alpha` on the summed loss.
pub fn fit_logistic_lbfgs(
    x: &[f64],
    cols: usize,
    y: &[bool],
    alpha: f64,
    options: &LbfgsOptions,
) -> Result<LogisticFit, TrainError> {
    fit(x, cols, y, None, alpha, options)
}

/// [`fit_logistic_lbfgs`] with one non-negative weight per row: minimises
/// `sum_i s_i [log(1 + exp(z_i)) - y_i z_i] + alpha / 2 * ||w||^2`, i.e. scikit-learn's
/// `LogisticRegression(C = 1 / alpha).fit(x, y, sample_weight = s)`. Weights of 1 give
/// bit for bit the unweighted fit.
pub fn fit_logistic_lbfgs_weighted(
    x: &[f64],
    cols: usize,
    y: &[bool],
    sample_weight: &[f64],
    alpha: f64,
    options: &LbfgsOptions,
) -> Result<LogisticFit, TrainError> {
    if sample_weight.len() != y.len() {
        return Err(TrainError::fit(
            "logistic_regression",
            format!("{} sample weights for {} rows", sample_weight.len(), y.len()),
        ));
    }
    if let Some((i, w)) = sample_weight.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
        return Err(TrainError::fit("logistic_regression", format!("sample weight {w} of row {} is not >= 0", i + 1)));
    }
    fit(x, cols, y, Some(sample_weight), alpha, options)
}

/// scikit-learn's `compute_class_weight("balanced")` for a binary `y`:
/// `[negative, positive]` with `weight_c = n / (2 * n_c)` (0 for an absent class). Every
/// class then carries the same total weight, `n / 2`.
pub fn balanced_class_weights(y: &[bool]) -> [f64; 2] {
    let n = y.len() as f64;
    let pos = y.iter().filter(|&&v| v).count();
    let weight = |count: usize| if count == 0 { 0.0 } else { n / (2.0 * count as f64) };
    [weight(y.len() - pos), weight(pos)]
}

fn fit(
    x: &[f64],
    cols: usize,
    y: &[bool],
    weights: Option<&[f64]>,
    alpha: f64,
    options: &LbfgsOptions,
) -> Result<LogisticFit, TrainError> {
    let rows = y.len();
    if cols == 0 || rows == 0 || x.len() != rows * cols {
        return Err(TrainError::fit(
            "logistic_regression",
            format!("matrix of {} values does not hold {rows} rows of {cols} columns", x.len()),
        ));
    }
    if !(alpha.is_finite() && alpha >= 0.0) {
        return Err(TrainError::fit("logistic_regression", format!("alpha {alpha} is not a non-negative number")));
    }
    if !(options.tol.is_finite() && options.tol >= 0.0) || options.memory == 0 || options.max_line_search == 0 {
        return Err(TrainError::fit("logistic_regression", "lbfgs options: tol >= 0, memory and line search >= 1"));
    }
    // scikit-learn divides by the weight sum (`sw_sum`); summed in row order, so fixed.
    let total = weights.map_or(rows as f64, |w| w.iter().sum());
    if !(total.is_finite() && total > 0.0) {
        return Err(TrainError::fit("logistic_regression", format!("the sample weights sum to {total}, not > 0")));
    }
    let objective = Objective { x, cols, y, weights, total, alpha, threads: options.threads.max(1) };
    Ok(minimise(&objective, options, None))
}

/// The per-row objective and its gradient over weights `[w_0 .. w_{p-1}, b]`.
struct Objective<'a> {
    x: &'a [f64],
    cols: usize,
    y: &'a [bool],
    /// Per-row weights; `None` is all ones.
    weights: Option<&'a [f64]>,
    /// What the summed loss is divided by: the row count or the weight sum.
    total: f64,
    alpha: f64,
    threads: usize,
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
    fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64 {
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

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, a| m.max(a.abs()))
}

fn vdot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| u * v).sum()
}

/// One correction pair `s = x_{k+1} - x_k`, `y = g_{k+1} - g_k`, `rho = 1 / s.y`.
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// `-H g` by the two-loop recursion, `H_0 = (s.y / y.y) I` from the newest pair.
fn direction(g: &[f64], pairs: &[Pair], d: &mut [f64]) {
    for (di, gi) in d.iter_mut().zip(g) {
        *di = -gi;
    }
    let mut a = vec![0.0; pairs.len()];
    for (k, p) in pairs.iter().enumerate().rev() {
        a[k] = p.rho * vdot(&p.s, d);
        for (di, yi) in d.iter_mut().zip(&p.y) {
            *di -= a[k] * yi;
        }
    }
    if let Some(last) = pairs.last() {
        let gamma = 1.0 / (last.rho * vdot(&last.y, &last.y));
        for di in d.iter_mut() {
            *di *= gamma;
        }
    }
    for (k, p) in pairs.iter().enumerate() {
        let beta = p.rho * vdot(&p.y, d);
        for (di, si) in d.iter_mut().zip(&p.s) {
            *di += (a[k] - beta) * si;
        }
    }
}

/// An objective over `[w_0 .. w_{cols-1}, b]`: its value at a point, the gradient written into
/// `g`. The same point must give the same bits whatever the thread count.
trait Loss {
    fn cols(&self) -> usize;
    fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64;
}

impl Loss for Objective<'_> {
    fn cols(&self) -> usize {
        self.cols
    }

    fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64 {
        Objective::eval(self, wb, g)
    }
}

/// L-BFGS from `start` (`[w.., b]`; the origin when `None`).
fn minimise(obj: &impl Loss, opt: &LbfgsOptions, start: Option<&[f64]>) -> LogisticFit {
    let n = obj.cols() + 1;
    let mut x = start.filter(|s| s.len() == n).map_or_else(|| vec![0.0; n], <[f64]>::to_vec);
    let mut g = vec![0.0; n];
    let mut f = obj.eval(&x, &mut g);
    let mut evaluations = 1;
    let mut iterations = 0;
    let mut pairs: Vec<Pair> = Vec::with_capacity(opt.memory);
    let (mut xt, mut gt, mut d) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let stop = loop {
        if max_abs(&g) <= opt.tol {
            break StopReason::Gradient;
        }
        if iterations >= opt.max_iter {
            break StopReason::MaxIter;
        }
        direction(&g, &pairs, &mut d);
        let mut gd = vdot(&g, &d);
        if gd >= 0.0 || gd.is_nan() {
            // Not a descent direction (curvature information gone stale): steepest descent.
            pairs.clear();
            direction(&g, &pairs, &mut d);
            gd = vdot(&g, &d);
        }
        let first = if pairs.is_empty() { (1.0 / vdot(&d, &d).sqrt()).min(STEP_MAX) } else { 1.0 };
        let mut phi = |stp: f64| {
            for ((xi, &x0), &di) in xt.iter_mut().zip(&x).zip(&d) {
                *xi = x0 + stp * di;
            }
            let ft = obj.eval(&xt, &mut gt);
            (ft, vdot(&gt, &d))
        };
        let search = line_search(&mut phi, f, gd, first, opt.max_line_search);
        evaluations += search.evaluations;
        if !search.found {
            if pairs.is_empty() {
                break StopReason::LineSearch;
            }
            // As L-BFGS-B: forget the curvature pairs and retry from the same point.
            pairs.clear();
            continue;
        }
        // `xt`, `gt` hold the last point evaluated, which is the accepted one.
        iterations += 1;
        let f_old = f;
        let mut s = std::mem::take(&mut xt);
        let mut yv = std::mem::take(&mut gt);
        for (si, xi) in s.iter_mut().zip(&x) {
            *si -= xi;
        }
        for (yi, gi) in yv.iter_mut().zip(&g) {
            *yi -= gi;
        }
        for (xi, si) in x.iter_mut().zip(&s) {
            *xi += si;
        }
        for (gi, yi) in g.iter_mut().zip(&yv) {
            *gi += yi;
        }
        f = search.f;
        if max_abs(&g) <= opt.tol {
            break StopReason::Gradient;
        }
        if f_old - f <= opt.factr * f64::EPSILON * f_old.abs().max(f.abs()).max(1.0) {
            break StopReason::Function;
        }
        let sy = vdot(&s, &yv);
        // L-BFGS-B's test: skip a pair whose curvature is not clearly positive.
        if sy > f64::EPSILON * (-gd * search.step) {
            if pairs.len() == opt.memory {
                let old = pairs.remove(0);
                (xt, gt) = (old.s, old.y);
            } else {
                (xt, gt) = (vec![0.0; n], vec![0.0; n]);
            }
            pairs.push(Pair { s, y: yv, rho: 1.0 / sy });
        } else {
            (xt, gt) = (s, yv);
        }
    };
    let gradient_max = max_abs(&g);
    let intercept = x[obj.cols()];
    x.truncate(obj.cols());
    LogisticFit { coefficients: x, intercept, iterations, evaluations, stop, objective: f, gradient_max }
}

/// Patterns per partial sum of [`fit_logistic_patterns`]'s loss pass. Fixed, as [`CHUNK_ROWS`].
const PATTERN_CHUNK: usize = 2048;

/// Rows of a [`Design`] to fit on, gathered by pattern: the total weight of each pattern's
/// negative and positive rows (a row listed twice counts twice).
#[derive(Debug, Clone)]
pub(crate) struct PatternRows {
    /// Patterns with at least one row, increasing.
    ids: Vec<u32>,
    /// Per listed pattern: the weight of its negative rows, of its positive rows.
    weight: Vec<[f64; 2]>,
    /// The weight of all rows (what the summed loss is divided by).
    total: f64,
    /// Rows of each class, `[negative, positive]`.
    counts: [usize; 2],
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
struct PatternObjective<'a> {
    design: &'a Design,
    rows: &'a PatternRows,
    alpha: f64,
    threads: usize,
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

/// Fits logistic regression on the rows `rows` of `design`: the objective of
/// [`fit_logistic_lbfgs_weighted`] (and the same iteration), summed by pattern, from `start`
/// (`[w.., b]`, e.g. the solution at a nearby `alpha`) or the origin. With `options.threads`
/// above 1 the loss pass runs on rayon's pool; the result is the same bits whatever the count.
pub(crate) fn fit_logistic_patterns(
    design: &Design,
    rows: &PatternRows,
    alpha: f64,
    options: &LbfgsOptions,
    start: Option<&[f64]>,
) -> Result<LogisticFit, TrainError> {
    if design.cols == 0 || rows.ids.is_empty() {
        return Err(TrainError::fit("logistic_regression", "no rows or no feature columns to fit"));
    }
    if !(alpha.is_finite() && alpha >= 0.0) {
        return Err(TrainError::fit("logistic_regression", format!("alpha {alpha} is not a non-negative number")));
    }
    if !(options.tol.is_finite() && options.tol >= 0.0) || options.memory == 0 || options.max_line_search == 0 {
        return Err(TrainError::fit("logistic_regression", "lbfgs options: tol >= 0, memory and line search >= 1"));
    }
    if !(rows.total.is_finite() && rows.total > 0.0) || rows.counts.contains(&0) {
        return Err(TrainError::fit("logistic_regression", "the rows to fit hold a single class"));
    }
    let objective = PatternObjective { design, rows, alpha, threads: options.threads.max(1) };
    Ok(minimise(&objective, options, start))
}

/// L-BFGS-B's bound on a step for an unbounded problem.
const STEP_MAX: f64 = 1e10;

struct Search {
    found: bool,
    step: f64,
    f: f64,
    evaluations: usize,
}

/// Moré–Thuente line search (MINPACK-2 `dcsrch`) with L-BFGS-B's constants: finds a step
/// satisfying the strong Wolfe conditions `f(t) <= f(0) + 1e-3 t f'(0)` and
/// `|f'(t)| <= 0.9 |f'(0)|`. As in L-BFGS-B, a step is also accepted when the search
/// interval collapses to rounding level (MINPACK's warnings). `phi(t)` evaluates the point
/// and returns `(f(t), f'(t))`; the last call is always at the returned step.
fn line_search(phi: &mut impl FnMut(f64) -> (f64, f64), f0: f64, g0: f64, first: f64, max_evals: usize) -> Search {
    const FTOL: f64 = 1e-3;
    const GTOL: f64 = 0.9;
    const XTOL: f64 = 0.1;
    const XTRAPL: f64 = 1.1;
    const XTRAPU: f64 = 4.0;
    let (stpmin, stpmax) = (0.0, STEP_MAX);
    let mut stp = first.clamp(stpmin, stpmax);
    let gtest = FTOL * g0;
    let mut width = stpmax - stpmin;
    let mut width1 = width / 0.5;
    let mut st = StepState { brackt: false, stx: 0.0, fx: f0, gx: g0, sty: 0.0, fy: f0, gy: g0 };
    let (mut stmin, mut stmax) = (0.0, stp + XTRAPU * stp);
    let mut stage1 = true;
    let mut evaluations = 0;
    loop {
        let (f, g) = phi(stp);
        evaluations += 1;
        let ftest = f0 + stp * gtest;
        if stage1 && f <= ftest && g >= 0.0 {
            stage1 = false;
        }
        let accepted = Search { found: true, step: stp, f, evaluations };
        if f <= ftest && g.abs() <= GTOL * -g0 {
            return accepted;
        }
        let warning = (st.brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax))
            || (stp >= stpmax && f <= ftest && g <= gtest)
            || (stp <= stpmin && (f > ftest || g >= gtest));
        if warning && f.is_finite() {
            return accepted;
        }
        if evaluations >= max_evals || !f.is_finite() && stp <= f64::MIN_POSITIVE {
            return Search { found: false, ..accepted };
        }
        if !f.is_finite() {
            // Overflow far out along the direction: pull back towards the best point.
            st.brackt = true;
            st.sty = stp;
            st.fy = f64::INFINITY;
            stp = st.stx + 0.5 * (stp - st.stx);
            stmin = st.stx.min(stp);
            stmax = st.stx.max(st.sty);
            continue;
        }
        // Stage 1 works on the modified function f(t) - f(0) - ftol t f'(0) until a step
        // with a lower modified value and a non-negative derivative is found.
        if stage1 && f <= st.fx && f > ftest {
            let mut m = StepState {
                brackt: st.brackt,
                stx: st.stx,
                fx: st.fx - st.stx * gtest,
                gx: st.gx - gtest,
                sty: st.sty,
                fy: st.fy - st.sty * gtest,
                gy: st.gy - gtest,
            };
            stp = m.step(stp, f - stp * gtest, g - gtest, stmin, stmax);
            st = StepState {
                brackt: m.brackt,
                stx: m.stx,
                fx: m.fx + m.stx * gtest,
                gx: m.gx + gtest,
                sty: m.sty,
                fy: m.fy + m.sty * gtest,
                gy: m.gy + gtest,
            };
        } else {
            stp = st.step(stp, f, g, stmin, stmax);
        }
        if st.brackt {
            // Force sufficient shrinkage of the interval.
            if (st.sty - st.stx).abs() >= 0.66 * width1 {
                stp = st.stx + 0.5 * (st.sty - st.stx);
            }
            width1 = width;
            width = (st.sty - st.stx).abs();
            stmin = st.stx.min(st.sty);
            stmax = st.stx.max(st.sty);
        } else {
            stmin = stp + XTRAPL * (stp - st.stx);
            stmax = stp + XTRAPU * (stp - st.stx);
        }
        stp = stp.clamp(stpmin, stpmax);
        if st.brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax) {
            stp = st.stx;
        }
    }
}

/// The interval of uncertainty of `dcsrch`: `stx` is the best step so far, `sty` the other
/// end; `f*`, `g*` the function values and derivatives there.
struct StepState {
    brackt: bool,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
}

impl StepState {
    /// MINPACK-2 `dcstep`: a safeguarded cubic/quadratic step from the trial `(stp, fp, dp)`,
    /// updating the interval. Returns the next trial step.
    fn step(&mut self, stp: f64, fp: f64, dp: f64, stpmin: f64, stpmax: f64) -> f64 {
        let (stx, fx, dx, sty, fy, dy) = (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy);
        let sgnd = dp * dx.signum();
        let cubic_gamma =
            |theta: f64, s: f64, da: f64, db: f64| s * ((theta / s).powi(2) - (da / s) * (db / s)).max(0.0).sqrt();
        let stpf = if fp > fx {
            // Higher value: the minimum is bracketed; cubic or quadratic step, the closer.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dx, dp);
            if stp < stx {
                gamma = -gamma;
            }
            let p = (gamma - dx) + theta;
            let q = ((gamma - dx) + gamma) + dp;
            let stpc = stx + p / q * (stp - stx);
            let stpq = stx + (dx / ((fx - fp) / (stp - stx) + dx)) / 2.0 * (stp - stx);
            self.brackt = true;
            if (stpc - stx).abs() < (stpq - stx).abs() { stpc } else { stpc + (stpq - stpc) / 2.0 }
        } else if sgnd < 0.0 {
            // Derivatives of opposite sign: bracketed; the step farther from stp.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dx, dp);
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dx;
            let stpc = stp + p / q * (stx - stp);
            let stpq = stp + dp / (dp - dx) * (stx - stp);
            self.brackt = true;
            if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq }
        } else if dp.abs() < dx.abs() {
            // Same sign, derivative decreasing in magnitude.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dx, dp);
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = (gamma + (dx - dp)) + gamma;
            let r = p / q;
            let stpc = if r < 0.0 && gamma != 0.0 {
                stp + r * (stx - stp)
            } else if stp > stx {
                stpmax
            } else {
                stpmin
            };
            let stpq = stp + dp / (dp - dx) * (stx - stp);
            if self.brackt {
                let mut t = if (stpc - stp).abs() < (stpq - stp).abs() { stpc } else { stpq };
                t = if stp > stx { t.min(stp + 0.66 * (sty - stp)) } else { t.max(stp + 0.66 * (sty - stp)) };
                t
            } else {
                let t = if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq };
                t.clamp(stpmin, stpmax)
            }
        } else if self.brackt {
            // Same sign, derivative not decreasing: cubic step inside the bracket.
            let theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dy, dp);
            if stp > sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dy;
            stp + p / q * (sty - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
        if fp > fx {
            (self.sty, self.fy, self.gy) = (stp, fp, dp);
        } else {
            if sgnd < 0.0 {
                (self.sty, self.fy, self.gy) = (stx, fx, dx);
            }
            (self.stx, self.fx, self.gx) = (stp, fp, dp);
        }
        stpf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-feature problem with a planted model, small enough to reason about.
    fn planted(rows: usize) -> (Vec<f64>, Vec<bool>) {
        let mut x = Vec::with_capacity(rows * 3);
        let mut y = Vec::with_capacity(rows);
        for i in 0..rows {
            let a = ((i * 37) % 101) as f64 / 50.0 - 1.0;
            let b = ((i * 53) % 97) as f64 / 48.0 - 1.0;
            let c = if i % 3 == 0 { 1.0 } else { 0.0 };
            x.extend([a, b, c]);
            let z = 0.4 + 1.5 * a - 2.0 * b + 0.8 * c;
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            y.push(u < 1.0 / (1.0 + (-z).exp()));
        }
        (x, y)
    }

    /// 4 columns (one binary, one not centred) with a planted model; `tests/data/lbfgs_fixture.py`
    /// builds the same rows for scikit-learn.
    fn fixture(rows: usize) -> (Vec<f64>, Vec<bool>) {
        let mut x = Vec::with_capacity(rows * 4);
        let mut y = Vec::with_capacity(rows);
        for i in 0..rows {
            let a = ((i * 37) % 101) as f64 / 50.0 - 1.0;
            let b = ((i * 53) % 97) as f64 / 48.0 - 1.0;
            let c = if i % 3 == 0 { 1.0 } else { 0.0 };
            let d = ((i * 29) % 89) as f64 / 20.0;
            x.extend([a, b, c, d]);
            let z = 0.4 + 1.5 * a - 2.0 * b + 0.8 * c - 0.3 * d;
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            y.push(u < 1.0 / (1.0 + (-z).exp()));
        }
        (x, y)
    }

    fn fit(x: &[f64], y: &[bool], alpha: f64, tol: f64) -> LogisticFit {
        fit_logistic_lbfgs(x, 4, y, alpha, &LbfgsOptions { tol, max_iter: 10_000, ..LbfgsOptions::default() }).unwrap()
    }

    fn assert_close(got: &LogisticFit, coef: &[f64], intercept: f64, eps: f64) {
        for (g, e) in got.coefficients.iter().chain([&got.intercept]).zip(coef.iter().chain([&intercept])) {
            assert!((g - e).abs() <= eps, "{:?} + {} vs {coef:?} + {intercept}", got.coefficients, got.intercept);
        }
    }

    #[test]
    #[allow(clippy::unreadable_literal)] // pasted from Python, digit for digit
    fn agrees_with_scikit_learn_lbfgs() {
        // LogisticRegression(C=1/alpha, solver="lbfgs", tol=tol).fit(X, y).coef_, intercept_,
        // n_iter_ from tests/data/lbfgs_fixture.py (scikit-learn 1.9.1, scipy 1.17.1). At the
        // default tol both stop on the same iteration with the same (unconverged) iterate: the
        // iterations are the same algorithm, not just the same optimum.
        let (x, y) = fixture(200);
        let cases: [(f64, f64, usize, [f64; 4], f64); 4] = [
            (
                1.0,
                1e-4,
                8,
                [1.3126619775567236, -1.8892950318394326, 0.49749893790289945, -0.26608361043579587],
                0.43274087995267957,
            ),
            (
                1.0,
                1e-12,
                14,
                [1.3126125759949792, -1.889566187863846, 0.496488356073592, -0.26634818994151727],
                0.4337888039436044,
            ),
            (
                10.0,
                1e-4,
                12,
                [0.6901434690454958, -1.0477020053557728, 0.2134513039284654, -0.18122523437904464],
                0.34510484534714453,
            ),
            (
                10.0,
                1e-12,
                15,
                [0.6901380704868775, -1.0476925478764394, 0.21345187925494347, -0.18122824221288897],
                0.34509993622486845,
            ),
        ];
        for (alpha, tol, n_iter, coef, intercept) in cases {
            let got = fit(&x, &y, alpha, tol);
            assert_close(&got, &coef, intercept, 1e-9);
            assert_eq!(got.iterations, n_iter, "alpha {alpha} tol {tol}");
            assert!(got.stop.converged());
        }
    }

    /// `fixture`'s rows with the outcome shifted to about a fifth positive (43 of 200);
    /// `imbalanced` in `tests/data/lbfgs_fixture.py`.
    fn imbalanced(rows: usize) -> (Vec<f64>, Vec<bool>) {
        let (x, _) = fixture(rows);
        let y = x
            .chunks_exact(4)
            .enumerate()
            .map(|(i, r)| {
                let z = -1.6 + 1.5 * r[0] - 2.0 * r[1] + 0.8 * r[2] - 0.3 * r[3];
                let u = ((i * 7919) % 1000) as f64 / 1000.0;
                u < 1.0 / (1.0 + (-z).exp())
            })
            .collect();
        (x, y)
    }

    fn balanced_weights(y: &[bool]) -> Vec<f64> {
        let [neg, pos] = balanced_class_weights(y);
        y.iter().map(|&v| if v { pos } else { neg }).collect()
    }

    #[test]
    #[allow(clippy::unreadable_literal)] // pasted from Python, digit for digit
    fn agrees_with_scikit_learn_class_weight_balanced() {
        // LogisticRegression(C=1/alpha, class_weight="balanced", solver="lbfgs", tol=tol)
        // .fit(X, y).coef_, intercept_, n_iter_ from tests/data/lbfgs_fixture.py
        // (scikit-learn 1.9.1, scipy 1.17.1): same iterations, same iterates.
        let (x, y) = imbalanced(200);
        assert_eq!(y.iter().filter(|&&v| v).count(), 43);
        let weights = balanced_weights(&y);
        let cases: [(f64, f64, usize, [f64; 4], f64); 4] = [
            (
                1.0,
                1e-4,
                8,
                [1.2702544681784944, -1.900402844845009, 0.4523554196691039, -0.22291237837568786],
                -0.14850218990970554,
            ),
            (
                1.0,
                1e-12,
                12,
                [1.269723959169535, -1.9001536552475466, 0.45258244966873457, -0.22295667984387343],
                -0.14827999998067715,
            ),
            (
                10.0,
                1e-4,
                8,
                [0.6886300263403482, -1.041894706583777, 0.20933157426404309, -0.16240661251408775],
                0.03601792366676393,
            ),
            (
                10.0,
                1e-12,
                12,
                [0.6884130900173604, -1.041922913815972, 0.20943525229977608, -0.16235120874672568],
                0.0357907751970242,
            ),
        ];
        for (alpha, tol, n_iter, coef, intercept) in cases {
            let options = LbfgsOptions { tol, max_iter: 10_000, ..LbfgsOptions::default() };
            let got = fit_logistic_lbfgs_weighted(&x, 4, &y, &weights, alpha, &options).unwrap();
            assert_close(&got, &coef, intercept, 1e-9);
            assert_eq!(got.iterations, n_iter, "alpha {alpha} tol {tol}");
            assert!(got.stop.converged());
        }
    }

    #[test]
    fn balanced_weights_follow_scikit_learn() {
        // compute_class_weight("balanced", classes=[0, 1], y) = n / (2 * bincount(y)).
        let y: Vec<bool> = (0..10).map(|i| i < 2).collect();
        assert_eq!(balanced_class_weights(&y), [10.0 / 16.0, 10.0 / 4.0]);
        assert_eq!(balanced_class_weights(&[true, true]), [0.0, 0.5]);
    }

    #[test]
    fn unit_weights_are_the_unweighted_fit_bit_for_bit() {
        let (x, y) = imbalanced(200);
        let options = LbfgsOptions::default();
        let plain = fit_logistic_lbfgs(&x, 4, &y, 1.0, &options).unwrap();
        let ones = fit_logistic_lbfgs_weighted(&x, 4, &y, &[1.0; 200], 1.0, &options).unwrap();
        assert_eq!(plain, ones);
        // An integer weight is the row repeated (scikit-learn's equivalence, to rounding).
        let mut weights = vec![1.0; 200];
        weights[5] = 3.0;
        let mut xr = x.clone();
        let mut yr = y.clone();
        for _ in 0..2 {
            xr.extend_from_slice(&x[20..24]);
            yr.push(y[5]);
        }
        let tight = LbfgsOptions { tol: 1e-12, max_iter: 10_000, ..LbfgsOptions::default() };
        let weighted = fit_logistic_lbfgs_weighted(&x, 4, &y, &weights, 1.0, &tight).unwrap();
        let repeated = fit_logistic_lbfgs(&xr, 4, &yr, 1.0, &tight).unwrap();
        assert_close(&weighted, &repeated.coefficients, repeated.intercept, 1e-9);
    }

    #[test]
    fn bad_weights_are_errors() {
        let (x, y) = imbalanced(20);
        let o = LbfgsOptions::default();
        assert!(fit_logistic_lbfgs_weighted(&x, 4, &y, &[1.0; 19], 1.0, &o).is_err());
        let mut w = vec![1.0; 20];
        w[3] = -1.0;
        let e = fit_logistic_lbfgs_weighted(&x, 4, &y, &w, 1.0, &o).unwrap_err().to_string();
        assert!(e.contains("row 4"), "{e}");
        assert!(fit_logistic_lbfgs_weighted(&x, 4, &y, &[0.0; 20], 1.0, &o).is_err());
    }

    #[test]
    fn agrees_with_smartcore() {
        use smartcore::linalg::basic::arrays::Array;
        use smartcore::linalg::basic::matrix::DenseMatrix;
        use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
        let (x, y) = fixture(200);
        let labels: Vec<u32> = y.iter().map(|&v| u32::from(v)).collect();
        let m = DenseMatrix::new(200, 4, x.clone(), false).unwrap();
        for alpha in [0.0, 1.0, 10.0] {
            let params = LogisticRegressionParameters::default().with_alpha(alpha);
            let lr = LogisticRegression::fit(&m, &labels, params).unwrap();
            let coef: Vec<f64> = (0..4).map(|j| *lr.coefficients().get((0, j))).collect();
            let intercept = *lr.intercept().get((0, 0));
            // smartcore iterates to a 1e-8 gradient on the summed loss; matched at a tight tol.
            assert_close(&fit(&x, &y, alpha, 1e-8), &coef, intercept, 1e-4);
            // At scikit-learn's default tol the coefficients are within its tolerance's reach.
            assert_close(&fit(&x, &y, alpha, 1e-4), &coef, intercept, 5e-3);
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (x, y) = planted(300);
        let obj = Objective { x: &x, cols: 3, y: &y, weights: None, total: 300.0, alpha: 2.0, threads: 1 };
        let w = [0.3, -0.7, 0.2, 0.1];
        let mut g = vec![0.0; 4];
        obj.eval(&w, &mut g);
        for j in 0..4 {
            let h = 1e-6;
            let (mut up, mut dn) = (w, w);
            up[j] += h;
            dn[j] -= h;
            let mut scratch = vec![0.0; 4];
            let fd = (obj.eval(&up, &mut scratch) - obj.eval(&dn, &mut scratch)) / (2.0 * h);
            assert!((fd - g[j]).abs() < 1e-7, "component {j}: {fd} vs {}", g[j]);
        }
    }

    #[test]
    fn line_search_meets_the_strong_wolfe_conditions() {
        // f(t) = (t - 3)^2 + t^4 / 50 from t = 0, first trial far too short.
        let mut phi = |t: f64| ((t - 3.0).powi(2) + t.powi(4) / 50.0, 2.0 * (t - 3.0) + 4.0 * t.powi(3) / 50.0);
        let (f0, g0) = phi(0.0);
        for first in [1e-3, 1.0, 100.0] {
            let s = line_search(&mut phi, f0, g0, first, 50);
            assert!(s.found);
            let (f, g) = phi(s.step);
            assert!(f <= f0 + 1e-3 * s.step * g0, "first {first}: sufficient decrease at {}", s.step);
            assert!(g.abs() <= 0.9 * g0.abs(), "first {first}: curvature at {}", s.step);
        }
    }

    #[test]
    fn thread_count_does_not_change_a_bit() {
        let rows = 3 * CHUNK_ROWS + 17;
        let (x, y) = planted(rows);
        let fits: Vec<LogisticFit> = [1, 2, 3, 8]
            .iter()
            .map(|&threads| {
                fit_logistic_lbfgs(&x, 3, &y, 1.0, &LbfgsOptions { threads, ..LbfgsOptions::default() }).unwrap()
            })
            .collect();
        for f in &fits[1..] {
            assert_eq!(
                f.coefficients.iter().map(|c| c.to_bits()).collect::<Vec<_>>(),
                fits[0].coefficients.iter().map(|c| c.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(f.intercept.to_bits(), fits[0].intercept.to_bits());
            assert_eq!(f.iterations, fits[0].iterations);
        }
        assert!(fits[0].stop.converged());
    }

    #[test]
    fn thread_count_does_not_change_a_weighted_bit() {
        let rows = 3 * CHUNK_ROWS + 17;
        let (x, y) = planted(rows);
        let weights = balanced_weights(&y);
        let fits: Vec<LogisticFit> = [1, 2, 3, 8]
            .iter()
            .map(|&threads| {
                let options = LbfgsOptions { threads, ..LbfgsOptions::default() };
                fit_logistic_lbfgs_weighted(&x, 3, &y, &weights, 1.0, &options).unwrap()
            })
            .collect();
        let bits =
            |f: &LogisticFit| f.coefficients.iter().chain([&f.intercept]).map(|c| c.to_bits()).collect::<Vec<_>>();
        for f in &fits[1..] {
            assert_eq!(bits(f), bits(&fits[0]));
            assert_eq!(f.iterations, fits[0].iterations);
        }
        assert!(fits[0].stop.converged());
    }

    #[test]
    fn max_iter_is_reported_not_failed() {
        let (x, y) = planted(500);
        let f = fit_logistic_lbfgs(&x, 3, &y, 0.0, &LbfgsOptions { max_iter: 2, ..LbfgsOptions::default() }).unwrap();
        assert_eq!((f.stop, f.iterations), (StopReason::MaxIter, 2));
        assert!(!f.stop.converged() && f.gradient_max > 1e-4);
        let f = fit_logistic_lbfgs(&x, 3, &y, 0.0, &LbfgsOptions::default()).unwrap();
        assert!(f.stop.converged(), "{:?}", f.stop);
        assert!(f.gradient_max <= 1e-4 || f.stop == StopReason::Function);
    }

    #[test]
    fn separable_data_without_penalty_stops_cleanly() {
        let x: Vec<f64> = (0..40).map(|i| f64::from(i) - 19.5).collect();
        let y: Vec<bool> = x.iter().map(|&v| v > 0.0).collect();
        let f = fit_logistic_lbfgs(&x, 1, &y, 0.0, &LbfgsOptions::default()).unwrap();
        assert!(f.coefficients[0].is_finite() && f.coefficients[0] > 1.0, "{f:?}");
        let f = fit_logistic_lbfgs(&x, 1, &y, 1.0, &LbfgsOptions::default()).unwrap();
        assert!(f.stop.converged(), "{f:?}");
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(fit_logistic_lbfgs(&[1.0, 2.0, 3.0], 2, &[true, false], 1.0, &LbfgsOptions::default()).is_err());
        assert!(fit_logistic_lbfgs(&[1.0, 2.0], 1, &[true, false], f64::NAN, &LbfgsOptions::default()).is_err());
    }
}
