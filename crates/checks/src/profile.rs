//! The profiler: proposes a tolerant suite from a table, and summarises columns for charts.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::CheckError;
use crate::column::{ColData, Column};
use crate::expectation::Interp;
use crate::scalar::{Scalar, json_f64};
use crate::suite::Suite;
use crate::types::type_name;
use crate::validate::quantile;

/// How tolerant a profiled suite is. GE's profiler pins every statistic to the value it saw,
/// so any new data fails; these ranges let the same kind of data pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileOptions {
    /// The proposed suite's name.
    pub suite_name: String,
    /// Numeric statistics (min, max, mean, median, quantiles) may move by this fraction of the
    /// column's observed range (max − min); the standard deviation by twice this fraction of
    /// itself; string lengths by this fraction of themselves.
    pub tolerance: f64,
    /// The row count may move by this fraction of itself.
    pub row_count_tolerance: f64,
    /// Columns with at most this many distinct values get an exact value set.
    pub max_set_size: usize,
    /// A column with missing values may have this much larger a missing share
    /// (`expect_column_values_to_not_be_null` with `mostly`).
    pub null_tolerance: f64,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            suite_name: "profiled".into(),
            tolerance: 0.1,
            row_count_tolerance: 0.5,
            max_set_size: 20,
            null_tolerance: 0.05,
        }
    }
}

impl ProfileOptions {
    fn check(&self) -> Result<(), CheckError> {
        let bad =
            |field: &str, message: &str| Err(CheckError::Invalid { field: field.into(), message: message.into() });
        if !(0.0..=10.0).contains(&self.tolerance) {
            return bad("tolerance", "must be between 0 and 10");
        }
        if !(0.0..=1.0).contains(&self.row_count_tolerance) {
            return bad("row_count_tolerance", "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.null_tolerance) {
            return bad("null_tolerance", "must be between 0 and 1");
        }
        Ok(())
    }
}

/// What the report draws for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Chart {
    /// Equal-width bins from `min` to `max`.
    Histogram {
        /// Lower edge of the first bin.
        min: f64,
        /// Upper edge of the last bin.
        max: f64,
        /// Values per bin.
        counts: Vec<u64>,
    },
    /// The most frequent values, most frequent first, and how many rows hold any other value.
    Bars {
        /// (value as text, count).
        values: Vec<(String, u64)>,
        /// Rows with a value not shown.
        other: u64,
    },
    /// Nothing to draw (no values, or a type without comparable values).
    Empty,
}

/// A summary of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// pandas type name ([`type_name`]).
    pub type_name: String,
    /// Rows.
    pub rows: u64,
    /// Missing values (nulls, and NaN in float columns).
    pub missing: u64,
    /// Distinct non-missing values, when the type has comparable values.
    pub distinct: Option<u64>,
    /// The chart.
    pub chart: Chart,
}

const HISTOGRAM_BINS: usize = 20;
const BARS: usize = 10;

fn scalar_text(s: &Scalar) -> String {
    match s {
        Scalar::Str(s) => s.clone(),
        other => other.to_json().to_string(),
    }
}

