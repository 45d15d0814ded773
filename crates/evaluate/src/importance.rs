//! Permutation importance on the test split: how much ROC AUC drops when one raw input column
//! is shuffled, breaking its link to the outcome while keeping its distribution.

use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use esteira_train::EncodedRows;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::EvaluateError;
use crate::metrics::roc_auc;

/// The importance of one input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnImportance {
    /// The raw input column that was shuffled.
    pub column: String,
    /// Mean drop in ROC AUC over the repeats (positive: the model relies on the column).
    pub mean_drop: f64,
    /// Population standard deviation of the drops (numpy's `std`, as sklearn reports).
    pub std_drop: f64,
    /// The drop of each repeat.
    pub drops: Vec<f64>,
}

/// Shuffles each of `columns` of `batch` `repeats` times and measures the ROC AUC drop of
/// `predict` (probabilities of the positive class per row) against `y_true`. At most
/// [`MAX_PERMUTATION_REPEATS`](crate::MAX_PERMUTATION_REPEATS) repeats.
///
/// Each column shuffles with ChaCha8 seeded by `seed` on a stream named by the column (an FNV-1a
/// hash of its name), so its permutations do not depend on which other columns are measured. The result is sorted by
/// mean drop, largest first (ties by column name).
pub fn permutation_importance<F>(
    batch: &RecordBatch,
    columns: &[String],
    y_true: &[bool],
    repeats: usize,
    seed: u64,
    mut predict: F,
) -> Result<Vec<ColumnImportance>, EvaluateError>
where
    F: FnMut(&RecordBatch) -> Result<Vec<f64>, EvaluateError>,
{
    crate::error::at_most("permutation_repeats", repeats, crate::MAX_PERMUTATION_REPEATS)?;
    let rows = table_rows(batch, y_true)?;
    let reference = roc_auc(y_true, &predict(batch)?)?;
    let schema = batch.schema();
    let mut out = Vec::with_capacity(columns.len());
    for name in columns {
        let index = column_index(batch, name)?;
        out.push(column_importance(name, rows, y_true, repeats, seed, reference, |order| {
            let shuffled = arrow::compute::take(batch.column(index), &UInt32Array::from(order.to_vec()), None)
                .map_err(|e| EvaluateError::arrow(format!("permuting column `{name}`"), e))?;
            let mut arrays = batch.columns().to_vec();
            arrays[index] = shuffled;
            let permuted = RecordBatch::try_new(Arc::clone(&schema), arrays)
                .map_err(|e| EvaluateError::arrow(format!("permuting column `{name}`"), e))?;
            predict(&permuted)
        })?);
    }
    Ok(sorted(out))
}

