//! The few classification scores training needs (CV and threshold choice). esteira-evaluate
//! has the scikit-learn-exact versions for reporting.

/// ROC AUC by the rank-sum (Mann-Whitney) formula with averaged ranks for tied scores.
/// `labels[i]` is true for the positive class. NaN when a class is absent.
pub(crate) fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let n = labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            if labels[o] {
                rank_sum += avg_rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// Confusion counts (tp, fp, tn, fn) when predicting positive for `p >= threshold`.
fn confusion(labels: &[bool], scores: &[f64], threshold: f64) -> (f64, f64, f64, f64) {
    let (mut tp, mut fp, mut tn, mut fn_) = (0.0, 0.0, 0.0, 0.0);
    for (&l, &s) in labels.iter().zip(scores) {
        match (l, s >= threshold) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (false, false) => tn += 1.0,
            (true, false) => fn_ += 1.0,
        }
    }
    (tp, fp, tn, fn_)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Mean of the two recalls.
pub(crate) fn balanced_accuracy(labels: &[bool], scores: &[f64], threshold: f64) -> f64 {
    let (tp, fp, tn, fn_) = confusion(labels, scores, threshold);
    f64::midpoint(ratio(tp, tp + fn_), ratio(tn, tn + fp))
}

/// F1 of the positive class (`minority_positive`) or of the negative class.
pub(crate) fn f1(labels: &[bool], scores: &[f64], threshold: f64, of_positive: bool) -> f64 {
    let (tp, fp, tn, fn_) = confusion(labels, scores, threshold);
    let (t, f_pos, f_neg) = if of_positive { (tp, fp, fn_) } else { (tn, fn_, fp) };
    ratio(2.0 * t, 2.0 * t + f_pos + f_neg)
}

/// The threshold in `scores` maximising `score(threshold)`, sweeping every distinct score in
/// one pass over the sorted scores. `value` maps (tp, fp, tn, fn) to the objective. Ties go to
/// the threshold closest to 0.5 (then the lower), so an uninformative sweep keeps 0.5-ish.
pub(crate) fn best_threshold(labels: &[bool], scores: &[f64], value: impl Fn(f64, f64, f64, f64) -> f64) -> (f64, f64) {
    let n = labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let pos_total = labels.iter().filter(|&&l| l).count() as f64;
    let neg_total = n as f64 - pos_total;
    // Threshold at order[i]: rows i.. are predicted positive.
    let (mut fn_, mut tn) = (0.0, 0.0);
    let mut best: (f64, f64) = (0.5, f64::NEG_INFINITY);
    let mut i = 0;
    while i <= n {
        let cut = if i < n { scores[order[i]] } else { f64::INFINITY };
        let objective = value(pos_total - fn_, neg_total - tn, tn, fn_);
        let cut_eff = if cut.is_finite() { cut } else { 1.0 };
        if objective > best.1 || (objective == best.1 && (cut_eff - 0.5).abs() < (best.0 - 0.5).abs()) {
            best = (cut_eff, objective);
        }
        if i == n {
            break;
        }
        let mut j = i;
        while j < n && scores[order[j]] == cut {
            if labels[order[j]] {
                fn_ += 1.0;
            } else {
                tn += 1.0;
            }
            j += 1;
        }
        i = j;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_with_ties_matches_hand_count() {
        // Pairs (pos, neg): scores pos {0.9, 0.5, 0.3}, neg {0.5, 0.2}.
        // Wins: 0.9>0.5, 0.9>0.2, 0.5=0.5 (half), 0.5>0.2, 0.3<0.5, 0.3>0.2 => 4.5 / 6.
        let labels = [true, true, true, false, false];
        let scores = [0.9, 0.5, 0.3, 0.5, 0.2];
        assert!((roc_auc(&labels, &scores) - 0.75).abs() < 1e-15);
        assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_nan());
    }

    #[test]
    fn threshold_sweep_finds_the_separating_cut() {
        let labels = [false, false, true, false, true, true];
        let scores = [0.1, 0.2, 0.3, 0.35, 0.6, 0.8];
        let (t, v) =
            best_threshold(&labels, &scores, |tp, fp, tn, fn_| f64::midpoint(ratio(tp, tp + fn_), ratio(tn, tn + fp)));
        assert_eq!(v, balanced_accuracy(&labels, &scores, t));
        // Cut at 0.6 gives recalls 2/3 and 1 = 0.8333; cut at 0.3 gives 1 and 2/3 too: the
        // tie goes to the cut nearer 0.5.
        assert!((v - f64::midpoint(2.0 / 3.0, 1.0)).abs() < 1e-12);
        assert_eq!(t, 0.6);
        assert!((f1(&labels, &scores, 0.3, true) - 6.0 / 7.0).abs() < 1e-12);
    }
}
