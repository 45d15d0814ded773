//! Stratified k-fold indices for model selection.

use std::hash::Hash;

use crate::SegregateError;
use crate::rng::{shuffle, stream};
use crate::split::{Groups, encode_groups, majority_classes};

/// Keeps the k-fold streams apart from the train/test split's.
const KFOLD_STREAM_SALT: u64 = 0x6b66_6f6c_6400_0000;

/// One fold: the rows held out, and the rest. Both ascending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fold {
    /// Rows to fit on.
    pub train: Vec<usize>,
    /// Rows to score on.
    pub test: Vec<usize>,
}

fn folds_from(fold_of: &[usize], k: usize) -> Vec<Fold> {
    let mut folds = vec![Fold::default(); k];
    for (row, &f) in fold_of.iter().enumerate() {
        for (i, fold) in folds.iter_mut().enumerate() {
            if i == f { fold.test.push(row) } else { fold.train.push(row) }
        }
    }
    folds
}

/// The most folds [`stratified_kfold`] and [`stratified_group_kfold`] make: every fold holds
/// an index per row, so `k` folds take `k` times the rows' memory.
pub const MAX_FOLDS: usize = 100;

fn check_k(k: usize, units: usize, what: &str) -> Result<(), SegregateError> {
    if k < 2 {
        return Err(SegregateError::Folds { k, message: "k must be at least 2".into() });
    }
    if k > MAX_FOLDS {
        return Err(SegregateError::Folds { k, message: format!("at most {MAX_FOLDS} folds") });
    }
    if units < k {
        return Err(SegregateError::Folds { k, message: format!("only {units} {what}") });
    }
    Ok(())
}

/// Dense class ids in sorted label order.
fn class_ids<L: Ord>(labels: &[L]) -> (Vec<u32>, usize) {
    let mut distinct: Vec<&L> = labels.iter().collect();
    distinct.sort();
    distinct.dedup();
    (labels.iter().map(|l| distinct.binary_search(&l).unwrap_or(0) as u32).collect(), distinct.len())
}

/// `k` folds in which every class is spread evenly: per fold, each class's count differs by at
/// most one from the other folds', and fold sizes differ by at most one. Each class's rows are
/// shuffled with a seeded stream, then dealt round-robin, continuing where the previous class
/// stopped. A class with fewer than `k` rows is simply absent from some folds.
pub fn stratified_kfold<L: Ord>(labels: &[L], k: usize, seed: u64) -> Result<Vec<Fold>, SegregateError> {
    check_k(k, labels.len(), "rows")?;
    let (ids, n_classes) = class_ids(labels);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (row, &c) in ids.iter().enumerate() {
        by_class[c as usize].push(row);
    }
    let mut fold_of = vec![0usize; labels.len()];
    let mut next = 0usize;
    for (c, rows) in by_class.iter_mut().enumerate() {
        let mut rng = stream(seed, c as u64 ^ KFOLD_STREAM_SALT);
        shuffle(&mut rng, rows);
        for &row in rows.iter() {
            fold_of[row] = next % k;
            next += 1;
        }
    }
    Ok(folds_from(&fold_of, k))
}

/// `k` folds in which rows sharing a group key stay in one fold. Each group joins the stratum
/// of its majority class; within a stratum, groups (shuffled with a seeded stream, then
/// largest first) go to the fold holding the fewest rows of that stratum (ties: fewest rows
/// overall, then the lowest fold).
pub fn stratified_group_kfold<L: Ord, G: Hash + Eq>(
    labels: &[L],
    groups: &[G],
    k: usize,
    seed: u64,
) -> Result<Vec<Fold>, SegregateError> {
    if labels.len() != groups.len() {
        return Err(SegregateError::LengthMismatch { labels: labels.len(), groups: groups.len() });
    }
    let (ids, n_classes) = class_ids(labels);
    let (group_ids, count) = encode_groups(groups);
    check_k(k, count, "groups")?;
    let g = Groups { ids: &group_ids, count };
    let majority = majority_classes(&ids, n_classes, &g);
    let mut size = vec![0usize; count];
    for &x in &group_ids {
        size[x as usize] += 1;
    }
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_classes];
    for (grp, &c) in majority.iter().enumerate() {
        members[c as usize].push(grp as u32);
    }
    let mut fold_of_group = vec![0usize; count];
    let mut fold_total = vec![0usize; k];
    for (c, m) in members.iter_mut().enumerate() {
        let mut rng = stream(seed, c as u64 ^ KFOLD_STREAM_SALT ^ 1);
        shuffle(&mut rng, m);
        // Stable: equal sizes keep their shuffled order.
        m.sort_by_key(|&grp| std::cmp::Reverse(size[grp as usize]));
        let mut fold_stratum = vec![0usize; k];
        for &grp in m.iter() {
            let best = (0..k).min_by_key(|&f| (fold_stratum[f], fold_total[f], f)).unwrap_or(0);
            fold_of_group[grp as usize] = best;
            fold_stratum[best] += size[grp as usize];
            fold_total[best] += size[grp as usize];
        }
    }
    let fold_of: Vec<usize> = group_ids.iter().map(|&x| fold_of_group[x as usize]).collect();
    Ok(folds_from(&fold_of, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_impossible_k() {
        assert_eq!(
            stratified_kfold(&[1, 2, 3], 1, 0).unwrap_err().to_string(),
            "k-fold with k = 1: k must be at least 2"
        );
        assert_eq!(stratified_kfold(&[1, 2, 3], 4, 0).unwrap_err().to_string(), "k-fold with k = 4: only 3 rows");
        // As many folds as rows is allowed up to MAX_FOLDS only: a million folds of a million
        // rows was a 8 TB allocation.
        let many: Vec<u32> = (0..1_000).collect();
        assert_eq!(
            stratified_kfold(&many, 1_000, 0).unwrap_err().to_string(),
            "k-fold with k = 1000: at most 100 folds"
        );
        assert_eq!(stratified_kfold(&many, MAX_FOLDS, 0).unwrap().len(), MAX_FOLDS);
        assert_eq!(
            stratified_group_kfold(&[1, 2, 3], &["a", "a", "b"], 3, 0).unwrap_err().to_string(),
            "k-fold with k = 3: only 2 groups"
        );
    }

    #[test]
    fn every_row_is_held_out_exactly_once() {
        let labels: Vec<u8> = (0..23).map(|i| (i % 4) as u8).collect();
        let folds = stratified_kfold(&labels, 5, 9).unwrap();
        let mut held: Vec<usize> = folds.iter().flat_map(|f| f.test.iter().copied()).collect();
        held.sort_unstable();
        assert_eq!(held, (0..23).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.train.len() + f.test.len(), 23);
        }
    }
}
