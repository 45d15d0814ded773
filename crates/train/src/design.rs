//! The training feature matrix stored by its distinct rows.
//!
//! The matrix is mostly one-hot (only the scaled numeric columns are dense), and many rows are
//! identical (a student's enrolments share every feature). [`Design`] keeps each distinct row
//! once, as a *pattern* (its numeric values and the one-hot columns that are 1), and each row as
//! the index of its pattern: a few bytes a row instead of eight per column, with no copy per
//! cross-validation fold. Fits sum their loss over patterns with weights (our L-BFGS does);
//! the forests and smartcore get the dense rows they need.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::features::{Encoded, Matrix, NO_COLUMN};

/// Distinct rows of an [`Encoded`] matrix and the pattern of every row. Patterns sharing their
/// one-hot columns (a *combination*) are consecutive, so a loss pass adds those columns' weights
/// and gradients once per run of a combination, not once per pattern.
#[derive(Debug, Clone)]
pub(crate) struct Design {
    /// Matrix width.
    pub(crate) cols: usize,
    /// Leading dense (numeric) columns.
    pub(crate) n_num: usize,
    n_blocks: usize,
    patterns: usize,
    /// Per pattern: `n_num` values.
    numeric: Vec<f64>,
    /// Per pattern: its combination of one-hot columns.
    combo: Vec<u32>,
    /// Per combination: `n_blocks` one-hot columns ([`NO_COLUMN`] for none), increasing.
    combo_hot: Vec<u32>,
    /// Per row: its pattern.
    row_pattern: Vec<u32>,
    /// LOF's distinct points, `n_num` coordinates each.
    lof_points: Vec<f64>,
    /// Per pattern: its LOF point.
    point_of_pattern: Vec<u32>,
}

impl Design {
    /// Groups the rows of `e` into patterns.
    pub(crate) fn new(e: &Encoded) -> Self {
        let (n, nb, nn) = (e.rows, e.n_blocks, e.n_num);
        // One-hot combinations, numbered by first appearance.
        let mut ids: HashMap<&[u32], u32> = HashMap::new();
        let mut combo_hot = Vec::new();
        let row_combo: Vec<u32> = (0..n)
            .map(|i| {
                let hot = e.hot_row(i);
                let next = ids.len() as u32;
                *ids.entry(hot).or_insert_with(|| {
                    combo_hot.extend_from_slice(hot);
                    next
                })
            })
            .collect();
        drop(ids);
        // Rows sorted by (combination, numeric bits): a pattern is a run of equal keys.
        let width = 1 + nn;
        let mut keys = vec![0u64; n * width];
        keys.par_chunks_mut(width).enumerate().for_each(|(i, key)| {
            key[0] = u64::from(row_combo[i]);
            for (k, v) in key[1..].iter_mut().zip(e.numeric_row(i)) {
                *k = v.to_bits();
            }
        });
        let key = |i: u32| &keys[i as usize * width..(i as usize + 1) * width];
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.par_sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
        let mut row_pattern = vec![0u32; n];
        let (mut numeric, mut combo) = (Vec::new(), Vec::new());
        let mut patterns = 0usize;
        for (k, &r) in order.iter().enumerate() {
            if k == 0 || key(order[k - 1]) != key(r) {
                numeric.extend_from_slice(e.numeric_row(r as usize));
                combo.push(row_combo[r as usize]);
                patterns += 1;
            }
            row_pattern[r as usize] = (patterns - 1) as u32;
        }
        drop(order);
        drop(keys);
        // LOF's points: the distinct numeric values (-0.0 is 0.0: their distances are equal).
        let bits: Vec<u64> = numeric.iter().map(|&v| (v + 0.0).to_bits()).collect();
        let point_key = |u: u32| &bits[u as usize * nn..(u as usize + 1) * nn];
        let mut by_point: Vec<u32> = (0..patterns as u32).collect();
        by_point.par_sort_unstable_by(|&a, &b| point_key(a).cmp(point_key(b)).then(a.cmp(&b)));
        let (mut lof_points, mut point_of_pattern) = (Vec::new(), vec![0u32; patterns]);
        let mut points = 0u32;
        for (k, &u) in by_point.iter().enumerate() {
            if k == 0 || point_key(by_point[k - 1]) != point_key(u) {
                lof_points.extend(point_key(u).iter().map(|&b| f64::from_bits(b)));
                points += 1;
            }
            point_of_pattern[u as usize] = points - 1;
        }
        Self {
            cols: e.cols,
            n_num: nn,
            n_blocks: nb,
            patterns,
            numeric,
            combo,
            combo_hot,
            row_pattern,
            lof_points,
            point_of_pattern,
        }
    }

