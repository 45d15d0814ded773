//! Evaluating a suite on Arrow record batches.

use std::cell::OnceCell;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use serde_json::{Map, Value, json};

use crate::column::{ColData, Column, Sorted};
use crate::expectation::{Bounds, Expectation, IgnoreRowIf, Interp, MapKind, Stat};
use crate::profile::{ColumnProfile, column_profile};
use crate::result::{ExceptionInfo, ExpectationResult, ValidationResult};
use crate::scalar::{FxHashMap, RowRef, Scalar, ScalarSet, json_f64, within};
use crate::suite::Suite;
use crate::types::{type_matches, type_name};

/// How many unexpected values GE's SUMMARY result format lists.
pub const PARTIAL_UNEXPECTED: usize = 20;

/// Validates `batches` against `suite`. The schema is taken from the first batch; with no
/// batches the table has no columns (use [`validate_table`] to keep the schema of an empty
/// table).
pub fn validate(batches: &[RecordBatch], suite: &Suite) -> ValidationResult {
    let schema = batches.first().map_or_else(|| Arc::new(Schema::empty()), RecordBatch::schema);
    validate_table(&schema, batches, suite)
}

/// Validates a table given as a schema and its batches. Never fails: an expectation that
/// cannot be evaluated (missing column, wrong type, malformed kwargs) is a failed result with
/// `exception_info`.
pub fn validate_table(schema: &SchemaRef, batches: &[RecordBatch], suite: &Suite) -> ValidationResult {
    check_table(&TableData::from_batches(schema, batches), suite, Profiled::No).0
}

/// [`validate_table`] and [`crate::profile_columns`] of the columns the suite names (all columns
/// when it names none), sharing the work: each column is normalised and counted once, the
/// columns in parallel.
pub fn validate_and_profile(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    suite: &Suite,
) -> (ValidationResult, Vec<ColumnProfile>) {
    let data = TableData::from_batches(schema, batches);
    let names = profiled_names(suite);
    check_table(&data, suite, Profiled::of(names.as_deref()))
}

/// [`validate_and_profile`] of a Parquet file, reading only the columns the suite and its profile
/// need.
pub(crate) fn validate_parquet(
    path: &std::path::Path,
    suite: &Suite,
) -> Result<(ValidationResult, Vec<ColumnProfile>), crate::CheckError> {
    let names = profiled_names(suite);
    let parsed = parse_all(suite);
    let data = crate::input::read_parquet_columns(path, |schema| {
        columns_needed(schema, &parsed, Profiled::of(names.as_deref())).0
    })?;
    Ok(check_parsed(&data, suite, parsed, Profiled::of(names.as_deref())))
}

/// Which columns a check profiles for its report.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Profiled<'a> {
    /// None: validation only.
    No,
    /// Every column.
    All,
    /// These.
    Named(&'a [String]),
}

impl<'a> Profiled<'a> {
    /// The named columns, or all when `None` ([`profiled_names`]).
    fn of(names: Option<&'a [String]>) -> Self {
        names.map_or(Self::All, Self::Named)
    }

