//! Scoring one table many times, with one raw column's values moved between rows
//! (permutation importance), from one encoding of its features.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use rayon::prelude::*;

use crate::TrainError;
use crate::estimator::Estimator;
use crate::features::{Encoded, NO_COLUMN};
use crate::model::Model;

/// A table's features as a [`Model`] encodes them, kept for scoring again: as it is
/// ([`EncodedRows::probabilities`], which is [`predict`](crate::predict)), or with one raw
/// column's values taken from other rows ([`EncodedRows::probabilities_permuted`]), without
/// reading the table again. Every feature is a function of one raw column's value in the same
/// row, so moving a raw column's values moves exactly the features computed from it.
#[derive(Debug)]
pub struct EncodedRows<'m> {
    model: &'m Model,
    encoded: Encoded,
    /// Column by column (`numeric_by_column[j][i]` is row `i`'s numeric feature `j`), so that
    /// a moved column is read from one compact array.
    numeric_by_column: Vec<Vec<f64>>,
    /// Block by block: `hot_by_block[b][i]` is row `i`'s one-hot column in block `b`.
    hot_by_block: Vec<Vec<u32>>,
    /// The raw column of each numeric feature (the leading matrix columns).
    numeric_raw: Vec<&'m str>,
    /// The raw column of each one-hot block.
    block_raw: Vec<&'m str>,
}

impl Model {
    /// Encodes `batches` (the columns [`Model::input_columns`] lists) once for repeated scoring.
    pub fn encode(&self, batches: &[RecordBatch]) -> Result<EncodedRows<'_>, TrainError> {
        let encoded = self.features.encode(batches)?;
        let numeric_raw = self.features.numeric.iter().map(|f| f.source.raw_column()).collect();
        let block_raw = self
            .features
            .numeric
            .iter()
            .filter(|f| !f.bin_edges.is_empty())
            .map(|f| f.source.raw_column())
            .chain(self.features.categorical.iter().filter(|c| c.categories.len() > 1).map(|c| c.source.raw_column()))
            .collect();
        let numeric_by_column =
            (0..encoded.n_num).map(|j| (0..encoded.rows).map(|i| encoded.numeric_row(i)[j]).collect()).collect();
        let hot_by_block =
            (0..encoded.n_blocks).map(|b| (0..encoded.rows).map(|i| encoded.hot_row(i)[b]).collect()).collect();
        Ok(EncodedRows { model: self, encoded, numeric_by_column, hot_by_block, numeric_raw, block_raw })
    }
}

impl EncodedRows<'_> {
    /// Rows encoded.
    pub fn rows(&self) -> usize {
        self.encoded.rows
    }

    /// Feature -> rows whose category was unseen in training (encoded as the reference).
    pub fn unseen(&self) -> &BTreeMap<String, u64> {
        &self.encoded.unseen
    }

    /// P(positive class) per row: the same bits as [`predict`](crate::predict) on the table.
    pub fn probabilities(&self) -> Result<Vec<f64>, TrainError> {
        let identity: Vec<u32> = (0..self.rows() as u32).collect();
        self.score(&[], &[], &identity)
    }

    /// P(positive class) per row when raw column `column` holds, in row `i`, the value of row
    /// `order[i]`: the same bits as [`predict`](crate::predict) on the table with that column
    /// permuted so (arrow's `take` with `order`). A column no feature reads changes nothing.
    pub fn probabilities_permuted(&self, column: &str, order: &[u32]) -> Result<Vec<f64>, TrainError> {
        let rows = self.rows();
        if order.len() != rows || order.iter().any(|&o| o as usize >= rows) {
            return Err(TrainError::Data(format!(
                "a permutation of {} rows does not reorder the {rows} encoded rows",
                order.len()
            )));
        }
        let numeric: Vec<bool> = self.numeric_raw.iter().map(|&c| c == column).collect();
        let blocks: Vec<bool> = self.block_raw.iter().map(|&c| c == column).collect();
        self.score(&numeric, &blocks, order)
    }

    /// Scores the rows whose numeric feature `j` (when `numeric[j]`) and one-hot block `b` (when
    /// `blocks[b]`) come from row `order[i]` (an empty mask: none do).
    fn score(&self, numeric: &[bool], blocks: &[bool], order: &[u32]) -> Result<Vec<f64>, TrainError> {
        let e = &self.encoded;
        let moved = |mask: &[bool], k: usize| mask.get(k).copied().unwrap_or(false);
        match &self.model.estimator {
            // The dense row's sum (column order, from -0.0) without its zero columns: the
            // same bits as `Estimator::predict_proba` on the dense matrix.
            Estimator::LogisticRegression { coefficients, intercept, .. }
                if coefficients.len() == e.cols && coefficients.iter().all(|c| c.is_finite()) =>
            {
                // The moved features gathered first (random reads of one compact column each),
                // then every row summed from its own encoded row and the gathered values.
                let gather_f = |v: &[f64]| order.par_iter().map(|&o| v[o as usize]).collect::<Vec<f64>>();
                let gather_u = |v: &[u32]| order.par_iter().map(|&o| v[o as usize]).collect::<Vec<u32>>();
                let moved_num: Vec<Option<Vec<f64>>> =
                    (0..e.n_num).map(|j| moved(numeric, j).then(|| gather_f(&self.numeric_by_column[j]))).collect();
                let moved_hot: Vec<Option<Vec<u32>>> =
                    (0..e.n_blocks).map(|b| moved(blocks, b).then(|| gather_u(&self.hot_by_block[b]))).collect();
                Ok((0..e.rows)
                    .into_par_iter()
                    .map(|i| {
                        let (num, hot) = (e.numeric_row(i), e.hot_row(i));
                        let mut z = -0.0;
                        for (j, w) in coefficients[..e.n_num].iter().enumerate() {
                            z += moved_num[j].as_ref().map_or(num[j], |m| m[i]) * w;
                        }
                        for (b, moved) in moved_hot.iter().enumerate() {
                            let c = moved.as_ref().map_or(hot[b], |m| m[i]);
                            if c != NO_COLUMN {
                                z += coefficients[c as usize];
                            }
                        }
                        let z = z + intercept;
                        1.0 / (1.0 + (-z).exp())
                    })
                    .collect())
            }
            estimator => {
                let mut mixed = e.clone();
                for (i, &other) in order.iter().enumerate() {
                    let other = other as usize;
                    for j in (0..e.n_num).filter(|&j| moved(numeric, j)) {
                        mixed.numeric[i * e.n_num + j] = e.numeric[other * e.n_num + j];
                    }
                    for b in (0..e.n_blocks).filter(|&b| moved(blocks, b)) {
                        mixed.hot[i * e.n_blocks + b] = e.hot[other * e.n_blocks + b];
                    }
                }
                estimator.predict_proba(&mixed.dense_rows(0..e.rows))
            }
        }
    }
}
