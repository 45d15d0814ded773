//! Seeded percentile-bootstrap confidence intervals for ROC AUC and balanced accuracy.
//!
//! Resampling n rows with replacement and re-sorting them 1000 times would cost
//! O(B·n log n); instead the rows are sorted by score once, and each resample only counts how
//! often it drew each row, then walks the rows in score order summing positives and negatives
//! per group of equal scores: O(n) and the same AUC as sorting the resample (ties stay ties).
//! Resamples run in parallel, each from its own position in the one seeded stream, so the
//! intervals are the same bits whatever the thread count.

use rand::distr::{Distribution, Uniform};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
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
    let rows = Uniform::new(0, n).map_err(|e| EvaluateError::Param { key: "bootstrap", message: e.to_string() })?;
    let (aucs, bal) = match u32::try_from(n) {
        Ok(n32) if resamples > 0 => parallel_resamples(y_true, scores, y_pred, resamples, seed, n32),
        _ => sequential_resamples(y_true, scores, y_pred, resamples, seed, &rows),
    };
    Ok(BootstrapIntervals {
        roc_auc: percentile_interval(aucs, resamples, 0.95),
        balanced_accuracy: percentile_interval(bal, resamples, 0.95),
    })
}

/// The resamples one after the other from one generator: resample `b` is the `b`-th run of
/// `n` draws of `rows` (what [`parallel_resamples`] reproduces).
fn sequential_resamples(
    y_true: &[bool],
    scores: &[f64],
    y_pred: &[bool],
    resamples: usize,
    seed: u64,
    rows: &Uniform<usize>,
) -> (Vec<f64>, Vec<f64>) {
    let n = y_true.len();
    let groups = ScoreGroups::new(scores);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
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
    (aucs, bal)
}

/// Words of the generator one task fills.
const SEGMENT_WORDS: usize = 1 << 16;
/// Resamples whose words are generated together (and then counted in parallel).
const WINDOW: usize = 8;

/// The draws of [`sequential_resamples`], with resamples in parallel. A draw of `rows` (`n`
/// below 2^32) reads one 32-bit word of the ChaCha8 stream: `(w n) >> 32`, unless the low half
/// `(w n) mod 2^32` is below `2^32 mod n`, when the word is rejected and the next one read. So
/// the stream is generated ahead in windows of [`WINDOW`] resamples (segments in parallel, the
/// generator placed by `set_word_pos`), the rare rejected words located, and each resample
/// counts its draws from its own first word: the same draws, the same counts, the same bits.
fn parallel_resamples(
    y_true: &[bool],
    scores: &[f64],
    y_pred: &[bool],
    resamples: usize,
    seed: u64,
    n32: u32,
) -> (Vec<f64>, Vec<f64>) {
    let n = y_true.len();
    // Rows by score, highest first; equal scores form one group.
    let mut order: Vec<u32> = (0..n32).collect();
    order.par_sort_unstable_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
    // Per sorted position: (label << 1) | decision, and bit 2 when the position ends a group.
    let code: Vec<u8> = (0..n)
        .map(|k| {
            let i = order[k] as usize;
            let last = order.get(k + 1).is_none_or(|&next| scores[next as usize] != scores[i]);
            (u8::from(last) << 2) | (u8::from(y_true[i]) << 1) | u8::from(y_pred[i])
        })
        .collect();
    // Where each group of equal scores ends (one past its last position).
    let ends: Vec<u32> = (0..n32).filter(|&k| code[k as usize] & 4 != 0).map(|k| k + 1).collect();
    let sorted = Sorted { order: &order, code: &code, ends: &ends };
    let thresh = n32.wrapping_neg() % n32;
    let mut per: Vec<(Option<f64>, f64)> = Vec::with_capacity(resamples);
    let mut words: Vec<u32> = Vec::new();
    // One set of buffers per resample of a window, reused by every window (fresh large buffers
    // would be page faults and zeroing each time).
    let mut buffers: Vec<(Vec<u8>, Prefix)> =
        (0..WINDOW.min(resamples)).map(|_| (vec![0u8; n], Prefix::new(n))).collect();
    let mut position: u128 = 0;
    for first in (0..resamples).step_by(WINDOW) {
        let count = WINDOW.min(resamples - first);
        let (starts, used) = fill_window(seed, position, n, count, thresh, &mut words);
        let window = &words;
        let results: Vec<(Option<f64>, f64)> = starts
            .par_iter()
            .zip(buffers.par_iter_mut())
            .map(|(&start, (counts, prefix))| {
                // A row drawn 256 times wraps its count: redo that resample with wide counts.
                if draw(window, start, n32, thresh, counts) {
                    walk(&sorted, counts, prefix)
                } else {
                    counts.fill(0);
                    let mut wide = vec![0u32; n];
                    draw(window, start, n32, thresh, &mut wide);
                    walk(&sorted, &mut wide, prefix)
                }
            })
            .collect();
        per.extend(results);
        position += used as u128;
    }
    (per.iter().filter_map(|r| r.0).collect(), per.iter().map(|r| r.1).collect())
}

