//! The inference model: unpenalised, unweighted logistic regression by maximum likelihood, with
//! naive and cluster-robust covariances and typed warnings for what makes coefficients
//! meaningless (aliased columns, separation, non-convergence).

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::InferenceError;
use crate::adjust::{Adjustment, adjust_p_values};
use crate::collinear;
use crate::linalg::{Cholesky, Mat, add_outer_lower, sandwich, symmetrize};
use crate::normal::{normal_quantile, two_sided_p_value};

/// The intercept's name in a report (first coefficient when [`LogitOptions::intercept`]).
pub const INTERCEPT: &str = "(intercept)";

/// A Hessian pivot at or below this share of its diagonal entry makes it numerically singular.
const PIVOT_TOL: f64 = 1e-13;
/// Step halvings tried before a Newton step is given up.
const MAX_HALVINGS: usize = 40;
/// A row whose linear predictor changed by more than this in the last Newton step is still
/// being pushed (towards a fitted probability of 0 or 1, under separation).
const MOVING_TOL: f64 = 1e-6;
/// Refits on the rows left after setting separated rows aside.
const MAX_SEPARATION_ROUNDS: usize = 3;
/// A well-posed fit converges (quadratically) in well under this many Newton iterations; from
/// here on, rows still being pushed to perfect predictions mean separation.
const SEPARATION_CHECK_FROM: usize = 15;

/// A dense design matrix: `rows` x `names.len()` values, row-major, without an intercept column
/// (the fit adds it, see [`LogitOptions::intercept`]).
#[derive(Debug, Clone, Copy)]
pub struct Design<'a> {
    x: &'a [f64],
    rows: usize,
    names: &'a [String],
}

impl<'a> Design<'a> {
    /// Checks the shape: `x.len() == rows * names.len()`, names distinct and not
    /// [`INTERCEPT`]. Values are checked (finite) when fitted.
    pub fn new(x: &'a [f64], rows: usize, names: &'a [String]) -> Result<Self, InferenceError> {
        if rows.checked_mul(names.len()) != Some(x.len()) {
            return Err(InferenceError::Shape(format!(
                "{} values are not {rows} rows of {} columns",
                x.len(),
                names.len()
            )));
        }
        for (j, n) in names.iter().enumerate() {
            if n == INTERCEPT {
                return Err(InferenceError::Shape(format!("column {j} is named `{INTERCEPT}`, the intercept's name")));
            }
            if names[..j].contains(n) {
                return Err(InferenceError::Shape(format!(
                    "column name `{}` appears twice",
                    esteira_core::excerpt(n, 80)
                )));
            }
        }
        Ok(Self { x, rows, names })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Column names.
    pub fn names(&self) -> &[String] {
        self.names
    }

    fn value(&self, i: usize, j: usize) -> f64 {
        self.x[i * self.names.len() + j]
    }
}

/// Cluster memberships (e.g. students, for rows that are enrolments), numbered by first
/// appearance so that every sum over clusters runs in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters {
    ids: Vec<usize>,
    count: usize,
}

impl Clusters {
    /// One key per row; rows with equal keys are one cluster.
    pub fn from_keys<K: Hash + Eq>(keys: &[K]) -> Self {
        let mut seen: HashMap<&K, usize> = HashMap::with_capacity(keys.len() / 2 + 1);
        let ids = keys
            .iter()
            .map(|k| {
                let next = seen.len();
                *seen.entry(k).or_insert(next)
            })
            .collect();
        Self { ids, count: seen.len() }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of distinct clusters.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Each row's cluster, 0-based in order of first appearance.
    pub fn ids(&self) -> &[usize] {
        &self.ids
    }
}

/// How the model is fitted and diagnosed. The defaults suit designs of standardised numerics and
/// one-hot columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogitOptions {
    /// Add an intercept (first coefficient, named [`INTERCEPT`]).
    pub intercept: bool,
    /// Newton iterations at most (each may halve its step up to 40 times).
    pub max_iter: usize,
    /// Converged when every step `|Δβ_j| <= step_tol * max(1, |β_j|)` ...
    pub step_tol: f64,
    /// ... and every mean score `|∂ℓ/∂β_j| / n <= gradient_tol`.
    pub gradient_tol: f64,
    /// A column is aliased (dropped) when its `1 - R²` on the intercept and the earlier kept
    /// columns is below this (VIF above its inverse).
    pub alias_tol: f64,
    /// A kept column whose variance inflation factor exceeds this gets a
    /// [`FitWarning::NearCollinear`] (10 is the usual rule of thumb).
    pub vif_warn: f64,
    /// A fitted probability within this of 0 or 1 is numerically perfect.
    pub separation_tol: f64,
    /// Confidence level of the intervals.
    pub confidence: f64,
}

impl Default for LogitOptions {
    fn default() -> Self {
        Self {
            intercept: true,
            max_iter: 50,
            step_tol: 1e-8,
            gradient_tol: 1e-8,
            alias_tol: 1e-10,
            vif_warn: 10.0,
            separation_tol: 1e-10,
            confidence: 0.95,
        }
    }
}

impl LogitOptions {
    fn validate(&self) -> Result<(), InferenceError> {
        let bad = |name, message: &str| Err(InferenceError::InvalidOption { name, message: message.to_owned() });
        if self.max_iter == 0 || self.max_iter > 10_000 {
            return bad("max_iter", "must be 1 to 10000");
        }
        for (name, v) in [
            ("step_tol", self.step_tol),
            ("gradient_tol", self.gradient_tol),
            ("alias_tol", self.alias_tol),
            ("separation_tol", self.separation_tol),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return bad(name, "must be in (0, 1)");
            }
        }
        if self.vif_warn.is_nan() || self.vif_warn < 1.0 {
            return bad("vif_warn", "must be at least 1");
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad("confidence", "must be in (0, 1)");
        }
        Ok(())
    }
}

/// Which way a coefficient diverges under separation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards `+inf`: the odds ratio is unbounded above.
    Positive,
    /// Towards `-inf`: the odds ratio goes to 0.
    Negative,
}

