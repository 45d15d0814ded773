//! Gathering the rows of a batch that a mask or a split keeps. The kept rows are a list of
//! runs (consecutive kept rows), and each column is copied run by run: one bulk copy per run
//! rather than arrow's `filter` copying value by value. With short runs (rows kept one or two
//! at a time) arrow's filter is cheaper and is used instead, as it is for column types
//! without a kernel here. Used by preprocess (filters) and segregate (train/test sides).

use std::cell::OnceCell;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::StringArray;
use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, Capacities, MutableArrayData,
    OffsetSizeTrait, RecordBatch, RecordBatchOptions, make_array,
};
use arrow::buffer::{BooleanBuffer, MutableBuffer, NullBuffer, OffsetBuffer};
use arrow::compute::{FilterBuilder, FilterPredicate};
use arrow::datatypes::{ArrowNativeType, DataType};
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

    /// Every row of a batch of `rows` rows.
    pub fn all(rows: usize) -> Self {
        Self::from_bits(BooleanBuffer::new_set(rows))
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
        if col.len() != self.mask.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a column of {} rows gathered with a mask of {}",
                col.len(),
                self.mask.len()
            )));
        }
        if let Some(text) = col.as_string_opt::<i32>() {
            return Ok(Arc::new(self.gather_utf8(text, None)?.0));
        }
        if self.long_runs() { gather_runs(col, self) } else { self.filter(col) }
    }

    /// The kept rows of a text column, with nulls replaced by `fill` when it is given (then
    /// the result has no nulls), and how many nulls were filled. Stretches of kept non-null
    /// rows are copied in bulk, whatever their length.
    pub fn gather_utf8(&self, col: &StringArray, fill: Option<&str>) -> Result<(StringArray, usize), ArrowError> {
        if col.len() != self.mask.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "a column of {} rows gathered with a mask of {}",
                col.len(),
                self.mask.len()
            )));
        }
        let nulls = col.nulls().filter(|n| n.null_count() > 0);
        // An upper bound: every null of the column filled.
        let bytes = run_bytes(col.value_offsets(), self) + fill.map_or(0, |f| col.null_count() * f.len());
        let mut out = TextBuilder::with_capacity(self.rows, bytes);
        let mut valid = (nulls.is_some() && fill.is_none()).then(|| BooleanBufferBuilder::new(self.rows));
        let mut filled = 0;
        for r in &self.runs {
            match (nulls, fill) {
                (Some(n), Some(fill)) => {
                    let mut i = r.start;
                    while i < r.end {
                        let mut j = i;
                        while j < r.end && n.is_valid(j) {
                            j += 1;
                        }
                        out.append_rows(col, i..j);
                        if j < r.end {
                            filled += 1;
                            out.append_str(fill);
                        }
                        i = j + 1;
                    }
                }
                (Some(n), None) => {
                    out.append_rows(col, r.clone());
                    if let Some(v) = valid.as_mut() {
                        v.append_packed_range(n.offset() + r.start..n.offset() + r.end, n.inner().values());
                    }
                }
                (None, _) => out.append_rows(col, r.clone()),
            }
        }
        let nulls = valid.map(|mut v| NullBuffer::new(v.finish())).filter(|n| n.null_count() > 0);
        Ok((out.finish(nulls)?, filled))
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

/// Builds a text column out of whole values copied from other text columns (and `&str`s),
/// without validating the bytes again: they were valid UTF-8 where they came from. arrow's
/// safe constructors re-validate every byte, which cost a fifth of the preprocess stage; its
/// builders copy value by value. Short runs of values are copied as one fixed-size block.
#[derive(Debug)]
pub struct TextBuilder {
    offsets: Vec<i32>,
    values: Vec<u8>,
}

/// The fixed block size of [`TextBuilder`]'s short copies.
const SLACK: usize = 64;