/// Fills `words` with the stream from word `position` until it holds `count` runs of `n`
/// accepted words; returns where each run starts in `words` and how many words the runs use.
fn fill_window(
    seed: u64,
    position: u128,
    n: usize,
    count: usize,
    thresh: u32,
    words: &mut Vec<u32>,
) -> (Vec<usize>, usize) {
    let n64 = n as u64;
    let rejected = |w: u32| ((u64::from(w) * n64) as u32) < thresh;
    let want = count * n;
    words.clear();
    let mut rejected_at: Vec<usize> = Vec::new();
    loop {
        let accepted = words.len() - rejected_at.len();
        if accepted >= want {
            break;
        }
        // A few words to spare: about one word in 2^32 / n is rejected.
        let missing = want - accepted;
        let old = words.len();
        words.resize(old + missing + missing / 1024 + 16, 0);
        let found: Vec<Vec<usize>> = words[old..]
            .par_chunks_mut(SEGMENT_WORDS)
            .enumerate()
            .map(|(s, out)| {
                let first = old + s * SEGMENT_WORDS;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_word_pos(position + first as u128);
                let mut at = Vec::new();
                for (k, w) in out.iter_mut().enumerate() {
                    *w = rng.next_u32();
                    if rejected(*w) {
                        at.push(first + k);
                    }
                }
                at
            })
            .collect();
        rejected_at.extend(found.into_iter().flatten());
    }
    // Run j starts at accepted word j n: the position p = j n + (rejections before p).
    let mut skipped = 0;
    let mut at = |accepted: usize| {
        while skipped < rejected_at.len() && rejected_at[skipped] <= accepted + skipped {
            skipped += 1;
        }
        accepted + skipped
    };
    let starts = (0..count).map(|j| at(j * n)).collect();
    (starts, at(want))
}

/// Counts the `counts.len()` draws that start at `words[start]` into `counts` (which must be
/// all zero); false if a count wrapped around.
fn draw<T: Copy + Default + PartialEq + WrappingIncrement>(
    words: &[u32],
    start: usize,
    n: u32,
    thresh: u32,
    counts: &mut [T],
) -> bool {
    let mut wrapped = false;
    let mut left = counts.len();
    for &w in &words[start..] {
        if left == 0 {
            break;
        }
        let product = u64::from(w) * u64::from(n);
        if (product as u32) >= thresh {
            let slot = &mut counts[(product >> 32) as usize];
            *slot = slot.wrapping_increment();
            wrapped |= *slot == T::default();
            left -= 1;
        }
    }
    !wrapped
}

/// A count type for [`draw`].
trait WrappingIncrement: Into<u64> {
    fn wrapping_increment(self) -> Self;
}

impl WrappingIncrement for u8 {
    fn wrapping_increment(self) -> Self {
        self.wrapping_add(1)
    }
}

impl WrappingIncrement for u32 {
    fn wrapping_increment(self) -> Self {
        self.wrapping_add(1)
    }
}

/// The rows by score: `order[k]` is the row at position `k`; `code[k]` its (label << 1) |
/// decision (bit 2: the position ends a group of equal scores); `ends` one past each group.
struct Sorted<'a> {
    order: &'a [u32],
    code: &'a [u8],
    ends: &'a [u32],
}

/// Cumulative drawn rows and drawn positives up to each position (index `k`: before `k`).
struct Prefix {
    all: Vec<u32>,
    positive: Vec<u32>,
}

impl Prefix {
    fn new(n: usize) -> Self {
        Self { all: vec![0; n + 1], positive: vec![0; n + 1] }
    }
}

