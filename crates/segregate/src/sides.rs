//! Copying a batch's rows to the train and test sides. Each side is a list of row runs (rows
//! that go to the same side one after another), and each column is gathered run by run: one
//! bulk copy per run instead of arrow's `filter` run twice (once per side) copying value by
//! value. Column types without a direct kernel fall back to arrow's `filter`.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, GenericStringArray, OffsetSizeTrait,
    RecordBatch, RecordBatchOptions, make_array,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

/// Row runs of one side of a batch, in row order.
pub(crate) struct Side {
    runs: Vec<Range<usize>>,
    rows: usize,
}

impl Side {
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// The runs of each side: `(train, test)`.
pub(crate) fn runs(is_test: &[bool]) -> (Side, Side) {
    let mut train = Side { runs: Vec::new(), rows: 0 };
    let mut test = Side { runs: Vec::new(), rows: 0 };
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
    let dt = col.data_type();
    match dt {
        DataType::Utf8 => strings::<i32>(col.as_string::<i32>(), side),
        DataType::LargeUtf8 => strings::<i64>(col.as_string::<i64>(), side),
        DataType::Boolean => {
            let b = col.as_boolean();
            let values = bits(b.values().values(), b.values().offset(), side);
            Ok(Arc::new(BooleanArray::new(values, nulls(col.nulls(), side))))
        }
        _ if dt.is_primitive() => match dt.primitive_width() {
            Some(width) => fixed_width(col, width, side),
            None => fallback(col, side),
        },
        _ => fallback(col, side),
    }
}

fn strings<O: OffsetSizeTrait>(text: &GenericStringArray<O>, side: &Side) -> Result<ArrayRef, ArrowError> {
    let offsets = text.value_offsets();
    let data = text.value_data();
    let first = side.runs.first().map_or(0, |r| offsets[r.start].as_usize());
    let last = side.runs.last().map_or(0, |r| offsets[r.end].as_usize());
    let mut values: Vec<u8> = Vec::with_capacity(last - first);
    let mut out: Vec<O> = Vec::with_capacity(side.rows + 1);
    out.push(O::usize_as(0));
    for r in &side.runs {
        let (from, to) = (offsets[r.start].as_usize(), offsets[r.end].as_usize());
        // Offsets of the run shifted from the input's values to the output's.
        let base = values.len();
        out.extend(offsets[r.start + 1..=r.end].iter().map(|o| O::usize_as(o.as_usize() - from + base)));
        values.extend_from_slice(&data[from..to]);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(out));
    Ok(Arc::new(GenericStringArray::<O>::try_new(offsets, Buffer::from_vec(values), nulls(text.nulls(), side))?))
}

fn fixed_width(col: &ArrayRef, width: usize, side: &Side) -> Result<ArrayRef, ArrowError> {
    let data = col.to_data();
    let Some(buffer) = data.buffers().first() else { return fallback(col, side) };
    let bytes = buffer.as_slice();
    let offset = data.offset();
    let mut out: Vec<u8> = Vec::with_capacity(side.rows * width);
    for r in &side.runs {
        out.extend_from_slice(&bytes[(offset + r.start) * width..(offset + r.end) * width]);
    }
    let data = ArrayData::builder(col.data_type().clone())
        .len(side.rows)
        .add_buffer(Buffer::from_vec(out))
        .nulls(nulls(col.nulls(), side))
        .build()?;
    Ok(make_array(data))
}

fn fallback(col: &ArrayRef, side: &Side) -> Result<ArrayRef, ArrowError> {
    let mut mask = vec![false; col.len()];
    for r in &side.runs {
        mask[r.clone()].fill(true);
    }
    arrow::compute::filter(col.as_ref(), &BooleanArray::from(mask))
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
                let got = gather(&col, side).unwrap();
                let want = filter(col.as_ref(), &BooleanArray::from(keep)).unwrap();
                assert_eq!(got.to_data(), want.to_data(), "{}", col.data_type());
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
