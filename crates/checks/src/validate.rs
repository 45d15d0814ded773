//! Evaluating a suite on Arrow record batches.

use std::cell::OnceCell;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use serde_json::{Map, Value, json};

use crate::column::{ColData, Column, Sorted};
use crate::expectation::{Bounds, Expectation, IgnoreRowIf, Interp, MapKind, Stat};
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
    let table = Table::new(schema, batches);
    let results: Vec<ExpectationResult> = suite
        .expectations
        .iter()
        .enumerate()
        .map(|(index, config)| {
            let outcome = Expectation::parse(config)
                .map_err(|e| format!("invalid expectation: {e}"))
                .and_then(|exp| table.evaluate(&exp));
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
    ValidationResult::from_results(&suite.expectation_suite_name, table.rows, schema.fields().len(), results)
}

type Outcome = Result<(bool, Map<String, Value>), String>;

/// The table being validated: columns are normalised lazily, only those a suite names.
struct Table<'a> {
    schema: &'a SchemaRef,
    batches: &'a [RecordBatch],
    rows: usize,
    columns: Vec<OnceCell<Column>>,
}

fn observed(v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("observed_value".into(), v);
    m
}

impl<'a> Table<'a> {
    fn new(schema: &'a SchemaRef, batches: &'a [RecordBatch]) -> Self {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        Self { schema, batches, rows, columns: (0..schema.fields().len()).map(|_| OnceCell::new()).collect() }
    }

    fn index_of(&self, name: &str) -> Result<usize, String> {
        self.schema.index_of(name).map_err(|_| {
            let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
            format!("column {name:?} does not exist (table columns: {})", names.join(", "))
        })
    }

    fn column(&self, name: &str) -> Result<&Column, String> {
        let i = self.index_of(name)?;
        Ok(self.columns[i].get_or_init(|| Column::new(self.schema.field(i).data_type(), self.batches, i)))
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
                let data_type = self.column(column)?.data_type.clone();
                let success = types.as_ref().is_none_or(|list| list.iter().any(|t| type_matches(&data_type, t)));
                Ok((success, observed(Value::String(type_name(&data_type)))))
            }
            Expectation::CompoundUnique { columns, mostly, ignore } => {
                self.eval_compound_unique(columns, *mostly, *ignore)
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
    fn value_at_row(&self, index: usize, mut row: usize) -> Value {
        for b in self.batches {
            if row < b.num_rows() {
                return cell_json(b.column(index), row);
            }
            row -= b.num_rows();
        }
        Value::Null
    }

    fn eval_compound_unique(&self, columns: &[String], mostly: Option<f64>, ignore: IgnoreRowIf) -> Outcome {
        let indices: Vec<usize> = columns.iter().map(|c| self.index_of(c)).collect::<Result<_, _>>()?;
        let fields: Vec<arrow::row::SortField> =
            indices.iter().map(|&i| arrow::row::SortField::new(self.schema.field(i).data_type().clone())).collect();
        let converter = arrow::row::RowConverter::new(fields).map_err(|e| format!("cannot compare rows: {e}"))?;
        // Keys of every row (None when the row is ignored), then counts per key.
        let mut keys: Vec<Option<Box<[u8]>>> = Vec::with_capacity(self.rows);
        for b in self.batches {
            let arrays: Vec<ArrayRef> = indices.iter().map(|&i| Arc::clone(b.column(i))).collect();
            let rows = converter.convert_columns(&arrays).map_err(|e| format!("cannot compare rows: {e}"))?;
            for r in 0..b.num_rows() {
                let nulls = arrays.iter().filter(|a| a.is_null(r)).count();
                let skip = match ignore {
                    IgnoreRowIf::AllMissing => nulls == arrays.len(),
                    IgnoreRowIf::AnyMissing => nulls > 0,
                    IgnoreRowIf::Never => false,
                };
                keys.push((!skip).then(|| rows.row(r).as_ref().into()));
            }
        }
        let mut groups: FxHashMap<&[u8], (u64, usize)> = FxHashMap::default();
        for (row, key) in keys.iter().enumerate() {
            if let Some(k) = key {
                groups.entry(k).or_insert((0, row)).0 += 1;
            }
        }
        let ignored = keys.iter().filter(|k| k.is_none()).count();
        let mut dup_groups: Vec<(u64, usize)> = groups.values().copied().filter(|(c, _)| *c > 1).collect();
        let unexpected_count: u64 = dup_groups.iter().map(|(c, _)| c).sum();
        let row_json = |row: usize| -> Value {
            let mut m = Map::new();
            let (mut r, mut bi) = (row, 0);
            while bi < self.batches.len() && r >= self.batches[bi].num_rows() {
                r -= self.batches[bi].num_rows();
                bi += 1;
            }
            for (name, &i) in columns.iter().zip(&indices) {
                let v = self.batches.get(bi).map_or(Value::Null, |b| cell_json(b.column(i), r));
                m.insert(name.clone(), v);
            }
            Value::Object(m)
        };
        let mut list = Vec::new();
        for (row, key) in keys.iter().enumerate() {
            if list.len() == PARTIAL_UNEXPECTED {
                break;
            }
            if let Some(k) = key
                && groups.get(k.as_ref()).is_some_and(|(c, _)| *c > 1)
            {
                list.push(row_json(row));
            }
        }
        dup_groups.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let partial_counts: Vec<Value> = dup_groups
            .iter()
            .take(PARTIAL_UNEXPECTED)
            .map(|(c, first)| json!({"value": row_json(*first), "count": c}))
            .collect();
        let considered = self.rows - ignored;
        let success = mostly_success(considered, unexpected_count as usize, mostly);
        Ok((success, map_result(self.rows, Some(considered), unexpected_count as usize, list, partial_counts)))
    }
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
fn python_str(v: &Scalar) -> String {
    match v {
        Scalar::Str(s) => s.clone(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
        Scalar::Float(f) => format!("{f}"),
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
