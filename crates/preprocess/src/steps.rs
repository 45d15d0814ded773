//! Running one planned step on one batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, Scalar, StringBuilder};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::compute::{cast, is_not_null};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Float64Type, Int32Type, Int64Type};
use arrow::error::ArrowError;

use esteira_core::table::RowRuns;

use crate::cast::{convert, value_text};
use crate::error::MAX_EXAMPLES;
use crate::plan::{MapOp, Op, PlannedStep, Pred};
use crate::{OnError, Unmapped};
use rustc_hash::FxHashMap;

/// The columns of one input batch as it moves through the steps.
///
/// A filter does not copy the columns at once: the kept rows wait in `pending` and each
/// column is copied when a step first needs it, or at the end. A `map` or `fill` on a column
/// not yet copied reads the kept rows of the original and builds its output directly, so that
/// column is copied once instead of twice.
pub(crate) struct Batch {
    cols: Vec<ArrayRef>,
    /// Rows after every filter so far (pending or not).
    pub rows: usize,
    /// The keep-masks applied so far, oldest first: they map a row back to its input row.
    masks: Vec<BooleanArray>,
    /// The last filter, not yet applied to the columns marked `stale`.
    pending: Option<Pending>,
}

struct Pending {
    kept: RowRuns,
    stale: Vec<bool>,
}

impl Batch {
    pub fn new(cols: Vec<ArrayRef>, rows: usize) -> Self {
        Self { cols, rows, masks: Vec::new(), pending: None }
    }

    /// The position in the original batch of the row now at `pos`.
    pub fn origin(&self, mut pos: usize) -> usize {
        for mask in self.masks.iter().rev() {
            pos = mask.values().set_indices().nth(pos).unwrap_or(pos);
        }
        pos
    }

    /// Column `i` with every filter applied.
    fn col(&mut self, i: usize) -> Result<&ArrayRef, ArrowError> {
        if let Some(p) = &mut self.pending
            && p.stale[i]
        {
            self.cols[i] = p.kept.gather(&self.cols[i])?;
            p.stale[i] = false;
        }
        Ok(&self.cols[i])
    }

    /// Column `i` as stored and, when a filter is pending on it, the rows to read from it.
    fn raw(&self, i: usize) -> (&ArrayRef, Option<&RowRuns>) {
        let kept = self.pending.as_ref().filter(|p| p.stale[i]).map(|p| &p.kept);
        (&self.cols[i], kept)
    }

    fn set(&mut self, i: usize, col: ArrayRef) {
        self.cols[i] = col;
        if let Some(p) = &mut self.pending {
            p.stale[i] = false;
        }
    }

    fn select(&mut self, indices: &[usize]) {
        self.cols = indices.iter().map(|&i| self.cols[i].clone()).collect();
        if let Some(p) = &mut self.pending {
            p.stale = indices.iter().map(|&i| p.stale[i]).collect();
        }
    }

    /// Applies any pending filter to every column.
    fn flush(&mut self) -> Result<(), ArrowError> {
        for i in 0..self.cols.len() {
            self.col(i)?;
        }
        self.pending = None;
        Ok(())
    }

    /// The columns with every filter applied.
    pub fn into_cols(mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        self.flush()?;
        Ok(self.cols)
    }

    fn keep(&mut self, keep: BooleanArray) -> Result<(), ArrowError> {
        let kept = RowRuns::from_mask(&keep);
        if kept.rows() == self.rows {
            return Ok(());
        }
        self.flush()?;
        self.rows = kept.rows();
        self.pending = Some(Pending { kept, stale: vec![true; self.cols.len()] });
        self.masks.push(keep);
        Ok(())
    }
}

/// Offending values found by a step with an `error` policy, in one or more batches.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Column -> (count, examples as (row number, text)).
    Cast(BTreeMap<String, (u64, Vec<(u64, String)>)>),
    /// Unmapped value -> rows.
    Unmapped(BTreeMap<Option<String>, u64>),
}

impl Failure {
    /// Adds another batch's offending values (batches arrive in row order).
    pub fn merge(&mut self, other: Failure) {
        match (self, other) {
            (Failure::Cast(a), Failure::Cast(b)) => {
                for (col, (count, examples)) in b {
                    let e = a.entry(col).or_default();
                    e.0 += count;
                    let room = MAX_EXAMPLES.saturating_sub(e.1.len());
                    e.1.extend(examples.into_iter().take(room));
                }
            }
            (Failure::Unmapped(a), Failure::Unmapped(b)) => {
                for (v, n) in b {
                    *a.entry(v).or_default() += n;
                }
            }
            // A step fails in one way only; the driver merges failures of the same step.
            _ => {}
        }
    }
}

