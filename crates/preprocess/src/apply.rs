//! Running a whole recipe over a table, batch by batch, and the report of what each step did.

use std::collections::BTreeMap;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use serde::Serialize;

use crate::plan::{PlannedStep, compile};
use crate::steps::{self, Batch, Counts, Failure};
use crate::{PreprocessError, Spec};

/// What one step did over the whole table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// 1-based position in the recipe.
    pub step: usize,
    /// `select`, `cast`, `filter`, `map` or `fill`.
    pub kind: &'static str,
    /// Rows entering the step.
    pub rows_in: u64,
    /// Rows leaving the step.
    pub rows_out: u64,
    /// Per-column outcome counts, `<column>.<outcome>`: cast `ok` / `null` (null or blank
    /// before the cast) / `set_null` / `dropped`; map `mapped` / `kept` / `dropped`; fill
    /// `filled`.
    pub counts: BTreeMap<String, u64>,
}

/// What a recipe did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Rows in the input table.
    pub rows_in: u64,
    /// Rows in the output table.
    pub rows_out: u64,
    /// One entry per step, in order.
    pub steps: Vec<StepReport>,
}

impl Report {
    /// The report as flat metrics: `rows_in`, `rows_out`, and per step
    /// `stepNN.<kind>.rows_in`, `stepNN.<kind>.rows_out`, `stepNN.<kind>.<column>.<outcome>`
    /// (NN zero-padded so the names sort in step order).
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::from([("rows_in".to_owned(), self.rows_in), ("rows_out".to_owned(), self.rows_out)]);
        for s in &self.steps {
            let p = format!("step{:02}.{}", s.step, s.kind);
            m.insert(format!("{p}.rows_in"), s.rows_in);
            m.insert(format!("{p}.rows_out"), s.rows_out);
            for (k, v) in &s.counts {
                m.insert(format!("{p}.{k}"), *v);
            }
        }
        m
    }
}

/// The result of [`apply`].
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// The output schema (see [`crate::output_schema`]).
    pub schema: SchemaRef,
    /// The output rows, in input order (batches left empty by filters are omitted).
    pub batches: Vec<RecordBatch>,
    /// Row counts and outcome counts per step.
    pub report: Report,
}

/// Runs the recipe over a table.
///
/// The batches are taken by value so each input batch is released as soon as its output is
/// built: peak memory stays near one copy of the table. Batches are processed one at a time
/// through all steps (cache-friendly); when a step fails on a value, the remaining batches
/// still run up to that step so the error counts and lists offending values from the whole
/// table, as if the steps had run one after another.
pub fn apply(spec: &Spec, schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Preprocessed, PreprocessError> {
    apply_stream(spec, schema, batches.into_iter().map(Ok::<_, PreprocessError>))
}

/// [`apply`] over batches as they arrive (e.g. [`esteira_core::table::ParquetFile::batches`]),
/// so only the output and the batch at hand are held; the first error reading a batch ends it.
pub fn apply_stream<E>(
    spec: &Spec,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, E>>,
) -> Result<Preprocessed, PreprocessError>
where
    PreprocessError: From<E>,
{
    let plan = compile(spec, schema)?;
    let mut reports: Vec<StepReport> = plan
        .steps
        .iter()
        .map(|s| StepReport { step: s.number, kind: s.kind, rows_in: 0, rows_out: 0, counts: Counts::new() })
        .collect();
    let mut out = Vec::new();
    let mut failure: Option<(usize, Failure)> = None;
    let mut rows_in = 0u64;
    for (n, input) in batches.into_iter().enumerate() {
        let input = input?;
        check_batch(n, schema, &input)?;
        let rows = input.num_rows();
        let (_, cols, _) = input.into_parts();
        let mut batch = Batch::new(cols, rows);
        let limit = failure.as_ref().map_or(plan.steps.len(), |(i, _)| i + 1);
        let mut failed_here = None;
        for (i, step) in plan.steps[..limit].iter().enumerate() {
            let report = &mut reports[i];
            report.rows_in += batch.rows as u64;
            let result =
                steps::run(step, &mut batch, &mut report.counts, rows_in + 1).map_err(|e| arrow_error(step, e))?;
            if let Some(f) = result {
                failed_here = Some((i, f));
                break;
            }
            report.rows_out += batch.rows as u64;
        }
        rows_in += rows as u64;
        match (failed_here, &mut failure) {
            (Some((i, f)), Some((j, acc))) if i == *j => acc.merge(f),
            (Some(f), _) => {
                failure = Some(f);
                out.clear();
            }
            (None, None) if batch.rows > 0 => {
                let options = RecordBatchOptions::new().with_row_count(Some(batch.rows));
                let last = &plan.steps[plan.steps.len() - 1];
                let cols = batch.into_cols().map_err(|e| arrow_error(last, e))?;
                let rb = RecordBatch::try_new_with_options(plan.schema.clone(), cols, &options)
                    .map_err(|e| arrow_error(&plan.steps[plan.steps.len() - 1], e))?;
                out.push(rb);
            }
            (None, _) => {}
        }
    }
    if let Some((i, f)) = failure {
        let step = &plan.steps[i];
        tracing::debug!(step = step.number, kind = step.kind, "preprocess step failed on values");
        return Err(failure_error(step, f));
    }
    let rows_out = out.iter().map(|b| b.num_rows() as u64).sum();
    let report = Report { rows_in, rows_out, steps: reports };
    tracing::debug!(rows_in, rows_out, steps = plan.steps.len(), "preprocessed");
    Ok(Preprocessed { schema: plan.schema, batches: out, report })
}

fn check_batch(n: usize, schema: &SchemaRef, batch: &RecordBatch) -> Result<(), PreprocessError> {
    let mismatch = |message: String| Err(PreprocessError::BatchSchema { batch: n, message });
    if batch.num_columns() != schema.fields().len() {
        return mismatch(format!("{} columns, the schema has {}", batch.num_columns(), schema.fields().len()));
    }
    for (col, field) in batch.columns().iter().zip(schema.fields()) {
        if col.data_type() != field.data_type() {
            return mismatch(format!(
                "column `{}` is {}, the schema says {}",
                field.name(),
                col.data_type(),
                field.data_type()
            ));
        }
    }
    Ok(())
}

fn arrow_error(step: &PlannedStep, source: arrow::error::ArrowError) -> PreprocessError {
    PreprocessError::Arrow { step: step.number, kind: step.kind, source }
}

fn failure_error(step: &PlannedStep, failure: Failure) -> PreprocessError {
    match failure {
        Failure::Cast(cols) => {
            // The first failing column in the step's (sorted) column order.
            let (column, (count, examples)) = cols.into_iter().next().unwrap_or_default();
            let to = match &step.op {
                crate::plan::Op::Cast(cs) => cs.iter().find(|c| c.name == column).map(|c| c.to),
                _ => None,
            };
            PreprocessError::Cast {
                step: step.number,
                column,
                to: to.unwrap_or(crate::CastType::Utf8),
                count,
                examples,
            }
        }
        Failure::Unmapped(values) => {
            let mut values: Vec<(Option<String>, u64)> = values.into_iter().collect();
            // Most frequent first; ties in value order (null first) so the text is deterministic.
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let column = match &step.op {
                crate::plan::Op::Map(m) => m.name.clone(),
                _ => String::new(),
            };
            PreprocessError::Unmapped { step: step.number, column, values }
        }
    }
}