/// What became of a coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CoefficientStatus {
    /// Estimated (see [`LogitReport::converged`] and the warnings).
    Estimated,
    /// Dropped before fitting: (numerically) a linear combination of the intercept and
    /// earlier columns ([`FitWarning::Aliased`]).
    Aliased,
    /// Not identified: it diverges under (quasi-)separation ([`FitWarning::QuasiSeparation`]).
    Separated {
        /// Which way.
        direction: Direction,
    },
    /// Not estimated: the whole fit is not identified ([`FitWarning::CompleteSeparation`],
    /// [`FitWarning::TooFewRows`]).
    NotEstimated,
}

/// Standard error, test and interval of one coefficient under one covariance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Uncertainty {
    /// Standard error.
    pub std_error: f64,
    /// `estimate / std_error`.
    pub z: f64,
    /// Two-sided p-value from the normal distribution (statsmodels' Logit, `use_t=False`).
    pub p_value: f64,
    /// Confidence interval of the coefficient (`estimate ± z_(1-α/2) std_error`).
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// The interval of the odds ratio: `exp` of the coefficient's.
    pub odds_ratio_low: f64,
    /// Upper end.
    pub odds_ratio_high: f64,
}

/// Which covariance an [`Uncertainty`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Covariance {
    /// The inverse of the observed information (rows independent).
    Naive,
    /// The cluster-robust sandwich (CRV1 with statsmodels' small-sample correction).
    Clustered,
}

/// One coefficient of the inference model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    /// The design column's name, or [`INTERCEPT`].
    pub name: String,
    /// What became of it; the numbers below are `None` unless it is
    /// [`CoefficientStatus::Estimated`].
    #[serde(flatten)]
    pub status: CoefficientStatus,
    /// The maximum-likelihood estimate (log odds ratio per unit of the column).
    pub estimate: Option<f64>,
    /// `exp(estimate)`.
    pub odds_ratio: Option<f64>,
    /// Variance inflation factor of the column among the design's kept columns (`None` for the
    /// intercept and without one).
    pub vif: Option<f64>,
    /// Under the naive covariance; `None` also when it cannot be computed (a warning says why).
    pub naive: Option<Uncertainty>,
    /// Under the cluster-robust covariance; `None` also when no clusters were given.
    pub clustered: Option<Uncertainty>,
}

impl Coefficient {
    /// The uncertainty under `kind`.
    pub fn uncertainty(&self, kind: Covariance) -> Option<&Uncertainty> {
        match kind {
            Covariance::Naive => self.naive.as_ref(),
            Covariance::Clustered => self.clustered.as_ref(),
        }
    }
}

/// A column named in a separation warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeparatedColumn {
    /// The column.
    pub column: String,
    /// Which way its coefficient diverges.
    pub direction: Direction,
}

/// Something that makes some numbers of the report meaningless or doubtful. Each names what it
/// concerns; none is an error, and the affected numbers are withheld rather than printed huge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FitWarning {
    /// A column is (numerically) a linear combination of the intercept and earlier columns; it
    /// was dropped before fitting (the earlier ones keep their meaning).
    Aliased {
        /// The dropped column.
        column: String,
        /// The columns it is a combination of, heaviest first (empty: constant, aliased with
        /// the intercept, or all zeros).
        with: Vec<String>,
        /// Its `1 - R²` on them.
        one_minus_r2: f64,
    },
    /// A kept column's variance inflation factor is above [`LogitOptions::vif_warn`]: its
    /// standard error is inflated by `sqrt(vif)` and its estimate is unstable.
    NearCollinear {
        /// The column.
        column: String,
        /// Its VIF.
        vif: f64,
    },
    /// Quasi-complete separation: some rows are predicted perfectly along a direction in which
    /// the likelihood keeps rising, so the coefficients of `columns` diverge (the maximum
    /// likelihood estimate does not exist for them). Their numbers are withheld; the other
    /// coefficients are the limit of the fit: refitted on the rows that are not perfectly
    /// predicted, without the columns that are constant (or collinear) there.
    QuasiSeparation {
        /// Rows set aside (perfectly predicted in the limit).
        rows: usize,
        /// Diverging columns.
        columns: Vec<SeparatedColumn>,
    },
    /// Complete separation: every row can be predicted perfectly; no coefficient is identified.
    CompleteSeparation {
        /// Rows of the fit.
        rows: usize,
    },
    /// The fit stopped before converging, for no separation found; the estimates are its last
    /// iterate.
    NotConverged {
        /// Newton iterations run.
        iterations: usize,
        /// Largest relative step of the last iteration.
        max_step: f64,
        /// Largest mean score at the last iterate.
        max_gradient: f64,
    },
    /// The information matrix is numerically singular at the estimate: no standard errors.
    SingularInformation,
    /// The fit converged, but these rows have fitted probabilities within
    /// [`LogitOptions::separation_tol`] of 0 or 1 (extreme covariate values).
    ExtremeProbabilities {
        /// How many.
        rows: usize,
    },
    /// Fewer than two clusters among the fitted rows: no cluster-robust covariance.
    TooFewClusters {
        /// Clusters among the fitted rows.
        clusters: usize,
    },
    /// After setting separated rows aside, too few rows remain for the parameters.
    TooFewRows {
        /// Rows left.
        rows: usize,
        /// Parameters.
        parameters: usize,
    },
}

