//! Gathering the rows of a batch that a mask or a split keeps. The kept rows are a list of
//! runs (consecutive kept rows), and each column is copied run by run: one bulk copy per run
//! rather than arrow's `filter` copying value by value. With short runs (rows kept one or two
//! at a time) arrow's filter is cheaper and is used instead, as it is for column types
//! without a kernel here. Used by preprocess (filters) and segregate (train/test sides).

use std::cell::OnceCell;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Capacities, MutableArrayData,
    OffsetSizeTrait, RecordBatch, RecordBatchOptions, make_array,
};
use arrow::buffer::{BooleanBuffer, MutableBuffer, NullBuffer};
use arrow::compute::{FilterBuilder, FilterPredicate};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

/// The rows of a batch to keep, as runs in row order.
#[derive(Debug)]
pub struct RowRuns {
    runs: Vec<Range<usize>>,
    rows: usize,
    /// The kept rows as bits, one per row of the batch.
    mask: BooleanBuffer,
    /// Arrow's filter for these rows, built when a column needs it.
    predicate: OnceCell<FilterPredicate>,
}

/// The mean run length from which copying run by run beats arrow's filter, measured on the
/// segregate bench: a 70/30 row split (runs of 3.3 and 1.4 rows) is faster through the
/// filter, a split by students of about four rows (runs of 13 and 6) run by run.
const MIN_MEAN_RUN: usize = 5;

impl RowRuns {
    /// The rows a mask keeps (a null counts as dropped, as in arrow's filter).
    pub fn from_mask(keep: &BooleanArray) -> Self {
        let mask = match keep.nulls() {
            Some(n) if n.null_count() > 0 => keep.values() & n.inner(),
            _ => keep.values().clone(),
        };
        Self::from_bits(mask)
    }

    fn from_bits(mask: BooleanBuffer) -> Self {
        let runs: Vec<Range<usize>> = mask.set_slices().map(|(a, b)| a..b).collect();
        let rows = runs.iter().map(ExactSizeIterator::len).sum();
        Self { runs, rows, mask, predicate: OnceCell::new() }
    }

    /// The two sides of a split: `(rows where false, rows where true)`.
    pub fn split(is_true: &[bool]) -> (Self, Self) {
        let yes = BooleanBuffer::from(is_true);
        let no = !&yes;
        (Self::from_bits(no), Self::from_bits(yes))
    }

    /// How many rows are kept.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The kept row indices, in order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.runs.iter().flat_map(Clone::clone)
    }

    /// The kept row indices, collected.
    pub fn indices(&self) -> Vec<usize> {
        self.iter().collect()
    }

    /// Copying run by run pays a fixed cost per run; when runs are short (rows scattered one
    /// or two at a time, as in an ungrouped split) arrow's row-by-row filter is cheaper.
    fn long_runs(&self) -> bool {
        self.rows >= MIN_MEAN_RUN * self.runs.len()
    }

    fn filter(&self, col: &ArrayRef) -> Result<ArrayRef, ArrowError> {
        let predicate = self
            .predicate
            .get_or_init(|| FilterBuilder::new(&BooleanArray::new(self.mask.clone(), None)).optimize().build());
        predicate.filter(col.as_ref())
    }

    /// The kept rows of one column.
    pub fn gather(&self, col: &ArrayRef) -> Result<ArrayRef, ArrowError> {
        if self.long_runs() { gather_runs(col, self) } else { self.filter(col) }
    }

    /// The kept rows of a batch.
    pub fn gather_batch(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let cols = batch.columns().iter().map(|c| self.gather(c)).collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        RecordBatch::try_new_with_options(batch.schema(), cols, &options)
    }
}

fn gather_runs(col: &ArrayRef, side: &RowRuns) -> Result<ArrayRef, ArrowError> {
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
fn strings(col: &ArrayRef, side: &RowRuns) -> Result<ArrayRef, ArrowError> {
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

fn run_bytes<O: OffsetSizeTrait>(offsets: &[O], side: &RowRuns) -> usize {
    side.runs.iter().map(|r| offsets[r.end].as_usize() - offsets[r.start].as_usize()).sum()
}

fn fixed_width(col: &ArrayRef, width: usize, side: &RowRuns) -> Result<ArrayRef, ArrowError> {
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

fn bits(packed: &[u8], offset: usize, side: &RowRuns) -> BooleanBuffer {
    let mut out = BooleanBufferBuilder::new(side.rows);
    for r in &side.runs {
        out.append_packed_range(offset + r.start..offset + r.end, packed);
    }
    out.finish()
}

fn nulls(nulls: Option<&NullBuffer>, side: &RowRuns) -> Option<NullBuffer> {
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
        let mask: Vec<bool> = (0..203).map(|i: u32| (i * 7 + i / 3) % 5 < 3).collect();
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
        let keep = BooleanArray::from(mask);
        let rows = RowRuns::from_mask(&keep);
        assert_eq!(rows.rows, keep.true_count());
        for col in cols {
            let col = col.slice(5, 203);
            let want = filter(col.as_ref(), &keep).unwrap();
            for got in [rows.gather(&col).unwrap(), gather_runs(&col, &rows).unwrap()] {
                assert_eq!(got.to_data(), want.to_data(), "{}", col.data_type());
            }
        }
    }

    #[test]
    fn null_mask_entries_drop_rows() {
        let keep = BooleanArray::from(vec![Some(true), None, Some(true), Some(true), Some(false), Some(true)]);
        let rows = RowRuns::from_mask(&keep);
        assert_eq!(rows.runs, [0..1, 2..4, 5..6]);
        assert_eq!(rows.rows, 4);
    }

    #[test]
    fn split_covers_every_row_once() {
        let mask = [true, true, false, true, false, false, false, true];
        let (train, test) = RowRuns::split(&mask);
        assert_eq!(train.runs, [2..3, 4..7]);
        assert_eq!(test.runs, [0..2, 3..4, 7..8]);
        assert_eq!((train.rows(), test.rows()), (4, 4));
        let (train, test) = RowRuns::split(&[]);
        assert_eq!((train.rows(), test.rows(), train.runs.len(), test.runs.len()), (0, 0, 0, 0));
    }

    #[test]
    fn both_sides_gather_like_filter() {
        let mask: Vec<bool> = (0..203).map(|i: u32| (i * 7 + i / 3) % 5 < 2).collect();
        let col: ArrayRef = Arc::new(StringArray::from((0..210).map(|i| format!("s{i}")).collect::<Vec<_>>()));
        let col = col.slice(5, 203);
        let (train, test) = RowRuns::split(&mask);
        for (side, keep) in [(&test, mask.clone()), (&train, mask.iter().map(|t| !t).collect())] {
            let want = filter(col.as_ref(), &BooleanArray::from(keep)).unwrap();
            assert_eq!(side.gather(&col).unwrap().to_data(), want.to_data());
        }
    }
}