    fn includes(self, name: &str) -> bool {
        match self {
            Self::No => false,
            Self::All => true,
            Self::Named(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The columns a suite's report profiles: those its expectations name (`kwargs.column`), or
/// `None` (all) when it names none.
pub(crate) fn profiled_names(suite: &Suite) -> Option<Vec<String>> {
    let mut named: Vec<String> = suite.expectations.iter().filter_map(|e| e.column().map(str::to_owned)).collect();
    named.sort();
    named.dedup();
    (!named.is_empty()).then_some(named)
}

/// A table to validate: its schema, its row count and each column's arrays (one per chunk);
/// `None` for a column that was not read because nothing needs its values.
pub(crate) struct TableData {
    pub schema: SchemaRef,
    pub rows: usize,
    pub columns: Vec<Option<Vec<ArrayRef>>>,
}

impl TableData {
    fn index_of(&self, name: &str) -> Result<usize, String> {
        self.schema.index_of(name).map_err(|_| {
            let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
            format!("column {name:?} does not exist (table columns: {})", names.join(", "))
        })
    }

    /// The arrays of column `i` (an error if they were not read: a bug in choosing columns).
    fn arrays(&self, i: usize) -> Result<&[ArrayRef], String> {
        self.columns[i]
            .as_deref()
            .ok_or_else(|| format!("internal error: column {:?} was not read", self.schema.field(i).name()))
    }

    pub(crate) fn from_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Self {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let columns = (0..schema.fields().len())
            .map(|i| Some(batches.iter().map(|b| Arc::clone(b.column(i))).collect()))
            .collect();
        Self { schema: Arc::clone(schema), rows, columns }
    }
}

/// Which columns checking `suite` reads the values of (by schema position), and of those which
/// go through a normalised [`Column`] (to prepare ahead), when profiling `profiled`.
pub(crate) fn columns_needed(
    schema: &SchemaRef,
    parsed: &[Result<Expectation, String>],
    profiled: Profiled<'_>,
) -> (Vec<usize>, Vec<usize>) {
    let mut read = std::collections::BTreeSet::new();
    let mut normalised = std::collections::BTreeSet::new();
    for exp in parsed.iter().flatten() {
        let (column, raw) = exp.reads();
        if let Some(i) = column.and_then(|c| schema.index_of(c).ok()) {
            read.insert(i);
            normalised.insert(i);
        }
        read.extend(raw.iter().filter_map(|c| schema.index_of(c).ok()));
    }
    for (i, f) in schema.fields().iter().enumerate() {
        if profiled.includes(f.name()) {
            read.insert(i);
            normalised.insert(i);
        }
    }
    (read.into_iter().collect(), normalised.into_iter().collect())
}

/// Parses every expectation of a suite once (`Err` is the message of a failed result).
pub(crate) fn parse_all(suite: &Suite) -> Vec<Result<Expectation, String>> {
    suite.expectations.iter().map(|c| Expectation::parse(c).map_err(|e| format!("invalid expectation: {e}"))).collect()
}

/// Validates `data` against `suite` and profiles the columns `profiled` selects (see
/// [`columns_needed`]); the normalised columns are prepared first, in parallel.
pub(crate) fn check_table(
    data: &TableData,
    suite: &Suite,
    profiled: Profiled<'_>,
) -> (ValidationResult, Vec<ColumnProfile>) {
    check_parsed(data, suite, parse_all(suite), profiled)
}

/// [`check_table`] with the suite's expectations already parsed ([`parse_all`]).
fn check_parsed(
    data: &TableData,
    suite: &Suite,
    parsed: Vec<Result<Expectation, String>>,
    profiled: Profiled<'_>,
) -> (ValidationResult, Vec<ColumnProfile>) {
    let (_, normalised) = columns_needed(&data.schema, &parsed, profiled);
    let table = Table::new(data);
    let mut early = table.prepare(&normalised, &parsed);
    let results: Vec<ExpectationResult> = suite
        .expectations
        .iter()
        .zip(parsed)
        .enumerate()
        .map(|(index, (config, parsed))| {
            let outcome = parsed.and_then(|exp| early[index].take().unwrap_or_else(|| table.evaluate(&exp)));
            let result = match outcome {
                Ok((success, result)) => ExpectationResult {
                    exception_info: ExceptionInfo::default(),
                    expectation_config: config.clone(),
                    meta: Map::new(),
                    result,
                    success,
                },
                Err(message) => ExpectationResult {
                    exception_info: ExceptionInfo::raised(message),
                    expectation_config: config.clone(),
                    meta: Map::new(),
                    result: Map::new(),
                    success: false,
                },
            };
            if !result.success {
                tracing::debug!(expectation = %result.label(index), "expectation failed");
            }
            result
        })
        .collect();
    let profiles = data
        .schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| profiled.includes(f.name()))
        .filter_map(|(i, f)| table.column_at(i).ok().map(|c| column_profile(f.name(), c)))
        .collect();
    let result =
        ValidationResult::from_results(&suite.expectation_suite_name, data.rows, data.schema.fields().len(), results);
    (result, profiles)
}

type Outcome = Result<(bool, Map<String, Value>), String>;

/// Below this many cells (rows times columns), columns are read and prepared on the calling
/// thread.
const PARALLEL_CELLS: usize = 200_000;

/// `f` of every index, on as many threads as there are cores (at most one per index) when there
/// is enough work (`rows` per index); in the order of `indices`. A panic in `f` is resumed on
/// the calling thread.
pub(crate) fn parallel_map<T: Send>(indices: &[usize], rows: usize, f: impl Fn(usize) -> T + Sync) -> Vec<(usize, T)> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(indices.len());
    if threads <= 1 || indices.len().saturating_mul(rows) < PARALLEL_CELLS {
        return indices.iter().map(|&i| (i, f(i))).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, usize, T)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = indices.get(k) else { break };
                        out.push((k, i, f(i)));
                    }
                    out
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    done.sort_unstable_by_key(|(k, _, _)| *k);
    done.into_iter().map(|(_, i, t)| (i, t)).collect()
}

/// The table being validated: columns are normalised lazily (or ahead, by [`Table::prepare`]),
/// only those a suite names.
struct Table<'a> {
    data: &'a TableData,
    schema: &'a SchemaRef,
    rows: usize,
    columns: Vec<OnceCell<Column>>,
}

fn observed(v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("observed_value".into(), v);
    m
}

/// The chunk holding `row` of a column given as chunks, and the row within it.
fn locate(chunks: &[ArrayRef], mut row: usize) -> Option<(&ArrayRef, usize)> {
    for c in chunks {
        if row < c.len() {
            return Some((c, row));
        }
        row -= c.len();
    }
    None
}