impl fmt::Display for FitWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Aliased { column, with, one_minus_r2 } if with.is_empty() => {
                write!(f, "`{column}` is constant (1 - R² = {one_minus_r2:.3e} on the intercept): dropped")
            }
            Self::Aliased { column, with, one_minus_r2 } => write!(
                f,
                "`{column}` is a linear combination of {} (1 - R² = {one_minus_r2:.3e}): dropped",
                with.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
            ),
            Self::NearCollinear { column, vif } => write!(
                f,
                "`{column}` is nearly collinear with other columns (VIF {vif:.1}): its standard error is inflated \
                 {:.1}-fold",
                vif.sqrt()
            ),
            Self::QuasiSeparation { rows, columns } => write!(
                f,
                "quasi-separation: {rows} rows are predicted perfectly; the coefficients of {} diverge and are \
                 not estimated (the others are fitted on the remaining rows)",
                columns
                    .iter()
                    .map(|c| format!(
                        "`{}` ({})",
                        c.column,
                        match c.direction {
                            Direction::Positive => "+inf",
                            Direction::Negative => "-inf",
                        }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::CompleteSeparation { rows } => {
                write!(
                    f,
                    "complete separation: all {rows} rows can be predicted perfectly; no coefficient is identified"
                )
            }
            Self::NotConverged { iterations, max_step, max_gradient } => write!(
                f,
                "did not converge in {iterations} iterations (last relative step {max_step:.3e}, mean score \
                 {max_gradient:.3e}): estimates are the last iterate"
            ),
            Self::SingularInformation => write!(f, "the information matrix is singular: no standard errors"),
            Self::ExtremeProbabilities { rows } => {
                write!(f, "{rows} rows have fitted probabilities numerically 0 or 1")
            }
            Self::TooFewClusters { clusters } => {
                write!(f, "{clusters} cluster(s) among the fitted rows: no cluster-robust standard errors")
            }
            Self::TooFewRows { rows, parameters } => {
                write!(f, "{rows} rows left for {parameters} parameters: nothing estimated")
            }
        }
    }
}

/// The inference model's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogitReport {
    /// One per parameter: the intercept first (if any), then the design's columns in order.
    pub coefficients: Vec<Coefficient>,
    /// Rows given.
    pub rows: usize,
    /// Rows of the final fit (fewer than `rows` after setting separated rows aside).
    pub rows_used: usize,
    /// Clusters among the rows used; `None` without clusters.
    pub clusters_used: Option<usize>,
    /// Parameters of the final fit (`K`).
    pub parameters: usize,
    /// Newton iterations of the final fit.
    pub iterations: usize,
    /// Whether the final fit converged.
    pub converged: bool,
    /// Log-likelihood of the final fit (`None` when nothing was fitted).
    pub log_likelihood: Option<f64>,
    /// The factor applied to the cluster sandwich, `G/(G-1) * (N-1)/(N-K)`.
    pub cluster_correction: Option<f64>,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// What went wrong, in the order found.
    pub warnings: Vec<FitWarning>,
}

impl LogitReport {
    /// The coefficient named `name`.
    pub fn coefficient(&self, name: &str) -> Option<&Coefficient> {
        self.coefficients.iter().find(|c| c.name == name)
    }

    /// Adjusted p-values under `kind`, one per coefficient: the family is every coefficient with
    /// a p-value, less the intercept unless `include_intercept`; others get `None`.
    pub fn adjusted_p_values(
        &self,
        kind: Covariance,
        method: Adjustment,
        include_intercept: bool,
    ) -> Result<Vec<Option<f64>>, InferenceError> {
        let family: Vec<(usize, f64)> = self
            .coefficients
            .iter()
            .enumerate()
            .filter(|(_, c)| include_intercept || c.name != INTERCEPT)
            .filter_map(|(i, c)| c.uncertainty(kind).map(|u| (i, u.p_value)))
            .collect();
        let adjusted = adjust_p_values(&family.iter().map(|f| f.1).collect::<Vec<_>>(), method)?;
        let mut out = vec![None; self.coefficients.len()];
        for ((i, _), a) in family.into_iter().zip(adjusted) {
            out[i] = Some(a);
        }
        Ok(out)
    }
}

/// Log-likelihood, score and information (lower triangle) at one `beta`.
struct Eval {
    ll: f64,
    grad: Vec<f64>,
    hess: Vec<f64>,
}

/// `(p, 1 - p)` of a linear predictor, each computed without cancellation.
fn probabilities(eta: f64) -> (f64, f64) {
    if eta >= 0.0 {
        let e = (-eta).exp();
        (1.0 / (1.0 + e), e / (1.0 + e))
    } else {
        let e = eta.exp();
        (e / (1.0 + e), 1.0 / (1.0 + e))
    }
}

/// `ln(1 + e^t)` without overflow.
fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// One pass over the rows. Only a row's non-zero values are visited (one-hot designs are mostly
/// zeros): the skipped terms are exact zeros, so the sums are those of the dense loops, in the
/// same order.
fn evaluate(x: &Mat, y: &[bool], beta: &[f64]) -> Eval {
    let k = x.cols;
    let mut ll = 0.0;
    let mut grad = vec![0.0; k];
    let mut hess = vec![0.0; k * k];
    let mut nz: Vec<usize> = Vec::with_capacity(k);
    for (i, &yi) in y.iter().enumerate() {
        let row = x.row(i);
        nz.clear();
        nz.extend((0..k).filter(|&j| row[j] != 0.0));
        let mut eta = 0.0;
        for &j in &nz {
            eta += row[j] * beta[j];
        }
        let (p, q) = probabilities(eta);
        ll -= if yi { softplus(-eta) } else { softplus(eta) };
        let r = if yi { q } else { -p };
        let w = p * q;
        for (ai, &a) in nz.iter().enumerate() {
            grad[a] += r * row[a];
            let xa = w * row[a];
            let h = &mut hess[a * k..=a * k + a];
            for &b in &nz[..=ai] {
                h[b] += xa * row[b];
            }
        }
    }
    Eval { ll, grad, hess }
}

/// Per row of `x`: whether the last step moved its linear predictor, and whether it is then
/// predicted perfectly (its observed class has probability within `tol` of 1).
fn moving_rows(x: &Mat, y: &[bool], beta: &[f64], step: &[f64], tol: f64) -> (Vec<bool>, usize) {
    let mut moving = vec![false; x.rows];
    let mut perfect = 0usize;
    for (i, m) in moving.iter_mut().enumerate() {
        *m = x.dot_row(i, step).abs() > MOVING_TOL;
        if *m {
            let (p, q) = probabilities(x.dot_row(i, beta));
            if (if y[i] { q } else { p }) < tol {
                perfect += 1;
            }
        }
    }
    (moving, perfect)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Converged,
    MaxIter,
    Singular,
    /// Rows are being pushed to perfect predictions long after a well-posed fit would have
    /// converged.
    Separating,
    NoAscent,
}

struct Newton {
    beta: Vec<f64>,
    ll: f64,
    iterations: usize,
    stop: Stop,
    last_step: Vec<f64>,
    max_step: f64,
    max_gradient: f64,
}

