//! All metrics of a model and of the majority-class baseline on one labelled test set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::EvaluateError;
use crate::bootstrap::{BootstrapIntervals, Interval, bootstrap_with_ece};
use crate::calibration::Calibration;
use crate::effects::Effects;
use crate::importance::ColumnImportance;
use crate::metrics::{
    ClassificationReport, ConfusionMatrix, accuracy, average_precision, balanced_accuracy, brier_score,
    classification_report_of, confusion_matrix, decide, log_loss, roc_auc,
};

/// Every metric of one set of scores at one decision threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSet {
    /// Share of correct decisions.
    pub accuracy: f64,
    /// Mean of the per-class recalls (0.5 for any constant prediction).
    pub balanced_accuracy: f64,
    /// Precision, recall, F1 and support per class, macro and weighted averages.
    pub classes: ClassificationReport,
    /// ROC AUC; `None` when the test set holds one class only.
    pub roc_auc: Option<f64>,
    /// Step-wise average precision of the positive class; `None` without positives.
    pub average_precision: Option<f64>,
    /// Mean log loss (probabilities clipped as sklearn does).
    pub log_loss: f64,
    /// Mean squared error of the probability.
    pub brier_score: f64,
    /// Counts; rows true class, columns predicted, both `[negative, positive]`.
    pub confusion: ConfusionMatrix,
    /// The same, each row divided by its total.
    pub confusion_normalised: [[f64; 2]; 2],
}

/// All metrics of `scores` (probabilities of the positive class) against `y_true`, deciding
/// positive when `score >= threshold`.
pub fn metric_set(y_true: &[bool], scores: &[f64], threshold: f64) -> Result<MetricSet, EvaluateError> {
    let y_pred = decide(scores, threshold);
    let confusion = confusion_matrix(y_true, &y_pred)?;
    Ok(MetricSet {
        accuracy: accuracy(y_true, &y_pred)?,
        balanced_accuracy: balanced_accuracy(y_true, &y_pred)?,
        classes: classification_report_of(&confusion),
        roc_auc: defined(roc_auc(y_true, scores))?,
        average_precision: defined(average_precision(y_true, scores))?,
        log_loss: log_loss(y_true, scores)?,
        brier_score: brier_score(y_true, scores)?,
        confusion_normalised: confusion.normalised_by_true(),
        confusion,
    })
}

/// An undefined metric (one class only) becomes `None`; real errors stay errors.
fn defined(r: Result<f64, EvaluateError>) -> Result<Option<f64>, EvaluateError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(EvaluateError::Undefined { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where the baseline's class prior comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorSource {
    /// The share of positives in the model's training rows, stored in the model.
    Training,
    /// The share of positives in the test split itself (the model stores no prior).
    TestSplit,
}

impl PriorSource {
    /// Words for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Training => "the class shares of the training rows, stored in the model",
            Self::TestSplit => "the class shares of the test split (the model stores no training prior)",
        }
    }
}

/// The majority-class baseline: sklearn's `DummyClassifier(strategy="prior")`. It scores every
/// row with the positive-class prior and decides the majority class for all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Whether it predicts the positive class for every row.
    pub predicts_positive: bool,
    /// The constant probability of the positive class it gives every row.
    pub probability: f64,
    /// Where that prior comes from.
    pub prior_source: PriorSource,
    /// Its metrics on the test set.
    pub metrics: MetricSet,
}