/// [`permutation_importance`] for an esteira-train model on rows it has encoded: the same
/// permutations and the same bits, the columns measured in parallel, each permutation scored
/// from the encoding (no table is rebuilt or re-read). `batch` is the table `encoded` was made
/// from; `reference` is the ROC AUC of its unpermuted scores.
pub(crate) fn model_permutation_importance(
    batch: &RecordBatch,
    encoded: &EncodedRows<'_>,
    columns: &[String],
    y_true: &[bool],
    repeats: usize,
    seed: u64,
    reference: f64,
) -> Result<Vec<ColumnImportance>, EvaluateError> {
    crate::error::at_most("permutation_repeats", repeats, crate::MAX_PERMUTATION_REPEATS)?;
    let rows = table_rows(batch, y_true)?;
    for name in columns {
        column_index(batch, name)?;
    }
    let out = columns
        .par_iter()
        .map(|name| {
            column_importance(name, rows, y_true, repeats, seed, reference, |order| {
                Ok(encoded.probabilities_permuted(name, order)?)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sorted(out))
}

fn table_rows(batch: &RecordBatch, y_true: &[bool]) -> Result<u32, EvaluateError> {
    if batch.num_rows() != y_true.len() {
        return Err(EvaluateError::LengthMismatch {
            metric: "permutation_importance",
            what: "the table",
            expected: y_true.len(),
            found: batch.num_rows(),
        });
    }
    u32::try_from(batch.num_rows()).map_err(|_| EvaluateError::Table {
        column: "*".into(),
        row: None,
        message: format!("{} rows is too many to permute (limit {})", batch.num_rows(), u32::MAX),
    })
}

fn column_index(batch: &RecordBatch, name: &str) -> Result<usize, EvaluateError> {
    batch.schema().index_of(name).map_err(|_| EvaluateError::Table {
        column: name.to_owned(),
        row: None,
        message: "no such column in the test table".into(),
    })
}

/// One column's drops: `repeats` shuffles of `0..rows` from the column's own stream, each
/// scored by `score(order)` (P(positive) with the column's row `i` taken from row `order[i]`).
fn column_importance(
    name: &str,
    rows: u32,
    y_true: &[bool],
    repeats: usize,
    seed: u64,
    reference: f64,
    mut score: impl FnMut(&[u32]) -> Result<Vec<f64>, EvaluateError>,
) -> Result<ColumnImportance, EvaluateError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(name.as_bytes()));
    let mut drops = Vec::with_capacity(repeats);
    let mut order: Vec<u32> = Vec::with_capacity(rows as usize);
    for _ in 0..repeats {
        order.clear();
        order.extend(0..rows);
        order.shuffle(&mut rng);
        drops.push(reference - roc_auc(y_true, &score(&order)?)?);
    }
    let mean = if drops.is_empty() { 0.0 } else { drops.iter().sum::<f64>() / drops.len() as f64 };
    let var =
        if drops.is_empty() { 0.0 } else { drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / drops.len() as f64 };
    tracing::debug!(column = %name, mean_drop = mean, "permutation importance");
    Ok(ColumnImportance { column: name.to_owned(), mean_drop: mean, std_drop: var.sqrt(), drops })
}

/// Largest mean drop first, ties by column name.
fn sorted(mut out: Vec<ColumnImportance>) -> Vec<ColumnImportance> {
    out.sort_by(|a, b| b.mean_drop.total_cmp(&a.mean_drop).then_with(|| a.column.cmp(&b.column)));
    out
}

/// A stable 64-bit hash of a column name (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// The label is `signal > 0`; `noise` is unrelated; the "model" reads `signal` only.
    fn fixture() -> (RecordBatch, Vec<bool>) {
        let signal: Vec<f64> = (0..80).map(|i| f64::from((i * 37) % 80) - 40.0).collect();
        let noise: Vec<String> = (0..80).map(|i| format!("n{}", i % 5)).collect();
        let y: Vec<bool> = signal.iter().map(|&s| s > 0.0).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("signal", DataType::Float64, false),
            Field::new("noise", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Float64Array::from(signal)), Arc::new(StringArray::from(noise))],
        )
        .unwrap();
        (batch, y)
    }

    #[allow(clippy::unnecessary_wraps, reason = "the signature permutation_importance expects")]
    fn model(batch: &RecordBatch) -> Result<Vec<f64>, EvaluateError> {
        let idx = batch.schema().index_of("signal").unwrap();
        let col = batch.column(idx).as_any().downcast_ref::<Float64Array>().unwrap();
        Ok((0..col.len()).map(|i| 1.0 / (1.0 + (-col.value(i) / 10.0).exp())).collect())
    }

    #[test]
    fn the_used_column_matters_and_the_unused_does_not() {
        let (batch, y) = fixture();
        let cols = vec!["noise".to_owned(), "signal".to_owned()];
        let imp = permutation_importance(&batch, &cols, &y, 4, 11, model).unwrap();
        assert_eq!(imp[0].column, "signal");
        assert!(imp[0].mean_drop > 0.3, "{imp:?}");
        assert_eq!(imp[1].column, "noise");
        assert_eq!(imp[1].mean_drop, 0.0);
        assert_eq!(imp[0].drops.len(), 4);
        assert_eq!(imp, permutation_importance(&batch, &cols, &y, 4, 11, model).unwrap());
        let alone = permutation_importance(&batch, &cols[1..], &y, 4, 11, model).unwrap();
        assert_eq!(alone[0], imp[0], "a column's permutations do not depend on the other columns");
        let other_seed = permutation_importance(&batch, &cols, &y, 4, 12, model).unwrap();
        assert_ne!(imp[0].drops, other_seed[0].drops);
    }

    #[test]
    fn unknown_column_is_named() {
        let (batch, y) = fixture();
        let err = permutation_importance(&batch, &["nope".to_owned()], &y, 1, 0, model).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }
}