impl<'a> Table<'a> {
    fn new(data: &'a TableData) -> Self {
        let columns = (0..data.schema.fields().len()).map(|_| OnceCell::new()).collect();
        Self { data, schema: &data.schema, rows: data.rows, columns }
    }

    /// The expensive work, on several threads when the table is large: normalises and prepares
    /// ([`Column::prepare`]) these columns, and evaluates the compound uniqueness expectations
    /// among `parsed` (their outcomes are returned, by expectation index). A text column that a
    /// compound check compares is turned into value ids once, for both. Each result depends on
    /// the values only, never on the threads.
    fn prepare(&self, indices: &[usize], parsed: &[Result<Expectation, String>]) -> Vec<Option<Outcome>> {
        enum Task<'e> {
            Compound(usize, &'e [String], Option<f64>, IgnoreRowIf),
            Column(usize),
        }
        enum Done {
            Compound(usize, Outcome),
            Column(usize, Column),
        }
        let data = self.data;
        // The compound checks first: they are the longest.
        let mut tasks: Vec<Task<'_>> = parsed
            .iter()
            .enumerate()
            .filter_map(|(k, e)| match e {
                Ok(Expectation::CompoundUnique { columns, mostly, ignore }) => {
                    Some(Task::Compound(k, columns, *mostly, *ignore))
                }
                _ => None,
            })
            .collect();
        let compared: std::collections::BTreeSet<usize> = tasks
            .iter()
            .flat_map(|t| match t {
                Task::Compound(_, columns, ..) => columns.iter().filter_map(|c| data.schema.index_of(c).ok()).collect(),
                Task::Column(_) => Vec::new(),
            })
            .collect();
        tasks.extend(
            indices
                .iter()
                .copied()
                .filter(|&i| self.columns[i].get().is_none() && self.arrays(i).is_ok())
                .map(Task::Column),
        );
        let ids: Vec<std::sync::OnceLock<Option<crate::column::TextIds<'_>>>> =
            (0..data.columns.len()).map(|_| std::sync::OnceLock::new()).collect();
        let text_ids = |i: usize| -> Option<&crate::column::TextIds<'_>> {
            ids[i].get_or_init(|| data.columns[i].as_deref().and_then(crate::column::text_ids)).as_ref()
        };
        let order: Vec<usize> = (0..tasks.len()).collect();
        let done = parallel_map(&order, self.rows, |t| match tasks[t] {
            Task::Compound(k, columns, mostly, ignore) => Done::Compound(
                k,
                compound_unique(data, columns, mostly, ignore, &|i| text_ids(i).map(|t| t.ids.as_slice())),
            ),
            Task::Column(i) => {
                let column =
                    Column::new(data.schema.field(i).data_type(), data.columns[i].as_deref().unwrap_or_default());
                if compared.contains(&i)
                    && let Some(t) = text_ids(i)
                {
                    column.set_counts(t.counts());
                }
                column.prepare();
                Done::Column(i, column)
            }
        });
        let mut early: Vec<Option<Outcome>> = vec![None; parsed.len()];
        for (_, d) in done {
            match d {
                Done::Compound(k, outcome) => early[k] = Some(outcome),
                Done::Column(i, column) => {
                    let _ = self.columns[i].set(column);
                }
            }
        }
        early
    }

    fn index_of(&self, name: &str) -> Result<usize, String> {
        self.data.index_of(name)
    }

    fn arrays(&self, i: usize) -> Result<&'a [ArrayRef], String> {
        self.data.arrays(i)
    }

    fn column(&self, name: &str) -> Result<&Column, String> {
        self.column_at(self.index_of(name)?)
    }

    fn column_at(&self, i: usize) -> Result<&Column, String> {
        if let Some(c) = self.columns[i].get() {
            return Ok(c);
        }
        let arrays = self.arrays(i)?;
        Ok(self.columns[i].get_or_init(|| Column::new(self.schema.field(i).data_type(), arrays)))
    }

    fn column_names(&self) -> Vec<String> {
        self.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    fn evaluate(&self, exp: &Expectation) -> Outcome {
        match exp {
            Expectation::ColumnsOrdered(expected) => {
                let actual = self.column_names();
                let success = &actual == expected;
                let mut result = observed(json!(actual));
                if !success {
                    let n = actual.len().max(expected.len());
                    let mismatched: Vec<Value> = (0..n)
                        .filter(|&i| actual.get(i) != expected.get(i))
                        .map(|i| json!({"Expected Column Position": i, "Expected": expected.get(i), "Found": actual.get(i)}))
                        .collect();
                    result.insert("details".into(), json!({ "mismatched": mismatched }));
                }
                Ok((success, result))
            }
            Expectation::ColumnsSet { set, exact } => {
                let actual = self.column_names();
                let mut missing: Vec<&String> = set.iter().filter(|c| !actual.contains(c)).collect();
                let mut unexpected: Vec<&String> = actual.iter().filter(|c| !set.contains(c)).collect();
                missing.sort();
                missing.dedup();
                unexpected.sort();
                let success = missing.is_empty() && (!exact || unexpected.is_empty());
                let mut result = observed(json!(actual));
                if !missing.is_empty() || !unexpected.is_empty() {
                    result.insert(
                        "details".into(),
                        json!({"mismatched": {"missing": missing, "unexpected": unexpected}}),
                    );
                }
                Ok((success, result))
            }
            Expectation::RowCount(b) => {
                let success = bounds_ok(RowRef::Int(self.rows as i64), b)?;
                Ok((success, observed(json!(self.rows))))
            }
            Expectation::ColumnExists { column, index } => {
                let position = self.schema.index_of(column).ok();
                let success = match (position, index) {
                    (Some(p), Some(i)) => p as u64 == *i as u64,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                Ok((success, Map::new()))
            }
            Expectation::Map { column, mostly, kind } => {
                self.eval_map(self.index_of(column)?, self.column(column)?, kind, *mostly)
            }
            Expectation::Aggregate { column, stat, bounds } => eval_aggregate(self.column(column)?, *stat, bounds),
            Expectation::Quantiles { column, quantiles, ranges, interp } => {
                eval_quantiles(self.column(column)?, quantiles, ranges, *interp)
            }
            Expectation::DistinctInSet { column, set } => {
                let counts = self.column(column)?.counts()?;
                let success = match set {
                    None => true,
                    Some(values) => {
                        let set = ScalarSet::from_json(values);
                        counts.iter().all(|(v, _)| set.contains(v.as_ref()))
                    }
                };
                let mut result = observed(Value::Array(counts.iter().map(|(v, _)| v.to_json()).collect()));
                let value_counts: Vec<Value> =
                    counts.iter().map(|(v, c)| json!({"value": v.to_json(), "count": c})).collect();
                result.insert("details".into(), json!({ "value_counts": value_counts }));
                Ok((success, result))
            }
            Expectation::MostCommonInSet { column, set, ties_okay } => {
                let counts = self.column(column)?.counts()?;
                let top = counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
                let modes: Vec<&Scalar> = counts.iter().filter(|(_, c)| *c == top && top > 0).map(|(v, _)| v).collect();
                let set = ScalarSet::from_json(set);
                let hits = modes.iter().filter(|m| set.contains(m.as_ref())).count();
                let success = if *ties_okay { hits > 0 } else { modes.len() == 1 && hits == 1 };
                Ok((success, observed(Value::Array(modes.iter().map(|m| m.to_json()).collect()))))
            }
            Expectation::Types { column, types } => {
                // The schema's type: what a normalised column reports, without reading values.
                let data_type = self.schema.field(self.index_of(column)?).data_type().clone();
                let success = types.as_ref().is_none_or(|list| list.iter().any(|t| type_matches(&data_type, t)));
                Ok((success, observed(Value::String(type_name(&data_type)))))
            }
            Expectation::CompoundUnique { columns, mostly, ignore } => {
                let ids: Vec<Option<crate::column::TextIds<'_>>> = (0..self.data.columns.len())
                    .map(|i| {
                        let compared = columns.iter().any(|c| self.schema.index_of(c).ok() == Some(i));
                        if compared { self.data.columns[i].as_deref().and_then(crate::column::text_ids) } else { None }
                    })
                    .collect();
                compound_unique(self.data, columns, *mostly, *ignore, &|i| ids[i].as_ref().map(|t| t.ids.as_slice()))
            }
        }
    }

    fn eval_map(&self, index: usize, col: &Column, kind: &MapKind, mostly: Option<f64>) -> Outcome {
        let element_count = col.len;
        match kind {
            MapKind::NotNull => {
                let missing = col.missing();
                let list = vec![Value::Null; missing.min(PARTIAL_UNEXPECTED)];
                let counts = if missing > 0 { vec![json!({"value": null, "count": missing})] } else { vec![] };
                let success = mostly_success(element_count, missing, mostly);
                Ok((success, map_result(element_count, None, missing, list, counts)))
            }
            MapKind::Null => {
                let present = col.nonmissing();
                let mut list = Vec::new();
                if let ColData::Other(_) = col.data {
                    for (row, ok) in col.validity().into_iter().enumerate() {
                        if list.len() == PARTIAL_UNEXPECTED {
                            break;
                        }
                        if ok {
                            list.push(self.value_at_row(index, row));
                        }
                    }
                } else {
                    col.scan(|_, v| {
                        if let Some(v) = v {
                            list.push(v.to_json());
                        }
                        list.len() < PARTIAL_UNEXPECTED
                    });
                }
                let counts = match col.counts() {
                    Ok(c) => top_counts(c.iter().map(|(v, n)| (v, *n))),
                    Err(_) => vec![],
                };
                let success = mostly_success(element_count, present, mostly);
                Ok((success, map_result(element_count, None, present, list, counts)))
            }
            _ => {
                let counts = col.counts()?;
                let mut unexpected: Vec<(&Scalar, u64)> = Vec::new();
                let mut test = |pred: &dyn Fn(&Scalar) -> Result<bool, String>| -> Result<(), String> {
                    for (v, c) in counts {
                        if !pred(v)? {
                            unexpected.push((v, *c));
                        }
                    }
                    Ok(())
                };
                match kind {
                    MapKind::InSet(values) => {
                        let set = ScalarSet::from_json(values);
                        test(&|v| Ok(set.contains(v.as_ref())))?;
                    }
                    MapKind::NotInSet(values) => {
                        let set = ScalarSet::from_json(values);
                        test(&|v| Ok(!set.contains(v.as_ref())))?;
                    }
                    MapKind::Between(b) => test(&|v| bounds_ok(v.as_ref(), b))?,
                    MapKind::Unique => {
                        for (v, c) in counts {
                            if *c > 1 {
                                unexpected.push((v, *c));
                            }
                        }
                    }
                    MapKind::Regex(re) => test(&|v| Ok(re.is_match(&python_str(v))))?,
                    MapKind::Lengths { min, max, strict_min, strict_max } => {
                        if !matches!(col.data, ColData::Str(_)) {
                            return Err(format!(
                                "value lengths need a string column, this one is {}",
                                type_name(&col.data_type)
                            ));
                        }
                        let (min, max) = (min.map(|m| json!(m)), max.map(|m| json!(m)));
                        test(&|v| {
                            let Scalar::Str(s) = v else { return Ok(false) };
                            within(
                                RowRef::Int(s.chars().count() as i64),
                                min.as_ref(),
                                max.as_ref(),
                                *strict_min,
                                *strict_max,
                            )
                        })?;
                    }
                    MapKind::NotNull | MapKind::Null => {}
                }
                let unexpected_count: u64 = unexpected.iter().map(|(_, c)| c).sum();
                let mut list = Vec::new();
                if unexpected_count > 0 {
                    let set = ScalarSet::from_scalars(unexpected.iter().map(|(v, _)| *v));
                    col.scan(|_, v| {
                        if let Some(v) = v
                            && set.contains(v)
                        {
                            list.push(v.to_json());
                        }
                        list.len() < PARTIAL_UNEXPECTED
                    });
                }
                let nonmissing = col.nonmissing();
                let success = mostly_success(nonmissing, unexpected_count as usize, mostly);
                let partial_counts = top_counts(unexpected.iter().copied());
                Ok((
                    success,
                    map_result(element_count, Some(nonmissing), unexpected_count as usize, list, partial_counts),
                ))
            }
        }
    }

    /// One cell as JSON, for values of types without a normalised form.
    fn value_at_row(&self, index: usize, row: usize) -> Value {
        self.arrays(index).ok().and_then(|chunks| locate(chunks, row)).map_or(Value::Null, |(a, r)| cell_json(a, r))
    }
}

/// `expect_compound_columns_to_be_unique` (needs no normalised column: it can run beside
/// [`Table::prepare`]).
///
/// `text_ids(i)` gives column `i` as value ids when it is a text column
/// ([`crate::column::text_ids`]).
fn compound_unique<'d>(
    data: &TableData,
    columns: &[String],
    mostly: Option<f64>,
    ignore: IgnoreRowIf,
    text_ids: &dyn Fn(usize) -> Option<&'d [u32]>,
) -> Outcome {
    let indices: Vec<usize> = columns.iter().map(|c| data.index_of(c)).collect::<Result<_, _>>()?;
    let chunked: Vec<&[ArrayRef]> = indices.iter().map(|&i| data.arrays(i)).collect::<Result<_, _>>()?;
    let considered_if = |missing: usize| match ignore {
        IgnoreRowIf::AllMissing => missing < columns.len(),
        IgnoreRowIf::AnyMissing => missing == 0,
        IgnoreRowIf::Never => true,
    };
    // Text columns (up to four) are compared by value ids, anything else by arrow's row
    // encoding: the same groups either way (equal values, and missing equals missing).
    let ids: Option<Vec<&[u32]>> =
        if columns.len() <= 4 { indices.iter().map(|&i| text_ids(i)).collect() } else { None };
    let (dups, list) = match ids {
        Some(ids) => {
            let considered: Vec<bool> = (0..data.rows)
                .map(|r| considered_if(ids.iter().filter(|c| c.get(r).is_none_or(|&id| id == MISSING_ID)).count()))
                .collect();
            let key =
                |r: usize| ids.iter().fold(0u128, |k, c| k << 32 | u128::from(c.get(r).copied().unwrap_or(MISSING_ID)));
            duplicate_rows(|| (0..data.rows).map(key), &considered)
        }
        None => {
            let encoded = encode_rows(&chunked, &indices, &data.schema)?;
            let mut considered: Vec<bool> = Vec::with_capacity(data.rows);
            for (arrays, _) in &encoded {
                // A dictionary's missing values may hide behind its values' nulls too.
                let nulls: Vec<Option<arrow::buffer::NullBuffer>> = arrays
                    .iter()
                    .map(|a| {
                        if matches!(a.data_type(), DataType::Dictionary(..)) {
                            a.logical_nulls()
                        } else {
                            a.nulls().cloned()
                        }
                    })
                    .collect();
                for r in 0..arrays.first().map_or(0, Array::len) {
                    considered
                        .push(considered_if(nulls.iter().filter(|n| n.as_ref().is_some_and(|n| n.is_null(r))).count()));
                }
            }
            duplicate_rows(
                || encoded.iter().flat_map(|(_, rows)| (0..rows.num_rows()).map(move |r| rows.row(r).data())),
                &considered,
            )
        }
    };
    let ignored = dups.ignored;
    let mut dup_groups = dups.groups;
    let unexpected_count: u64 = dup_groups.iter().map(|(c, _)| c).sum();
    let row_json = |row: usize| -> Value {
        let mut m = Map::new();
        for (name, c) in columns.iter().zip(&chunked) {
            m.insert(name.clone(), locate(c, row).map_or(Value::Null, |(a, r)| cell_json(a, r)));
        }
        Value::Object(m)
    };
    let list: Vec<Value> = list.into_iter().map(row_json).collect();
    dup_groups.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let partial_counts: Vec<Value> = dup_groups
        .iter()
        .take(PARTIAL_UNEXPECTED)
        .map(|(c, first)| json!({"value": row_json(*first), "count": c}))
        .collect();
    let considered = data.rows - ignored;
    let success = mostly_success(considered, unexpected_count as usize, mostly);
    Ok((success, map_result(data.rows, Some(considered), unexpected_count as usize, list, partial_counts)))
}

