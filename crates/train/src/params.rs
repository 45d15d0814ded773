//! The typed params of the train stage, with the study's defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// Everything the train stage is told: which columns are what, how to prepare them, which
/// models to try and how to choose. Every field has a default (the UFRN study's setup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    /// The outcome column.
    pub target: String,
    /// The class whose probability the model reports.
    pub positive_class: String,
    /// The other class; when absent, the single other value found in the target column.
    pub negative_class: Option<String>,
    /// Group key (one student has several enrolment rows): never a feature; CV folds and the
    /// threshold validation split keep a group on one side.
    pub group: Option<String>,
    /// The year `age`-kind derived columns subtract from.
    pub reference_year: i64,
    /// Derived columns by name, computed from raw columns before anything else.
    pub derived: BTreeMap<String, Derived>,
    /// Categorical feature columns (raw or derived).
    pub categorical: Vec<String>,
    /// Numeric feature columns (raw or derived).
    pub numeric: Vec<String>,
    /// How numeric columns are scaled (with training statistics).
    pub scaling: Scaling,
    /// When at least 2: each numeric column also gets this many quantile bins (edges from the
    /// training rows), one-hot encoded after the first, beside its scaled value, so the model
    /// can bend where a straight line in age or income would not fit. 0 = off (the study).
    pub numeric_bins: usize,
    /// Local Outlier Factor removal of training rows.
    pub lof: LofParams,
    /// How the class imbalance is compensated while fitting.
    pub balance: Balance,
    /// How the decision threshold is chosen.
    pub threshold: ThresholdRule,
    /// Share of the training rows held out to choose the threshold.
    pub validation_fraction: f64,
    /// Cross-validation used to choose among the grid points.
    pub cv: CvParams,
    /// Seed of every random choice (folds, resampling, forests).
    pub seed: u64,
    /// The candidate models.
    pub grid: Vec<GridEntry>,
    /// How logistic regressions are fitted.
    pub logistic: LogisticParams,
}

/// Which optimiser fits logistic regression. Both minimise the same objective (summed log
/// loss plus `alpha / 2 * ||w||^2`, intercept unpenalised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// This crate's L-BFGS with a Moré–Thuente line search and scikit-learn's stopping rule
    /// (`max_iter`, `tol`); several times faster than smartcore on large tables.
    Lbfgs,
    /// smartcore's `LogisticRegression` (its LBFGS, fixed 1000 iterations at a tight
    /// tolerance; `max_iter` and `tol` do not apply).
    Smartcore,
}

impl Solver {
    /// The snake_case name used in params, metrics and the artifact.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lbfgs => "lbfgs",
            Self::Smartcore => "smartcore",
        }
    }
}

/// Logistic regression fitting settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogisticParams {
    /// The optimiser.
    pub solver: Solver,
    /// `lbfgs`: most iterations; running out is a warning and the `fits_not_converged` metric,
    /// not an error (scikit-learn's default, 100).
    pub max_iter: usize,
    /// `lbfgs`: stop when the largest gradient component of the per-row objective is at most
    /// this (scikit-learn's `tol`, default 1e-4).
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self { solver: Solver::Lbfgs, max_iter: 100, tol: 1e-4 }
    }
}

/// A column computed from a raw column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Derived {
    /// `reference_year - from` (a numeric column such as a birth year).
    Age {
        /// The raw year column.
        from: String,
    },
    /// `"true"` when `from` equals `value`, `"false"` otherwise, null when `from` is null.
    Equals {
        /// The raw column.
        from: String,
        /// The value compared with.
        value: String,
    },
}

/// Numeric scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `(x - mean) / std` (population std; a constant column is only centred).
    Standard,
    /// `(x - min) / (max - min)` (a constant column is only shifted).
    MinMax,
}

/// LOF settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LofParams {
    /// Whether outliers are removed: `true`, `false`, or `"cv"` to let cross-validation
    /// decide (both are tried with every grid point, LOF refitted inside each fold).
    pub enabled: LofMode,
    /// Number of neighbours.
    pub k: usize,
    /// Rows whose LOF score is above this are removed (1.5 is scikit-learn's "auto").
    pub max_score: f64,
}

