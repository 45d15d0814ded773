//! Seeded percentile-bootstrap confidence intervals for ROC AUC and balanced accuracy.
//!
//! Resampling n rows with replacement and re-sorting them 1000 times would cost
//! O(B·n log n); instead the rows are grouped by distinct score once, and each resample only
//! counts how many positives and negatives it drew per group, which is O(n) and gives the same
//! AUC as sorting the resample (ties stay ties).

use rand::SeedableRng;
use rand::distr::{Distribution, Uniform};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::EvaluateError;
use crate::metrics::{ConfusionMatrix, balanced_accuracy_of};

/// A percentile interval from a bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound (the 2.5th percentile for a 95 % interval).
    pub lower: f64,
    /// Upper bound (the 97.5th percentile).
    pub upper: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Resamples where the metric was defined (ROC AUC needs both classes).
    pub used: usize,
}

/// 95 % intervals for the two headline metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapIntervals {
    /// ROC AUC; `None` when no resample had both classes.
    pub roc_auc: Option<Interval>,
    /// Balanced accuracy.
    pub balanced_accuracy: Option<Interval>,
}

/// Draws `resamples` bootstrap samples of the rows with a ChaCha8 generator seeded by `seed`
/// and returns 95 % percentile intervals (numpy's default linear interpolation) of ROC AUC
/// (from `scores`) and balanced accuracy (from `y_pred`). Same inputs and seed, same result.
/// At most [`MAX_BOOTSTRAP`](crate::MAX_BOOTSTRAP) resamples.
pub fn bootstrap_intervals(
    y_true: &[bool],
    scores: &[f64],
    y_pred: &[bool],
    resamples: usize,
    seed: u64,
) -> Result<BootstrapIntervals, EvaluateError> {
    crate::model_eval::at_most("bootstrap", resamples, crate::MAX_BOOTSTRAP)?;
    let n = y_true.len();
    for (what, found) in [("scores", scores.len()), ("y_pred", y_pred.len())] {
        if found != n {
            return Err(EvaluateError::LengthMismatch { metric: "bootstrap", what, expected: n, found });
        }
    }
    if n == 0 {
        return Err(EvaluateError::Empty { metric: "bootstrap" });
    }
    if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        return Err(EvaluateError::InvalidScore {
            metric: "bootstrap",
            row,
            value: scores[row],
            expected: "a finite number",
        });
    }
    let groups = ScoreGroups::new(scores);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A prepared distribution: `random_range` would redo its setup for each of the n·B draws.
    let rows = Uniform::new(0, n).map_err(|e| EvaluateError::Param { key: "bootstrap", message: e.to_string() })?;
    // One random read per draw: row -> (score group, label, decision) packed in one word.
    let packed: Vec<u64> =
        (0..n).map(|i| ((groups.of_row[i] as u64) << 2) | (u64::from(y_true[i]) << 1) | u64::from(y_pred[i])).collect();
    // Per group, negatives at 2g and positives at 2g + 1.
    let mut by_group = vec![0u64; 2 * groups.count];
    let mut pos = vec![0u64; groups.count];
    let mut neg = vec![0u64; groups.count];
    let mut aucs = Vec::with_capacity(resamples);
    let mut bal = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        by_group.fill(0);
        // Indexed by (label << 1) | decision: tn, fp, fn, tp.
        let mut outcome = [0u64; 4];
        for _ in 0..n {
            let code = packed[rows.sample(&mut rng)];
            outcome[(code & 3) as usize] += 1;
            by_group[(code >> 1) as usize] += 1;
        }
        let cm = ConfusionMatrix { tn: outcome[0], fp: outcome[1], fn_: outcome[2], tp: outcome[3] };
        bal.push(balanced_accuracy_of(&cm));
        for (g, pair) in by_group.chunks_exact(2).enumerate() {
            neg[g] = pair[0];
            pos[g] = pair[1];
        }
        if let Some(auc) = auc_from_group_counts(&pos, &neg) {
            aucs.push(auc);
        }
    }
    Ok(BootstrapIntervals {
        roc_auc: percentile_interval(aucs, resamples, 0.95),
        balanced_accuracy: percentile_interval(bal, resamples, 0.95),
    })
}

/// Rows grouped by distinct score, group 0 holding the highest score.
struct ScoreGroups {
    of_row: Vec<usize>,
    count: usize,
}

impl ScoreGroups {
    fn new(scores: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut of_row = vec![0; scores.len()];
        let mut group = 0;
        for (k, &i) in order.iter().enumerate() {
            if k > 0 && scores[order[k - 1]] != scores[i] {
                group += 1;
            }
            of_row[i] = group;
        }
        Self { of_row, count: if scores.is_empty() { 0 } else { group + 1 } }
    }
}