use crate::column::MISSING_TEXT as MISSING_ID;

/// What grouping rows by key found: each repeated key's count and first row, and how many rows
/// were not considered.
struct Duplicates {
    groups: Vec<(u64, usize)>,
    ignored: usize,
}

/// Groups the considered rows by their keys (`keys()` yields one per row, in order; called
/// twice). Returns the repeated keys and the first [`PARTIAL_UNEXPECTED`] rows holding one.
fn duplicate_rows<K, I>(keys: impl Fn() -> I, considered: &[bool]) -> (Duplicates, Vec<usize>)
where
    K: std::hash::Hash + Eq,
    I: Iterator<Item = K>,
{
    let mut groups: FxHashMap<K, (u64, usize)> = FxHashMap::default();
    groups.reserve(considered.len().min(1 << 24));
    for (row, key) in keys().enumerate() {
        if considered.get(row).copied().unwrap_or(false) {
            groups.entry(key).or_insert((0, row)).0 += 1;
        }
    }
    let mut list = Vec::new();
    if groups.values().any(|(c, _)| *c > 1) {
        for (row, key) in keys().enumerate() {
            if list.len() == PARTIAL_UNEXPECTED {
                break;
            }
            if considered.get(row).copied().unwrap_or(false) && groups.get(&key).is_some_and(|(c, _)| *c > 1) {
                list.push(row);
            }
        }
    }
    let ignored = considered.iter().filter(|c| !**c).count();
    let dups = groups.into_values().filter(|(c, _)| *c > 1).collect();
    (Duplicates { groups: dups, ignored }, list)
}

