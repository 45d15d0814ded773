//! Copying a batch's rows to the train and test sides. Each side is a list of row runs (rows
//! that go to the same side one after another), and each column is gathered run by run: one
//! bulk copy per run instead of arrow's `filter` run twice (once per side) copying value by
//! value. Column types without a direct kernel fall back to arrow's `filter`.

use std::cell::OnceCell;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Capacities, MutableArrayData,
    OffsetSizeTrait, RecordBatch, RecordBatchOptions, make_array,
};
use arrow::buffer::{MutableBuffer, NullBuffer};
use arrow::compute::{FilterBuilder, FilterPredicate};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

/// Row runs of one side of a batch, in row order.
pub(crate) struct Side {
    runs: Vec<Range<usize>>,
    rows: usize,
    /// Rows in the batch.
    len: usize,
    /// Arrow's filter for this side, built when a column needs it.
    predicate: OnceCell<FilterPredicate>,
}

impl Side {
    fn new(len: usize) -> Self {
        Self { runs: Vec::new(), rows: 0, len, predicate: OnceCell::new() }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Copying run by run pays a fixed cost per run; when runs are short (rows scattered one
    /// or two at a time, as in an ungrouped split) arrow's row-by-row filter is cheaper.
    fn long_runs(&self) -> bool {
        self.rows >= MIN_MEAN_RUN * self.runs.len()
    }

    fn filter(&self, col: &ArrayRef) -> Result<ArrayRef, ArrowError> {
        let predicate = match self.predicate.get() {
            Some(p) => p,
            None => {
                let mut mask = vec![false; self.len];
                for r in &self.runs {
                    mask[r.clone()].fill(true);
                }
                let p = FilterBuilder::new(&BooleanArray::from(mask)).optimize().build();
                self.predicate.get_or_init(|| p)
            }
        };
        predicate.filter(col.as_ref())
    }
}

/// The mean run length from which copying run by run beats arrow's filter, measured on the
/// segregate bench: a 70/30 row split (runs of 3.3 and 1.4 rows) is faster through the
/// filter, a split by students of about four rows (runs of 13 and 6) run by run.
const MIN_MEAN_RUN: usize = 5;

/// The runs of each side: `(train, test)`.
pub(crate) fn runs(is_test: &[bool]) -> (Side, Side) {
    let mut train = Side::new(is_test.len());
    let mut test = Side::new(is_test.len());
    let mut start = 0;
    while start < is_test.len() {
        let t = is_test[start];
        let len = is_test[start..].iter().position(|&x| x != t).unwrap_or(is_test.len() - start);
        let side = if t { &mut test } else { &mut train };
        side.runs.push(start..start + len);
        side.rows += len;
        start += len;
    }
    (train, test)
}

/// The rows of `batch` in `side`, in order.
pub(crate) fn gather_batch(batch: &RecordBatch, side: &Side) -> Result<RecordBatch, ArrowError> {
    let cols = batch.columns().iter().map(|c| gather(c, side)).collect::<Result<Vec<_>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(side.rows));
    RecordBatch::try_new_with_options(batch.schema(), cols, &options)
}

fn gather(col: &ArrayRef, side: &Side) -> Result<ArrayRef, ArrowError> {
    if side.long_runs() { gather_runs(col, side) } else { side.filter(col) }
}

fn gather_runs(col: &ArrayRef, side: &Side) -> Result<ArrayRef, ArrowError> {
    let dt = col.data_type();
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => strings(col, side),
        DataType::Boolean => {
            let b = col.as_boolean();
            let values = bits(b.values().values(), b.values().offset(), side);
            Ok(Arc::new(BooleanArray::new(values, nulls(col.nulls(), side))))
        }
        _ if dt.is_primitive() => match dt.primitive_width() {
            Some(width) => fixed_width(col, width, side),
            None => side.filter(col),
        },
        _ => side.filter(col),
    }
}

/// Text goes through arrow's `MutableArrayData`: a string array built from parts would have
/// its UTF-8 validated again, which cost more than the copy (the values are already valid).
fn strings(col: &ArrayRef, side: &Side) -> Result<ArrayRef, ArrowError> {
    let data = col.to_data();
    // Exact capacities: growing the buffers run by run reallocated and copied them repeatedly.
    let value_bytes: usize = match col.data_type() {
        DataType::Utf8 => run_bytes(col.as_string::<i32>().value_offsets(), side),
        DataType::LargeUtf8 => run_bytes(col.as_string::<i64>().value_offsets(), side),
        DataType::Binary => run_bytes(col.as_binary::<i32>().value_offsets(), side),
        _ => run_bytes(col.as_binary::<i64>().value_offsets(), side),
    };
    let capacities = Capacities::Binary(side.rows, Some(value_bytes));
    let mut out = MutableArrayData::with_capacities(vec![&data], false, capacities);
    for r in &side.runs {
        out.try_extend(0, r.start, r.end)?;
    }
    Ok(make_array(out.freeze()))
}

