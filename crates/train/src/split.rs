//! Seeded, stratified and grouped fold assignment, and class-balancing resampling.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::params::Balance;

/// A seeded generator for one purpose: independent streams for folds, resampling, trees.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Assigns every row to one of `k` parts so that each group lies in one part and each part's
/// class counts are as close as possible to `weights[p]` times the totals (greedy, largest
/// groups first, groups shuffled with `rng` first so equal-sized groups land randomly).
/// `groups[i]` is the group id of row `i` (ids are dense `0..n_groups`).
pub(crate) fn assign_parts(labels: &[bool], groups: &[usize], weights: &[f64], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n_groups = groups.iter().max().map_or(0, |&g| g + 1);
    let mut counts = vec![[0usize; 2]; n_groups];
    for (&l, &g) in labels.iter().zip(groups) {
        counts[g][usize::from(l)] += 1;
    }
    let totals = [labels.iter().filter(|&&l| !l).count() as f64, labels.iter().filter(|&&l| l).count() as f64];
    let mut order: Vec<usize> = (0..n_groups).collect();
    order.shuffle(rng);
    order.sort_by_key(|&g| std::cmp::Reverse(counts[g][0] + counts[g][1]));
    let mut part_counts = vec![[0.0f64; 2]; weights.len()];
    let mut part_of_group = vec![0usize; n_groups];
    for g in order {
        let c = counts[g];
        // The part where this group's classes are most needed: lowest fill ratio (count over
        // target) after adding it, weighted by how much of each class the group carries.
        let mut best = (0usize, f64::INFINITY);
        for (p, pc) in part_counts.iter().enumerate() {
            let mut cost = 0.0;
            for (class, total) in totals.iter().enumerate() {
                if *total > 0.0 && c[class] > 0 {
                    let fill = (pc[class] + c[class] as f64) / (weights[p] * total);
                    cost += c[class] as f64 * fill;
                }
            }
            if cost < best.1 {
                best = (p, cost);
            }
        }
        part_of_group[g] = best.0;
        part_counts[best.0][0] += c[0] as f64;
        part_counts[best.0][1] += c[1] as f64;
    }
    groups.iter().map(|&g| part_of_group[g]).collect()
}

/// Row indices to fit on: all of `rows`, rebalanced as asked. Sorted, so the fit sees rows in
/// table order whatever the draw. [`Balance::Weight`] keeps the rows as they are (the fit
/// weights them instead).
pub(crate) fn balanced_rows(rows: &[usize], labels: &[bool], balance: Balance, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let (pos, neg): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| labels[i]);
    let (minority, majority) = if pos.len() < neg.len() { (pos, neg) } else { (neg, pos) };
    let mut out = match balance {
        Balance::None | Balance::Weight => return rows.to_vec(),
        Balance::Oversample => {
            let mut out = rows.to_vec();
            if !minority.is_empty() {
                for _ in 0..majority.len() - minority.len() {
                    out.push(minority[rng.random_range(0..minority.len())]);
                }
            }
            out
        }
        Balance::Undersample => {
            let mut major = majority;
            let (chosen, _) = major.partial_shuffle(rng, minority.len());
            let mut out = chosen.to_vec();
            out.extend_from_slice(&minority);
            out
        }
    };
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_grouped_and_stratified() {
        // 300 rows, 100 groups of 1-5 rows, 20 % positive.
        let mut labels = Vec::new();
        let mut groups = Vec::new();
        for g in 0..100usize {
            for r in 0..=(g % 5) {
                labels.push((g * 7 + r) % 5 == 0);
                groups.push(g);
            }
        }
        let parts = assign_parts(&labels, &groups, &[0.2; 5], &mut rng(1, 0));
        for g in 0..100 {
            let ps: Vec<usize> = (0..labels.len()).filter(|&i| groups[i] == g).map(|i| parts[i]).collect();
            assert!(ps.windows(2).all(|w| w[0] == w[1]), "group {g} split");
        }
        let total_pos = labels.iter().filter(|&&l| l).count() as f64;
        for p in 0..5 {
            let n = parts.iter().filter(|&&q| q == p).count() as f64;
            let pos = (0..labels.len()).filter(|&i| parts[i] == p && labels[i]).count() as f64;
            assert!((n - labels.len() as f64 / 5.0).abs() <= 6.0, "part {p} has {n} rows");
            assert!((pos - total_pos / 5.0).abs() <= 3.0, "part {p} has {pos} positives");
        }
        assert_eq!(parts, assign_parts(&labels, &groups, &[0.2; 5], &mut rng(1, 0)));
    }

    #[test]
    fn oversampling_equalises_classes() {
        let labels: Vec<bool> = (0..100).map(|i| i % 4 == 0).collect();
        let rows: Vec<usize> = (0..100).collect();
        let out = balanced_rows(&rows, &labels, Balance::Oversample, &mut rng(3, 1));
        let pos = out.iter().filter(|&&i| labels[i]).count();
        assert_eq!(pos, 75);
        assert_eq!(out.len(), 150);
        let under = balanced_rows(&rows, &labels, Balance::Undersample, &mut rng(3, 1));
        assert_eq!(under.len(), 50);
        assert_eq!(under.iter().filter(|&&i| labels[i]).count(), 25);
    }
}