/// The columns' chunks, lined up (each column made one array when their chunks differ), with
/// arrow's row encoding of each chunk.
fn encode_rows(
    chunked: &[&[ArrayRef]],
    indices: &[usize],
    schema: &SchemaRef,
) -> Result<Vec<(Vec<ArrayRef>, arrow::row::Rows)>, String> {
    let cannot = |e: arrow::error::ArrowError| format!("cannot compare rows: {e}");
    let mut lined: Vec<Vec<ArrayRef>> = chunked.iter().map(|c| c.to_vec()).collect();
    let lengths = |c: &[ArrayRef]| c.iter().map(Array::len).collect::<Vec<_>>();
    if lined.iter().any(|c| lengths(c) != lengths(&lined[0])) {
        for c in &mut lined {
            let parts: Vec<&dyn Array> = c.iter().map(AsRef::as_ref).collect();
            *c = vec![arrow::compute::concat(&parts).map_err(cannot)?];
        }
    }
    let fields: Vec<arrow::row::SortField> = lined
        .iter()
        .zip(indices)
        .map(|(c, &i)| {
            let t = c.first().map_or_else(|| schema.field(i).data_type().clone(), |a| a.data_type().clone());
            arrow::row::SortField::new(t)
        })
        .collect();
    let converter = arrow::row::RowConverter::new(fields).map_err(cannot)?;
    let chunks = lined.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(chunks);
    for k in 0..chunks {
        let arrays: Vec<ArrayRef> = lined.iter().map(|c| Arc::clone(&c[k])).collect();
        let rows = converter.convert_columns(&arrays).map_err(cannot)?;
        out.push((arrays, rows));
    }
    Ok(out)
}