impl Default for LofParams {
    fn default() -> Self {
        Self { enabled: LofMode::On, k: 20, max_score: 1.5 }
    }
}

/// Whether LOF removes training rows. Written `true`, `false` or `"cv"` in the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LofMode {
    /// Always remove outliers (the study's choice).
    On,
    /// Never.
    Off,
    /// Cross-validate both and keep the better (ties keep LOF, the study's choice).
    Cv,
}

impl LofMode {
    /// The LOF settings cross-validation compares, in tie-breaking order.
    pub fn candidates(self) -> &'static [bool] {
        match self {
            Self::On => &[true],
            Self::Off => &[false],
            Self::Cv => &[true, false],
        }
    }
}

impl From<bool> for LofMode {
    fn from(on: bool) -> Self {
        if on { Self::On } else { Self::Off }
    }
}

impl Serialize for LofMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::On => s.serialize_bool(true),
            Self::Off => s.serialize_bool(false),
            Self::Cv => s.serialize_str("cv"),
        }
    }
}

impl<'de> Deserialize<'de> for LofMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = LofMode;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false or \"cv\"")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<LofMode, E> {
                Ok(v.into())
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<LofMode, E> {
                match v {
                    "cv" => Ok(LofMode::Cv),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Class imbalance handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Fit on the rows as they are.
    None,
    /// Draw minority rows with replacement until both classes have the majority's count.
    Oversample,
    /// Draw majority rows without replacement down to the minority's count.
    Undersample,
    /// Weight every row by `n / (2 * n_class)` inside the fit's objective: scikit-learn's
    /// `class_weight="balanced"`, exactly and without random draws. Only our L-BFGS
    /// (`logistic.solver = "lbfgs"`) takes weights: smartcore's logistic regression and the
    /// random forest fall back to [`Balance::Oversample`] (see [`Balance::effective`]).
    Weight,
}

impl Balance {
    /// The snake_case name used in params and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Oversample => "oversample",
            Self::Undersample => "undersample",
            Self::Weight => "weight",
        }
    }

    /// What is applied when fitting `point` with `solver`: [`Balance::Weight`] becomes
    /// [`Balance::Oversample`] where the fitter has no sample weights (smartcore's logistic
    /// regression, random forests); everything else is applied as asked.
    #[must_use]
    pub fn effective(self, point: &GridPoint, solver: Solver) -> Balance {
        match (self, point, solver) {
            (Self::Weight, GridPoint::LogisticRegression { .. }, Solver::Lbfgs) => Self::Weight,
            (Self::Weight, _, _) => Self::Oversample,
            (other, _, _) => other,
        }
    }
}

/// What the decision threshold maximises on the validation split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    /// Mean of the two recalls.
    BalancedAccuracy,
    /// F1 of the class with fewer training rows.
    MinorityF1,
    /// Keep 0.5.
    Fixed,
}

/// Cross-validation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CvParams {
    /// Number of stratified (and grouped) folds.
    pub folds: usize,
    /// The score the grid point is chosen by (higher is better).
    pub metric: CvMetric,
}

impl Default for CvParams {
    fn default() -> Self {
        Self { folds: 5, metric: CvMetric::RocAuc }
    }
}

/// Scores computed per CV fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CvMetric {
    /// Area under the ROC curve.
    RocAuc,
    /// Balanced accuracy at the 0.5 threshold.
    BalancedAccuracy,
    /// F1 of the minority class at the 0.5 threshold.
    MinorityF1,
}

impl CvMetric {
    /// The snake_case name used in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RocAuc => "roc_auc",
            Self::BalancedAccuracy => "balanced_accuracy",
            Self::MinorityF1 => "minority_f1",
        }
    }
}