pub(crate) fn column_profile(name: &str, col: &Column) -> ColumnProfile {
    let counts = col.counts().ok();
    let distinct = counts.map(|c| c.len() as u64);
    let chart = match (counts, &col.data) {
        (Some([]) | None, _) => Chart::Empty,
        (Some(c), ColData::Int(_) | ColData::Float(_)) if c.len() > BARS => {
            let lo = c.first().map_or(0.0, |(v, _)| v.as_ref().to_json().as_f64().unwrap_or(0.0));
            let hi = c.last().map_or(0.0, |(v, _)| v.as_ref().to_json().as_f64().unwrap_or(0.0));
            let mut bins = vec![0u64; HISTOGRAM_BINS];
            let width = (hi - lo) / HISTOGRAM_BINS as f64;
            for (v, n) in c {
                let x = v.to_json().as_f64().unwrap_or(lo);
                let b = if width > 0.0 { (((x - lo) / width) as usize).min(HISTOGRAM_BINS - 1) } else { 0 };
                bins[b] += n;
            }
            Chart::Histogram { min: lo, max: hi, counts: bins }
        }
        (Some(c), _) => {
            // Most frequent first, ties by value: a strict order (the values are distinct), so
            // the first BARS are found without sorting every value.
            let order = |a: &&(Scalar, u64), b: &&(Scalar, u64)| b.1.cmp(&a.1).then_with(|| a.0.total_cmp(&b.0));
            let mut top: Vec<&(Scalar, u64)> = c.iter().collect();
            if top.len() > BARS {
                top.select_nth_unstable_by(BARS - 1, order);
                top.truncate(BARS);
            }
            top.sort_by(order);
            let shown: Vec<(String, u64)> = top.iter().map(|(v, n)| (scalar_text(v), *n)).collect();
            let total: u64 = c.iter().map(|(_, n)| n).sum();
            let other = total - top.iter().map(|(_, n)| n).sum::<u64>();
            Chart::Bars { values: shown, other }
        }
    };
    ColumnProfile {
        name: name.to_owned(),
        type_name: type_name(&col.data_type),
        rows: col.len as u64,
        missing: col.missing() as u64,
        distinct,
        chart,
    }
}

/// Summaries of the named columns (all columns when `names` is `None`), in table order.
pub fn profile_columns(schema: &SchemaRef, batches: &[RecordBatch], names: Option<&[String]>) -> Vec<ColumnProfile> {
    let arrays =
        |i: usize| -> Vec<arrow::array::ArrayRef> { batches.iter().map(|b| Arc::clone(b.column(i))).collect() };
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| names.is_none_or(|n| n.contains(f.name())))
        .map(|(i, f)| column_profile(f.name(), &Column::new(f.data_type(), &arrays(i))))
        .collect()
}

fn round_down(x: f64) -> f64 {
    (x * 1e4).floor() / 1e4
}
fn round_up(x: f64) -> f64 {
    (x * 1e4).ceil() / 1e4
}

/// `[lo, hi]` bounds as JSON: integers for integer columns (rounded outward), floats to four
/// decimals (rounded outward) otherwise.
fn range(lo: f64, hi: f64, integer: bool) -> (Value, Value) {
    if integer {
        (json!(lo.floor() as i64), json!(hi.ceil() as i64))
    } else {
        (json_f64(round_down(lo)), json_f64(round_up(hi)))
    }
}

