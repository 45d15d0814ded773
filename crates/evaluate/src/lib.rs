//! esteira-evaluate: how good is a classifier, and what did it learn?
//!
//! - [`metrics`]: binary classification metrics with scikit-learn's exact definitions, as
//!   plain functions on `&[bool]` labels and `&[f64]` scores (accuracy, balanced accuracy,
//!   precision/recall/F1 per class with macro and weighted averages, ROC AUC with ties as
//!   sklearn, step-wise average precision, log loss with sklearn's clipping, Brier score,
//!   confusion matrix in counts and normalised by true class). Tested to 1e-9 against sklearn.
//! - [`bootstrap_intervals`]: seeded percentile-bootstrap 95 % intervals for ROC AUC and
//!   balanced accuracy; [`majority_baseline`]: sklearn's `DummyClassifier(strategy="prior")`.
//! - [`permutation_importance`]: ROC AUC drop when one raw input column is shuffled.
//! - [`fit_effects`]: the study's effects with honest intervals — the inference model
//!   (esteira-inference: unpenalised, unweighted maximum likelihood on the model's own design,
//!   fitted on the training split) with standard errors clustered by student, Holm/BH adjusted.
//! - [`calibration`]: reliability table, expected calibration error with a bootstrap interval,
//!   and Platt scaling fitted on the training split (the `calibration` output `serve` applies).
//! - [`charts`]: byte-stable SVG charts (confusion heat map, ROC, precision-recall, the effects'
//!   forest plot, the reliability diagram).
//! - [`render_html`]: a self-contained HTML report; [`evaluate_model`] does everything for an
//!   esteira-train model, and [`EvaluateStage`] is the `evaluate` pipeline stage.
//!
//! The stage's params (`[stages.evaluate.params]`) and their upper bounds, checked when the
//! params are parsed (the error names the key, and the pipeline file's line):
//!
//! | param | default | at most | constant |
//! | --- | --- | --- | --- |
//! | `bootstrap` (resamples; 0 = no intervals) | 1 000 | 100 000 | [`MAX_BOOTSTRAP`] |
//! | `permutation_repeats` (0 = no importance) | 5 | 1 000 | [`MAX_PERMUTATION_REPEATS`] |
//! | `chart_effects` (odds ratios drawn) | 30 | 1 000 | [`MAX_CHART_EFFECTS`] |
//! | `seed` | 0 | any `u64` | |
//! | `group` (the inference model's clusters) | the model's group column | | |
//!
//! Metrics on plain slices, no model needed:
//!
//! ```
//! use esteira_evaluate::metrics::{balanced_accuracy, decide, roc_auc};
//! use esteira_evaluate::majority_baseline;
//!
//! # fn main() -> Result<(), esteira_evaluate::EvaluateError> {
//! let passed = [true, true, true, false, true, false];
//! let p_pass = [0.9, 0.7, 0.4, 0.3, 0.8, 0.6];
//! let auc = roc_auc(&passed, &p_pass)?;
//! assert!((auc - 0.875).abs() < 1e-12);
//! let bal = balanced_accuracy(&passed, &decide(&p_pass, 0.5))?;
//! assert!((bal - 0.625).abs() < 1e-12);
//! // Always predicting the majority class scores 0.5, whatever the class shares.
//! let baseline = majority_baseline(&passed, None)?;
//! assert_eq!(baseline.metrics.balanced_accuracy, 0.5);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod bootstrap;
pub mod calibration;
mod calibration_html;
pub mod charts;
mod effects;
mod effects_html;
mod error;
mod evaluation;
mod fmt;
mod importance;
pub mod metrics;
mod model_eval;
mod report;
mod resample;
mod stage;

pub use bootstrap::{BootstrapIntervals, Interval, bootstrap_intervals};
pub use calibration::{
    CALIBRATION_BINS, CALIBRATOR_FORMAT, Calibration, CalibrationSet, Calibrator, Platt, ReliabilityBin,
    calibration_set, calibration_sets, ece_interval, ece_intervals, expected_calibration_error, reliability,
};
pub use effects::{Effect, Effects, fit_effects};
pub use error::EvaluateError;
pub use evaluation::{
    Baseline, MetricSet, PriorSource, ScoreEvaluation, evaluate_scores, majority_baseline, metric_set,
};
pub use importance::{ColumnImportance, permutation_importance};
pub use model_eval::{
    EvaluateParams, EvaluationOutput, MAX_BOOTSTRAP, MAX_CHART_EFFECTS, MAX_PERMUTATION_REPEATS,
    PREDICTED_CLASS_COLUMN, TRUE_CLASS_COLUMN, draw_charts, evaluate_model, evaluate_model_on, labels,
    predictions_table, probability_column, training_prior,
};
pub use report::{Charts, Evaluation, METRICS_FORMAT, OddsRatio, effect_label, escape_html, render_html, verdict};
pub use stage::{EvaluateStage, KIND, register};