/// One algorithm with lists of hyper-parameter values; the grid is their product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case", deny_unknown_fields)]
pub enum GridEntry {
    /// Logistic regression (fitted as `logistic.solver` says); `alpha` is the L2 strength on
    /// the summed log loss (scikit-learn's `C` is `1 / alpha`).
    LogisticRegression {
        /// L2 strengths to try.
        #[serde(default = "default_alphas")]
        alpha: Vec<f64>,
    },
    /// A random forest of smartcore trees (bootstrap rows, `sqrt(p)` features per split).
    RandomForest {
        /// Numbers of trees to try.
        #[serde(default = "default_trees")]
        n_trees: Vec<u16>,
        /// Maximum depths to try (0 = unlimited).
        #[serde(default = "default_depths")]
        max_depth: Vec<u16>,
        /// Minimum rows per leaf to try.
        #[serde(default = "default_leaf")]
        min_samples_leaf: Vec<usize>,
        /// Rows each tree is grown from (a random subset, then bootstrapped), to try; 0 = all
        /// rows. smartcore scans every row of its sample at every node, so on large tables this
        /// bounds a tree's cost (scikit-learn's `max_samples`).
        #[serde(default = "default_max_samples")]
        max_samples: Vec<usize>,
    },
}

fn default_max_samples() -> Vec<usize> {
    vec![0]
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
pub(crate) fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn default_alphas() -> Vec<f64> {
    vec![0.1, 1.0, 10.0]
}
fn default_trees() -> Vec<u16> {
    vec![100]
}
fn default_depths() -> Vec<u16> {
    vec![10]
}
fn default_leaf() -> Vec<usize> {
    vec![5]
}

/// One point of the grid: an algorithm with fixed hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case", deny_unknown_fields)]
pub enum GridPoint {
    /// Logistic regression with one L2 strength.
    LogisticRegression {
        /// L2 strength.
        alpha: f64,
    },
    /// Random forest with fixed settings.
    RandomForest {
        /// Number of trees.
        n_trees: u16,
        /// Maximum depth (0 = unlimited).
        max_depth: u16,
        /// Minimum rows per leaf.
        min_samples_leaf: usize,
        /// Rows each tree is grown from (0 = all).
        #[serde(default, skip_serializing_if = "is_zero")]
        max_samples: usize,
    },
}

impl GridPoint {
    /// `logistic_regression` or `random_forest`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::LogisticRegression { .. } => "logistic_regression",
            Self::RandomForest { .. } => "random_forest",
        }
    }

    /// A short stable label used in metric names, e.g. `logistic_regression_alpha_1`.
    pub fn label(&self) -> String {
        match self {
            Self::LogisticRegression { alpha } => format!("logistic_regression_alpha_{alpha}"),
            Self::RandomForest { n_trees, max_depth, min_samples_leaf, max_samples } => {
                let label = format!("random_forest_trees_{n_trees}_depth_{max_depth}_leaf_{min_samples_leaf}");
                if *max_samples > 0 { format!("{label}_samples_{max_samples}") } else { label }
            }
        }
    }
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            target: "descricao".into(),
            positive_class: "APROVADO".into(),
            negative_class: None,
            group: None,
            reference_year: 2020,
            derived: BTreeMap::from([
                ("idade".to_owned(), Derived::Age { from: "ano_nascimento".into() }),
                (
                    "local_ou_de_fora".to_owned(),
                    Derived::Equals { from: "estado_origem".into(), value: "Rio Grande do Norte".into() },
                ),
            ]),
            categorical: [
                "sexo",
                "raca",
                "area_conhecimento",
                "grau_academico",
                "local_ou_de_fora",
                "possui_auxilio_alimentacao",
                "possui_auxilio_transporte",
                "possui_auxilio_residencia_moradia",
            ]
            .map(str::to_owned)
            .to_vec(),
            numeric: vec!["idade".into(), "renda".into()],
            scaling: Scaling::Standard,
            numeric_bins: 0,
            lof: LofParams::default(),
            balance: Balance::Oversample,
            threshold: ThresholdRule::BalancedAccuracy,
            validation_fraction: 0.2,
            cv: CvParams::default(),
            seed: 42,
            grid: vec![GridEntry::LogisticRegression { alpha: default_alphas() }],
            logistic: LogisticParams::default(),
        }
    }
}