/// Proposes a suite for a table: its exact schema (ordered columns and pandas types), a row
/// count within `row_count_tolerance`, not-null checks (with `mostly` when values are
/// missing), exact value sets for columns with at most `max_set_size` distinct values,
/// tolerant ranges for numeric statistics, uniqueness for key-like columns, and string length
/// ranges for other text columns.
pub fn profile(schema: &SchemaRef, batches: &[RecordBatch], options: &ProfileOptions) -> Result<Suite, CheckError> {
    options.check()?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let tol = options.tolerance;
    let mut suite = Suite::new(options.suite_name.clone());
    if let Some(Value::Object(meta)) = suite.meta.as_mut() {
        meta.insert("profiler".into(), json!({"generator": "esteira-checks", "options": options}));
    }
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    suite.push("expect_table_columns_to_match_ordered_list", json!({ "column_list": names }));
    let r = rows as f64;
    suite.push(
        "expect_table_row_count_to_be_between",
        json!({
            "min_value": (r * (1.0 - options.row_count_tolerance)).floor() as u64,
            "max_value": (r * (1.0 + options.row_count_tolerance)).ceil() as u64,
        }),
    );
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name();
        let arrays: Vec<arrow::array::ArrayRef> = batches.iter().map(|b| Arc::clone(b.column(i))).collect();
        let col = Column::new(field.data_type(), &arrays);
        suite.push("expect_column_values_to_be_of_type", json!({"column": name, "type_": type_name(&col.data_type)}));
        let missing = col.missing();
        if missing == 0 {
            suite.push("expect_column_values_to_not_be_null", json!({ "column": name }));
        } else if missing < rows {
            let mostly = ((1.0 - missing as f64 / r - options.null_tolerance) * 1000.0).floor() / 1000.0;
            if mostly > 0.0 {
                suite.push("expect_column_values_to_not_be_null", json!({"column": name, "mostly": mostly}));
            }
        }
        let Ok(counts) = col.counts() else { continue };
        if counts.is_empty() {
            continue;
        }
        let nonmissing = col.nonmissing();
        if counts.len() <= options.max_set_size {
            let set: Vec<Value> = counts.iter().map(|(v, _)| v.to_json()).collect();
            suite.push("expect_column_values_to_be_in_set", json!({"column": name, "value_set": set}));
        } else if counts.len() == nonmissing && nonmissing > 1 {
            suite.push("expect_column_values_to_be_unique", json!({ "column": name }));
        }
        match &col.data {
            ColData::Int(_) | ColData::Float(_) if counts.len() > options.max_set_size => {
                let integer = matches!(col.data, ColData::Int(_));
                let Ok(sorted) = col.sorted() else { continue };
                let (lo, hi) = (sorted.get_f64(0), sorted.get_f64(sorted.len() - 1));
                let spread = tol * (hi - lo);
                for (etype, s) in [("expect_column_min_to_be_between", lo), ("expect_column_max_to_be_between", hi)] {
                    let (a, b) = range(s - spread, s + spread, integer);
                    suite.push(etype, json!({"column": name, "min_value": a, "max_value": b}));
                }
                let mean = match col.int_sum() {
                    Some(s) => s as f64 / nonmissing as f64,
                    None => col.float_sum().unwrap_or(0.0) / nonmissing as f64,
                };
                let (a, b) = range(mean - spread, mean + spread, false);
                suite.push("expect_column_mean_to_be_between", json!({"column": name, "min_value": a, "max_value": b}));
                let qs = [0.05, 0.25, 0.5, 0.75, 0.95];
                let ranges: Vec<Value> = qs
                    .iter()
                    .map(|&q| {
                        let v = quantile(sorted, q, Interp::Linear).and_then(|v| v.to_json().as_f64()).unwrap_or(0.0);
                        let (a, b) = range(v - spread, v + spread, integer);
                        json!([a, b])
                    })
                    .collect();
                suite.push(
                    "expect_column_quantile_values_to_be_between",
                    json!({"column": name, "allow_relative_error": "linear",
                           "quantile_ranges": {"quantiles": qs, "value_ranges": ranges}}),
                );
                if nonmissing > 1 {
                    let std = (col.sum_sq_dev(mean) / (nonmissing - 1) as f64).sqrt();
                    let (a, b) = range(std * (1.0 - 2.0 * tol).max(0.0), std * (1.0 + 2.0 * tol), false);
                    suite.push(
                        "expect_column_stdev_to_be_between",
                        json!({"column": name, "min_value": a, "max_value": b}),
                    );
                }
            }
            ColData::Str(_) if counts.len() > options.max_set_size => {
                let lens = counts.iter().filter_map(|(v, _)| match v {
                    Scalar::Str(s) => Some(s.chars().count()),
                    _ => None,
                });
                let (lo, hi) = lens.fold((usize::MAX, 0), |(l, h), n| (l.min(n), h.max(n)));
                let lo = (lo as f64 * (1.0 - tol)).floor() as u64;
                let hi = (hi as f64 * (1.0 + tol)).ceil() as u64;
                suite.push(
                    "expect_column_value_lengths_to_be_between",
                    json!({"column": name, "min_value": lo, "max_value": hi}),
                );
            }
            _ => {}
        }
    }
    Ok(suite)
}
