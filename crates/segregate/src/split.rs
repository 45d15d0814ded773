//! Train/test assignment on dense class and group ids: stratified, plain or grouped.

use std::fmt::Display;
use std::hash::Hash;

use crate::SegregateError;
use crate::rng::{below, name_stream, shuffle, stream};

/// Keeps the grouped split's streams apart from the row-level split's for the same class.
const GROUPED_STREAM_SALT: u64 = 0x6772_6f75_7065_6421;

/// How to split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitOptions {
    /// Share of rows that go to the test side, in (0, 1).
    pub test_fraction: f64,
    /// The seed: the same seed and input give the same split.
    pub seed: u64,
    /// Split each class in proportion (default) rather than the table as a whole.
    pub stratify: bool,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self { test_fraction: 0.3, seed: 0, stratify: true }
    }
}

impl SplitOptions {
    /// Checks the fraction.
    pub fn validate(&self) -> Result<(), SegregateError> {
        // Written so that NaN fails too.
        if self.test_fraction > 0.0 && self.test_fraction < 1.0 {
            Ok(())
        } else {
            Err(SegregateError::Fraction { value: self.test_fraction })
        }
    }
}

/// Row indices of each side, ascending (so each side keeps the input order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Rows for training.
    pub train: Vec<usize>,
    /// Rows for testing.
    pub test: Vec<usize>,
}

impl Split {
    pub(crate) fn from_mask(is_test: &[bool]) -> Self {
        let mut s = Split::default();
        for (i, &t) in is_test.iter().enumerate() {
            if t { s.test.push(i) } else { s.train.push(i) }
        }
        s
    }
}

/// Labels as dense ids: `names[ids[row]]` is the row's class; ids follow name order.
pub(crate) struct Labels<'a> {
    pub ids: &'a [u32],
    pub names: &'a [String],
    /// The column the labels came from, for messages.
    pub column: &'a str,
}

/// Group keys as dense ids `0..count`.
pub(crate) struct Groups<'a> {
    pub ids: &'a [u32],
    pub count: usize,
}

/// Splits rows so that each class (or the whole table without stratification) sends
/// `round(fraction × rows)` rows to the test side, within one row per class.
///
/// Each class is split with its own seeded stream, so the result does not depend on the order
/// or presence of other classes, only on the rows of that class, in order.
pub fn train_test_split<L: Ord + Display>(labels: &[L], options: &SplitOptions) -> Result<Split, SegregateError> {
    let (ids, names) = encode_sorted(labels);
    let labels = Labels { ids: &ids, names: &names, column: "labels" };
    Ok(Split::from_mask(&assign(&labels, None, options)?))
}

/// Like [`train_test_split`], but rows sharing a group key always land on the same side.
/// With stratification each group joins the stratum of its majority class (ties: the
/// smallest class) and each stratum's groups are split so its test rows come as close as
/// whole groups allow to `fraction × rows`; a stratum of two or more groups always has one on
/// each side.
pub fn group_train_test_split<L: Ord + Display, G: Hash + Eq>(
    labels: &[L],
    groups: &[G],
    options: &SplitOptions,
) -> Result<Split, SegregateError> {
    if labels.len() != groups.len() {
        return Err(SegregateError::LengthMismatch { labels: labels.len(), groups: groups.len() });
    }
    let (ids, names) = encode_sorted(labels);
    let (group_ids, count) = encode_groups(groups);
    let labels = Labels { ids: &ids, names: &names, column: "labels" };
    Ok(Split::from_mask(&assign(&labels, Some(&Groups { ids: &group_ids, count }), options)?))
}

/// Dense ids in sorted order of the distinct labels, and their names.
pub(crate) fn encode_sorted<L: Ord + Display>(labels: &[L]) -> (Vec<u32>, Vec<String>) {
    let mut distinct: Vec<&L> = labels.iter().collect();
    distinct.sort();
    distinct.dedup();
    let ids = labels.iter().map(|l| distinct.binary_search(&l).unwrap_or(0) as u32).collect();
    (ids, distinct.iter().map(ToString::to_string).collect())
}

/// Dense ids in order of first appearance.
pub(crate) fn encode_groups<G: Hash + Eq>(groups: &[G]) -> (Vec<u32>, usize) {
    let mut seen = std::collections::HashMap::with_capacity(groups.len() / 2);
    let ids = groups
        .iter()
        .map(|g| {
            let next = seen.len() as u32;
            *seen.entry(g).or_insert(next)
        })
        .collect();
    (ids, seen.len())
}

