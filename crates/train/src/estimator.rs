//! The two model families, fitted (logistic regression with our L-BFGS or smartcore, forests
//! with smartcore) and applied as probabilities.

use rand::RngCore;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use crate::TrainError;
use crate::design::Design;
use crate::features::Matrix;
use crate::lbfgs::{
    LbfgsOptions, LogisticFit, PatternRows, StopReason, balanced_class_weights, fit_logistic_lbfgs,
    fit_logistic_lbfgs_weighted, fit_logistic_patterns,
};
use crate::params::{GridPoint, LogisticParams, Solver};
use crate::split;

type Dense = DenseMatrix<f64>;
/// One smartcore tree, held as a one-tree forest: smartcore keeps a forest's trees private,
/// and a one-tree forest still does the row bootstrap and the `sqrt(p)` feature sampling, so a
/// list of them is a random forest whose per-tree votes we can count.
type Tree = RandomForestClassifier<f64, u32, Dense, Vec<u32>>;

/// Grows `n_trees` one-tree smartcore forests in parallel. With `max_samples` below the
/// row count, each tree first takes its own random subset of that many rows (smartcore then
/// bootstraps within it).
fn fit_forest(
    x: &Matrix,
    labels: &[u32],
    n_trees: u16,
    max_depth: u16,
    min_samples_leaf: usize,
    max_samples: usize,
    seed: u64,
) -> Result<Vec<Tree>, TrainError> {
    let algorithm = "random_forest";
    let mut rng = split::rng(seed, 100);
    let seeds: Vec<u64> = (0..n_trees).map(|_| rng.next_u64()).collect();
    let whole =
        if max_samples == 0 || max_samples >= x.rows { Some((dense(x.clone())?, labels.to_vec())) } else { None };
    let grow = |tree_seed: u64| -> Result<Tree, TrainError> {
        let mut p = RandomForestClassifierParameters::default()
            .with_n_trees(1)
            .with_min_samples_leaf(min_samples_leaf)
            .with_seed(tree_seed);
        if max_depth > 0 {
            p = p.with_max_depth(max_depth);
        }
        if let Some((d, all)) = &whole {
            return Tree::fit(d, all, p).map_err(|e| TrainError::fit(algorithm, e));
        }
        let mut rows: Vec<usize> = (0..x.rows).collect();
        let (subset, _) = rows.partial_shuffle(&mut split::rng(tree_seed, 101), max_samples);
        subset.sort_unstable();
        let sample_labels: Vec<u32> = subset.iter().map(|&i| labels[i]).collect();
        if sample_labels.iter().all(|&l| l == sample_labels[0]) {
            return Err(TrainError::Data(format!(
                "{algorithm}: a sample of max_samples = {max_samples} rows held a single class; raise max_samples"
            )));
        }
        Tree::fit(&dense(x.take(subset))?, &sample_labels, p).map_err(|e| TrainError::fit(algorithm, e))
    };
    // One task per tree on rayon's pool, collected in seed order.
    let trees: Vec<Tree> = seeds.par_iter().map(|&tree_seed| grow(tree_seed)).collect::<Result<_, _>>()?;
    Ok(trees)
}

/// A fitted model over the feature matrix. Probabilities are P(positive class).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Estimator {
    /// p = sigmoid(x . coefficients + intercept).
    LogisticRegression {
        alpha: f64,
        /// Format 1 artifacts predate the choice: they were all fitted by smartcore.
        #[serde(default = "smartcore_solver")]
        solver: Solver,
        coefficients: Vec<f64>,
        intercept: f64,
        /// How our L-BFGS stopped (absent for smartcore, which does not say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        convergence: Option<Convergence>,
    },
    /// p = share of trees voting positive.
    RandomForest {
        n_trees: u16,
        max_depth: u16,
        min_samples_leaf: usize,
        /// Rows each tree was grown from (0 = all; absent before format 3).
        #[serde(default, skip_serializing_if = "crate::params::is_zero")]
        max_samples: usize,
        trees: Vec<Tree>,
    },
}

/// How an iterative fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Convergence {
    pub(crate) iterations: usize,
    pub(crate) stop: StopReason,
}

fn smartcore_solver() -> Solver {
    Solver::Smartcore
}

