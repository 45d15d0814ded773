//! Seeded percentile-bootstrap confidence intervals for ROC AUC, balanced accuracy and the
//! expected calibration error, all from the same resamples.
//!
//! Resampling n rows with replacement and re-sorting them 1000 times would cost
//! O(B·n log n); instead the rows are sorted by score once, and each resample only counts how
//! often it drew each row ([`crate::resample`]), then walks the rows in score order summing
//! positives and negatives per group of equal scores: O(n) and the same AUC as sorting the
//! resample (ties stay ties). The same walk sums each probability set's calibration bins.
//! Resamples run in parallel, each from its own position in the one seeded stream, so the
//! intervals are the same bits whatever the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::EvaluateError;
use crate::metrics::{ConfusionMatrix, balanced_accuracy_of};
use crate::resample::{self, Count, Visit};

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
    Ok(bootstrap_with_ece(y_true, scores, y_pred, &[], 1, resamples, seed)?.0)
}

/// [`bootstrap_intervals`], and from the same resamples a 95 % interval of the expected
/// calibration error of each probability set in `sets` (already checked: one probability in
/// [0, 1] a row) in `bins` equal-width bins.
pub(crate) fn bootstrap_with_ece(
    y_true: &[bool],
    scores: &[f64],
    y_pred: &[bool],
    sets: &[&[f64]],
    bins: usize,
    resamples: usize,
    seed: u64,
) -> Result<(BootstrapIntervals, Vec<Option<Interval>>), EvaluateError> {
    crate::error::at_most("bootstrap", resamples, crate::MAX_BOOTSTRAP)?;
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
    let Ok(n32) = u32::try_from(n) else {
        return Err(EvaluateError::Param { key: "bootstrap", message: format!("{n} rows: at most 2^32 - 1") });
    };
    let bins16 = u16::try_from(bins)
        .ok()
        .filter(|&b| b > 0)
        .ok_or_else(|| EvaluateError::Param { key: "bins", message: format!("{bins}: from 1 to 65535") })?;
    if resamples == 0 {
        let none = BootstrapIntervals { roc_auc: None, balanced_accuracy: None };
        return Ok((none, vec![None; sets.len()]));
    }
    let sorted = Sorted::new(y_true, scores, y_pred, sets, bins16, n32);
    let per = resample::parallel(&sorted, n32, resamples, seed);
    let intervals = BootstrapIntervals {
        roc_auc: percentile_interval(per.iter().filter_map(|r| r.auc).collect(), resamples, 0.95),
        balanced_accuracy: percentile_interval(per.iter().map(|r| r.balanced_accuracy).collect(), resamples, 0.95),
    };
    let eces = (0..sets.len())
        .map(|s| percentile_interval(per.iter().map(|r| r.eces[s]).collect(), resamples, 0.95))
        .collect();
    Ok((intervals, eces))
}

/// The rows by score, highest first: `order[k]` is the row at position `k`; `code[k]` its
/// (label << 1) | decision, bit 2 set when the position ends a group of equal scores; per
/// probability set, its value and bin at each position.
struct Sorted {
    order: Vec<u32>,
    code: Vec<u8>,
    sets: Vec<(Vec<f64>, Vec<u16>)>,
    bins: usize,
}

impl Sorted {
    fn new(y_true: &[bool], scores: &[f64], y_pred: &[bool], sets: &[&[f64]], bins: u16, n32: u32) -> Self {
        let mut order: Vec<u32> = (0..n32).collect();
        order.par_sort_unstable_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
        let code = (0..order.len())
            .map(|k| {
                let i = order[k] as usize;
                let last = order.get(k + 1).is_none_or(|&next| scores[next as usize] != scores[i]);
                (u8::from(last) << 2) | (u8::from(y_true[i]) << 1) | u8::from(y_pred[i])
            })
            .collect();
        let sets = sets
            .iter()
            .map(|p| {
                let value: Vec<f64> = order.iter().map(|&i| p[i as usize]).collect();
                let bin = value.iter().map(|&v| crate::metrics::bin_of(v, usize::from(bins)) as u16).collect();
                (value, bin)
            })
            .collect();
        Self { order, code, sets, bins: usize::from(bins) }
    }