/// The baseline's metrics on `y_true`. With `training_prior = None` the prior is the test
/// split's share of positives.
pub fn majority_baseline(y_true: &[bool], training_prior: Option<f64>) -> Result<Baseline, EvaluateError> {
    if y_true.is_empty() {
        return Err(EvaluateError::Empty { metric: "majority_baseline" });
    }
    let (probability, prior_source) = match training_prior {
        Some(p) if (0.0..=1.0).contains(&p) => (p, PriorSource::Training),
        Some(p) => {
            return Err(EvaluateError::InvalidScore {
                metric: "majority_baseline",
                row: 0,
                value: p,
                expected: "a training prior in [0, 1]",
            });
        }
        None => (y_true.iter().filter(|&&t| t).count() as f64 / y_true.len() as f64, PriorSource::TestSplit),
    };
    let scores = vec![probability; y_true.len()];
    // Ties go to the positive class; sklearn's argmax would pick the first label, but a prior
    // of exactly one half has no majority to speak of.
    let predicts_positive = probability >= 0.5;
    let metrics = metric_set(y_true, &scores, 0.5)?;
    Ok(Baseline { predicts_positive, probability, prior_source, metrics })
}

/// The model's metrics, bootstrap intervals and the baseline on one test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreEvaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Rows of the positive class.
    pub positives: usize,
    /// `positives / rows`.
    pub prevalence: f64,
    /// The decision threshold applied to the scores.
    pub threshold: f64,
    /// The model's metrics.
    pub model: MetricSet,
    /// 95 % percentile-bootstrap intervals of the model's ROC AUC and balanced accuracy.
    pub intervals: BootstrapIntervals,
    /// Bootstrap resamples drawn.
    pub bootstrap_resamples: usize,
    /// The bootstrap's seed.
    pub bootstrap_seed: u64,
    /// The majority-class baseline.
    pub baseline: Baseline,
}

/// Evaluates scores against labels: every metric, seeded bootstrap intervals, and the
/// baseline (from `training_prior` if the model stores one).
pub fn evaluate_scores(
    y_true: &[bool],
    scores: &[f64],
    threshold: f64,
    training_prior: Option<f64>,
    bootstrap_resamples: usize,
    bootstrap_seed: u64,
) -> Result<ScoreEvaluation, EvaluateError> {
    let resampling = Resampling { resamples: bootstrap_resamples, seed: bootstrap_seed, calibration: &[], bins: 1 };
    Ok(evaluate_scores_with_ece(y_true, scores, threshold, training_prior, &resampling)?.0)
}

/// The bootstrap of [`evaluate_scores_with_ece`].
pub(crate) struct Resampling<'a> {
    pub(crate) resamples: usize,
    pub(crate) seed: u64,
    /// Probability sets whose ECE interval comes from the same resamples.
    pub(crate) calibration: &'a [&'a [f64]],
    /// Their calibration bins.
    pub(crate) bins: usize,
}

/// [`evaluate_scores`], and the ECE intervals of `resampling.calibration` from the same
/// resamples.
pub(crate) fn evaluate_scores_with_ece(
    y_true: &[bool],
    scores: &[f64],
    threshold: f64,
    training_prior: Option<f64>,
    resampling: &Resampling<'_>,
) -> Result<(ScoreEvaluation, Vec<Option<Interval>>), EvaluateError> {
    let model = metric_set(y_true, scores, threshold)?;
    for p in resampling.calibration {
        crate::calibration::check("ece_interval", y_true, p)?;
    }
    let (intervals, eces) = bootstrap_with_ece(
        y_true,
        scores,
        &decide(scores, threshold),
        resampling.calibration,
        resampling.bins,
        resampling.resamples,
        resampling.seed,
    )?;
    let baseline = majority_baseline(y_true, training_prior)?;
    let positives = y_true.iter().filter(|&&t| t).count();
    tracing::debug!(rows = y_true.len(), positives, threshold, "evaluated scores");
    let evaluation = ScoreEvaluation {
        rows: y_true.len(),
        positives,
        prevalence: positives as f64 / y_true.len() as f64,
        threshold,
        model,
        intervals,
        bootstrap_resamples: resampling.resamples,
        bootstrap_seed: resampling.seed,
        baseline,
    };
    Ok((evaluation, eces))
}

/// The `format` field of every metrics document this crate writes (2 added `training`, 3
/// `effects` and `calibration`).
pub const METRICS_FORMAT: &str = "esteira-evaluate-metrics/3";

