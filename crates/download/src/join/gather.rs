//! A join's output batch: the left rows (a slice when they are consecutive, a filter when they
//! only increase, `take` otherwise) beside the right rows they matched (`take`, null where none).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow::datatypes::SchemaRef;

use crate::DownloadError;

/// The output schema, the right table's carried columns and the join's name for errors.
pub(super) struct Gather<'a> {
    pub(super) schema: &'a SchemaRef,
    pub(super) right: &'a [ArrayRef],
    pub(super) context: &'a str,
}

impl Gather<'_> {
    /// The output batches of `pending` (left batch, left rows, right rows), in order, gathered
    /// on all cores.
    pub(super) fn all(
        &self,
        pending: Vec<(RecordBatch, Vec<u32>, Vec<Option<u32>>)>,
    ) -> Result<Vec<RecordBatch>, DownloadError> {
        use rayon::prelude::*;
        pending.into_par_iter().map(|(left, li, ri)| self.batch(&left, &li, &ri)).collect()
    }

    pub(super) fn batch(
        &self,
        left: &RecordBatch,
        li: &[u32],
        ri: &[Option<u32>],
    ) -> Result<RecordBatch, DownloadError> {
        let err = |e| DownloadError::arrow(self.context, e);
        // A run of consecutive left rows (the common case of a many-to-one join) is a slice.
        let contiguous = li.windows(2).all(|w| w[1] == w[0] + 1);
        // Each left row at most once, some skipped (an inner join's unmatched rows): a filter
        // copies the runs between the gaps whole, where `take` copies value by value.
        let increasing = li.windows(2).all(|w| w[1] > w[0]);
        let mut columns: Vec<ArrayRef> = if contiguous && !li.is_empty() {
            let b = left.slice(li[0] as usize, li.len());
            b.columns().to_vec()
        } else if increasing && let (Some(&first), Some(&last)) = (li.first(), li.last()) {
            let (first, last) = (first as usize, last as usize);
            let mut mask = vec![false; last - first + 1];
            for &i in li {
                mask[i as usize - first] = true;
            }
            let mask = BooleanArray::from(mask);
            let b = arrow::compute::filter_record_batch(&left.slice(first, last - first + 1), &mask).map_err(err)?;
            b.columns().to_vec()
        } else {
            let idx = UInt32Array::from(li.to_vec());
            left.columns()
                .iter()
                .map(|c| arrow::compute::take(c.as_ref(), &idx, None))
                .collect::<Result<_, _>>()
                .map_err(err)?
        };
        let idx = UInt32Array::from(ri.to_vec());
        for c in self.right {
            columns.push(arrow::compute::take(c.as_ref(), &idx, None).map_err(err)?);
        }
        RecordBatch::try_new(Arc::clone(self.schema), columns).map_err(err)
    }
}