    /// Walks the positions in score order: with `tally`, the AUC and balanced accuracy sums
    /// (without branches on the data: at the end of each group of equal scores,
    /// `q (P_start + P_end)`, its drawn negatives times the drawn positives before and through
    /// it, adds to twice the area, the integer `auc_from_group_counts` sums), and each of `N`
    /// probability sets' drawn rows, probabilities and positives into its bins. A set's bin
    /// being summed is kept aside until the bin changes: a set's positions of one bin are
    /// adjacent when the set is monotone in the score, as the model's probabilities and their
    /// Platt calibration are. The sums stay in registers, so two sets' float chains overlap.
    fn walk<T: Count, const N: usize>(
        &self,
        counts: &[T],
        sets: [&(Vec<f64>, Vec<u16>); N],
        bins: &mut [&mut [BinSums]; N],
        tally: Option<&mut Tally>,
    ) {
        let with_tally = tally.is_some();
        let mut t = Tally::default();
        // The current group's drawn rows and positives.
        let (mut group_all, mut group_pos) = (0u64, 0u64);
        let mut current: [u16; N] = std::array::from_fn(|s| sets[s].1.first().copied().unwrap_or(0));
        let mut sums = [BinSums::default(); N];
        for (k, (&row, &c)) in self.order.iter().zip(&self.code).enumerate() {
            let drawn: u64 = counts[row as usize].into();
            let drawn_pos = drawn * u64::from((c >> 1) & 1);
            if with_tally {
                let decided = u64::from(c & 1);
                let last = u64::from(c >> 2);
                t.pos_decided += drawn_pos * decided;
                t.neg_decided += (drawn - drawn_pos) * decided;
                t.all += drawn;
                t.pos += drawn_pos;
                group_all += drawn;
                group_pos += drawn_pos;
                t.twice_area += last * ((group_all - group_pos) * (2 * t.pos - group_pos));
                group_all *= 1 - last;
                group_pos *= 1 - last;
            }
            for s in 0..N {
                let (value, bin) = sets[s];
                if bin[k] != current[s] {
                    add(&mut bins[s][usize::from(current[s])], &sums[s]);
                    current[s] = bin[k];
                    sums[s] = BinSums::default();
                }
                sums[s].rows += drawn;
                sums[s].p += drawn as f64 * value[k];
                sums[s].positive += drawn_pos;
            }
        }
        for s in 0..N {
            add(&mut bins[s][usize::from(current[s])], &sums[s]);
        }
        if let Some(tally) = tally {
            *tally = t;
        }
    }
}

/// One resample's figures.
struct Figures {
    /// `None` without both classes.
    auc: Option<f64>,
    balanced_accuracy: f64,
    /// Per probability set.
    eces: Vec<f64>,
}

/// A calibration bin's drawn rows, their summed probability and drawn positives.
#[derive(Clone, Copy, Default)]
struct BinSums {
    rows: u64,
    p: f64,
    positive: u64,
}

/// Every set's bins, reused across resamples.
struct Scratch {
    bins: Vec<BinSums>,
}

/// The integer sums of a resample's walk in score order.
#[derive(Default)]
struct Tally {
    /// Drawn rows and drawn positives.
    all: u64,
    pos: u64,
    /// Drawn positives and negatives decided positive (the rest of the confusion matrix follows).
    pos_decided: u64,
    neg_decided: u64,
    /// Twice the ROC area in units of one (positive, negative) pair.
    twice_area: u64,
}

impl Visit for Sorted {
    type Out = Figures;
    type Scratch = Scratch;
    fn scratch(&self) -> Scratch {
        Scratch { bins: vec![BinSums::default(); self.sets.len() * self.bins] }
    }

    /// One walk in score order, reading each row's count where the draw left it, sums the AUC,
    /// the balanced accuracy and the first two probability sets' calibration bins; further
    /// sets take a walk per two. (Counting at the row keeps the draw's random increments in the
    /// one small array, which is what holds up past the cache: counting at the position instead
    /// was 1.8× slower at 2.5 M rows.)
    fn visit<T: Count>(&self, counts: &mut [T], scratch: &mut Scratch) -> Figures {
        let mut tally = Tally::default();
        let mut eces = Vec::with_capacity(self.sets.len());
        let mut first = true;
        for (sets, bins) in self.sets.chunks(2).zip(scratch.bins.chunks_mut(2 * self.bins)) {
            let tally = first.then_some(&mut tally);
            first = false;
            match sets {
                [a, b] => {
                    let (x, y) = bins.split_at_mut(self.bins);
                    self.walk(counts, [a, b], &mut [x, y], tally);
                }
                [a] => self.walk(counts, [a], &mut [&mut *bins], tally),
                _ => unreachable!("chunks of one or two"),
            }
            for set in bins.chunks_mut(self.bins) {
                let gaps: f64 = set.iter().filter(|b| b.rows > 0).map(|b| (b.positive as f64 - b.p).abs()).sum();
                set.fill(BinSums::default());
                eces.push(gaps);
            }
        }
        if first {
            self.walk::<T, 0>(counts, [], &mut [], Some(&mut tally));
        }
        counts.fill(T::default());
        let Tally { all, pos, pos_decided, neg_decided, twice_area } = tally;
        for ece in &mut eces {
            *ece /= all as f64;
        }
        let (tp, total_neg) = (pos, all - pos);
        let cm =
            ConfusionMatrix { tn: total_neg - neg_decided, fp: neg_decided, fn_: tp - pos_decided, tp: pos_decided };
        let auc = (tp > 0 && total_neg > 0).then(|| twice_area as f64 / (2 * tp * total_neg) as f64);
        Figures { auc, balanced_accuracy: balanced_accuracy_of(&cm), eces }
    }
}

fn add(into: &mut BinSums, from: &BinSums) {
    into.rows += from.rows;
    into.p += from.p;
    into.positive += from.positive;
}