/// The most `numeric_bins` accepted: beyond a few dozen, bins hold too few rows to estimate.
pub const MAX_BINS: usize = 100;
/// The largest `lof.k`: LOF keeps up to `k` neighbours of every distinct point (scikit-learn's
/// default is 20).
pub const MAX_LOF_K: usize = 1_000;
/// The most `cv.folds`: every fold refits every candidate.
pub const MAX_CV_FOLDS: usize = 100;
/// The largest `logistic.max_iter` (scikit-learn's default is 100).
pub const MAX_LOGISTIC_ITER: usize = 100_000;
/// The most models a grid may declare (the product of a random forest entry's lists, summed
/// over the entries): each is fitted once per CV fold.
pub const MAX_GRID_POINTS: usize = 1_000;
/// The largest `n_trees` of a random forest grid entry.
pub const MAX_TREES: u16 = 10_000;
/// The largest finite `max_depth` of a random forest grid entry (0 = unlimited stays allowed).
pub const MAX_TREE_DEPTH: u16 = 1_000;
/// The largest `min_samples_leaf` and `max_samples` of a random forest grid entry: row counts
/// beyond a billion are more rows than a training table can hold in memory.
pub const MAX_TREE_ROWS: usize = 1_000_000_000;

/// `Ok` when `value` is at most `max`, else a param error naming `key`.
fn at_most<T: PartialOrd + std::fmt::Display + Copy>(key: &str, value: T, max: T) -> Result<(), TrainError> {
    if value > max { Err(TrainError::param(key, format!("{value} is more than the limit of {max}"))) } else { Ok(()) }
}

