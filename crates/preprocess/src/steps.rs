//! Running one planned step on one batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, Scalar, StringBuilder};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::compute::{FilterBuilder, cast, is_not_null};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Float64Type, Int32Type, Int64Type};
use arrow::error::ArrowError;

use crate::cast::{convert, value_text};
use crate::error::MAX_EXAMPLES;
use crate::fxhash::FxHashMap;
use crate::plan::{MapOp, Op, PlannedStep, Pred};
use crate::{OnError, Unmapped};

/// The columns of one input batch as it moves through the steps.
pub(crate) struct Batch {
    pub cols: Vec<ArrayRef>,
    pub rows: usize,
    /// The keep-masks applied so far, oldest first: they map a row back to its input row.
    masks: Vec<BooleanArray>,
}

impl Batch {
    pub fn new(cols: Vec<ArrayRef>, rows: usize) -> Self {
        Self { cols, rows, masks: Vec::new() }
    }

    /// The position in the original batch of the row now at `pos`.
    pub fn origin(&self, mut pos: usize) -> usize {
        for mask in self.masks.iter().rev() {
            pos = mask.values().set_indices().nth(pos).unwrap_or(pos);
        }
        pos
    }

    fn keep(&mut self, keep: BooleanArray) -> Result<(), ArrowError> {
        let kept = keep.true_count();
        if kept == self.rows {
            return Ok(());
        }
        let filter = FilterBuilder::new(&keep).optimize().build();
        for col in &mut self.cols {
            *col = filter.filter(col.as_ref())?;
        }
        self.rows = kept;
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
            batch.cols = indices.iter().map(|&i| batch.cols[i].clone()).collect();
            Ok(None)
        }
        Op::Cast(cols) => {
            let mut failures = BTreeMap::new();
            let mut drop: Option<Vec<bool>> = None;
            for c in cols {
                let converted = convert(&batch.cols[c.index], c.to)?;
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
                batch.cols[c.index] = converted.array;
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
            let keep = filter_mask(batch.cols[*index].as_ref(), pred)?;
            batch.keep(keep)?;
            Ok(None)
        }
        Op::Map(m) => map(m, batch, counts),
        Op::Fill(cols) => {
            for c in cols {
                let col = &batch.cols[c.index];
                let nulls = col.null_count();
                bump(counts, &c.name, "filled", nulls as u64);
                if nulls > 0 {
                    batch.cols[c.index] = fill(col, &c.value)?;
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
            let text = col.as_string::<i32>();
            let fill = value.as_string::<i32>().value(0);
            let extra = text.null_count() * fill.len();
            let mut out = StringBuilder::with_capacity(text.len(), text.values().len() + extra);
            for i in 0..text.len() {
                out.append_value(if text.is_valid(i) { text.value(i) } else { fill });
            }
            Arc::new(out.finish())
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
    let col = &batch.cols[m.index];
    let text = if col.data_type() == &DataType::Utf8 { col.clone() } else { cast(col, &DataType::Utf8)? };
    let text = text.as_string::<i32>();
    let n = text.len();
    let mut out = StringBuilder::with_capacity(n, text.values().len());
    let mut unmapped: FxHashMap<Option<&str>, u64> = FxHashMap::default();
    let mut drop: Option<Vec<bool>> = None;
    let mut mapped = 0u64;
    for i in 0..n {
        let value = text.is_valid(i).then(|| text.value(i));
        if let Some(t) = value.and_then(|v| m.lookup.get(v)) {
            out.append_value(&m.targets[*t as usize]);
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
    batch.cols[m.index] = Arc::new(out.finish());
    if let Some(d) = drop {
        batch.keep(BooleanArray::from(d.iter().map(|&x| !x).collect::<Vec<bool>>()))?;
    }
    Ok(None)
}