/// Newton–Raphson from `start` (zeros if `None`) with step halving: a step that lowers the
/// log-likelihood (beyond rounding) is halved until it does not. From iteration
/// [`SEPARATION_CHECK_FROM`] on, a fit whose last step still moves perfectly predicted rows
/// stops early (`Stop::Separating`): it is diverging, and more iterations only push those rows
/// further.
fn newton(x: &Mat, y: &[bool], o: &LogitOptions, start: Option<Vec<f64>>) -> Newton {
    let k = x.cols;
    let n = x.rows as f64;
    let mut beta = start.unwrap_or_else(|| vec![0.0; k]);
    let mut cur = evaluate(x, y, &beta);
    let mut last_step = vec![0.0; k];
    let mut iterations = 0;
    let mut max_step = f64::INFINITY;
    let max_grad = |e: &Eval| e.grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) / n;
    let mut stop = Stop::MaxIter;
    while iterations < o.max_iter {
        let Some(chol) = Cholesky::new(&cur.hess, k, PIVOT_TOL) else {
            stop = Stop::Singular;
            break;
        };
        let delta = chol.solve(&cur.grad);
        let slack = 1e-12 * cur.ll.abs().max(1.0);
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..=MAX_HALVINGS {
            let trial_beta: Vec<f64> = beta.iter().zip(&delta).map(|(b, d)| b + scale * d).collect();
            let trial = evaluate(x, y, &trial_beta);
            if trial.ll >= cur.ll - slack {
                accepted = Some((trial_beta, trial));
                break;
            }
            scale *= 0.5;
        }
        let Some((next_beta, next)) = accepted else {
            stop = if max_grad(&cur) <= o.gradient_tol { Stop::Converged } else { Stop::NoAscent };
            break;
        };
        for j in 0..k {
            last_step[j] = next_beta[j] - beta[j];
        }
        max_step = last_step.iter().zip(&next_beta).fold(0.0f64, |m, (d, b)| m.max(d.abs() / b.abs().max(1.0)));
        beta = next_beta;
        cur = next;
        iterations += 1;
        if max_step <= o.step_tol && max_grad(&cur) <= o.gradient_tol {
            stop = Stop::Converged;
            break;
        }
        if iterations >= SEPARATION_CHECK_FROM && moving_rows(x, y, &beta, &last_step, o.separation_tol).1 > 0 {
            stop = Stop::Separating;
            break;
        }
    }
    Newton { beta, ll: cur.ll, iterations, stop, last_step, max_step, max_gradient: max_grad(&cur) }
}

/// The rows and parameter columns of one fit.
struct Problem<'d> {
    design: &'d Design<'d>,
    intercept: bool,
    rows: Vec<usize>,
    /// Design columns (not counting the intercept).
    cols: Vec<usize>,
}

impl Problem<'_> {
    fn parameters(&self) -> usize {
        self.cols.len() + usize::from(self.intercept)
    }

    fn matrix(&self) -> Mat {
        let k = self.parameters();
        let mut data = Vec::with_capacity(self.rows.len() * k);
        for &i in &self.rows {
            if self.intercept {
                data.push(1.0);
            }
            data.extend(self.cols.iter().map(|&c| self.design.value(i, c)));
        }
        Mat { rows: self.rows.len(), cols: k, data }
    }

    /// Report position of fitted parameter `p`.
    fn position(&self, p: usize) -> usize {
        if self.intercept { if p == 0 { 0 } else { self.cols[p - 1] + 1 } } else { self.cols[p] }
    }
}

fn uncertainty(estimate: f64, variance: f64, q: f64) -> Option<Uncertainty> {
    if !(variance > 0.0 && variance.is_finite()) {
        return None;
    }
    let se = variance.sqrt();
    let z = estimate / se;
    let (lo, hi) = (estimate - q * se, estimate + q * se);
    Some(Uncertainty {
        std_error: se,
        z,
        p_value: two_sided_p_value(z),
        ci_low: lo,
        ci_high: hi,
        odds_ratio_low: lo.exp(),
        odds_ratio_high: hi.exp(),
    })
}