/// The trapezoidal ROC area from per-group counts, walking groups from the highest score:
/// exactly the area of sklearn's curve (a tied group is one diagonal segment).
pub(crate) fn auc_from_group_counts(pos: &[u64], neg: &[u64]) -> Option<f64> {
    let total_pos: u64 = pos.iter().sum();
    let total_neg: u64 = neg.iter().sum();
    if total_pos == 0 || total_neg == 0 {
        return None;
    }
    let mut tp = 0u64;
    // Twice the area in units of one (positive, negative) pair: stays an exact integer.
    let mut twice_area = 0u64;
    for (&p, &q) in pos.iter().zip(neg) {
        twice_area += q * (2 * tp + p);
        tp += p;
    }
    Some(twice_area as f64 / (2 * total_pos * total_neg) as f64)
}

fn percentile_interval(mut values: Vec<f64>, resamples: usize, level: f64) -> Option<Interval> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Some(Interval {
        lower: percentile(&values, tail),
        upper: percentile(&values, 1.0 - tail),
        level,
        resamples,
        used: values.len(),
    })
}

/// numpy's `percentile(..., method="linear")` of sorted values, `q` in [0, 1].
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = rank - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // numpy's _lerp: interpolate from the nearer end for accuracy.
    if t >= 0.5 { b - (b - a) * (1.0 - t) } else { a + (b - a) * t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{balanced_accuracy, decide, roc_auc};

    fn fixture() -> (Vec<bool>, Vec<f64>) {
        // A mildly informative score with many ties (rounded to one decimal).
        let y: Vec<bool> = (0..200).map(|i| (i * 7919) % 13 < 6).collect();
        let s = y
            .iter()
            .enumerate()
            .map(|(i, &t)| ((((i * 31) % 17) as f64 / 17.0 + if t { 0.3 } else { 0.0 }) / 1.3 * 10.0).round() / 10.0)
            .collect();
        (y, s)
    }

    #[test]
    fn same_seed_same_interval_other_seed_differs() {
        let (y, s) = fixture();
        let pred = decide(&s, 0.5);
        let first = bootstrap_intervals(&y, &s, &pred, 200, 7).unwrap();
        assert_eq!(first, bootstrap_intervals(&y, &s, &pred, 200, 7).unwrap());
        assert_ne!(first, bootstrap_intervals(&y, &s, &pred, 200, 8).unwrap());
        let auc = first.roc_auc.unwrap();
        let point = roc_auc(&y, &s).unwrap();
        assert!(auc.lower < point && point < auc.upper, "{auc:?} around {point}");
        let bal = first.balanced_accuracy.unwrap();
        let point = balanced_accuracy(&y, &pred).unwrap();
        assert!(bal.lower < point && point < bal.upper, "{bal:?} around {point}");
        assert_eq!((auc.resamples, auc.used), (200, 200));
    }

    #[test]
    fn group_count_auc_equals_sorted_auc_on_a_resample() {
        let (y, s) = fixture();
        // A resample drawn by hand: every third row twice, others once, some dropped.
        let rows: Vec<usize> = (0..s.len()).flat_map(|i| std::iter::repeat_n(i, i % 3)).collect();
        let ry: Vec<bool> = rows.iter().map(|&i| y[i]).collect();
        let rs: Vec<f64> = rows.iter().map(|&i| s[i]).collect();
        let groups = ScoreGroups::new(&s);
        let mut pos = vec![0; groups.count];
        let mut neg = vec![0; groups.count];
        for &i in &rows {
            if y[i] {
                pos[groups.of_row[i]] += 1;
            } else {
                neg[groups.of_row[i]] += 1;
            }
        }
        let fast = auc_from_group_counts(&pos, &neg).unwrap();
        assert!((fast - roc_auc(&ry, &rs).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1, 2, 3, 4, 10], [2.5, 97.5]) == [1.1, 9.4]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((percentile(&v, 0.025) - 1.1).abs() < 1e-12);
        assert!((percentile(&v, 0.975) - 9.4).abs() < 1e-12);
    }

    #[test]
    fn single_class_gives_no_auc_interval() {
        let r = bootstrap_intervals(&[true; 5], &[0.1, 0.2, 0.3, 0.4, 0.5], &[true; 5], 20, 1).unwrap();
        assert!(r.roc_auc.is_none());
        assert_eq!(r.balanced_accuracy.unwrap().lower, 1.0);
    }
}
