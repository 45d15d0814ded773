//! Binary classification metrics with scikit-learn's exact definitions.
//!
//! Labels are `bool` (`true` = the positive class), scores are the predicted probability (or
//! any monotone score, for the ranking metrics) of the positive class. Every function checks
//! lengths and scores and returns an error instead of NaN, so a report never shows a silent NaN.

use serde::{Deserialize, Serialize};

use crate::EvaluateError;

/// Counts of a binary confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// True negatives.
    pub tn: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// True positives.
    pub tp: u64,
}

impl ConfusionMatrix {
    /// Rows are the true class, columns the predicted class, both ordered
    /// `[negative, positive]` (sklearn's `confusion_matrix(y_true, y_pred)` with `False < True`).
    pub fn counts(&self) -> [[u64; 2]; 2] {
        [[self.tn, self.fp], [self.fn_, self.tp]]
    }

    /// Each row divided by its total (sklearn's `normalize="true"`): the share of each true
    /// class given each prediction. A class absent from `y_true` gives a row of zeros, as
    /// sklearn's `nan_to_num` does.
    pub fn normalised_by_true(&self) -> [[f64; 2]; 2] {
        self.counts().map(|row| {
            let total = (row[0] + row[1]) as f64;
            if total == 0.0 { [0.0, 0.0] } else { [row[0] as f64 / total, row[1] as f64 / total] }
        })
    }

    /// Number of rows counted.
    pub fn total(&self) -> u64 {
        self.tn + self.fp + self.fn_ + self.tp
    }
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the rows predicted as this class, the share that are (0 when none is predicted,
    /// sklearn's `zero_division=0`).
    pub precision: f64,
    /// Of the rows of this class, the share predicted as it (0 when the class is absent).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Rows of this class in `y_true`.
    pub support: u64,
}

/// Precision, recall and F1 averaged over the two classes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AveragedScores {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1 (the average of the per-class F1s, not the F1 of the averages).
    pub f1: f64,
}

/// sklearn's `precision_recall_fscore_support` for both classes and its macro and weighted
/// averages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Scores of the negative class (`false`).
    pub negative: ClassScores,
    /// Scores of the positive class (`true`).
    pub positive: ClassScores,
    /// Unweighted mean over the two classes (`average="macro"`).
    pub macro_avg: AveragedScores,
    /// Mean weighted by support (`average="weighted"`).
    pub weighted_avg: AveragedScores,
}

/// Points of the ROC curve, as sklearn's `roc_curve(..., drop_intermediate=True)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False positive rates, non-decreasing from 0 to 1.
    pub fpr: Vec<f64>,
    /// True positive rates.
    pub tpr: Vec<f64>,
    /// Thresholds, decreasing; the first is +inf (no row predicted positive).
    pub thresholds: Vec<f64>,
}

/// Points of the precision-recall curve, as sklearn's `precision_recall_curve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    /// Precision per threshold, ending with 1.
    pub precision: Vec<f64>,
    /// Recall per threshold, decreasing, ending with 0.
    pub recall: Vec<f64>,
    /// Increasing thresholds (one fewer than the points).
    pub thresholds: Vec<f64>,
}

fn check_len(metric: &'static str, what: &'static str, y_true: &[bool], n: usize) -> Result<(), EvaluateError> {
    if y_true.len() != n {
        return Err(EvaluateError::LengthMismatch { metric, what, expected: y_true.len(), found: n });
    }
    if n == 0 {
        return Err(EvaluateError::Empty { metric });
    }
    Ok(())
}

fn check_scores(
    metric: &'static str,
    y_true: &[bool],
    scores: &[f64],
    probabilities: bool,
) -> Result<(), EvaluateError> {
    check_len(metric, "scores", y_true, scores.len())?;
    for (row, &value) in scores.iter().enumerate() {
        if probabilities && !(0.0..=1.0).contains(&value) {
            return Err(EvaluateError::InvalidScore { metric, row, value, expected: "a probability in [0, 1]" });
        }
        if !value.is_finite() {
            return Err(EvaluateError::InvalidScore { metric, row, value, expected: "a finite number" });
        }
    }
    Ok(())
}