impl TextBuilder {
    /// Room for `rows` values of `bytes` bytes in all (it grows past that if needed).
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self { offsets, values: Vec::with_capacity(bytes + SLACK) }
    }

    /// Number of values appended.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    #[inline]
    fn copy_bytes(&mut self, src: &[u8], start: usize, end: usize) {
        let n = end - start;
        if n <= SLACK && start + SLACK <= src.len() {
            // A constant-size copy is a few inlined moves; the bytes past `n` are cut off again.
            let len = self.values.len();
            self.values.extend_from_slice(&src[start..start + SLACK]);
            self.values.truncate(len + n);
        } else {
            self.values.extend_from_slice(&src[start..end]);
        }
    }

    /// Appends the values of rows `rows` of `col` (a null row's slot as it is stored, usually
    /// empty: give `finish` the null buffer).
    ///
    /// # Panics
    /// If `rows` is not within `col`.
    #[inline]
    pub fn append_rows(&mut self, col: &StringArray, rows: Range<usize>) {
        if rows.is_empty() {
            return;
        }
        let offsets = col.value_offsets();
        let (a, b) = (rows.start, rows.end);
        let shift = self.values.len() as i64 - i64::from(offsets[a]);
        self.copy_bytes(col.value_data(), offsets[a].as_usize(), offsets[b].as_usize());
        // Wraps only past 2 GiB, which `finish` rejects before building anything.
        self.offsets.extend(offsets[a + 1..=b].iter().map(|&o| (i64::from(o) + shift) as i32));
    }

    /// Appends one value.
    #[inline]
    pub fn append_str(&mut self, value: &str) {
        self.copy_bytes(value.as_bytes(), 0, value.len());
        // Wraps only past 2 GiB, which `finish` rejects.
        self.offsets.push(self.values.len() as i32);
    }

    /// The array, with `nulls` (one bit per appended value) as its null buffer. Fails past
    /// 2 GiB of text or when `nulls` has another length.
    pub fn finish(self, nulls: Option<NullBuffer>) -> Result<StringArray, ArrowError> {
        if i32::try_from(self.values.len()).is_err() {
            return Err(overflow());
        }
        if let Some(n) = &nulls
            && n.len() != self.rows()
        {
            return Err(ArrowError::InvalidArgumentError(format!(
                "{} null bits for {} text values",
                n.len(),
                self.rows()
            )));
        }
        #[allow(unsafe_code)]
        // SAFETY: the bytes between consecutive offsets are each a copy of one whole value of a
        // valid `StringArray` or of a `&str` (`append_rows`, `append_str`), so the buffer is
        // valid UTF-8 cut at character boundaries; offsets start at 0, never decrease and end
        // at the text's length (checked above to fit in i32, so no offset wrapped); `nulls` has one bit per value (checked above).
        let array = unsafe {
            StringArray::new_unchecked(OffsetBuffer::new_unchecked(self.offsets.into()), self.values.into(), nulls)
        };
        Ok(array)
    }
}

/// `a == b`, eight bytes at a time: for the short values of a text column this is a few inlined
/// compares, where `==` on slices calls `memcmp` each time (measured in preprocess's map and
/// segregate's class encoding).
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in a8.by_ref().zip(b8.by_ref()) {
        if u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]])
            != u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]])
        {
            return false;
        }
    }
    a8.remainder().iter().zip(b8.remainder()).all(|(x, y)| x == y)
}

fn overflow() -> ArrowError {
    ArrowError::ComputeError("more than 2 GiB of text in one column of one batch".into())
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

    #[test]
    fn gather_utf8_fills_nulls_in_place() {
        let col = StringArray::from(vec![Some("São Paulo"), None, Some("b"), None, Some("Ceará"), Some("x")]);
        let keep = BooleanArray::from(vec![true, true, false, true, true, false]);
        let rows = RowRuns::from_mask(&keep);
        let (out, filled) = rows.gather_utf8(&col, Some("Não Informado")).unwrap();
        assert_eq!(filled, 2);
        assert_eq!(out.null_count(), 0);
        let got: Vec<&str> = out.iter().map(Option::unwrap).collect();
        assert_eq!(got, ["São Paulo", "Não Informado", "Não Informado", "Ceará"]);
        // Without a fill value the nulls stay nulls.
        let (out, filled) = rows.gather_utf8(&col, None).unwrap();
        assert_eq!((filled, out.null_count()), (0, 2));
        assert_eq!(out, StringArray::from(vec![Some("São Paulo"), None, None, Some("Ceará")]));
    }

    #[test]
    fn text_builder_copies_short_long_and_trailing_values() {
        // Values longer than the block, values at the very end of their buffer (no room for a
        // block read), multi-byte text, and growth past the declared capacity.
        let long = "ç".repeat(70);
        let col = StringArray::from(vec!["a", long.as_str(), "ü", "end"]);
        let mut b = TextBuilder::with_capacity(1, 1);
        b.append_rows(&col, 0..4);
        b.append_str("");
        b.append_rows(&col, 3..4);
        b.append_rows(&col.slice(1, 2), 0..2);
        b.append_rows(&col, 2..2);
        assert_eq!(b.rows(), 8);
        let out = b.finish(None).unwrap();
        let want = StringArray::from(vec!["a", long.as_str(), "ü", "end", "", "end", long.as_str(), "ü"]);
        assert_eq!(out, want);
        let mut b = TextBuilder::with_capacity(2, 2);
        b.append_str("x");
        let err = b.finish(Some(NullBuffer::new_null(2))).unwrap_err();
        assert!(err.to_string().contains("2 null bits for 1 text values"), "{err}");
    }
}