/// `true` = test, per row.
pub(crate) fn assign(
    labels: &Labels<'_>,
    groups: Option<&Groups<'_>>,
    options: &SplitOptions,
) -> Result<Vec<bool>, SegregateError> {
    options.validate()?;
    let n = labels.ids.len();
    if n < 2 {
        return Err(SegregateError::TooFew { what: "rows", count: n });
    }
    let mut class_rows = vec![0u64; labels.names.len()];
    for &c in labels.ids {
        class_rows[c as usize] += 1;
    }
    if options.stratify {
        let small: Vec<(String, usize)> = class_rows
            .iter()
            .zip(labels.names)
            .filter(|(n, _)| **n < 2)
            .map(|(n, name)| (name.clone(), *n as usize))
            .collect();
        if !small.is_empty() {
            return Err(SegregateError::SmallClasses { column: labels.column.to_owned(), classes: small });
        }
    }
    match groups {
        None => Ok(assign_rows(labels, &class_rows, options)),
        Some(g) => assign_groups(labels, g, options),
    }
}

fn assign_rows(labels: &Labels<'_>, class_rows: &[u64], options: &SplitOptions) -> Vec<bool> {
    let n = labels.ids.len();
    let (sizes, streams): (Vec<u64>, Vec<u64>) = if options.stratify {
        (class_rows.to_vec(), labels.names.iter().map(|s| name_stream(s)).collect())
    } else {
        (vec![n as u64], vec![0])
    };
    let mut need = apportion(&sizes, options.test_fraction);
    let mut left = sizes;
    let mut rngs: Vec<_> = streams.iter().map(|&s| stream(options.seed, s)).collect();
    let mut is_test = vec![false; n];
    // Selection sampling (Knuth's algorithm S): row i of a stratum is chosen with probability
    // need/left, which picks exactly `need` rows, uniformly, in one pass and in row order.
    for (i, &c) in labels.ids.iter().enumerate() {
        let s = if options.stratify { c as usize } else { 0 };
        if need[s] > 0 && below(&mut rngs[s], left[s]) < need[s] {
            is_test[i] = true;
            need[s] -= 1;
        }
        left[s] -= 1;
    }
    is_test
}

/// `f × n` with float noise just below an integer snapped to it (0.3 × 10 must give 3).
fn share(fraction: f64, n: u64) -> f64 {
    let x = fraction * n as f64;
    if (x - x.round()).abs() < 1e-9 { x.round() } else { x }
}

/// Test rows per stratum: each within one row of `fraction × size` (floor or ceiling), at
/// least one row on each side of a stratum of two or more, and the total as close to
/// `fraction × total` as those bounds allow (largest remainders first).
pub(crate) fn apportion(sizes: &[u64], fraction: f64) -> Vec<u64> {
    let total: u64 = sizes.iter().sum();
    let bounds: Vec<(u64, u64, f64)> = sizes
        .iter()
        .map(|&n| {
            let x = share(fraction, n);
            let (floor, ceil) = (x.floor() as u64, x.ceil() as u64);
            if n >= 2 { (floor.max(1), ceil.min(n - 1), x) } else { (floor, floor, x) }
        })
        .collect();
    let lo: u64 = bounds.iter().map(|b| b.0).sum();
    let hi: u64 = bounds.iter().map(|b| b.1).sum();
    let want = (share(fraction, total).round() as u64).clamp(lo, hi);
    let mut quota: Vec<u64> = bounds.iter().map(|b| b.0).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = bounds[a].2 - bounds[a].0 as f64;
        let rb = bounds[b].2 - bounds[b].0 as f64;
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut extra = want - lo;
    for i in order {
        if extra == 0 {
            break;
        }
        if quota[i] < bounds[i].1 {
            quota[i] += 1;
            extra -= 1;
        }
    }
    quota
}

/// Each group's majority class (ties: the smallest class id).
pub(crate) fn majority_classes(labels: &[u32], n_classes: usize, groups: &Groups<'_>) -> Vec<u32> {
    // Few classes (the usual case): one pass over a groups × classes count matrix, as long as
    // it costs no more memory than the bucketing below.
    if groups.count.saturating_mul(n_classes) <= 2 * labels.len() {
        let mut counts = vec![0u32; groups.count * n_classes];
        for (&g, &c) in groups.ids.iter().zip(labels) {
            counts[g as usize * n_classes + c as usize] += 1;
        }
        return counts
            .chunks_exact(n_classes.max(1))
            .map(|row| {
                // The first maximum: ties go to the smallest class.
                let mut best = 0;
                for (c, &n) in row.iter().enumerate() {
                    if n > row[best] {
                        best = c;
                    }
                }
                best as u32
            })
            .collect();
    }
    // Rows bucketed by group (a counting sort), then one pass per group with a scratch counter.
    let mut start = vec![0usize; groups.count + 1];
    for &g in groups.ids {
        start[g as usize + 1] += 1;
    }
    for i in 0..groups.count {
        start[i + 1] += start[i];
    }
    let mut next = start.clone();
    let mut rows = vec![0u32; labels.len()];
    for (i, &g) in groups.ids.iter().enumerate() {
        rows[next[g as usize]] = i as u32;
        next[g as usize] += 1;
    }
    let mut counts = vec![0u32; n_classes];
    let mut touched = Vec::new();
    (0..groups.count)
        .map(|g| {
            for &r in &rows[start[g]..start[g + 1]] {
                let c = labels[r as usize];
                if counts[c as usize] == 0 {
                    touched.push(c);
                }
                counts[c as usize] += 1;
            }
            let mut best = (0u32, u32::MAX);
            for &c in &touched {
                let n = counts[c as usize];
                if n > best.0 || (n == best.0 && c < best.1) {
                    best = (n, c);
                }
                counts[c as usize] = 0;
            }
            touched.clear();
            best.1
        })
        .collect()
}