fn bounds_ok(v: RowRef<'_>, b: &Bounds) -> Result<bool, String> {
    within(v, b.min.as_ref(), b.max.as_ref(), b.strict_min, b.strict_max)
}

/// GE's `mostly`: the share of considered rows that are expected must reach `mostly`; with no
/// `mostly`, no row may be unexpected; with nothing to consider, the expectation holds.
fn mostly_success(considered: usize, unexpected: usize, mostly: Option<f64>) -> bool {
    if considered == 0 {
        return true;
    }
    match mostly {
        None => unexpected == 0,
        Some(m) => (considered - unexpected) as f64 / considered as f64 >= m,
    }
}

/// Up to 20 `{value, count}` entries, most frequent first, ties by value (GE's order).
fn top_counts<'s>(items: impl Iterator<Item = (&'s Scalar, u64)>) -> Vec<Value> {
    let mut v: Vec<(&Scalar, u64)> = items.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.total_cmp(b.0)));
    v.into_iter().take(PARTIAL_UNEXPECTED).map(|(s, c)| json!({"value": s.to_json(), "count": c})).collect()
}

fn percent(part: usize, whole: usize) -> Value {
    if whole == 0 { Value::Null } else { json_f64(part as f64 / whole as f64 * 100.0) }
}

/// GE's SUMMARY result of a column map expectation. `nonmissing` is `None` for the null
/// expectations, which consider every row (GE then omits the missing counts).
fn map_result(
    element_count: usize,
    nonmissing: Option<usize>,
    unexpected: usize,
    list: Vec<Value>,
    counts: Vec<Value>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("element_count".into(), json!(element_count));
    m.insert("unexpected_count".into(), json!(unexpected));
    let total = percent(unexpected, element_count);
    match nonmissing {
        Some(nonmissing) => {
            let missing = element_count - nonmissing;
            m.insert("missing_count".into(), json!(missing));
            m.insert("missing_percent".into(), percent(missing, element_count));
            let nonmissing_pct = if element_count == 0 { Value::Null } else { percent(unexpected, nonmissing) };
            m.insert("unexpected_percent".into(), nonmissing_pct.clone());
            m.insert("unexpected_percent_nonmissing".into(), nonmissing_pct);
            m.insert("unexpected_percent_total".into(), total);
        }
        None => {
            m.insert("unexpected_percent".into(), total);
        }
    }
    m.insert("partial_unexpected_list".into(), Value::Array(list));
    m.insert("partial_unexpected_counts".into(), Value::Array(counts));
    m
}