/// One logistic-regression coefficient read as an odds ratio of the positive class: the
/// model's own [`esteira_train::FeatureEffect`].
pub type OddsRatio = esteira_train::FeatureEffect;

/// A short label for an odds ratio: `column: category vs reference`, or the feature name.
pub fn effect_label(e: &OddsRatio) -> String {
    match (&e.category, &e.reference) {
        (Some(c), Some(r)) => format!("{}: {c} vs {r}", e.column),
        (Some(c), None) => format!("{}: {c}", e.column),
        _ => e.feature.clone(),
    }
}

/// Everything the evaluate stage found, as written to `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// [`METRICS_FORMAT`].
    pub format: String,
    /// The outcome column.
    pub target: String,
    /// The class probabilities refer to.
    pub positive_class: String,
    /// The other class.
    pub negative_class: String,
    /// The model's algorithm (`logistic_regression`, `random_forest`).
    pub algorithm: String,
    /// Metrics, intervals and baseline.
    #[serde(flatten)]
    pub scores: ScoreEvaluation,
    /// Odds ratios, largest effect first; `None` when the model has no coefficients.
    pub odds_ratios: Option<Vec<OddsRatio>>,
    /// Permutation importance on the test split, largest ROC AUC drop first.
    pub permutation_importance: Vec<ColumnImportance>,
    /// Shuffles per column.
    pub permutation_repeats: usize,
    /// Seed of the shuffles.
    pub permutation_seed: u64,
    /// Feature -> test rows whose category was not seen in training (scored as the reference).
    pub unseen_categories: BTreeMap<String, u64>,
    /// How the model was trained (from the model artifact: training rows only).
    pub training: esteira_train::TrainingSummary,
    /// The inference model's effects with their intervals, fitted on the training split;
    /// `None` when no training split was given.
    pub effects: Option<Effects>,
    /// Calibration on the test split, before and after Platt scaling.
    pub calibration: Calibration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_from_test_split_predicts_the_majority() {
        let y = [true, true, true, false];
        let b = majority_baseline(&y, None).unwrap();
        assert!(b.predicts_positive);
        assert_eq!(b.probability, 0.75);
        assert_eq!(b.prior_source, PriorSource::TestSplit);
        assert_eq!(b.metrics.balanced_accuracy, 0.5);
        assert_eq!(b.metrics.roc_auc, Some(0.5));
        assert_eq!(b.metrics.accuracy, 0.75);
        assert_eq!(b.metrics.confusion.counts(), [[0, 1], [0, 3]]);
    }

    #[test]
    fn baseline_uses_the_training_prior_when_given() {
        let y = [true, false, false, false];
        let b = majority_baseline(&y, Some(0.8)).unwrap();
        assert!(b.predicts_positive);
        assert_eq!(b.prior_source, PriorSource::Training);
        assert_eq!(b.metrics.accuracy, 0.25);
        assert!(majority_baseline(&y, Some(1.5)).is_err());
    }

    #[test]
    fn single_class_test_set_has_no_auc_but_other_metrics() {
        let m = metric_set(&[true, true], &[0.9, 0.2], 0.5).unwrap();
        assert_eq!(m.roc_auc, None);
        assert_eq!(m.accuracy, 0.5);
    }

    #[test]
    fn evaluation_is_deterministic() {
        let y: Vec<bool> = (0..60).map(|i| i % 3 != 0).collect();
        let s: Vec<f64> = (0..60).map(|i| f64::from(i % 7) / 7.0 + if i % 3 != 0 { 0.1 } else { 0.0 }).collect();
        let a = evaluate_scores(&y, &s, 0.5, None, 100, 3).unwrap();
        assert_eq!(a, evaluate_scores(&y, &s, 0.5, None, 100, 3).unwrap());
        assert_eq!(a.positives, 40);
        assert!(a.model.roc_auc.unwrap() > 0.5);
    }
}