impl TrainParams {
    /// The grid expanded into points, in declaration order.
    pub fn grid_points(&self) -> Vec<GridPoint> {
        let mut out = Vec::new();
        for entry in &self.grid {
            match entry {
                GridEntry::LogisticRegression { alpha } => {
                    out.extend(alpha.iter().map(|&alpha| GridPoint::LogisticRegression { alpha }));
                }
                GridEntry::RandomForest { n_trees, max_depth, min_samples_leaf, max_samples } => {
                    for &t in n_trees {
                        for &d in max_depth {
                            for &l in min_samples_leaf {
                                for &m in max_samples {
                                    out.push(GridPoint::RandomForest {
                                        n_trees: t,
                                        max_depth: d,
                                        min_samples_leaf: l,
                                        max_samples: m,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Checks the grid's size-like values and its number of points before anything expands it
    /// (four lists of a hundred values would be a hundred million points).
    fn check_grid_size(&self) -> Result<(), TrainError> {
        let mut points = 0usize;
        for (i, entry) in self.grid.iter().enumerate() {
            match entry {
                GridEntry::LogisticRegression { alpha } => points = points.saturating_add(alpha.len()),
                GridEntry::RandomForest { n_trees, max_depth, min_samples_leaf, max_samples } => {
                    for &t in n_trees {
                        at_most(&format!("grid[{i}].n_trees"), t, MAX_TREES)?;
                    }
                    for &d in max_depth {
                        at_most(&format!("grid[{i}].max_depth"), d, MAX_TREE_DEPTH)?;
                    }
                    for &l in min_samples_leaf {
                        at_most(&format!("grid[{i}].min_samples_leaf"), l, MAX_TREE_ROWS)?;
                    }
                    for &m in max_samples {
                        at_most(&format!("grid[{i}].max_samples"), m, MAX_TREE_ROWS)?;
                    }
                    let product = [n_trees.len(), max_depth.len(), min_samples_leaf.len(), max_samples.len()]
                        .into_iter()
                        .fold(1usize, usize::saturating_mul);
                    points = points.saturating_add(product);
                }
            }
        }
        if points > MAX_GRID_POINTS {
            return Err(TrainError::param(
                "grid",
                format!("declares {points} models to try, more than the limit of {MAX_GRID_POINTS}"),
            ));
        }
        Ok(())
    }

    /// Checks what the types cannot: consistent column roles and sane numbers (every size-like
    /// value at most its `MAX_*` bound, see the crate docs).
    pub fn validate(&self) -> Result<(), TrainError> {
        let mut seen = std::collections::BTreeSet::new();
        for (key, cols) in [("categorical", &self.categorical), ("numeric", &self.numeric)] {
            for c in cols {
                if !seen.insert(c.as_str()) {
                    return Err(TrainError::param(key, format!("column `{c}` is listed twice")));
                }
                if c == &self.target {
                    return Err(TrainError::param(key, format!("the target `{c}` cannot be a feature")));
                }
                if self.group.as_deref() == Some(c.as_str()) {
                    return Err(TrainError::param(key, format!("the group key `{c}` is never a feature")));
                }
            }
        }
        if seen.is_empty() {
            return Err(TrainError::param("categorical", "no feature columns declared"));
        }
        for (name, d) in &self.derived {
            let (ok, list) = match d {
                Derived::Age { .. } => (!self.categorical.contains(name), "numeric"),
                Derived::Equals { .. } => (!self.numeric.contains(name), "categorical"),
            };
            if !ok {
                return Err(TrainError::param(
                    &format!("derived.{name}"),
                    format!("this derived column belongs in `{list}`"),
                ));
            }
            let from = match d {
                Derived::Age { from } | Derived::Equals { from, .. } => from,
            };
            // Feeding a column and a function of it (ano_nascimento and idade) makes the
            // coefficients collinear and unstable: the original study's mistake.
            if seen.contains(name.as_str()) && seen.contains(from.as_str()) {
                return Err(TrainError::param(
                    &format!("derived.{name}"),
                    format!("`{from}` is a feature and `{name}` is derived from it: keep only one"),
                ));
            }
        }
        if self.positive_class.is_empty() {
            return Err(TrainError::param("positive_class", "must not be empty"));
        }
        if self.negative_class.as_deref() == Some(self.positive_class.as_str()) {
            return Err(TrainError::param("negative_class", "must differ from positive_class"));
        }
        if self.numeric_bins == 1 {
            return Err(TrainError::param("numeric_bins", "one bin is no bin: use 0 (off) or at least 2"));
        }
        if self.numeric_bins > MAX_BINS {
            return Err(TrainError::param("numeric_bins", format!("at most {MAX_BINS} bins per column")));
        }
        if self.lof.k == 0 {
            return Err(TrainError::param("lof.k", "must be at least 1"));
        }
        at_most("lof.k", self.lof.k, MAX_LOF_K)?;
        if !(self.lof.max_score.is_finite() && self.lof.max_score > 0.0) {
            return Err(TrainError::param("lof.max_score", "must be a positive number"));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(TrainError::param("validation_fraction", "must be strictly between 0 and 1"));
        }
        if self.cv.folds < 2 {
            return Err(TrainError::param("cv.folds", "must be at least 2"));
        }
        at_most("cv.folds", self.cv.folds, MAX_CV_FOLDS)?;
        if self.logistic.max_iter == 0 {
            return Err(TrainError::param("logistic.max_iter", "must be at least 1"));
        }
        at_most("logistic.max_iter", self.logistic.max_iter, MAX_LOGISTIC_ITER)?;
        if !(self.logistic.tol.is_finite() && self.logistic.tol >= 0.0) {
            return Err(TrainError::param("logistic.tol", "must be a non-negative number"));
        }
        self.check_grid_size()?;
        let points = self.grid_points();
        if points.is_empty() {
            return Err(TrainError::param("grid", "declares no model to try"));
        }
        for p in &points {
            match p {
                GridPoint::LogisticRegression { alpha } if !(alpha.is_finite() && *alpha >= 0.0) => {
                    return Err(TrainError::param("grid.alpha", format!("{alpha} is not a non-negative number")));
                }
                GridPoint::RandomForest { n_trees: 0, .. } => {
                    return Err(TrainError::param("grid.n_trees", "must be at least 1"));
                }
                GridPoint::RandomForest { min_samples_leaf: 0, .. } => {
                    return Err(TrainError::param("grid.min_samples_leaf", "must be at least 1"));
                }
                GridPoint::RandomForest { max_samples: 1, .. } => {
                    return Err(TrainError::param(
                        "grid.max_samples",
                        "one row grows no tree: use 0 (all) or at least 2",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