fn dense(x: Matrix) -> Result<Dense, TrainError> {
    DenseMatrix::new(x.rows, x.cols, x.data, false).map_err(|e| TrainError::Data(e.to_string()))
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

impl Estimator {
    /// Fits one grid point on `x` (consumed) with labels `y` (true = positive). `threads` only
    /// sets how fast our L-BFGS runs, never its result. `class_weighted` weights the rows by
    /// scikit-learn's `class_weight="balanced"` (computed from `y`); only our L-BFGS takes
    /// weights, so asking it of another fitter is an error (the caller resamples instead, see
    /// [`Balance::effective`](crate::Balance::effective)).
    pub(crate) fn fit(
        point: &GridPoint,
        logistic: &LogisticParams,
        x: Matrix,
        y: &[bool],
        class_weighted: bool,
        seed: u64,
        threads: usize,
    ) -> Result<Self, TrainError> {
        let algorithm = point.algorithm();
        let pos = y.iter().filter(|&&v| v).count();
        if pos == 0 || pos == y.len() {
            return Err(TrainError::Data(format!("{algorithm}: the rows to fit hold a single class")));
        }
        if x.cols == 0 {
            return Err(TrainError::Data("the feature matrix has no columns".into()));
        }
        if let (GridPoint::LogisticRegression { alpha }, Solver::Lbfgs) = (point, logistic.solver) {
            let options =
                LbfgsOptions { max_iter: logistic.max_iter, tol: logistic.tol, threads, ..LbfgsOptions::default() };
            let fit = if class_weighted {
                let [neg, pos] = balanced_class_weights(y);
                let weights: Vec<f64> = y.iter().map(|&v| if v { pos } else { neg }).collect();
                fit_logistic_lbfgs_weighted(&x.data, x.cols, y, &weights, *alpha, &options)?
            } else {
                fit_logistic_lbfgs(&x.data, x.cols, y, *alpha, &options)?
            };
            return Ok(Self::logistic_lbfgs(*alpha, fit));
        }
        if class_weighted {
            return Err(TrainError::param(
                "balance",
                format!(
                    "\"weight\" needs logistic regression with logistic.solver = \"lbfgs\" (got {algorithm}, solver {})",
                    logistic.solver.as_str()
                ),
            ));
        }
        let labels: Vec<u32> = y.iter().map(|&v| u32::from(v)).collect();
        if let GridPoint::RandomForest { n_trees, max_depth, min_samples_leaf, max_samples } = *point {
            let trees = fit_forest(&x, &labels, n_trees, max_depth, min_samples_leaf, max_samples, seed)?;
            return Ok(Self::RandomForest { n_trees, max_depth, min_samples_leaf, max_samples, trees });
        }
        let x = dense(x)?;
        match *point {
            GridPoint::LogisticRegression { alpha } => {
                let params = LogisticRegressionParameters::default().with_alpha(alpha);
                let lr = LogisticRegression::fit(&x, &labels, params).map_err(|e| TrainError::fit(algorithm, e))?;
                if lr.classes() != &[0, 1] {
                    return Err(TrainError::fit(algorithm, "unexpected class set"));
                }
                let (_, p) = lr.coefficients().shape();
                let coefficients = (0..p).map(|j| *lr.coefficients().get((0, j))).collect();
                Ok(Self::LogisticRegression {
                    alpha,
                    solver: Solver::Smartcore,
                    coefficients,
                    intercept: *lr.intercept().get((0, 0)),
                    convergence: None,
                })
            }
            GridPoint::RandomForest { .. } => unreachable!("fitted above"),
        }
    }

    /// [`Estimator::fit`] on the rows `rows` of `design` (repeats allowed, labels `y[row]`). Our
    /// L-BFGS sums its loss over the rows' distinct patterns (no dense copy), starting from
    /// `start` (`[coefficients.., intercept]`) when given; the other fitters get the dense rows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fit_rows(
        point: &GridPoint,
        logistic: &LogisticParams,
        design: &Design,
        rows: &[usize],
        y: &[bool],
        class_weighted: bool,
        seed: u64,
        threads: usize,
        start: Option<&[f64]>,
    ) -> Result<Self, TrainError> {
        let (GridPoint::LogisticRegression { alpha }, Solver::Lbfgs) = (point, logistic.solver) else {
            let labels: Vec<bool> = rows.iter().map(|&r| y[r]).collect();
            return Self::fit(point, logistic, design.dense(rows), &labels, class_weighted, seed, threads);
        };
        let pos = rows.iter().filter(|&&r| y[r]).count();
        if pos == 0 || pos == rows.len() {
            return Err(TrainError::Data(format!("{}: the rows to fit hold a single class", point.algorithm())));
        }
        if design.cols == 0 {
            return Err(TrainError::Data("the feature matrix has no columns".into()));
        }
        let options =
            LbfgsOptions { max_iter: logistic.max_iter, tol: logistic.tol, threads, ..LbfgsOptions::default() };
        let pattern_rows = PatternRows::new(design, rows, y, class_weighted);
        let fit = fit_logistic_patterns(design, &pattern_rows, *alpha, &options, start)?;
        Ok(Self::logistic_lbfgs(*alpha, fit))
    }

    fn logistic_lbfgs(alpha: f64, fit: LogisticFit) -> Self {
        if !fit.stop.converged() {
            tracing::warn!(
                alpha,
                iterations = fit.iterations,
                stop = ?fit.stop,
                gradient_max = fit.gradient_max,
                "logistic regression did not converge (raise logistic.max_iter or scale the features)"
            );
        }
        Self::LogisticRegression {
            alpha,
            solver: Solver::Lbfgs,
            coefficients: fit.coefficients,
            intercept: fit.intercept,
            convergence: Some(Convergence { iterations: fit.iterations, stop: fit.stop }),
        }
    }

    /// The logistic regression's `[coefficients.., intercept]` (a warm start for a nearby fit).
    pub(crate) fn parameters(&self) -> Option<Vec<f64>> {
        match self {
            Self::LogisticRegression { coefficients, intercept, .. } => {
                Some(coefficients.iter().copied().chain([*intercept]).collect())
            }
            Self::RandomForest { .. } => None,
        }
    }

    /// [`Estimator::predict_proba`] of the rows `rows` of `design`, the same bits as on their
    /// dense matrix.
    pub(crate) fn predict_rows(&self, design: &Design, rows: &[usize]) -> Result<Vec<f64>, TrainError> {
        match self {
            Self::LogisticRegression { coefficients, intercept, .. }
                if coefficients.len() == design.cols && coefficients.iter().all(|c| c.is_finite()) =>
            {
                Ok(rows
                    .par_iter()
                    .map(|&r| {
                        let z = design.dot(design.pattern_of(r), coefficients) + intercept;
                        1.0 / (1.0 + (-z).exp())
                    })
                    .collect())
            }
            _ => self.predict_proba(&design.dense(rows)),
        }
    }

    /// `logistic_regression` or `random_forest`.
    pub(crate) fn algorithm(&self) -> &'static str {
        match self {
            Self::LogisticRegression { .. } => "logistic_regression",
            Self::RandomForest { .. } => "random_forest",
        }
    }

    /// Whether an iterative fit stopped short of convergence (never for smartcore or forests).
    pub(crate) fn not_converged(&self) -> bool {
        matches!(self, Self::LogisticRegression { convergence: Some(c), .. } if !c.stop.converged())
    }

    /// The logistic regression solver and, for ours, how it stopped.
    pub(crate) fn solver(&self) -> Option<(Solver, Option<Convergence>)> {
        match self {
            Self::LogisticRegression { solver, convergence, .. } => Some((*solver, *convergence)),
            Self::RandomForest { .. } => None,
        }
    }

    /// P(positive) per row of `x`.
    pub(crate) fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>, TrainError> {
        match self {
            Self::LogisticRegression { coefficients, intercept, .. } => {
                if coefficients.len() != x.cols {
                    return Err(TrainError::Data(format!(
                        "model has {} coefficients but the features have {} columns",
                        coefficients.len(),
                        x.cols
                    )));
                }
                Ok((0..x.rows)
                    .map(|i| {
                        let z: f64 = x.row(i).iter().zip(coefficients).map(|(a, b)| a * b).sum::<f64>() + intercept;
                        1.0 / (1.0 + (-z).exp())
                    })
                    .collect())
            }
            Self::RandomForest { trees, .. } => {
                if x.rows == 0 {
                    return Ok(Vec::new());
                }
                let d = dense(x.clone())?;
                let mut votes = vec![0u32; x.rows];
                for t in trees {
                    let pred = t.predict(&d).map_err(|e| TrainError::fit("random_forest", e))?;
                    for (v, p) in votes.iter_mut().zip(pred) {
                        *v += p;
                    }
                }
                let n = trees.len().max(1) as f64;
                Ok(votes.into_iter().map(|v| f64::from(v) / n).collect())
            }
        }
    }
}