/// Per-step counters, merged over batches.
pub(crate) type Counts = BTreeMap<String, u64>;

fn bump(counts: &mut Counts, column: &str, what: &str, n: u64) {
    *counts.entry(format!("{column}.{what}")).or_default() += n;
}

/// Runs `step` on `batch`. `first_row` is the 1-based number of the batch's first input row.
pub(crate) fn run(
    step: &PlannedStep,
    batch: &mut Batch,
    counts: &mut Counts,
    first_row: u64,
) -> Result<Option<Failure>, ArrowError> {
    match &step.op {
        Op::Select(indices) => {
            batch.select(indices);
            Ok(None)
        }
        Op::Cast(cols) => {
            let mut failures = BTreeMap::new();
            let mut drop: Option<Vec<bool>> = None;
            for c in cols {
                let converted = convert(batch.col(c.index)?, c.to)?;
                bump(counts, &c.name, "ok", converted.ok);
                bump(counts, &c.name, "null", converted.was_null);
                let n = converted.failed.len() as u64;
                match c.on_error {
                    OnError::Error => {
                        if n > 0 {
                            let examples = converted
                                .failed
                                .iter()
                                .take(MAX_EXAMPLES)
                                .map(|&i| {
                                    (first_row + batch.origin(i) as u64, value_text(batch.cols[c.index].as_ref(), i))
                                })
                                .collect();
                            failures.insert(c.name.clone(), (n, examples));
                        }
                    }
                    OnError::Null => bump(counts, &c.name, "set_null", n),
                    OnError::Drop => {
                        bump(counts, &c.name, "dropped", n);
                        if n > 0 {
                            let d = drop.get_or_insert_with(|| vec![false; batch.rows]);
                            for &i in &converted.failed {
                                d[i] = true;
                            }
                        }
                    }
                }
                batch.set(c.index, converted.array);
            }
            if !failures.is_empty() {
                return Ok(Some(Failure::Cast(failures)));
            }
            if let Some(d) = drop {
                batch.keep(BooleanArray::from(d.iter().map(|&x| !x).collect::<Vec<bool>>()))?;
            }
            Ok(None)
        }
        Op::Filter { index, pred } => {
            let keep = filter_mask(batch.col(*index)?.as_ref(), pred)?;
            batch.keep(keep)?;
            Ok(None)
        }
        Op::Map(m) => map(m, batch, counts),
        Op::Fill(cols) => {
            for c in cols {
                if let (col, Some(kept)) = batch.raw(c.index)
                    && let Some((filled, nulls)) = fill_kept(col, kept, &c.value)
                {
                    bump(counts, &c.name, "filled", nulls as u64);
                    batch.set(c.index, filled);
                    continue;
                }
                let col = batch.col(c.index)?;
                let nulls = col.null_count();
                bump(counts, &c.name, "filled", nulls as u64);
                if nulls > 0 {
                    let filled = fill(col, &c.value)?;
                    batch.set(c.index, filled);
                }
            }
            Ok(None)
        }
    }
}

/// Replaces nulls with `value` (one element of the column's type). Text and the common numeric
/// types have direct loops; arrow's `zip` takes a generic per-slice path that made filling
/// text columns the slowest step.
fn fill(col: &ArrayRef, value: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    fn primitive<T: ArrowPrimitiveType>(col: &ArrayRef, value: &ArrayRef) -> ArrayRef {
        let a = col.as_primitive::<T>();
        let fill = value.as_primitive::<T>().value(0);
        let mut values = a.values().to_vec();
        for (i, v) in values.iter_mut().enumerate() {
            if a.is_null(i) {
                *v = fill;
            }
        }
        Arc::new(PrimitiveArray::<T>::new(values.into(), None).with_data_type(a.data_type().clone()))
    }
    Ok(match col.data_type() {
        DataType::Utf8 => {
            let fill = value.as_string::<i32>().value(0);
            Arc::new(RowRuns::all(col.len()).gather_utf8(col.as_string::<i32>(), Some(fill))?.0)
        }
        DataType::Int64 => primitive::<Int64Type>(col, value),
        DataType::Int32 => primitive::<Int32Type>(col, value),
        DataType::Float64 => primitive::<Float64Type>(col, value),
        _ => {
            let present = is_not_null(col.as_ref())?;
            arrow::compute::kernels::zip::zip(&present, col, &Scalar::new(value))?
        }
    })
}