/// The trapezoidal ROC area from per-group counts, walking groups from the highest score:
/// exactly the area of sklearn's curve (a tied group is one diagonal segment).
#[cfg(test)]
fn auc_from_group_counts(pos: &[u64], neg: &[u64]) -> Option<f64> {
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

pub(crate) fn percentile_interval(mut values: Vec<f64>, resamples: usize, level: f64) -> Option<Interval> {
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

    /// The definition, independently: one generator, `n` draws of `Uniform(0, n)` a resample,
    /// each draw's row counted into its score group, the AUC by `auc_from_group_counts`, and
    /// each set's ECE summed in draw order.
    fn sequential(
        y: &[bool],
        s: &[f64],
        pred: &[bool],
        sets: &[&[f64]],
        resamples: usize,
        seed: u64,
    ) -> Vec<(Option<f64>, f64, Vec<f64>)> {
        use rand::SeedableRng;
        use rand::distr::{Distribution, Uniform};
        let n = y.len();
        let rows = Uniform::new(0, n).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let groups = ScoreGroups::new(s);
        (0..resamples)
            .map(|_| {
                let mut pos = vec![0u64; groups.count];
                let mut neg = vec![0u64; groups.count];
                let mut outcome = [0u64; 4];
                let mut bins = vec![(0u64, 0.0, 0u64); 10 * sets.len()];
                for _ in 0..n {
                    let i = rows.sample(&mut rng);
                    outcome[usize::from(y[i]) * 2 + usize::from(pred[i])] += 1;
                    if y[i] {
                        pos[groups.of_row[i]] += 1;
                    } else {
                        neg[groups.of_row[i]] += 1;
                    }
                    for (k, p) in sets.iter().enumerate() {
                        let b = &mut bins[k * 10 + crate::metrics::bin_of(p[i], 10)];
                        b.0 += 1;
                        b.1 += p[i];
                        b.2 += u64::from(y[i]);
                    }
                }
                let cm = ConfusionMatrix { tn: outcome[0], fp: outcome[1], fn_: outcome[2], tp: outcome[3] };
                let eces = bins
                    .chunks(10)
                    .map(|set| set.iter().filter(|b| b.0 > 0).map(|b| (b.2 as f64 - b.1).abs()).sum::<f64>() / n as f64)
                    .collect();
                (auc_from_group_counts(&pos, &neg), balanced_accuracy_of(&cm), eces)
            })
            .collect()
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

    #[test]
    fn parallel_resamples_are_the_sequential_ones() {
        // 120k rows: about 2 draws in 100 000 are rejected, so later resamples start past some.
        let n = 120_000;
        let y: Vec<bool> = (0..n).map(|i| (i * 7919) % 11 < 6).collect();
        let s: Vec<f64> =
            (0..n).map(|i| ((i * 31) % 1777) as f64 / 1777.0 * 0.9 + if y[i] { 0.05 } else { 0.0 }).collect();
        // A monotone transform (adjacent bins) and a scrambled set (bins all over the order).
        let calibrated: Vec<f64> = s.iter().map(|&v| v * v).collect();
        let scrambled: Vec<f64> = (0..n).map(|i| ((i * 7) % 100) as f64 / 100.0).collect();
        let sets: [&[f64]; 3] = [&s, &calibrated, &scrambled];
        let pred = decide(&s, 0.5);
        let expected = sequential(&y, &s, &pred, &sets, 12, 9);
        let thresh = (n as u32).wrapping_neg() % n as u32;
        let (_, used) = resample::fill_window(9, 0, n, 12, thresh, &mut Vec::new());
        assert!(used > 12 * n, "no draw was rejected: the test proves less");
        let mut results = Vec::new();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let sorted = Sorted::new(&y, &s, &pred, &sets, 10, n as u32);
            let got = pool.install(|| resample::parallel(&sorted, n as u32, 12, 9));
            for (g, e) in got.iter().zip(&expected) {
                // AUC and balanced accuracy are integer arithmetic: the same bits.
                assert_eq!((g.auc, g.balanced_accuracy), (e.0, e.1), "{threads} threads");
                // The ECE's float sums run in another order.
                for (a, b) in g.eces.iter().zip(&e.2) {
                    assert!((a - b).abs() < 1e-12, "{a} {b}");
                }
            }
            results.push(got.iter().flat_map(|f| f.eces.iter().map(|e| e.to_bits())).collect::<Vec<_>>());
        }
        assert_eq!(results[0], results[1], "the thread count changed an ECE's bits");
        let small = fixture();
        let pred = decide(&small.1, 0.5);
        let want: Vec<_> = sequential(&small.0, &small.1, &pred, &[], 300, 4).into_iter().map(|r| (r.0, r.1)).collect();
        let sorted = Sorted::new(&small.0, &small.1, &pred, &[], 10, small.0.len() as u32);
        let got: Vec<_> = resample::parallel(&sorted, small.0.len() as u32, 300, 4)
            .into_iter()
            .map(|r| (r.auc, r.balanced_accuracy))
            .collect();
        assert_eq!(got, want);
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