/// How Python's `str()` renders a value (GE casts to str before matching a regex).
fn python_str(v: &Scalar) -> std::borrow::Cow<'_, str> {
    match v {
        Scalar::Str(s) => std::borrow::Cow::Borrowed(s),
        Scalar::Int(i) => i.to_string().into(),
        Scalar::Bool(b) => if *b { "True" } else { "False" }.into(),
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}").into(),
        Scalar::Float(f) => format!("{f}").into(),
    }
}

/// One cell of any array as JSON (numbers, booleans and strings natively, others as text).
pub(crate) fn cell_json(array: &ArrayRef, row: usize) -> Value {
    use arrow::datatypes as t;
    if array.is_null(row) {
        return Value::Null;
    }
    macro_rules! prim {
        ($t:ty) => {
            json!(array.as_primitive::<$t>().value(row))
        };
    }
    match array.data_type() {
        DataType::Int8 => prim!(t::Int8Type),
        DataType::Int16 => prim!(t::Int16Type),
        DataType::Int32 => prim!(t::Int32Type),
        DataType::Int64 => prim!(t::Int64Type),
        DataType::UInt8 => prim!(t::UInt8Type),
        DataType::UInt16 => prim!(t::UInt16Type),
        DataType::UInt32 => prim!(t::UInt32Type),
        DataType::UInt64 => prim!(t::UInt64Type),
        DataType::Float32 => json_f64(f64::from(array.as_primitive::<t::Float32Type>().value(row))),
        DataType::Float64 => json_f64(array.as_primitive::<t::Float64Type>().value(row)),
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => json!(array.as_string::<i64>().value(row)),
        DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
            // A text column read as a dictionary: the value its key names.
            let d = array.as_dictionary::<t::Int32Type>();
            let values = d.values().as_string::<i32>();
            usize::try_from(d.keys().value(row))
                .ok()
                .filter(|&k| k < values.len() && values.is_valid(k))
                .map_or(Value::Null, |k| json!(values.value(k)))
        }
        _ => arrow::util::display::array_value_to_string(array, row).map_or(Value::Null, Value::String),
    }
}