/// Fits the inference model: `P(y) = sigmoid(intercept + design · β)` by maximum likelihood,
/// with naive standard errors and, given `clusters`, cluster-robust ones (statsmodels'
/// `Logit(y, X).fit(cov_type="cluster", cov_kwds={"groups": g})`: CRV1 scaled by
/// `G/(G-1) * (N-1)/(N-K)`, normal p-values and intervals).
///
/// Before fitting, aliased columns are dropped ([`FitWarning::Aliased`]). A fit that does not
/// converge is examined for separation: rows still being pushed towards a fitted probability of
/// 0 or 1 in the last step are set aside, the columns diverging with them are withheld
/// ([`CoefficientStatus::Separated`]) and the rest is refitted on the remaining rows. All sums
/// run in a fixed order: equal inputs give bit-identical reports.
pub fn fit_logit(
    design: &Design<'_>,
    y: &[bool],
    clusters: Option<&Clusters>,
    options: &LogitOptions,
) -> Result<LogitReport, InferenceError> {
    options.validate()?;
    let n = design.rows;
    let cols = design.names.len();
    if y.len() != n {
        return Err(InferenceError::Shape(format!("{} outcomes for {n} rows", y.len())));
    }
    if let Some(c) = clusters
        && c.len() != n
    {
        return Err(InferenceError::Shape(format!("{} cluster ids for {n} rows", c.len())));
    }
    if let Some(pos) = design.x.iter().position(|v| !v.is_finite()) {
        return Err(InferenceError::NonFinite {
            column: design.names[pos % cols].clone(),
            row: pos / cols + 1,
            value: design.x[pos],
        });
    }
    let positives = y.iter().filter(|&&v| v).count();
    if positives == 0 || positives == n {
        return Err(InferenceError::SingleClass { positive: positives == n });
    }
    let parameters = cols + usize::from(options.intercept);
    if n <= parameters {
        return Err(InferenceError::TooFewRows { rows: n, parameters });
    }

    let offset = usize::from(options.intercept);
    let mut names: Vec<String> = Vec::with_capacity(parameters);
    if options.intercept {
        names.push(INTERCEPT.to_owned());
    }
    names.extend(design.names.iter().cloned());
    let mut status = vec![CoefficientStatus::Estimated; parameters];
    let mut warnings = Vec::new();
    let value = |i: usize, c: usize| design.value(i, c);

    let all_rows: Vec<usize> = (0..n).collect();
    let check =
        collinear::check(&all_rows, &(0..cols).collect::<Vec<_>>(), value, options.intercept, options.alias_tol);
    for a in &check.aliased {
        status[a.column + offset] = CoefficientStatus::Aliased;
        warnings.push(FitWarning::Aliased {
            column: design.names[a.column].clone(),
            with: a.with.iter().map(|&c| design.names[c].clone()).collect(),
            one_minus_r2: a.one_minus_r2,
        });
    }
    let mut vif = check.vif;
    let mut problem = Problem { design, intercept: options.intercept, rows: all_rows, cols: check.kept };

    let mut round = 0;
    let mut start = None;
    let fit = loop {
        let x = problem.matrix();
        let y_sub: Vec<bool> = problem.rows.iter().map(|&i| y[i]).collect();
        let fit = newton(&x, &y_sub, options, start.take());
        if fit.stop == Stop::Converged {
            let extreme = (0..x.rows)
                .filter(|&i| {
                    let (p, q) = probabilities(x.dot_row(i, &fit.beta));
                    p.min(q) < options.separation_tol
                })
                .count();
            if extreme > 0 {
                warnings.push(FitWarning::ExtremeProbabilities { rows: extreme });
            }
            break Some((x, y_sub, fit));
        }
        // Rows still moving in the last step, and whether any is already perfectly predicted.
        let (moving, perfect) = moving_rows(&x, &y_sub, &fit.beta, &fit.last_step, options.separation_tol);
        if perfect == 0 || round == MAX_SEPARATION_ROUNDS {
            if fit.stop == Stop::Singular && perfect == 0 {
                warnings.push(FitWarning::SingularInformation);
            }
            warnings.push(FitWarning::NotConverged {
                iterations: fit.iterations,
                max_step: fit.max_step,
                max_gradient: fit.max_gradient,
            });
            break Some((x, y_sub, fit));
        }
        round += 1;
        let set_aside = moving.iter().filter(|&&m| m).count();
        let rest: Vec<usize> = problem.rows.iter().zip(&moving).filter(|(_, m)| !**m).map(|(&i, _)| i).collect();
        let rest_positives = rest.iter().filter(|&&i| y[i]).count();
        let direction = |p: usize| {
            let d = if fit.last_step[p].abs() > MOVING_TOL { fit.last_step[p] } else { fit.beta[p] };
            if d < 0.0 { Direction::Negative } else { Direction::Positive }
        };
        if rest_positives == 0 || rest_positives == rest.len() {
            // Nothing identified remains: every fitted parameter is withheld.
            for p in 0..problem.parameters() {
                let pos = problem.position(p);
                let moved = fit.last_step[p].abs() > MOVING_TOL;
                status[pos] = if moved && pos >= offset {
                    CoefficientStatus::Separated { direction: direction(p) }
                } else {
                    CoefficientStatus::NotEstimated
                };
            }
            warnings.push(FitWarning::CompleteSeparation { rows: problem.rows.len() });
            break None;
        }
        // Diverging: the columns the last step moved (the intercept stays in the refit), and
        // those constant or collinear on the remaining rows.
        let diverging: Vec<usize> =
            (offset..problem.parameters()).filter(|&p| fit.last_step[p].abs() > MOVING_TOL).collect();
        let sub = collinear::check(&rest, &problem.cols, value, options.intercept, options.alias_tol);
        let mut columns = Vec::new();
        for p in offset..problem.parameters() {
            let c = problem.cols[p - offset];
            let aliased_here = sub.aliased.iter().any(|a| a.column == c);
            if diverging.contains(&p) || aliased_here {
                let d = direction(p);
                status[c + offset] = CoefficientStatus::Separated { direction: d };
                columns.push(SeparatedColumn { column: design.names[c].clone(), direction: d });
            }
        }
        warnings.push(FitWarning::QuasiSeparation { rows: set_aside, columns });
        vif = sub.vif;
        // The refit starts from the identified part of this fit (it has converged there).
        let mut warm: Vec<f64> = if options.intercept { vec![fit.beta[0]] } else { Vec::new() };
        for c in &sub.kept {
            let p = problem.cols.iter().position(|k| k == c).map_or(0, |p| p + offset);
            warm.push(if diverging.contains(&p) { 0.0 } else { fit.beta[p] });
        }
        start = Some(warm);
        problem.rows = rest;
        problem.cols = sub.kept;
        if problem.rows.len() <= problem.parameters() {
            for s in &mut status {
                if *s == CoefficientStatus::Estimated {
                    *s = CoefficientStatus::NotEstimated;
                }
            }
            warnings.push(FitWarning::TooFewRows { rows: problem.rows.len(), parameters: problem.parameters() });
            break None;
        }
    };

    let mut coefficients: Vec<Coefficient> = names
        .into_iter()
        .map(|name| Coefficient {
            name,
            status: CoefficientStatus::Estimated,
            estimate: None,
            odds_ratio: None,
            vif: None,
            naive: None,
            clustered: None,
        })
        .collect();
    for (c, s) in coefficients.iter_mut().zip(&status) {
        c.status = *s;
    }
    let mut report = LogitReport {
        coefficients,
        rows: n,
        rows_used: problem.rows.len(),
        clusters_used: None,
        parameters: problem.parameters(),
        iterations: 0,
        converged: false,
        log_likelihood: None,
        cluster_correction: None,
        confidence: options.confidence,
        warnings,
    };
    let Some((x, y_sub, fit)) = fit else {
        return Ok(report);
    };
    report.iterations = fit.iterations;
    report.converged = fit.stop == Stop::Converged;
    report.log_likelihood = Some(fit.ll);

    // Estimates, VIFs and near-collinearity of the final fit's columns.
    for (p, &b) in fit.beta.iter().enumerate() {
        let pos = problem.position(p);
        if report.coefficients[pos].status == CoefficientStatus::Estimated {
            report.coefficients[pos].estimate = Some(b);
            report.coefficients[pos].odds_ratio = Some(b.exp());
        }
        if pos >= offset {
            let v = vif[p - offset];
            report.coefficients[pos].vif = v;
            if let Some(v) = v.filter(|&v| v > options.vif_warn) {
                report
                    .warnings
                    .push(FitWarning::NearCollinear { column: report.coefficients[pos].name.clone(), vif: v });
            }
        }
    }

    // Covariances at the estimate.
    let k = x.cols;
    let mut hess = evaluate(&x, &y_sub, &fit.beta).hess;
    let Some(chol) = Cholesky::new(&hess, k, PIVOT_TOL) else {
        if !report.warnings.contains(&FitWarning::SingularInformation) {
            report.warnings.push(FitWarning::SingularInformation);
        }
        return Ok(report);
    };
    symmetrize(&mut hess, k);
    let bread = chol.inverse();
    let q = normal_quantile(0.5 + options.confidence / 2.0);
    let clustered = clusters.and_then(|cl| {
        // Score sums per cluster, clusters numbered by first appearance among the fitted rows.
        // Each cluster's fitted rows are listed first (in row order), so one cluster's sum is
        // live at a time: k floats per cluster would be 134 MB at `synth --scale 100`. The sums
        // are added in the same order as when they were all kept, so the bits are the same.
        let (members, starts) = cluster_members(cl, &problem.rows);
        let g = starts.len() - 1;
        report.clusters_used = Some(g);
        if g < 2 {
            report.warnings.push(FitWarning::TooFewClusters { clusters: g });
            return None;
        }
        let mut meat = vec![0.0; k * k];
        let mut s = vec![0.0; k];
        for bounds in starts.windows(2) {
            s.fill(0.0);
            for &r in &members[bounds[0]..bounds[1]] {
                let (p, qq) = probabilities(x.dot_row(r, &fit.beta));
                let resid = if y_sub[r] { qq } else { -p };
                for (a, v) in s.iter_mut().zip(x.row(r)) {
                    *a += resid * v;
                }
            }
            add_outer_lower(&mut meat, &s, 1.0);
        }
        symmetrize(&mut meat, k);
        let (gf, nf, kf) = (g as f64, x.rows as f64, k as f64);
        let c = gf / (gf - 1.0) * ((nf - 1.0) / (nf - kf));
        report.cluster_correction = Some(c);
        let mut v = sandwich(&bread, &meat, k);
        for e in &mut v {
            *e *= c;
        }
        Some(v)
    });
    for (p, &b) in fit.beta.iter().enumerate() {
        let pos = problem.position(p);
        let coef = &mut report.coefficients[pos];
        if coef.status != CoefficientStatus::Estimated {
            continue;
        }
        coef.naive = uncertainty(b, bread[p * k + p], q);
        coef.clustered = clustered.as_ref().and_then(|v| uncertainty(b, v[p * k + p], q));
    }
    Ok(report)
}