    /// LOF's distinct points (the distinct numeric values of the rows), `n_num` coordinates each.
    pub(crate) fn lof_points(&self) -> &[f64] {
        &self.lof_points
    }

    /// The LOF point row `i` stands at.
    pub(crate) fn lof_point_of(&self, i: usize) -> usize {
        self.point_of_pattern[self.pattern_of(i)] as usize
    }

    /// The combination of one-hot columns of pattern `u` (consecutive patterns share them).
    pub(crate) fn combo_of(&self, u: usize) -> u32 {
        self.combo[u]
    }

    /// The one-hot columns of combination `c` (some may be [`NO_COLUMN`]).
    pub(crate) fn combo_hot(&self, c: u32) -> &[u32] {
        let c = c as usize;
        &self.combo_hot[c * self.n_blocks..(c + 1) * self.n_blocks]
    }

    /// Number of distinct rows.
    pub(crate) fn patterns(&self) -> usize {
        self.patterns
    }

    /// The pattern of row `i`.
    pub(crate) fn pattern_of(&self, i: usize) -> usize {
        self.row_pattern[i] as usize
    }

    /// The numeric values of pattern `u`.
    pub(crate) fn numeric(&self, u: usize) -> &[f64] {
        &self.numeric[u * self.n_num..(u + 1) * self.n_num]
    }

    /// The one-hot columns of pattern `u` (some may be [`NO_COLUMN`]).
    pub(crate) fn hot(&self, u: usize) -> &[u32] {
        self.combo_hot(self.combo[u])
    }

    /// The dense matrix of the rows `idx`, in that order (repeats allowed).
    pub(crate) fn dense(&self, idx: &[usize]) -> Matrix {
        let cols = self.cols;
        let mut data = vec![0.0; idx.len() * cols];
        for (out, &i) in data.chunks_exact_mut(cols.max(1)).zip(idx) {
            let u = self.pattern_of(i);
            out[..self.n_num].copy_from_slice(self.numeric(u));
            for &c in self.hot(u) {
                if c != NO_COLUMN {
                    out[c as usize] = 1.0;
                }
            }
        }
        Matrix { rows: idx.len(), cols, data }
    }

    /// `x_u . w` for pattern `u`, summed in column order from -0.0 as `Iterator::sum` does over a
    /// dense row (the zero columns add nothing), so a logistic model scores a pattern exactly as
    /// the fitted model scores the dense row. `w` must be finite (0 * inf is NaN).
    pub(crate) fn dot(&self, u: usize, w: &[f64]) -> f64 {
        let mut s = -0.0;
        for (x, wj) in self.numeric(u).iter().zip(w) {
            s += x * wj;
        }
        for &c in self.hot(u) {
            if c != NO_COLUMN {
                s += w[c as usize];
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn encoded() -> Encoded {
        // 6 rows, 1 numeric column, blocks: {1, 2} and {3}; rows 0, 3 and 5 are equal, as are 1 and 4.
        let numeric = vec![0.5, -1.0, 2.0, 0.5, -1.0, 0.5];
        let hot = vec![1, 3, NO_COLUMN, 3, 2, NO_COLUMN, 1, 3, NO_COLUMN, 3, 1, 3];
        Encoded { rows: 6, cols: 4, n_num: 1, n_blocks: 2, numeric, hot, unseen: BTreeMap::new() }
    }

    #[test]
    fn equal_rows_share_a_pattern_ordered_by_one_hot_columns() {
        let e = encoded();
        let d = Design::new(&e);
        assert_eq!(d.patterns(), 3);
        // Combinations by first appearance: [1, 3] (rows 0, 3, 5), [NO, 3] (rows 1, 4), [2, NO].
        assert_eq!((0..6).map(|i| d.pattern_of(i)).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 0]);
        assert_eq!((0..3).map(|u| d.combo_of(u)).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(d.hot(1), [NO_COLUMN, 3]);
        // LOF points: the distinct numeric values 0.5, -1 and 2.
        assert_eq!(d.lof_points().len(), 3);
        assert_eq!((0..6).map(|i| d.lof_points()[d.lof_point_of(i)]).collect::<Vec<_>>(), e.numeric);
        let idx = [5, 2, 2, 0, 1];
        assert_eq!(d.dense(&idx), e.dense_rows(idx.iter().copied()));
        let w = [0.25, -2.0, 3.0, 0.5];
        let full = e.dense_rows(0..6);
        for i in 0..6 {
            let dense: f64 = full.row(i).iter().zip(&w).map(|(a, b)| a * b).sum();
            assert_eq!(d.dot(d.pattern_of(i), &w).to_bits(), dense.to_bits(), "row {i}");
        }
    }
}