/// The decisions for `scores` at `threshold`: positive when `score >= threshold`.
pub fn decide(scores: &[f64], threshold: f64) -> Vec<bool> {
    scores.iter().map(|&s| s >= threshold).collect()
}

/// Counts of true/false positives/negatives.
pub fn confusion_matrix(y_true: &[bool], y_pred: &[bool]) -> Result<ConfusionMatrix, EvaluateError> {
    check_len("confusion_matrix", "y_pred", y_true, y_pred.len())?;
    let mut cm = ConfusionMatrix::default();
    for (&t, &p) in y_true.iter().zip(y_pred) {
        match (t, p) {
            (false, false) => cm.tn += 1,
            (false, true) => cm.fp += 1,
            (true, false) => cm.fn_ += 1,
            (true, true) => cm.tp += 1,
        }
    }
    Ok(cm)
}

/// Share of correct decisions (sklearn's `accuracy_score`).
pub fn accuracy(y_true: &[bool], y_pred: &[bool]) -> Result<f64, EvaluateError> {
    let cm = confusion_matrix(y_true, y_pred)?;
    Ok((cm.tp + cm.tn) as f64 / cm.total() as f64)
}

/// Mean recall over the classes present in `y_true` (sklearn's `balanced_accuracy_score`):
/// 0.5 for any constant prediction.
pub fn balanced_accuracy(y_true: &[bool], y_pred: &[bool]) -> Result<f64, EvaluateError> {
    Ok(balanced_accuracy_of(&confusion_matrix(y_true, y_pred)?))
}

