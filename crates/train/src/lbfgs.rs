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

use serde::{Deserialize, Serialize};

mod minimise;
mod objective;

use minimise::minimise;
pub(crate) use objective::PatternRows;
use objective::{Objective, PatternObjective};

use crate::TrainError;
use crate::design::Design;

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