fn eval_aggregate(col: &Column, stat: Stat, bounds: &Bounds) -> Outcome {
    let value: Option<Scalar> = match stat {
        Stat::Min | Stat::Max => col.min_max()?.map(|(lo, hi)| if stat == Stat::Min { lo } else { hi }),
        Stat::Mean => {
            let n = col.nonmissing();
            if !col.is_numeric() {
                return Err(format!("column type {} is not numeric", type_name(&col.data_type)));
            }
            if n == 0 {
                None
            } else if let Some(s) = col.int_sum() {
                // Exact: the integer sum is converted once.
                Some(Scalar::Float(s as f64 / n as f64))
            } else {
                col.float_sum().map(|s| Scalar::Float(s / n as f64))
            }
        }
        Stat::Median => {
            let s = col.sorted()?;
            let n = s.len();
            match n {
                0 => None,
                _ if n % 2 == 1 => Some(Scalar::Float(s.get_f64(n / 2))),
                _ => Some(Scalar::Float(f64::midpoint(s.get_f64(n / 2 - 1), s.get_f64(n / 2)))),
            }
        }
        Stat::Stdev => {
            if !col.is_numeric() {
                return Err(format!("column type {} is not numeric", type_name(&col.data_type)));
            }
            let n = col.nonmissing();
            if n < 2 {
                None
            } else {
                let mean = match col.int_sum() {
                    Some(s) => s as f64 / n as f64,
                    None => col.float_sum().unwrap_or(0.0) / n as f64,
                };
                Some(Scalar::Float((col.sum_sq_dev(mean) / (n - 1) as f64).sqrt()))
            }
        }
        Stat::Sum => {
            if !col.is_numeric() {
                return Err(format!("column type {} is not numeric", type_name(&col.data_type)));
            }
            match col.int_sum() {
                Some(s) => Some(i64::try_from(s).map_or(Scalar::Float(s as f64), Scalar::Int)),
                None => col.float_sum().map(Scalar::Float),
            }
        }
        Stat::UniqueCount => Some(Scalar::Int(col.counts()?.len() as i64)),
        Stat::UniqueProportion => {
            let distinct = col.counts()?.len();
            let n = col.nonmissing();
            Some(Scalar::Float(if n == 0 { 0.0 } else { distinct as f64 / n as f64 }))
        }
    };
    let Some(value) = value else {
        return Ok((false, observed(Value::Null)));
    };
    let value = match value {
        Scalar::Float(f) if f.is_nan() => return Ok((false, observed(Value::Null))),
        v => v,
    };
    let success = bounds_ok(value.as_ref(), bounds)?;
    Ok((success, observed(value.to_json())))
}

/// numpy's interpolation between neighbours, written as numpy writes it so results match bit
/// for bit.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 { b - d * (1.0 - t) } else { a + d * t }
}

/// One quantile of sorted values as pandas' `Series.quantile(q, interpolation=...)` computes it.
pub(crate) fn quantile(s: &Sorted, q: f64, interp: Interp) -> Option<Scalar> {
    let n = s.len();
    if n == 0 {
        return None;
    }
    let virtual_index = (n - 1) as f64 * q;
    let lo = virtual_index.floor().clamp(0.0, (n - 1) as f64) as usize;
    let hi = (lo + 1).min(n - 1);
    Some(match interp {
        Interp::Lower => s.get(lo),
        Interp::Higher => s.get(virtual_index.ceil().clamp(0.0, (n - 1) as f64) as usize),
        Interp::Nearest => s.get(virtual_index.round_ties_even().clamp(0.0, (n - 1) as f64) as usize),
        Interp::Linear => Scalar::Float(lerp(s.get_f64(lo), s.get_f64(hi), virtual_index - lo as f64)),
        Interp::Midpoint => {
            let t = if virtual_index.fract() == 0.0 { 0.0 } else { 0.5 };
            Scalar::Float(lerp(s.get_f64(lo), s.get_f64(hi), t))
        }
    })
}

fn eval_quantiles(col: &Column, quantiles: &[f64], ranges: &[[Option<f64>; 2]], interp: Interp) -> Outcome {
    let sorted = col.sorted()?;
    let mut values = Vec::with_capacity(quantiles.len());
    let mut details = Vec::with_capacity(quantiles.len());
    for (q, [lo, hi]) in quantiles.iter().zip(ranges) {
        match quantile(sorted, *q, interp) {
            Some(v) => {
                let (lo, hi) = (lo.map(json_f64), hi.map(json_f64));
                details.push(within(v.as_ref(), lo.as_ref(), hi.as_ref(), false, false)?);
                values.push(v.to_json());
            }
            None => {
                details.push(false);
                values.push(Value::Null);
            }
        }
    }
    let success = details.iter().all(|d| *d);
    let mut result = observed(json!({"quantiles": quantiles, "values": values}));
    result.insert("details".into(), json!({ "success_details": details }));
    Ok((success, result))
}