/// [`fill`] of the kept rows of `col`, read in place: the column is not copied by the filter
/// first. `None` for types [`fill`] has no direct loop for. Also gives the nulls filled.
fn fill_kept(col: &ArrayRef, kept: &RowRuns, value: &ArrayRef) -> Option<(ArrayRef, usize)> {
    fn primitive<T: ArrowPrimitiveType>(col: &ArrayRef, kept: &RowRuns, value: &ArrayRef) -> (ArrayRef, usize) {
        let a = col.as_primitive::<T>();
        let fill = value.as_primitive::<T>().value(0);
        let mut nulls = 0;
        let values: Vec<T::Native> = kept
            .iter()
            .map(|i| {
                if a.is_valid(i) {
                    a.value(i)
                } else {
                    nulls += 1;
                    fill
                }
            })
            .collect();
        let out = PrimitiveArray::<T>::new(values.into(), None).with_data_type(a.data_type().clone());
        (Arc::new(out), nulls)
    }
    Some(match col.data_type() {
        DataType::Utf8 => {
            let fill = value.as_string::<i32>().value(0);
            let (out, nulls) = kept.gather_utf8(col.as_string::<i32>(), Some(fill)).ok()?;
            (Arc::new(out), nulls)
        }
        DataType::Int64 => primitive::<Int64Type>(col, kept, value),
        DataType::Int32 => primitive::<Int32Type>(col, kept, value),
        DataType::Float64 => primitive::<Float64Type>(col, kept, value),
        _ => return None,
    })
}

/// The rows to keep, with nulls resolved: a null never equals a constant.
fn filter_mask(col: &dyn Array, pred: &Pred) -> Result<BooleanArray, ArrowError> {
    let valid: BooleanBuffer =
        col.logical_nulls().map_or_else(|| BooleanBuffer::new_set(col.len()), |n| n.inner().clone());
    let any_equal = |values: &[ArrayRef]| -> Result<BooleanBuffer, ArrowError> {
        let mut acc = BooleanBuffer::new_unset(col.len());
        for v in values {
            let eq = cmp::eq(&col, &Scalar::new(v))?;
            acc = &acc | eq.values();
        }
        Ok(acc)
    };
    let keep = match pred {
        Pred::Eq(v) => &any_equal(std::slice::from_ref(v))? & &valid,
        Pred::In(vs) => &any_equal(vs)? & &valid,
        Pred::Ne(v) => &!&any_equal(std::slice::from_ref(v))? | &!&valid,
        Pred::NotIn(vs) => &!&any_equal(vs)? | &!&valid,
        Pred::IsNull => !&valid,
        Pred::IsNotNull => valid,
    };
    Ok(BooleanArray::new(keep, None))
}

fn map(m: &MapOp, batch: &mut Batch, counts: &mut Counts) -> Result<Option<Failure>, ArrowError> {
    // A pending filter is read through (only the kept rows are mapped) unless the column
    // needs a cast to text first.
    let (text, rows) = if batch.raw(m.index).0.data_type() == &DataType::Utf8 {
        let (col, kept) = batch.raw(m.index);
        (col.clone(), kept.map(RowRuns::indices))
    } else {
        (cast(batch.col(m.index)?, &DataType::Utf8)?, None)
    };
    let text = text.as_string::<i32>();
    let n = rows.as_ref().map_or(text.len(), Vec::len);
    let mut out = StringBuilder::with_capacity(n, text.values().len());
    let mut unmapped: FxHashMap<Option<&str>, u64> = FxHashMap::default();
    let mut drop: Option<Vec<bool>> = None;
    let mut mapped = 0u64;
    for i in 0..n {
        let row = rows.as_ref().map_or(i, |r| r[i]);
        let value = text.is_valid(row).then(|| text.value(row));
        if let Some(t) = value.and_then(|v| m.find(v.as_bytes())) {
            out.append_value(&m.targets[t as usize]);
            mapped += 1;
            continue;
        }
        *unmapped.entry(value).or_default() += 1;
        match (m.unmapped, value) {
            (Unmapped::Keep, Some(v)) => out.append_value(v),
            (Unmapped::Drop, _) => {
                drop.get_or_insert_with(|| vec![false; n])[i] = true;
                out.append_null();
            }
            _ => out.append_null(),
        }
    }
    let unmapped_rows: u64 = unmapped.values().sum();
    bump(counts, &m.name, "mapped", mapped);
    match m.unmapped {
        Unmapped::Error => {
            if !unmapped.is_empty() {
                let values = unmapped.into_iter().map(|(k, v)| (k.map(str::to_owned), v)).collect();
                return Ok(Some(Failure::Unmapped(values)));
            }
        }
        Unmapped::Keep => bump(counts, &m.name, "kept", unmapped_rows),
        Unmapped::Drop => bump(counts, &m.name, "dropped", unmapped_rows),
    }
    batch.set(m.index, Arc::new(out.finish()));
    if let Some(d) = drop {
        batch.keep(BooleanArray::from(d.iter().map(|&x| !x).collect::<Vec<bool>>()))?;
    }
    Ok(None)
}