/// The fitted rows (positions in `rows`) of each cluster, clusters numbered by their first
/// fitted row and each one's rows in order: cluster `c` is `members[starts[c]..starts[c + 1]]`.
fn cluster_members(cl: &Clusters, rows: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut dense = vec![usize::MAX; cl.count()];
    let mut starts: Vec<usize> = vec![0];
    for &i in rows {
        let id = &mut dense[cl.ids()[i]];
        if *id == usize::MAX {
            *id = starts.len() - 1;
            starts.push(0);
        }
        starts[*id + 1] += 1;
    }
    for c in 1..starts.len() {
        starts[c] += starts[c - 1];
    }
    let mut next = starts.clone();
    let mut members = vec![0; rows.len()];
    for (r, &i) in rows.iter().enumerate() {
        let slot = &mut next[dense[cl.ids()[i]]];
        members[*slot] = r;
        *slot += 1;
    }
    (members, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_members_are_grouped_by_first_appearance_in_row_order() {
        let cl = Clusters::from_keys(&["b", "a", "b", "c", "a", "b"]);
        // Fitted rows 5, 0, 3, 4 of the six (positions 0..4): clusters b (rows 5, 0), c, a.
        let (members, starts) = cluster_members(&cl, &[5, 0, 3, 4]);
        assert_eq!(starts, [0, 2, 3, 4]);
        assert_eq!(members, [0, 1, 2, 3]);
        let (members, starts) = cluster_members(&cl, &[0, 1, 2, 3, 4, 5]);
        assert_eq!(starts, [0, 3, 5, 6]);
        assert_eq!(members, [0, 2, 5, 1, 4, 3]);
        let (members, starts) = cluster_members(&cl, &[]);
        assert_eq!((members.len(), starts), (0, vec![0]));
    }

    /// A small deterministic design: x1 continuous, x2 binary, y drawn from a logistic model
    /// with hashed uniforms.
    fn data(n: usize) -> (Vec<f64>, Vec<String>, Vec<bool>, Vec<u64>) {
        let mut x = Vec::with_capacity(2 * n);
        let mut y = Vec::with_capacity(n);
        let mut g = Vec::with_capacity(n);
        for i in 0..n as u64 {
            // splitmix64 of (row, stream): independent uniforms in [0, 1).
            let h = |s: u64| {
                let mut z = (i * 4 + s).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) as f64 / 2f64.powi(64)
            };
            let x1 = h(1) * 4.0 - 2.0;
            let x2 = if h(2) < 0.4 { 1.0 } else { 0.0 };
            let eta = 0.3 + 0.8 * x1 - 0.6 * x2;
            x.extend([x1, x2]);
            y.push(h(3) < 1.0 / (1.0 + (-eta).exp()));
            g.push(i / 3);
        }
        (x, vec!["x1".into(), "x2".into()], y, g)
    }

    #[test]
    fn score_is_zero_and_naive_errors_are_the_inverse_information() {
        let (x, names, y, g) = data(400);
        let d = Design::new(&x, 400, &names).unwrap();
        let r = fit_logit(&d, &y, Some(&Clusters::from_keys(&g)), &LogitOptions::default()).unwrap();
        assert!(r.converged && r.warnings.is_empty(), "{:?}", r.warnings);
        let beta: Vec<f64> = r.coefficients.iter().map(|c| c.estimate.unwrap()).collect();
        // The score at the estimate vanishes.
        let mut score = [0.0; 3];
        for i in 0..400 {
            let row = [1.0, x[2 * i], x[2 * i + 1]];
            let eta: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            for j in 0..3 {
                score[j] += (f64::from(u8::from(y[i])) - p) * row[j];
            }
        }
        assert!(score.iter().all(|s| s.abs() < 1e-9), "{score:?}");
        // Estimates near the generating values, with sensible errors and intervals.
        let x1 = r.coefficient("x1").unwrap();
        let u = x1.naive.unwrap();
        assert!((x1.estimate.unwrap() - 0.8).abs() < 3.0 * u.std_error, "{x1:?}");
        assert!(u.ci_low < x1.estimate.unwrap() && x1.estimate.unwrap() < u.ci_high);
        assert!((u.odds_ratio_low - u.ci_low.exp()).abs() < 1e-15);
        assert!((u.ci_high - x1.estimate.unwrap() - 1.959_963_984_540_054 * u.std_error).abs() < 1e-12);
        assert_eq!(r.clusters_used, Some(134));
        let c = r.cluster_correction.unwrap();
        assert!((c - 134.0 / 133.0 * 399.0 / 397.0).abs() < 1e-15);
        // Clustered errors differ from the naive ones.
        assert!(x1.clustered.unwrap().std_error != u.std_error);
    }

    #[test]
    fn results_are_bit_identical_across_runs_and_ignore_cluster_labels() {
        let (x, names, y, g) = data(300);
        let d = Design::new(&x, 300, &names).unwrap();
        let a = fit_logit(&d, &y, Some(&Clusters::from_keys(&g)), &LogitOptions::default()).unwrap();
        let b = fit_logit(&d, &y, Some(&Clusters::from_keys(&g)), &LogitOptions::default()).unwrap();
        assert_eq!(a, b);
        // Relabelled clusters (same partition) give the same report.
        let relabelled: Vec<String> = g.iter().map(|v| format!("s{}", 1000 - v)).collect();
        let c = fit_logit(&d, &y, Some(&Clusters::from_keys(&relabelled)), &LogitOptions::default()).unwrap();
        assert_eq!(a, c);
        // Without clusters: same estimates and naive errors, no clustered ones.
        let n = fit_logit(&d, &y, None, &LogitOptions::default()).unwrap();
        assert!(n.coefficients.iter().all(|c| c.clustered.is_none()));
        assert_eq!(n.coefficients[1].naive, a.coefficients[1].naive);
    }

    #[test]
    fn step_halving_and_the_iteration_cap_are_reported() {
        let (x, names, y, _) = data(200);
        let d = Design::new(&x, 200, &names).unwrap();
        let r = fit_logit(&d, &y, None, &LogitOptions { max_iter: 1, ..LogitOptions::default() }).unwrap();
        assert!(!r.converged);
        assert!(matches!(r.warnings[..], [FitWarning::NotConverged { iterations: 1, .. }]), "{:?}", r.warnings);
        assert!(r.warnings[0].to_string().contains("did not converge in 1 iterations"));
        assert!(r.coefficients[1].estimate.is_some());
    }

    #[test]
    fn a_dummy_that_predicts_its_rows_is_separated_and_the_rest_refitted() {
        let (mut x, mut names, mut y, g) = data(300);
        // Column d = 1 on every 10th row, all of which fail.
        let mut with_d = Vec::new();
        for i in 0..300 {
            let d = if i % 10 == 0 { 1.0 } else { 0.0 };
            if d == 1.0 {
                y[i] = false;
            }
            with_d.extend([x[2 * i], d, x[2 * i + 1]]);
        }
        x = with_d;
        names.insert(1, "d".into());
        let d = Design::new(&x, 300, &names).unwrap();
        let r = fit_logit(&d, &y, Some(&Clusters::from_keys(&g)), &LogitOptions::default()).unwrap();
        let sep = r.coefficient("d").unwrap();
        assert_eq!(sep.status, CoefficientStatus::Separated { direction: Direction::Negative });
        assert!(sep.estimate.is_none() && sep.naive.is_none() && sep.clustered.is_none());
        assert!(
            matches!(&r.warnings[..], [FitWarning::QuasiSeparation { rows: 30, columns }] if columns.len() == 1),
            "{:?}",
            r.warnings
        );
        assert!(r.warnings[0].to_string().contains("`d` (-inf)"), "{}", r.warnings[0]);
        assert!(r.converged && r.rows_used == 270 && r.parameters == 3);
        // The others equal the fit on the rows with d = 0, without d.
        let keep: Vec<usize> = (0..300).filter(|i| i % 10 != 0).collect();
        let x_rest: Vec<f64> = keep.iter().flat_map(|&i| [x[3 * i], x[3 * i + 2]]).collect();
        let y_rest: Vec<bool> = keep.iter().map(|&i| y[i]).collect();
        let g_rest: Vec<u64> = keep.iter().map(|&i| g[i]).collect();
        let names_rest = vec!["x1".to_owned(), "x2".to_owned()];
        let rest = fit_logit(
            &Design::new(&x_rest, keep.len(), &names_rest).unwrap(),
            &y_rest,
            Some(&Clusters::from_keys(&g_rest)),
            &LogitOptions::default(),
        )
        .unwrap();
        for name in ["x1", "x2", INTERCEPT] {
            let (a, b) = (r.coefficient(name).unwrap(), rest.coefficient(name).unwrap());
            assert!((a.estimate.unwrap() - b.estimate.unwrap()).abs() < 1e-9, "{name}");
            assert!((a.clustered.unwrap().std_error - b.clustered.unwrap().std_error).abs() < 1e-9, "{name}");
        }
    }

    #[test]
    fn separation_along_two_columns_withholds_both() {
        // x1, x2 in {0, 1, 2}: every row with x1 + x2 > 0 passes, rows with x1 = x2 = 0 are mixed.
        // The likelihood rises without bound along (x1 + x2); on the remaining rows both are 0.
        let (base, _, y0, g) = data(600);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..600 {
            let (a, b) = (f64::from((i % 3) as u8), f64::from(((i / 3) % 3) as u8));
            x.extend([a, b, base[2 * i]]);
            y.push(if a + b > 0.0 { true } else { y0[i] });
        }
        let names: Vec<String> = ["x1", "x2", "z"].map(str::to_owned).to_vec();
        let r = fit_logit(
            &Design::new(&x, 600, &names).unwrap(),
            &y,
            Some(&Clusters::from_keys(&g)),
            &LogitOptions::default(),
        )
        .unwrap();
        for c in ["x1", "x2"] {
            assert_eq!(
                r.coefficient(c).unwrap().status,
                CoefficientStatus::Separated { direction: Direction::Positive },
                "{c}"
            );
        }
        let boundary: Vec<usize> = (0..600).filter(|&i| x[3 * i] + x[3 * i + 1] == 0.0).collect();
        assert_eq!(r.rows_used, boundary.len());
        assert!(
            matches!(&r.warnings[..], [FitWarning::QuasiSeparation { columns, .. }] if columns.len() == 2),
            "{:?}",
            r.warnings
        );
        // The rest: the fit on the boundary rows with z alone.
        let xz: Vec<f64> = boundary.iter().map(|&i| x[3 * i + 2]).collect();
        let yz: Vec<bool> = boundary.iter().map(|&i| y[i]).collect();
        let zn = vec!["z".to_owned()];
        let rest =
            fit_logit(&Design::new(&xz, boundary.len(), &zn).unwrap(), &yz, None, &LogitOptions::default()).unwrap();
        for name in [INTERCEPT, "z"] {
            let (a, b) = (r.coefficient(name).unwrap(), rest.coefficient(name).unwrap());
            assert!((a.estimate.unwrap() - b.estimate.unwrap()).abs() < 1e-9, "{name}");
            assert!((a.naive.unwrap().std_error - b.naive.unwrap().std_error).abs() < 1e-9, "{name}");
        }
    }

    #[test]
    fn complete_separation_withholds_everything() {
        let n = 60;
        let x: Vec<f64> = (0..n).map(|i| f64::from(i) - 29.5).collect();
        let y: Vec<bool> = x.iter().map(|&v| v > 0.0).collect();
        let names = vec!["x".to_owned()];
        let r = fit_logit(&Design::new(&x, n as usize, &names).unwrap(), &y, None, &LogitOptions::default()).unwrap();
        assert!(
            r.warnings.iter().any(|w| matches!(w, FitWarning::CompleteSeparation { rows: 60 })),
            "{:?}",
            r.warnings
        );
        assert!(r.coefficients.iter().all(|c| c.estimate.is_none() && c.naive.is_none()));
        assert_eq!(r.coefficients[1].status, CoefficientStatus::Separated { direction: Direction::Positive });
        assert!(serde_json::to_string(&r).is_ok());
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let names = vec!["a".to_owned()];
        assert!(matches!(Design::new(&[1.0, 2.0, 3.0], 2, &names), Err(InferenceError::Shape(_))));
        let dup = vec!["a".to_owned(), "a".to_owned()];
        assert!(Design::new(&[1.0, 2.0], 1, &dup).unwrap_err().to_string().contains("twice"));
        let icpt = vec![INTERCEPT.to_owned()];
        assert!(Design::new(&[1.0], 1, &icpt).is_err());
        let x = [0.0, 1.0, f64::NAN, 3.0];
        let d = Design::new(&x, 4, &names).unwrap();
        let y = [true, false, true, false];
        let e = fit_logit(&d, &y, None, &LogitOptions::default()).unwrap_err().to_string();
        assert!(e.contains("column `a`, row 3: NaN"), "{e}");
        let x = [0.0, 1.0, 2.0, 3.0];
        let d = Design::new(&x, 4, &names).unwrap();
        assert!(matches!(
            fit_logit(&d, &[true; 4], None, &LogitOptions::default()),
            Err(InferenceError::SingleClass { positive: true })
        ));
        assert!(matches!(fit_logit(&d, &[true], None, &LogitOptions::default()), Err(InferenceError::Shape(_))));
        let two = Design::new(&x[..2], 2, &names).unwrap();
        assert!(matches!(
            fit_logit(&two, &[true, false], None, &LogitOptions::default()),
            Err(InferenceError::TooFewRows { rows: 2, parameters: 2 })
        ));
        let bad = LogitOptions { confidence: 1.0, ..LogitOptions::default() };
        assert!(fit_logit(&d, &y, None, &bad).unwrap_err().to_string().contains("confidence"));
        let wrong = Clusters::from_keys(&[1, 2]);
        assert!(fit_logit(&d, &y, Some(&wrong), &LogitOptions::default()).is_err());
    }

    #[test]
    fn one_cluster_gives_no_clustered_errors() {
        let (x, names, y, _) = data(100);
        let d = Design::new(&x, 100, &names).unwrap();
        let r = fit_logit(&d, &y, Some(&Clusters::from_keys(&[0u8; 100])), &LogitOptions::default()).unwrap();
        assert_eq!(r.warnings, [FitWarning::TooFewClusters { clusters: 1 }]);
        assert!(r.coefficients.iter().all(|c| c.clustered.is_none() && c.naive.is_some()));
    }

    #[test]
    fn adjusted_p_values_skip_the_intercept_and_withheld_coefficients() {
        let (x, names, y, g) = data(300);
        let d = Design::new(&x, 300, &names).unwrap();
        let r = fit_logit(&d, &y, Some(&Clusters::from_keys(&g)), &LogitOptions::default()).unwrap();
        let adj = r.adjusted_p_values(Covariance::Clustered, Adjustment::Holm, false).unwrap();
        assert!(adj[0].is_none());
        let p: Vec<f64> = r.coefficients[1..].iter().map(|c| c.clustered.unwrap().p_value).collect();
        let want = crate::holm(&p).unwrap();
        assert_eq!(adj[1..].iter().map(|v| v.unwrap()).collect::<Vec<_>>(), want);
    }
}
