//! Evaluating an esteira-train model on a raw test table: labels, predictions, every metric,
//! the study's question (odds ratios, permutation importance), charts and the report.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_train::Model;
use serde::{Deserialize, Serialize};

use crate::calibration::{
    CALIBRATION_BINS, CALIBRATOR_FORMAT, Calibration, Calibrator, calibration_sets_with, fit_platt,
};
use crate::charts::{OddsRatioBar, confusion_heatmap_svg, odds_ratio_svg, pr_svg, reliability_svg, roc_svg};
use crate::effects::{Effects, fit_effects};
use crate::evaluation::{Resampling, evaluate_scores_with_ece};
use crate::importance::model_permutation_importance;
use crate::metrics::{precision_recall_curve, roc_auc, roc_curve};
use crate::report::{Charts, Evaluation, METRICS_FORMAT, OddsRatio, effect_label, render_html};
use crate::{EvaluateError, ScoreEvaluation};

/// Name of the predictions column holding the true class.
pub const TRUE_CLASS_COLUMN: &str = "true_class";
/// Name of the predictions column holding the decision.
pub const PREDICTED_CLASS_COLUMN: &str = "predicted_class";

/// The name of the predictions column holding P(positive class), e.g. `probability_APROVADO`.
pub fn probability_column(positive_class: &str) -> String {
    format!("probability_{positive_class}")
}

/// How to evaluate: the typed params of the `evaluate` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluateParams {
    /// Bootstrap resamples for the 95 % intervals (0 = no intervals).
    pub bootstrap: usize,
    /// Seed of the bootstrap and of the permutations.
    pub seed: u64,
    /// Shuffles per input column for permutation importance (0 = skip it).
    pub permutation_repeats: usize,
    /// Largest odds ratios drawn in the chart (the table lists all).
    pub chart_effects: usize,
    /// The column the inference model's standard errors are clustered by (a student's
    /// enrolments); `None`: the model's own group column, if it has one.
    pub group: Option<String>,
}

impl Default for EvaluateParams {
    fn default() -> Self {
        Self { bootstrap: 1000, seed: 0, permutation_repeats: 5, chart_effects: 30, group: None }
    }
}

/// The most bootstrap resamples (`bootstrap`): each draws every test row again, and the
/// intervals' digits stop moving long before.
pub const MAX_BOOTSTRAP: usize = 100_000;
/// The most shuffles per column (`permutation_repeats`): each scores the whole test split.
pub const MAX_PERMUTATION_REPEATS: usize = 1_000;
/// The most odds ratios drawn in the effects chart (`chart_effects`).
pub const MAX_CHART_EFFECTS: usize = 1_000;

impl EvaluateParams {
    /// Checks the size-like params against their bounds ([`MAX_BOOTSTRAP`],
    /// [`MAX_PERMUTATION_REPEATS`], [`MAX_CHART_EFFECTS`]); the error names the key.
    pub fn validate(&self) -> Result<(), EvaluateError> {
        for (key, value, max) in [
            ("bootstrap", self.bootstrap, MAX_BOOTSTRAP),
            ("permutation_repeats", self.permutation_repeats, MAX_PERMUTATION_REPEATS),
            ("chart_effects", self.chart_effects, MAX_CHART_EFFECTS),
        ] {
            crate::error::at_most(key, value, max)?;
        }
        Ok(())
    }
}

/// Everything [`evaluate_model`] produces.
#[derive(Debug, Clone)]
pub struct EvaluationOutput {
    /// The metrics document.
    pub evaluation: Evaluation,
    /// The charts.
    pub charts: Charts,
    /// The HTML report.
    pub report_html: String,
    /// The calibrator `serve` applies (the `calibration` output).
    pub calibrator: Calibrator,
    /// The test rows with `true_class`, `probability_<positive>` and `predicted_class` appended.
    pub predictions: RecordBatch,
}