fn assign_groups(
    labels: &Labels<'_>,
    groups: &Groups<'_>,
    options: &SplitOptions,
) -> Result<Vec<bool>, SegregateError> {
    if groups.count < 2 {
        return Err(SegregateError::TooFew { what: "groups", count: groups.count });
    }
    let mut size = vec![0u64; groups.count];
    for &g in groups.ids {
        size[g as usize] += 1;
    }
    let n_strata = if options.stratify { labels.names.len() } else { 1 };
    let stratum =
        if options.stratify { majority_classes(labels.ids, labels.names.len(), groups) } else { vec![0; groups.count] };
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_strata];
    for (g, &s) in stratum.iter().enumerate() {
        members[s as usize].push(g as u32);
    }
    let mut group_test = vec![false; groups.count];
    for (s, m) in members.iter_mut().enumerate() {
        if m.is_empty() {
            continue;
        }
        let id = if options.stratify { name_stream(&labels.names[s]) } else { 0 };
        let mut rng = stream(options.seed, id ^ GROUPED_STREAM_SALT);
        shuffle(&mut rng, m);
        let rows: u64 = m.iter().map(|&g| size[g as usize]).sum();
        let target = 2.0 * options.test_fraction * rows as f64;
        // Walk the shuffled groups, taking each one that brings the test side closer to target.
        let mut taken = 0u64;
        let mut chosen = 0usize;
        let mut last = None;
        for &g in m.iter() {
            let sz = size[g as usize];
            if ((2 * taken + sz) as f64) < target {
                group_test[g as usize] = true;
                taken += sz;
                chosen += 1;
                last = Some(g);
            }
        }
        if m.len() >= 2 {
            if chosen == 0 {
                group_test[m[0] as usize] = true;
            } else if chosen == m.len()
                && let Some(g) = last
            {
                group_test[g as usize] = false;
            }
        }
    }
    Ok(groups.ids.iter().map(|&g| group_test[g as usize]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_keeps_each_class_within_one_row_and_both_sides_non_empty() {
        assert_eq!(apportion(&[10], 0.3), [3]);
        assert_eq!(apportion(&[2, 2, 2], 0.3), [1, 1, 1]);
        assert_eq!(apportion(&[2], 0.9), [1]);
        // 0.3 × (5 + 5) = 3: the two halves (1.5 each) share one extra row.
        assert_eq!(apportion(&[5, 5], 0.3), [2, 1]);
        assert_eq!(apportion(&[81, 19], 0.3), [24, 6]);
    }

    #[test]
    fn small_classes_are_named() {
        let err = train_test_split(&["a", "a", "b", "c", "a"], &SplitOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"stratifying on `labels` needs at least 2 rows per class; too few: "b" (1 row), "c" (1 row); drop or merge these classes, or set stratify = false"#
        );
        let plain = SplitOptions { stratify: false, ..SplitOptions::default() };
        assert_eq!(train_test_split(&["a", "a", "b", "c", "a"], &plain).unwrap().test.len(), 2);
    }

    #[test]
    fn fraction_outside_the_open_interval_is_rejected() {
        for f in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            let o = SplitOptions { test_fraction: f, ..SplitOptions::default() };
            let err = train_test_split(&[1, 1, 2, 2], &o).unwrap_err().to_string();
            assert!(err.starts_with("test_fraction must be in (0, 1), got "), "{err}");
        }
    }

    #[test]
    fn majority_ties_go_to_the_smallest_class() {
        // Dense counts (2 groups x 3 classes <= 2 x 6 rows).
        let groups = Groups { ids: &[0, 0, 1, 1, 1, 0], count: 2 };
        assert_eq!(majority_classes(&[1, 0, 1, 1, 0, 2], 3, &groups), [0, 1]);
        // Bucketed rows (6 groups x 5 classes > 2 x 8 rows): the same answers.
        let groups = Groups { ids: &[0, 1, 2, 3, 4, 5, 0, 0], count: 6 };
        assert_eq!(majority_classes(&[4, 3, 2, 1, 0, 0, 3, 4], 5, &groups), [4, 3, 2, 1, 0, 0]);
    }

    #[test]
    fn seeds_change_the_split() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 3 == 0)).collect();
        let a = train_test_split(&labels, &SplitOptions { seed: 1, ..SplitOptions::default() }).unwrap();
        let b = train_test_split(&labels, &SplitOptions { seed: 2, ..SplitOptions::default() }).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.test.len(), b.test.len());
    }
}