pub(crate) fn balanced_accuracy_of(cm: &ConfusionMatrix) -> f64 {
    let recalls: Vec<f64> = [(cm.tn, cm.tn + cm.fp), (cm.tp, cm.tp + cm.fn_)]
        .into_iter()
        .filter(|&(_, support)| support > 0)
        .map(|(hit, support)| hit as f64 / support as f64)
        .collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

fn divide_or_zero(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

fn class_scores(hit: u64, predicted: u64, support: u64) -> ClassScores {
    let hit = hit as f64;
    ClassScores {
        precision: divide_or_zero(hit, predicted as f64),
        recall: divide_or_zero(hit, support as f64),
        // sklearn computes F-beta as (1 + b^2) tp / (b^2 true + predicted): same value, same rounding.
        f1: divide_or_zero(2.0 * hit, (support + predicted) as f64),
        support,
    }
}

/// Precision, recall, F1 and support per class, with macro and weighted averages
/// (sklearn's `precision_recall_fscore_support` with `zero_division=0`).
pub fn classification_report(y_true: &[bool], y_pred: &[bool]) -> Result<ClassificationReport, EvaluateError> {
    Ok(classification_report_of(&confusion_matrix(y_true, y_pred)?))
}

pub(crate) fn classification_report_of(cm: &ConfusionMatrix) -> ClassificationReport {
    let negative = class_scores(cm.tn, cm.tn + cm.fn_, cm.tn + cm.fp);
    let positive = class_scores(cm.tp, cm.tp + cm.fp, cm.tp + cm.fn_);
    let macro_avg = AveragedScores {
        precision: f64::midpoint(negative.precision, positive.precision),
        recall: f64::midpoint(negative.recall, positive.recall),
        f1: f64::midpoint(negative.f1, positive.f1),
    };
    let (wn, wp) = (negative.support as f64, positive.support as f64);
    let weighted = |a: f64, b: f64| divide_or_zero(a * wn + b * wp, wn + wp);
    let weighted_avg = AveragedScores {
        precision: weighted(negative.precision, positive.precision),
        recall: weighted(negative.recall, positive.recall),
        f1: weighted(negative.f1, positive.f1),
    };
    ClassificationReport { negative, positive, macro_avg, weighted_avg }
}

/// Cumulative (false positives, true positives, threshold) at each distinct score, highest
/// score first: sklearn's `confusion_matrix_at_thresholds`. Ties share one point, so their
/// order never matters: the positives' and the negatives' scores are sorted apart (as integers
/// in `f64::total_cmp`'s order, by radix) and merged.
fn counts_at_thresholds(y_true: &[bool], scores: &[f64]) -> Vec<(f64, f64, f64)> {
    // `total_cmp`'s order as unsigned integers: negatives' magnitude bits flipped, then the
    // sign bit flipped.
    let key = |x: f64| {
        let b = x.to_bits() as i64;
        ((b ^ ((((b >> 63) as u64) >> 1) as i64)) as u64) ^ (1 << 63)
    };
    let value = |k: u64| {
        let b = (k ^ (1 << 63)) as i64;
        f64::from_bits((b ^ ((((b >> 63) as u64) >> 1) as i64)) as u64)
    };
    let (mut pos, mut neg): (Vec<u64>, Vec<u64>) = (Vec::new(), Vec::new());
    for (&t, &s) in y_true.iter().zip(scores) {
        if t { pos.push(key(s)) } else { neg.push(key(s)) }
    }
    let mut scratch = Vec::new();
    radix_sort(&mut pos, &mut scratch);
    radix_sort(&mut neg, &mut scratch);
    let mut points = Vec::new();
    let (mut fps, mut tps) = (0.0, 0.0);
    // Highest first: both lists from their ends.
    let (mut p, mut n) = (pos.len(), neg.len());
    while p > 0 || n > 0 {
        let take_pos = n == 0 || (p > 0 && pos[p - 1] >= neg[n - 1]);
        let k = if take_pos {
            p -= 1;
            tps += 1.0;
            pos[p]
        } else {
            n -= 1;
            fps += 1.0;
            neg[n]
        };
        let s = value(k);
        // The next score in the merged order; a group ends where it differs (-0.0 == 0.0).
        let next = match (p, n) {
            (0, 0) => None,
            (0, _) => Some(neg[n - 1]),
            (_, 0) => Some(pos[p - 1]),
            _ => Some(pos[p - 1].max(neg[n - 1])),
        };
        if next.is_none_or(|k| value(k) != s) {
            points.push((fps, tps, s));
        }
    }
    points
}

/// Sorts `keys` ascending: least significant digit first, 16 bits a pass; a pass whose digit
/// every key shares is skipped (probabilities share their sign and most exponent bits).
fn radix_sort(keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    if keys.len() < 256 {
        keys.sort_unstable();
        return;
    }
    scratch.clear();
    scratch.resize(keys.len(), 0);
    let mut counts = vec![0usize; 1 << 16];
    for pass in 0..4 {
        let shift = 16 * pass;
        counts.fill(0);
        for &k in keys.iter() {
            counts[((k >> shift) & 0xffff) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut total = 0;
        for c in &mut counts {
            (*c, total) = (total, total + *c);
        }
        for &k in keys.iter() {
            let slot = &mut counts[((k >> shift) & 0xffff) as usize];
            scratch[*slot] = k;
            *slot += 1;
        }
        std::mem::swap(keys, scratch);
    }
}

fn both_classes(metric: &'static str, y_true: &[bool]) -> Result<(), EvaluateError> {
    let positives = y_true.iter().filter(|&&t| t).count();
    if positives == 0 || positives == y_true.len() {
        let present = if positives == 0 { "negative" } else { "positive" };
        return Err(EvaluateError::Undefined {
            metric,
            reason: format!("only the {present} class is present in y_true"),
        });
    }
    Ok(())
}

/// The ROC curve with sklearn's `drop_intermediate=True` (collinear points removed; they do not
/// change the area).
pub fn roc_curve(y_true: &[bool], scores: &[f64]) -> Result<RocCurve, EvaluateError> {
    check_scores("roc_curve", y_true, scores, false)?;
    both_classes("roc_curve", y_true)?;
    let points = counts_at_thresholds(y_true, scores);
    let keep: Vec<usize> = if points.len() > 2 {
        (0..points.len())
            .filter(|&k| {
                if k == 0 || k + 1 == points.len() {
                    return true;
                }
                let second_diff =
                    |f: fn(&(f64, f64, f64)) -> f64| f(&points[k + 1]) - 2.0 * f(&points[k]) + f(&points[k - 1]) != 0.0;
                second_diff(|p| p.0) || second_diff(|p| p.1)
            })
            .collect()
    } else {
        (0..points.len()).collect()
    };
    let (total_fp, total_tp) = points.last().map_or((1.0, 1.0), |p| (p.0, p.1));
    let mut curve = RocCurve { fpr: vec![0.0], tpr: vec![0.0], thresholds: vec![f64::INFINITY] };
    for k in keep {
        let (fp, tp, t) = points[k];
        curve.fpr.push(fp / total_fp);
        curve.tpr.push(tp / total_tp);
        curve.thresholds.push(t);
    }
    Ok(curve)
}

/// Area under the ROC curve by the trapezoidal rule over [`roc_curve`] (sklearn's
/// `roc_auc_score`): tied scores count half, as a diagonal segment.
pub fn roc_auc(y_true: &[bool], scores: &[f64]) -> Result<f64, EvaluateError> {
    let curve = roc_curve(y_true, scores).map_err(|e| rename(e, "roc_auc"))?;
    Ok(trapezoid(&curve.fpr, &curve.tpr))
}

fn rename(e: EvaluateError, metric: &'static str) -> EvaluateError {
    match e {
        EvaluateError::Undefined { reason, .. } => EvaluateError::Undefined { metric, reason },
        EvaluateError::InvalidScore { row, value, expected, .. } => {
            EvaluateError::InvalidScore { metric, row, value, expected }
        }
        EvaluateError::LengthMismatch { what, expected, found, .. } => {
            EvaluateError::LengthMismatch { metric, what, expected, found }
        }
        EvaluateError::Empty { .. } => EvaluateError::Empty { metric },
        other => other,
    }
}

fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2).zip(y.windows(2)).map(|(dx, dy)| (dx[1] - dx[0]) * (dy[1] + dy[0]) / 2.0).sum()
}

/// The precision-recall curve (sklearn's `precision_recall_curve`, `drop_intermediate=False`).
pub fn precision_recall_curve(y_true: &[bool], scores: &[f64]) -> Result<PrCurve, EvaluateError> {
    check_scores("precision_recall_curve", y_true, scores, false)?;
    if !y_true.iter().any(|&t| t) {
        return Err(EvaluateError::Undefined {
            metric: "precision_recall_curve",
            reason: "no positive row in y_true, so recall is undefined".into(),
        });
    }
    let points = counts_at_thresholds(y_true, scores);
    let total_tp = points.last().map_or(1.0, |p| p.1);
    let mut curve = PrCurve {
        precision: Vec::with_capacity(points.len() + 1),
        recall: Vec::with_capacity(points.len() + 1),
        thresholds: Vec::with_capacity(points.len()),
    };
    for &(fp, tp, t) in points.iter().rev() {
        curve.precision.push(divide_or_zero(tp, tp + fp));
        curve.recall.push(tp / total_tp);
        curve.thresholds.push(t);
    }
    curve.precision.push(1.0);
    curve.recall.push(0.0);
    Ok(curve)
}

/// Average precision, step-wise (not trapezoidal): `Σ (R_n − R_{n−1}) P_n` over the
/// thresholds, as sklearn's `average_precision_score`. Equals the prevalence for a constant
/// score.
pub fn average_precision(y_true: &[bool], scores: &[f64]) -> Result<f64, EvaluateError> {
    let curve = precision_recall_curve(y_true, scores).map_err(|e| rename(e, "average_precision"))?;
    let sum: f64 = curve.recall.windows(2).zip(&curve.precision).map(|(r, p)| (r[1] - r[0]) * p).sum();
    // recall decreases along the curve, so the sum is negative; sklearn clips -0.0 to 0.
    Ok((-sum).max(0.0))
}

/// Mean negative log-likelihood of the true class (sklearn's `log_loss`). As sklearn ≥ 1.5,
/// both class probabilities `[1 − p, p]` are clipped to `[ε, 1 − ε]` with ε the f64 machine
/// epsilon (2.2e-16), so a confident mistake costs about 36, not infinity.
pub fn log_loss(y_true: &[bool], scores: &[f64]) -> Result<f64, EvaluateError> {
    check_scores("log_loss", y_true, scores, true)?;
    let eps = f64::EPSILON;
    let total: f64 =
        y_true.iter().zip(scores).map(|(&t, &p)| -(if t { p } else { 1.0 - p }).clamp(eps, 1.0 - eps).ln()).sum();
    Ok(total / y_true.len() as f64)
}

/// Mean squared difference between the probability and the outcome (sklearn's
/// `brier_score_loss`).
pub fn brier_score(y_true: &[bool], scores: &[f64]) -> Result<f64, EvaluateError> {
    check_scores("brier_score", y_true, scores, true)?;
    let total: f64 = y_true.iter().zip(scores).map(|(&t, &p)| (f64::from(u8::from(t)) - p).powi(2)).sum();
    Ok(total / y_true.len() as f64)
}

/// The equal-width bin (of `bins`) of a probability, for the reliability table and the ECE.
pub(crate) fn bin_of(p: f64, bins: usize) -> usize {
    // `p` is checked to lie in [0, 1]; 1.0 goes to the last bin.
    ((p * bins as f64) as usize).min(bins - 1)
}

#[cfg(test)]
mod tests {
    //! Expected values are scikit-learn 1.9.1's, printed by `tests/data/sklearn_fixture.py`
    //! (`python3 sklearn_fixture.py`) and pasted here as literals.

    use super::*;

    const Y: [bool; 20] = [
        true, false, true, true, false, false, true, false, true, true, false, true, false, false, true, true, false,
        true, true, false,
    ];
    const S: [f64; 20] = [
        0.9,
        0.1,
        0.8,
        0.4,
        0.4,
        0.35,
        0.4,
        0.0,
        1.0,
        0.65,
        0.65,
        0.2,
        0.7,
        1e-20,
        0.55,
        0.65,
        0.3,
        0.999_999_999_99,
        0.5,
        0.5,
    ];
    const THRESHOLD: f64 = 0.4;

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() <= 1e-9, "got {actual}, sklearn gives {expected}");
    }

    fn close_all(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (&a, &e) in actual.iter().zip(expected) {
            if e.is_infinite() {
                assert_eq!(a, e);
            } else {
                close(a, e);
            }
        }
    }

    #[test]
    fn radix_sort_sorts() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut keys: Vec<u64> = (0..5000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Shared high bits (as probabilities have), a few duplicates, and full-range keys.
                match i % 3 {
                    0 => 0x3fe0_0000_0000_0000 | (x & 0xffff_ffff),
                    1 => x % 97,
                    _ => x,
                }
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        radix_sort(&mut keys, &mut Vec::new());
        assert_eq!(keys, expected);
    }

    #[test]
    fn threshold_counts_equal_a_sort_of_the_rows() {
        // The previous implementation: row indices sorted by score, highest first.
        fn reference(y_true: &[bool], scores: &[f64]) -> Vec<(f64, f64, f64)> {
            let mut order: Vec<usize> = (0..scores.len()).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
            let mut points = Vec::new();
            let (mut fps, mut tps) = (0.0, 0.0);
            for (k, &i) in order.iter().enumerate() {
                if y_true[i] {
                    tps += 1.0;
                } else {
                    fps += 1.0;
                }
                if order.get(k + 1).is_none_or(|&next| scores[next] != scores[i]) {
                    points.push((fps, tps, scores[i]));
                }
            }
            points
        }
        let n = 3000;
        let y: Vec<bool> = (0..n).map(|i| (i * 7919) % 5 < 3).collect();
        // Ties, both zeros, negatives and tiny values.
        let s: Vec<f64> = (0..n)
            .map(|i| match i % 7 {
                0 => 0.0,
                1 => -0.0,
                2 => -f64::from(i % 13),
                3 => 1e-300 * f64::from(i % 3),
                _ => f64::from((i * 31) % 101) / 101.0,
            })
            .collect();
        let bits = |v: Vec<(f64, f64, f64)>| v.into_iter().map(|p| (p.0, p.1, p.2.to_bits())).collect::<Vec<_>>();
        assert_eq!(bits(counts_at_thresholds(&y, &s)), bits(reference(&y, &s)));
    }

    #[test]
    fn threshold_metrics_match_sklearn() {
        let pred = decide(&S, THRESHOLD);
        close(accuracy(&Y, &pred).unwrap(), 0.75);
        close(balanced_accuracy(&Y, &pred).unwrap(), 0.732_323_232_323_232_3);
        let r = classification_report(&Y, &pred).unwrap();
        close(r.negative.precision, 0.833_333_333_333_333_4);
        close(r.positive.precision, 0.714_285_714_285_714_3);
        close(r.negative.recall, 0.555_555_555_555_555_6);
        close(r.positive.recall, 0.909_090_909_090_909_1);
        close(r.negative.f1, 0.666_666_666_666_666_6);
        close(r.positive.f1, 0.8);
        assert_eq!((r.negative.support, r.positive.support), (9, 11));
        close(r.macro_avg.precision, 0.773_809_523_809_523_8);
        close(r.macro_avg.recall, 0.732_323_232_323_232_3);
        close(r.macro_avg.f1, 0.733_333_333_333_333_4);
        close(r.weighted_avg.precision, 0.767_857_142_857_142_9);
        close(r.weighted_avg.recall, 0.75);
        close(r.weighted_avg.f1, 0.74);
        let cm = confusion_matrix(&Y, &pred).unwrap();
        assert_eq!(cm.counts(), [[5, 4], [1, 10]]);
        let n = cm.normalised_by_true();
        close_all(&n[0], &[0.555_555_555_555_555_6, 0.444_444_444_444_444_4]);
        close_all(&n[1], &[0.090_909_090_909_090_91, 0.909_090_909_090_909_1]);
    }

    #[test]
    fn probability_metrics_match_sklearn() {
        close(roc_auc(&Y, &S).unwrap(), 0.792_929_292_929_292_8);
        close(average_precision(&Y, &S).unwrap(), 0.825_516_432_468_304_2);
        close(log_loss(&Y, &S).unwrap(), 0.513_682_978_275_224_2);
        close(brier_score(&Y, &S).unwrap(), 0.182_624_999_999_999_98);
    }

    #[test]
    fn curves_match_sklearn() {
        let roc = roc_curve(&Y, &S).unwrap();
        let ninth = 1.0 / 9.0;
        let eleventh = 1.0 / 11.0;
        close_all(
            &roc.fpr,
            &[0.0, 0.0, 0.0, ninth, 2.0 * ninth, 2.0 * ninth, 3.0 * ninth, 4.0 * ninth, 6.0 * ninth, 6.0 * ninth, 1.0],
        );
        close_all(
            &roc.tpr,
            &[
                0.0,
                eleventh,
                4.0 * eleventh,
                4.0 * eleventh,
                6.0 * eleventh,
                7.0 * eleventh,
                8.0 * eleventh,
                10.0 * eleventh,
                10.0 * eleventh,
                1.0,
                1.0,
            ],
        );
        close_all(&roc.thresholds, &[f64::INFINITY, 1.0, 0.8, 0.7, 0.65, 0.55, 0.5, 0.4, 0.3, 0.2, 0.0]);
        let pr = precision_recall_curve(&Y, &S).unwrap();
        close_all(
            &pr.precision,
            &[
                0.55,
                0.578_947_368_421_052_7,
                0.611_111_111_111_111_2,
                0.647_058_823_529_411_8,
                0.625,
                0.666_666_666_666_666_6,
                0.714_285_714_285_714_3,
                0.727_272_727_272_727_3,
                0.777_777_777_777_777_8,
                0.75,
                0.8,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
            ],
        );
        close_all(
            &pr.recall,
            &[
                1.0,
                1.0,
                1.0,
                1.0,
                10.0 * eleventh,
                10.0 * eleventh,
                10.0 * eleventh,
                8.0 * eleventh,
                7.0 * eleventh,
                6.0 * eleventh,
                4.0 * eleventh,
                4.0 * eleventh,
                3.0 * eleventh,
                2.0 * eleventh,
                eleventh,
                0.0,
            ],
        );
        close_all(
            &pr.thresholds,
            &[0.0, 1e-20, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.55, 0.65, 0.7, 0.8, 0.9, 0.999_999_999_99, 1.0],
        );
    }

    #[test]
    fn constant_prior_baseline_matches_sklearn() {
        let s = [0.6; 20];
        let pred = decide(&s, 0.5);
        close(accuracy(&Y, &pred).unwrap(), 0.55);
        close(balanced_accuracy(&Y, &pred).unwrap(), 0.5);
        let r = classification_report(&Y, &pred).unwrap();
        close(r.negative.precision, 0.0);
        close(r.negative.f1, 0.0);
        close(r.positive.f1, 0.709_677_419_354_838_7);
        close(r.macro_avg.precision, 0.275);
        close(r.macro_avg.f1, 0.354_838_709_677_419_4);
        close(r.weighted_avg.precision, 0.302_500_000_000_000_05);
        close(r.weighted_avg.f1, 0.390_322_580_645_161_3);
        close(roc_auc(&Y, &s).unwrap(), 0.5);
        close(average_precision(&Y, &s).unwrap(), 0.55);
        close(log_loss(&Y, &s).unwrap(), 0.693_284_922_414_664_6);
        close(brier_score(&Y, &s).unwrap(), 0.250_000_000_000_000_06);
        assert_eq!(confusion_matrix(&Y, &pred).unwrap().normalised_by_true(), [[0.0, 1.0], [0.0, 1.0]]);
        let roc = roc_curve(&Y, &s).unwrap();
        assert_eq!((roc.fpr, roc.tpr), (vec![0.0, 1.0], vec![0.0, 1.0]));
    }

    #[test]
    fn extreme_scores_are_clipped_like_sklearn() {
        let y = [true, false, true, false, true];
        let s = [0.0, 1.0, 1e-300, 1e-300, 0.75];
        close(log_loss(&y, &s).unwrap(), 21.683_728_447_960_65);
        close(brier_score(&y, &s).unwrap(), 0.6125);
        close(roc_auc(&y, &s).unwrap(), 0.25);
        close(average_precision(&y, &s).unwrap(), 0.533_333_333_333_333_3);
    }

    #[test]
    fn normalisation_rows_sum_to_one_and_absent_class_is_zero() {
        let cm = ConfusionMatrix { tn: 3, fp: 1, fn_: 0, tp: 0 };
        assert_eq!(cm.normalised_by_true(), [[0.75, 0.25], [0.0, 0.0]]);
        let cm = ConfusionMatrix { tn: 7, fp: 2, fn_: 5, tp: 11 };
        for row in cm.normalised_by_true() {
            assert!((row[0] + row[1] - 1.0).abs() < 1e-15);
            assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn bad_inputs_are_errors_not_nan() {
        assert!(matches!(roc_auc(&[true, true], &[0.1, 0.2]), Err(EvaluateError::Undefined { metric: "roc_auc", .. })));
        assert!(matches!(accuracy(&[true], &[true, false]), Err(EvaluateError::LengthMismatch { found: 2, .. })));
        assert!(matches!(accuracy(&[], &[]), Err(EvaluateError::Empty { .. })));
        let err = log_loss(&[true, false], &[0.5, 1.5]).unwrap_err();
        assert!(err.to_string().contains("row 1 is 1.5"), "{err}");
        assert!(roc_auc(&[true, false], &[f64::NAN, 0.1]).is_err());
    }
}