fn run_bytes<O: OffsetSizeTrait>(offsets: &[O], side: &Side) -> usize {
    side.runs.iter().map(|r| offsets[r.end].as_usize() - offsets[r.start].as_usize()).sum()
}

fn fixed_width(col: &ArrayRef, width: usize, side: &Side) -> Result<ArrayRef, ArrowError> {
    let data = col.to_data();
    let Some(buffer) = data.buffers().first() else { return side.filter(col) };
    let bytes = buffer.as_slice();
    let offset = data.offset();
    // An arrow buffer, not a Vec<u8>: the values must be aligned for their type.
    let mut out = MutableBuffer::with_capacity(side.rows * width);
    for r in &side.runs {
        out.extend_from_slice(&bytes[(offset + r.start) * width..(offset + r.end) * width]);
    }
    let data = ArrayData::builder(col.data_type().clone())
        .len(side.rows)
        .add_buffer(out.into())
        .nulls(nulls(col.nulls(), side))
        .build()?;
    Ok(make_array(data))
}

fn bits(packed: &[u8], offset: usize, side: &Side) -> arrow::buffer::BooleanBuffer {
    let mut out = BooleanBufferBuilder::new(side.rows);
    for r in &side.runs {
        out.append_packed_range(offset + r.start..offset + r.end, packed);
    }
    out.finish()
}

fn nulls(nulls: Option<&NullBuffer>, side: &Side) -> Option<NullBuffer> {
    let n = nulls.filter(|n| n.null_count() > 0)?;
    let valid = NullBuffer::new(bits(n.inner().values(), n.inner().offset(), side));
    (valid.null_count() > 0).then_some(valid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array, LargeStringArray, StringArray, TimestampSecondArray};
    use arrow::compute::filter;

    /// Each kernel agrees with arrow's `filter`, on sliced arrays too (offsets into buffers).
    #[test]
    fn gathers_like_filter() {
        let mask: Vec<bool> = (0..203).map(|i: u32| (i * 7 + i / 3) % 5 < 2).collect();
        let strs: Vec<Option<String>> = (0..210).map(|i| (i % 4 != 1).then(|| format!("v{}", i * i))).collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(strs.clone())),
            Arc::new(LargeStringArray::from(strs)),
            Arc::new(Int32Array::from((0..210).map(|i| (i % 3 != 0).then_some(i)).collect::<Vec<_>>())),
            Arc::new(Float64Array::from((0..210).map(f64::from).collect::<Vec<_>>())),
            Arc::new(BooleanArray::from((0..210).map(|i| (i % 5 != 0).then_some(i % 2 == 0)).collect::<Vec<_>>())),
            Arc::new(TimestampSecondArray::from((0..210).map(i64::from).collect::<Vec<_>>()).with_timezone("UTC")),
            Arc::new(arrow::array::NullArray::new(210)),
        ];
        let (train, test) = runs(&mask);
        assert_eq!(train.rows() + test.rows(), mask.len());
        for col in cols {
            let col = col.slice(5, 203);
            for (side, keep) in [(&test, mask.clone()), (&train, mask.iter().map(|t| !t).collect())] {
                let want = filter(col.as_ref(), &BooleanArray::from(keep)).unwrap();
                for got in [gather(&col, side).unwrap(), gather_runs(&col, side).unwrap()] {
                    assert_eq!(got.to_data(), want.to_data(), "{}", col.data_type());
                }
            }
        }
    }

    #[test]
    fn runs_cover_every_row_once() {
        let mask = [true, true, false, true, false, false, false, true];
        let (train, test) = runs(&mask);
        assert_eq!(train.runs, [2..3, 4..7]);
        assert_eq!(test.runs, [0..2, 3..4, 7..8]);
        assert_eq!((train.rows(), test.rows()), (4, 4));
        let (train, test) = runs(&[]);
        assert_eq!((train.rows(), test.rows(), train.runs.len(), test.runs.len()), (0, 0, 0, 0));
    }
}