/// One resample's ROC AUC (`None` without both classes) and balanced accuracy from how often it
/// drew each row: the drawn counts gathered in score order into prefix sums (one pass, no
/// branches), then per group of equal scores `q (2 P_before + p) = q (P_start + P_end)`, the
/// integer `auc_from_group_counts` sums. Resets `counts` to zero.
fn walk<T: Copy + Default + WrappingIncrement>(
    sorted: &Sorted<'_>,
    counts: &mut [T],
    prefix: &mut Prefix,
) -> (Option<f64>, f64) {
    let (mut all, mut pos) = (0u32, 0u32);
    // Drawn positives and negatives decided positive (the rest of the confusion matrix follows).
    let (mut pos_decided, mut neg_decided) = (0u64, 0u64);
    let cumulative = prefix.all[1..].iter_mut().zip(&mut prefix.positive[1..]);
    for ((&row, &c), (cum_all, cum_pos)) in sorted.order.iter().zip(sorted.code).zip(cumulative) {
        let slot = &mut counts[row as usize];
        let drawn: u64 = (*slot).into();
        *slot = T::default();
        let positive = u64::from((c >> 1) & 1);
        let decided = u64::from(c & 1);
        let drawn_pos = drawn * positive;
        pos_decided += drawn_pos * decided;
        neg_decided += (drawn - drawn_pos) * decided;
        // At most n draws: the sums fit u32.
        all += drawn as u32;
        pos += drawn_pos as u32;
        *cum_all = all;
        *cum_pos = pos;
    }
    let mut twice_area = 0u64;
    let mut start = 0usize;
    for &end in sorted.ends {
        let end = end as usize;
        let (p_start, p_end) = (u64::from(prefix.positive[start]), u64::from(prefix.positive[end]));
        let q = u64::from(prefix.all[end] - prefix.all[start]) - (p_end - p_start);
        twice_area += q * (p_start + p_end);
        start = end;
    }
    let (tp, total_neg) = (u64::from(pos), u64::from(all - pos));
    let cm = ConfusionMatrix { tn: total_neg - neg_decided, fp: neg_decided, fn_: tp - pos_decided, tp: pos_decided };
    let auc = (tp > 0 && total_neg > 0).then(|| twice_area as f64 / (2 * tp * total_neg) as f64);
    (auc, balanced_accuracy_of(&cm))
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

    #[test]
    fn windows_start_where_the_sequential_draws_begin() {
        for (n, resamples, seed) in [(1usize, 3usize, 0u64), (7, 50, 1), (1000, 40, 2), (99_991, 30, 3)] {
            let rows = Uniform::new(0, n).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut expected = Vec::new();
            for _ in 0..resamples {
                expected.push(rng.get_word_pos());
                for _ in 0..n {
                    rows.sample(&mut rng);
                }
            }
            expected.push(rng.get_word_pos());
            let n32 = n as u32;
            let thresh = n32.wrapping_neg() % n32;
            let (mut got, mut words, mut position) = (Vec::new(), Vec::new(), 0u128);
            for first in (0..resamples).step_by(WINDOW) {
                let (starts, used) = fill_window(seed, position, n, WINDOW.min(resamples - first), thresh, &mut words);
                got.extend(starts.iter().map(|&s| position + s as u128));
                position += used as u128;
            }
            got.push(position);
            assert_eq!(got, expected, "n {n}");
        }
    }

    #[test]
    fn parallel_resamples_are_the_sequential_ones_bit_for_bit() {
        // 120k rows: about 2 draws in 100 000 are rejected, so later resamples start past some.
        let n = 120_000;
        let y: Vec<bool> = (0..n).map(|i| (i * 7919) % 11 < 6).collect();
        let s: Vec<f64> = (0..n).map(|i| ((i * 31) % 1777) as f64 / 1777.0 + if y[i] { 0.05 } else { 0.0 }).collect();
        let pred = decide(&s, 0.5);
        let rows = Uniform::new(0, n).unwrap();
        let expected = sequential_resamples(&y, &s, &pred, 12, 9, &rows);
        let thresh = (n as u32).wrapping_neg() % n as u32;
        let (_, used) = fill_window(9, 0, n, 12, thresh, &mut Vec::new());
        assert!(used > 12 * n, "no draw was rejected: the test proves less");
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| parallel_resamples(&y, &s, &pred, 12, 9, n as u32));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got.0), bits(&expected.0), "{threads} threads");
            assert_eq!(bits(&got.1), bits(&expected.1), "{threads} threads");
        }
        let small = fixture();
        let pred = decide(&small.1, 0.5);
        let rows = Uniform::new(0, small.0.len()).unwrap();
        let a = sequential_resamples(&small.0, &small.1, &pred, 300, 4, &rows);
        let b = parallel_resamples(&small.0, &small.1, &pred, 300, 4, small.0.len() as u32);
        assert_eq!(a, b);
    }

    #[test]
    fn a_count_that_wraps_is_noticed() {
        // n = 512 rejects no word (2^32 mod 512 = 0); word 0 draws row 0 every time.
        let words = vec![0u32; 512];
        let mut narrow = vec![0u8; 512];
        assert!(!draw(&words, 0, 512, 0, &mut narrow));
        let mut wide = vec![0u32; 512];
        assert!(draw(&words, 0, 512, 0, &mut wide));
        assert_eq!(wide[0], 512);
        let mut fine = vec![0u8; 512];
        let spread: Vec<u32> = (0..512u32).map(|i| i << 23).collect();
        assert!(draw(&spread, 0, 512, 0, &mut fine));
        assert!(fine.iter().all(|&c| c == 1));
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