/// The labels of `batch` as booleans (`true` = `positive`): the target column, cast to text,
/// must hold only the two class names.
pub fn labels(batch: &RecordBatch, target: &str, positive: &str, negative: &str) -> Result<Vec<bool>, EvaluateError> {
    let err = |row: Option<usize>, message: String| EvaluateError::Table { column: target.to_owned(), row, message };
    let index = batch
        .schema()
        .index_of(target)
        .map_err(|_| err(None, "the model's target column is missing from the test table".into()))?;
    let text = arrow::compute::cast(batch.column(index), &DataType::Utf8)
        .map_err(|e| EvaluateError::arrow(format!("reading target column `{target}` as text"), e))?;
    let text =
        text.as_any().downcast_ref::<StringArray>().ok_or_else(|| err(None, "could not be read as text".into()))?;
    let mut out = Vec::with_capacity(text.len());
    for row in 0..text.len() {
        if text.is_null(row) {
            return Err(err(Some(row), "the class is missing (null)".into()));
        }
        match text.value(row) {
            v if v == positive => out.push(true),
            v if v == negative => out.push(false),
            v => {
                return Err(err(
                    Some(row),
                    format!(
                        "class {:?} is neither {positive:?} nor {negative:?} (the model's classes)",
                        esteira_core::excerpt(v, esteira_core::MAX_EXCERPT_CHARS)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The positive-class share of the model's training rows, if it recorded its class counts.
pub fn training_prior(model: &Model) -> Option<f64> {
    let counts = &model.training().class_counts;
    let total: usize = counts.values().sum();
    let positive = *counts.get(model.positive_class())?;
    (total > 0).then(|| positive as f64 / total as f64)
}

/// Scores `batches` (the test split, raw columns plus the target) with `model` and evaluates
/// it: metrics beside the majority baseline, bootstrap intervals, odds ratios, permutation
/// importance, charts, the report and the per-row predictions. Deterministic for equal inputs.
pub fn evaluate_model(
    model: &Model,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    params: &EvaluateParams,
) -> Result<EvaluationOutput, EvaluateError> {
    Ok(evaluate_model_with(model, schema, batches, None, params, |_| ())?.0)
}

/// [`evaluate_model`] with the training split `train` too: the effects of the inference model
/// with clustered intervals ([`fit_effects`]) and Platt scaling fitted on the training rows.
pub fn evaluate_model_on(
    model: &Model,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    train: &[RecordBatch],
    params: &EvaluateParams,
) -> Result<EvaluationOutput, EvaluateError> {
    Ok(evaluate_model_with(model, schema, batches, Some(train), params, |_| ())?.0)
}

/// Platt scaling fitted on the training split's rows, with their count, or why it is withheld.
type Fitted = Result<(crate::calibration::Platt, usize), String>;

fn fit_calibrator(model: &Model, train: &[RecordBatch]) -> Result<Fitted, EvaluateError> {
    if model.algorithm() != "logistic_regression" {
        return Ok(Err(format!(
            "a {}'s probabilities on its own training rows are overfitted, so a calibrator fitted on them \
             would be wrong on new rows",
            model.algorithm().replace('_', " ")
        )));
    }
    model_schema(train)?;
    // Batch by batch: a row's probability depends on that row alone, so the training split is
    // neither copied into one batch nor encoded whole (145 MB dense at `synth --scale 100`).
    let (mut y, mut p) = (Vec::new(), Vec::new());
    for batch in train {
        y.extend(labels(batch, model.target(), model.positive_class(), model.negative_class())?);
        p.extend(model.encode(std::slice::from_ref(batch))?.probabilities()?);
    }
    Ok(fit_platt(&y, &p)?.map(|platt| (platt, y.len())))
}

fn model_schema(batches: &[RecordBatch]) -> Result<SchemaRef, EvaluateError> {
    batches.first().map(RecordBatch::schema).ok_or(EvaluateError::Empty { metric: "evaluate (the training table)" })
}

/// [`evaluate_model`], running `beside(predictions)` (e.g. encoding the predictions output)
/// while the bootstrap and the permutations run.
pub(crate) fn evaluate_model_with<T: Send>(
    model: &Model,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    train: Option<&[RecordBatch]>,
    params: &EvaluateParams,
    beside: impl FnOnce(&RecordBatch) -> T + Send,
) -> Result<(EvaluationOutput, T), EvaluateError> {
    params.validate()?;
    let batch = arrow::compute::concat_batches(schema, batches)
        .map_err(|e| EvaluateError::arrow("joining the test table's batches", e))?;
    if batch.num_rows() == 0 {
        return Err(EvaluateError::Empty { metric: "evaluate (the test table)" });
    }
    let (pos, neg) = (model.positive_class(), model.negative_class());
    let y = labels(&batch, model.target(), pos, neg)?;
    // Encoded once: scored as it is (the bits of `predict`), then with each input column
    // permuted for the importance.
    let encoded = model.encode(std::slice::from_ref(&batch))?;
    let scores = encoded.probabilities()?;
    let threshold = model.threshold();
    // Built now for `beside`; its error is reported where it always was, after the others.
    let predictions = predictions_table(&batch, &y, &scores, threshold, pos, neg);
    let reference = if params.permutation_repeats > 0 { roc_auc(&y, &scores).ok() } else { None };
    // Two independent lines of work, each parallel inside: the calibrator, then the bootstrap
    // (whose resamples also give the ECE intervals of the model's and the calibrated
    // probabilities); and the permutations, `beside` and the inference model's effects.
    let ((scored, (importance, beside)), effects) = rayon::join(
        || {
            rayon::join(
                || -> Result<_, EvaluateError> {
                    let fitted = train.map(|t| fit_calibrator(model, t)).transpose()?;
                    let calibrated_p: Option<Vec<f64>> = match &fitted {
                        Some(Ok((platt, _))) => Some(scores.iter().map(|&v| platt.apply(v)).collect()),
                        _ => None,
                    };
                    let sets: Vec<&[f64]> = std::iter::once(scores.as_slice()).chain(calibrated_p.as_deref()).collect();
                    let resampling = Resampling {
                        resamples: params.bootstrap,
                        seed: params.seed,
                        calibration: &sets,
                        bins: CALIBRATION_BINS,
                    };
                    let (score_eval, eces) =
                        evaluate_scores_with_ece(&y, &scores, threshold, training_prior(model), &resampling)?;
                    let calibration = calibration_sets_with(&y, &sets, CALIBRATION_BINS, eces)?;
                    Ok((fitted, score_eval, calibration))
                },
                || {
                    rayon::join(
                        || {
                            let Some(reference) = reference else {
                                return Ok(Vec::new());
                            };
                            let columns: Vec<String> = model
                                .input_columns()
                                .into_iter()
                                .map(|c| c.name)
                                .filter(|name| batch.schema().index_of(name).is_ok())
                                .collect();
                            model_permutation_importance(
                                &batch,
                                &encoded,
                                &columns,
                                &y,
                                params.permutation_repeats,
                                params.seed,
                                reference,
                            )
                        },
                        || predictions.as_ref().ok().map(beside),
                    )
                },
            )
        },
        || train.map(|t| fit_effects(model, t, params.group.as_deref())).transpose(),
    );
    let (fitted, score_eval, calibration_sets) = scored?;
    let effects = effects?;
    let importance = importance?;

    let odds_ratios = model.feature_effects().map(|effects| {
        let mut v: Vec<OddsRatio> = effects;
        v.sort_by(|a, b| b.coefficient.abs().total_cmp(&a.coefficient.abs()).then_with(|| a.feature.cmp(&b.feature)));
        v
    });

    // Calibration on the test split: the model's probabilities, and the calibrated ones when a
    // calibrator was fitted on the training split.
    let (platt, platt_rows, withheld) = match fitted {
        Some(Ok((platt, rows))) => (Some(platt), rows, None),
        Some(Err(reason)) => (None, 0, Some(reason)),
        None => (None, 0, Some("no training split was given to fit it on".to_owned())),
    };
    let mut sets = calibration_sets.into_iter();
    let model_calibration = sets.next().ok_or(EvaluateError::Empty { metric: "calibration" })?;
    let calibrated = sets.next();
    let calibration =
        Calibration { bins: CALIBRATION_BINS, model: model_calibration, platt, platt_rows, calibrated, withheld };
    let calibrator = Calibrator {
        format: CALIBRATOR_FORMAT.to_owned(),
        method: "platt".to_owned(),
        platt: calibration.platt,
        withheld: calibration.withheld.clone(),
        positive_class: pos.to_owned(),
        fitted_rows: calibration.platt_rows,
    };

    let evaluation = Evaluation {
        format: METRICS_FORMAT.to_owned(),
        target: model.target().to_owned(),
        positive_class: pos.to_owned(),
        negative_class: neg.to_owned(),
        algorithm: model.algorithm().to_owned(),
        scores: score_eval,
        odds_ratios,
        permutation_importance: importance,
        permutation_repeats: params.permutation_repeats,
        permutation_seed: params.seed,
        unseen_categories: encoded.unseen().clone(),
        training: model.training().clone(),
        effects,
        calibration,
    };
    let charts = draw_charts(&evaluation, &y, &scores, params.chart_effects)?;
    let report_html = render_html(&evaluation, &charts);
    let predictions = predictions?;
    tracing::info!(
        rows = evaluation.scores.rows,
        balanced_accuracy = evaluation.scores.model.balanced_accuracy,
        roc_auc = ?evaluation.scores.model.roc_auc,
        "evaluated model"
    );
    // `beside` ran whenever the predictions were built.
    let beside = beside.ok_or_else(|| EvaluateError::Empty { metric: "evaluate (predictions)" })?;
    Ok((EvaluationOutput { evaluation, charts, report_html, calibrator, predictions }, beside))
}

/// Draws the four charts of an evaluation from the labels and scores it was computed on.
pub fn draw_charts(
    evaluation: &Evaluation,
    y_true: &[bool],
    scores: &[f64],
    chart_effects: usize,
) -> Result<Charts, EvaluateError> {
    let s: &ScoreEvaluation = &evaluation.scores;
    let (pos, neg) = (&evaluation.positive_class, &evaluation.negative_class);
    let confusion = confusion_heatmap_svg(&s.model.confusion, neg, pos)?;
    let roc = match s.model.roc_auc {
        Some(auc) => roc_svg(&roc_curve(y_true, scores)?, auc)?,
        None => odds_ratio_svg(&[], "ROC curve", "undefined: the test split holds one class only")?,
    };
    let pr = match s.model.average_precision {
        Some(ap) => pr_svg(&precision_recall_curve(y_true, scores)?, ap, s.prevalence)?,
        None => odds_ratio_svg(&[], "Precision-recall curve", "undefined: the test split holds no positive row")?,
    };
    let effects = match (&evaluation.effects, &evaluation.odds_ratios) {
        (Some(fx), _) => forest(fx, pos, chart_effects)?,
        (None, Some(all)) if !all.is_empty() => {
            let shown = all.len().min(chart_effects);
            let mut bars: Vec<OddsRatioBar> = all
                .iter()
                .take(shown)
                .map(|e| OddsRatioBar { label: effect_label(e), odds_ratio: e.odds_ratio, interval: None })
                .collect();
            bars.sort_by(|a, b| b.odds_ratio.total_cmp(&a.odds_ratio).then_with(|| a.label.cmp(&b.label)));
            let title = if shown < all.len() {
                format!("Odds ratios of {pos} (the {shown} largest of {})", all.len())
            } else {
                format!("Odds ratios of {pos}")
            };
            odds_ratio_svg(&bars, &title, "")?
        }
        _ => odds_ratio_svg(
            &[],
            &format!("Odds ratios of {pos}"),
            &format!("the {} model has no coefficients", evaluation.algorithm.replace('_', " ")),
        )?,
    };
    let c = &evaluation.calibration;
    let mut series: Vec<(&str, &[crate::calibration::ReliabilityBin])> = vec![("model", &c.model.reliability)];
    if let Some(cal) = &c.calibrated {
        series.push(("Platt-calibrated", &cal.reliability));
    }
    let reliability = reliability_svg(&series, pos)?;
    Ok(Charts { confusion, roc, pr, effects, reliability })
}

/// The forest plot of the inference model's effects: the `shown` largest by |log odds ratio|,
/// ordered by odds ratio, each with its interval under the report's covariance.
fn forest(fx: &Effects, pos: &str, shown: usize) -> Result<String, EvaluateError> {
    let mut estimated: Vec<(f64, OddsRatioBar)> = fx
        .effects
        .iter()
        .filter_map(|e| {
            let u = e.interval(fx.covariance)?;
            Some((
                e.estimate?.abs(),
                OddsRatioBar {
                    label: e.label(),
                    odds_ratio: e.odds_ratio?,
                    interval: Some((u.odds_ratio_low, u.odds_ratio_high)),
                },
            ))
        })
        .collect();
    let total = estimated.len();
    estimated.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.label.cmp(&b.1.label)));
    let mut bars: Vec<OddsRatioBar> = estimated.into_iter().take(shown).map(|(_, b)| b).collect();
    bars.sort_by(|a, b| b.odds_ratio.total_cmp(&a.odds_ratio).then_with(|| a.label.cmp(&b.label)));
    let level = format!("{:.0} %", 100.0 * fx.confidence);
    let title = if bars.len() < total {
        format!("Odds ratios of {pos}, {level} intervals (the {} largest of {total})", bars.len())
    } else {
        format!("Odds ratios of {pos}, {level} intervals")
    };
    odds_ratio_svg(&bars, &title, "no effect could be estimated (see the report's warnings)")
}

/// The test rows with the true class, P(positive) and the decision appended.
pub fn predictions_table(
    batch: &RecordBatch,
    y_true: &[bool],
    scores: &[f64],
    threshold: f64,
    positive: &str,
    negative: &str,
) -> Result<RecordBatch, EvaluateError> {
    let probability = probability_column(positive);
    let schema = batch.schema();
    for name in [TRUE_CLASS_COLUMN, probability.as_str(), PREDICTED_CLASS_COLUMN] {
        if schema.index_of(name).is_ok() {
            return Err(EvaluateError::Table {
                column: name.to_owned(),
                row: None,
                message: "the test table already has this column, which the predictions output adds".into(),
            });
        }
    }
    let class = |b: bool| if b { positive } else { negative };
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(TRUE_CLASS_COLUMN, DataType::Utf8, false)));
    fields.push(Arc::new(Field::new(probability, DataType::Float64, false)));
    fields.push(Arc::new(Field::new(PREDICTED_CLASS_COLUMN, DataType::Utf8, false)));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(StringArray::from_iter_values(y_true.iter().map(|&t| class(t)))));
    columns.push(Arc::new(Float64Array::from(scores.to_vec())));
    columns.push(Arc::new(StringArray::from_iter_values(scores.iter().map(|&s| class(s >= threshold)))));
    // Keep the input's schema metadata: the predictions are the test table, extended.
    let out_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    RecordBatch::try_new(out_schema, columns).map_err(|e| EvaluateError::arrow("building the predictions table", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("descricao", Arc::new(StringArray::from(vec!["APROVADO", "FALHOU", "APROVADO"])) as ArrayRef),
            ("renda", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn labels_name_the_bad_row() {
        let b = table();
        assert_eq!(labels(&b, "descricao", "APROVADO", "FALHOU").unwrap(), vec![true, false, true]);
        let err = labels(&b, "descricao", "APROVADO", "REPROVADO").unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("\"FALHOU\""), "{err}");
        let err = labels(&b, "outcome", "APROVADO", "FALHOU").unwrap_err().to_string();
        assert!(err.contains("`outcome`"), "{err}");
    }

    #[test]
    fn predictions_append_three_columns() {
        let b = table();
        let p = predictions_table(&b, &[true, false, true], &[0.7, 0.2, 0.4], 0.5, "APROVADO", "FALHOU").unwrap();
        assert_eq!(p.num_columns(), 5);
        let decided = p.column(4).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(decided.iter().flatten().collect::<Vec<_>>(), ["APROVADO", "FALHOU", "FALHOU"]);
        assert_eq!(p.schema().field(3).name(), "probability_APROVADO");
        let again =
            predictions_table(&p.project(&[0, 1, 2]).unwrap(), &[true; 3], &[0.5; 3], 0.5, "APROVADO", "FALHOU");
        assert!(again.is_err());
    }
}
