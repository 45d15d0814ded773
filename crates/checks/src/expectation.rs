//! Typed expectations: the kwargs of an [`ExpectationConfig`] checked and parsed once.

use serde_json::{Map, Value};

use crate::CheckError;
use crate::config::{ExpectationConfig, kind_of, short};

/// Every expectation type this crate evaluates, sorted.
pub const EXPECTATION_TYPES: &[&str] = &[
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_max_to_be_between",
    "expect_column_mean_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_most_common_value_to_be_in_set",
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_quantile_values_to_be_between",
    "expect_column_stdev_to_be_between",
    "expect_column_sum_to_be_between",
    "expect_column_to_exist",
    "expect_column_unique_value_count_to_be_between",
    "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_not_be_null",
    "expect_compound_columns_to_be_unique",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_table_row_count_to_be_between",
];

/// Kwargs GE accepts on every expectation; they do not change what is evaluated here.
const COMMON_KWARGS: &[&str] = &[
    "result_format",
    "include_config",
    "catch_exceptions",
    "meta",
    "batch_id",
    "condition_parser",
    "auto",
    "profiler_config",
];

/// A malformed kwarg: which field, and what is wrong.
#[derive(Debug, Clone)]
pub(crate) struct KwError {
    pub field: String,
    pub message: String,
}

impl KwError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    pub(crate) fn into_error(self, source_name: &str, index: usize, expectation_type: &str) -> CheckError {
        CheckError::Expectation {
            source_name: source_name.to_owned(),
            index,
            expectation_type: expectation_type.to_owned(),
            field: self.field,
            message: self.message,
        }
    }
}

impl std::fmt::Display for KwError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Lower and upper bounds; `None` is open. Bounds are JSON numbers (or strings where the
/// expectation compares strings).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bounds {
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub strict_min: bool,
    pub strict_max: bool,
}

/// How `expect_column_quantile_values_to_be_between` interpolates (GE's pandas backend reads
/// `allow_relative_error` as numpy's interpolation name; absent or false means `nearest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interp {
    Lower,
    Higher,
    Linear,
    Midpoint,
    Nearest,
}

/// A column statistic compared against bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stat {
    Min,
    Max,
    Mean,
    Median,
    Stdev,
    Sum,
    UniqueCount,
    UniqueProportion,
}

/// The per-value test of a column map expectation.
#[derive(Debug, Clone)]
pub(crate) enum MapKind {
    NotNull,
    Null,
    InSet(Vec<Value>),
    NotInSet(Vec<Value>),
    Between(Bounds),
    Unique,
    Regex(regex::Regex),
    Lengths { min: Option<u64>, max: Option<u64>, strict_min: bool, strict_max: bool },
}

/// Which rows `expect_compound_columns_to_be_unique` skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IgnoreRowIf {
    AllMissing,
    AnyMissing,
    Never,
}

/// A parsed expectation.
#[derive(Debug, Clone)]
pub(crate) enum Expectation {
    ColumnsOrdered(Vec<String>),
    ColumnsSet { set: Vec<String>, exact: bool },
    RowCount(Bounds),
    ColumnExists { column: String, index: Option<usize> },
    Map { column: String, mostly: Option<f64>, kind: MapKind },
    Aggregate { column: String, stat: Stat, bounds: Bounds },
    Quantiles { column: String, quantiles: Vec<f64>, ranges: Vec<[Option<f64>; 2]>, interp: Interp },
    DistinctInSet { column: String, set: Option<Vec<Value>> },
    MostCommonInSet { column: String, set: Vec<Value>, ties_okay: bool },
    Types { column: String, types: Option<Vec<String>> },
    CompoundUnique { columns: Vec<String>, mostly: Option<f64>, ignore: IgnoreRowIf },
}

impl Expectation {
    /// The columns whose values evaluating this expectation reads: one through its normalised
    /// [`crate::column::Column`], and others as raw arrays (compound uniqueness). The schema alone
    /// answers the table-level expectations, column existence and types.
    pub(crate) fn reads(&self) -> (Option<&str>, &[String]) {
        match self {
            Self::ColumnsOrdered(_)
            | Self::ColumnsSet { .. }
            | Self::RowCount(_)
            | Self::ColumnExists { .. }
            | Self::Types { .. } => (None, &[]),
            Self::Map { column, .. }
            | Self::Aggregate { column, .. }
            | Self::Quantiles { column, .. }
            | Self::DistinctInSet { column, .. }
            | Self::MostCommonInSet { column, .. } => (Some(column), &[]),
            Self::CompoundUnique { columns, .. } => (None, columns),
        }
    }

    /// Parses one expectation config, naming the offending kwarg on error.
    pub(crate) fn parse(config: &ExpectationConfig) -> Result<Self, KwError> {
        let mut kw = Kw { kwargs: &config.kwargs, allowed: Vec::new() };
        let t = config.expectation_type.as_str();
        let parsed = match t {
            "expect_table_columns_to_match_ordered_list" => Self::ColumnsOrdered(kw.req_strings("column_list")?),
            "expect_table_columns_to_match_set" => Self::ColumnsSet {
                set: kw.req_strings("column_set")?,
                exact: kw.opt_bool("exact_match")?.unwrap_or(true),
            },
            "expect_table_row_count_to_be_between" => Self::RowCount(kw.bounds(false)?),
            "expect_column_to_exist" => {
                let column = kw.column()?;
                let index = kw.opt_uint("column_index")?.map(|i| i as usize);
                Self::ColumnExists { column, index }
            }
            "expect_column_values_to_not_be_null" => kw.map(MapKind::NotNull)?,
            "expect_column_values_to_be_null" => kw.map(MapKind::Null)?,
            "expect_column_values_to_be_in_set" => {
                kw.no_datetimes()?;
                let set = kw.req_scalars("value_set")?;
                kw.map(MapKind::InSet(set))?
            }
            "expect_column_values_to_not_be_in_set" => {
                kw.no_datetimes()?;
                let set = kw.req_scalars("value_set")?;
                kw.map(MapKind::NotInSet(set))?
            }
            "expect_column_values_to_be_between" => {
                kw.no_datetimes()?;
                kw.allow(&["allow_cross_type_comparisons", "output_strftime_format"]);
                let b = kw.bounds(true)?;
                if b.min.is_none() && b.max.is_none() {
                    return Err(KwError::new("kwargs.min_value", "min_value and max_value cannot both be null"));
                }
                kw.map(MapKind::Between(b))?
            }
            "expect_column_values_to_be_unique" => kw.map(MapKind::Unique)?,
            "expect_column_values_to_match_regex" => {
                let pattern = kw.req_str("regex")?;
                let re = regex::Regex::new(&pattern).map_err(|e| KwError::new("kwargs.regex", regex_message(&e)))?;
                kw.map(MapKind::Regex(re))?
            }
            "expect_column_value_lengths_to_be_between" => {
                let min = kw.opt_uint("min_value")?;
                let max = kw.opt_uint("max_value")?;
                let strict_min = kw.opt_bool("strict_min")?.unwrap_or(false);
                let strict_max = kw.opt_bool("strict_max")?.unwrap_or(false);
                if min.is_none() && max.is_none() {
                    return Err(KwError::new("kwargs.min_value", "min_value and max_value cannot both be null"));
                }
                kw.map(MapKind::Lengths { min, max, strict_min, strict_max })?
            }
            "expect_column_values_to_be_in_type_list" => {
                let column = kw.column()?;
                kw.allow(&["mostly", "type_list"]);
                let types = match kw.get("type_list") {
                    None => return Err(KwError::new("kwargs.type_list", "missing (a list of type names, or null)")),
                    Some(Value::Null) => None,
                    Some(_) => Some(kw.req_strings("type_list")?),
                };
                Self::Types { column, types }
            }
            "expect_column_values_to_be_of_type" => {
                let column = kw.column()?;
                kw.allow(&["mostly"]);
                Self::Types { column, types: Some(vec![kw.req_str("type_")?]) }
            }
            "expect_column_min_to_be_between" | "expect_column_max_to_be_between" => {
                kw.no_datetimes()?;
                kw.allow(&["output_strftime_format"]);
                let stat = if t.contains("_min_") { Stat::Min } else { Stat::Max };
                kw.aggregate(stat)?
            }
            "expect_column_mean_to_be_between" => kw.aggregate(Stat::Mean)?,
            "expect_column_median_to_be_between" => kw.aggregate(Stat::Median)?,
            "expect_column_stdev_to_be_between" => kw.aggregate(Stat::Stdev)?,
            "expect_column_sum_to_be_between" => kw.aggregate(Stat::Sum)?,
            "expect_column_unique_value_count_to_be_between" => kw.aggregate(Stat::UniqueCount)?,
            "expect_column_proportion_of_unique_values_to_be_between" => kw.aggregate(Stat::UniqueProportion)?,
            "expect_column_quantile_values_to_be_between" => kw.quantiles()?,
            "expect_column_distinct_values_to_be_in_set" => {
                kw.no_datetimes()?;
                let column = kw.column()?;
                let set = match kw.get("value_set") {
                    None | Some(Value::Null) => {
                        kw.allow(&["value_set"]);
                        None
                    }
                    Some(_) => Some(kw.req_scalars("value_set")?),
                };
                Self::DistinctInSet { column, set }
            }
            "expect_column_most_common_value_to_be_in_set" => {
                let column = kw.column()?;
                let set = kw.req_scalars("value_set")?;
                let ties_okay = kw.opt_bool("ties_okay")?.unwrap_or(false);
                Self::MostCommonInSet { column, set, ties_okay }
            }
            "expect_compound_columns_to_be_unique" => {
                let columns = kw.req_strings("column_list")?;
                if columns.is_empty() {
                    return Err(KwError::new("kwargs.column_list", "must name at least one column"));
                }
                let mostly = kw.mostly()?;
                let ignore = match kw.opt_str("ignore_row_if")?.as_deref() {
                    None | Some("all_values_are_missing") => IgnoreRowIf::AllMissing,
                    Some("any_value_is_missing") => IgnoreRowIf::AnyMissing,
                    Some("never") => IgnoreRowIf::Never,
                    Some(other) => {
                        return Err(KwError::new(
                            "kwargs.ignore_row_if",
                            format!(
                                "expected all_values_are_missing, any_value_is_missing or never, found {:?}",
                                short(other)
                            ),
                        ));
                    }
                };
                Self::CompoundUnique { columns, mostly, ignore }
            }
            other => {
                return Err(KwError::new(
                    "expectation_type",
                    format!("unknown expectation type {:?} (known: {})", short(other), EXPECTATION_TYPES.join(", ")),
                ));
            }
        };
        kw.finish()?;
        Ok(parsed)
    }
}

/// regex's message for a pattern it refused. A syntax error repeats the pattern (which may be
/// megabytes) above a caret and ends with what is wrong: a long one keeps the start of the
/// pattern and that last line.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    if text.chars().count() <= 4 * esteira_core::MAX_EXCERPT_CHARS {
        return format!("invalid regular expression: {text}");
    }
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    format!("invalid regular expression: {} … {}", short(&text), short(last.trim()))
}

/// Reads kwargs, remembering which keys were consumed so unknown ones are reported.
struct Kw<'a> {
    kwargs: &'a Map<String, Value>,
    allowed: Vec<&'static str>,
}

impl Kw<'_> {
    fn allow(&mut self, keys: &[&'static str]) {
        self.allowed.extend_from_slice(keys);
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.kwargs.get(key)
    }

    fn take(&mut self, key: &'static str) -> Option<&Value> {
        self.allowed.push(key);
        self.kwargs.get(key)
    }

    fn finish(&self) -> Result<(), KwError> {
        for (key, value) in self.kwargs {
            if key == "row_condition" {
                if !value.is_null() {
                    return Err(KwError::new("kwargs.row_condition", "row conditions are not supported"));
                }
                continue;
            }
            if !self.allowed.contains(&key.as_str()) && !COMMON_KWARGS.contains(&key.as_str()) {
                let mut known: Vec<&str> = self.allowed.clone();
                known.sort_unstable();
                known.dedup();
                return Err(KwError::new(
                    format!("kwargs.{}", short(key)),
                    format!("unknown kwarg for this expectation (known: {})", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn column(&mut self) -> Result<String, KwError> {
        self.req_str("column")
    }

    fn req_str(&mut self, key: &'static str) -> Result<String, KwError> {
        match self.take(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(KwError::new(format!("kwargs.{key}"), format!("expected a string, found {}", kind_of(v)))),
            None => Err(KwError::new(format!("kwargs.{key}"), "missing")),
        }
    }

    fn opt_str(&mut self, key: &'static str) -> Result<Option<String>, KwError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(KwError::new(format!("kwargs.{key}"), format!("expected a string, found {}", kind_of(v)))),
        }
    }

    fn opt_bool(&mut self, key: &'static str) -> Result<Option<bool>, KwError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => {
                Err(KwError::new(format!("kwargs.{key}"), format!("expected true or false, found {}", kind_of(v))))
            }
        }
    }

    fn opt_uint(&mut self, key: &'static str) -> Result<Option<u64>, KwError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0 && f < 9.0e15) => {
                Ok(n.as_f64().map(|f| f as u64))
            }
            Some(v) => Err(KwError::new(
                format!("kwargs.{key}"),
                format!("expected a non-negative integer or null, found {}", kind_of(v)),
            )),
        }
    }

    fn req_strings(&mut self, key: &'static str) -> Result<Vec<String>, KwError> {
        let field = format!("kwargs.{key}");
        match self.take(key) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(KwError::new(format!("{field}[{i}]"), format!("expected a string, found {}", kind_of(v)))),
                })
                .collect(),
            Some(v) => Err(KwError::new(field, format!("expected a list of strings, found {}", kind_of(v)))),
            None => Err(KwError::new(field, "missing")),
        }
    }

    /// A list of scalars (strings, numbers, booleans, null).
    fn req_scalars(&mut self, key: &'static str) -> Result<Vec<Value>, KwError> {
        let field = format!("kwargs.{key}");
        match self.take(key) {
            Some(Value::Array(items)) => {
                for (i, v) in items.iter().enumerate() {
                    if v.is_array() || v.is_object() {
                        return Err(KwError::new(
                            format!("{field}[{i}]"),
                            format!("expected a string, number or boolean, found {}", kind_of(v)),
                        ));
                    }
                }
                Ok(items.clone())
            }
            Some(v) => Err(KwError::new(field, format!("expected a list of values, found {}", kind_of(v)))),
            None => Err(KwError::new(field, "missing")),
        }
    }

    fn mostly(&mut self) -> Result<Option<f64>, KwError> {
        match self.take("mostly") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if (0.0..=1.0).contains(&f) => Ok(Some(f)),
                _ => Err(KwError::new("kwargs.mostly", format!("must be between 0 and 1, found {n}"))),
            },
            Some(v) => {
                Err(KwError::new("kwargs.mostly", format!("expected a number between 0 and 1, found {}", kind_of(v))))
            }
        }
    }

    fn no_datetimes(&mut self) -> Result<(), KwError> {
        if self.opt_bool("parse_strings_as_datetimes")? == Some(true) {
            return Err(KwError::new(
                "kwargs.parse_strings_as_datetimes",
                "parsing strings as datetimes is not supported",
            ));
        }
        Ok(())
    }

    /// `min_value`/`max_value` (numbers or null; strings too when `strings`) and the strict flags.
    fn bounds(&mut self, strings: bool) -> Result<Bounds, KwError> {
        let mut bound = |key: &'static str| -> Result<Option<Value>, KwError> {
            match self.take(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v @ Value::Number(_)) => Ok(Some(v.clone())),
                Some(v @ Value::String(_)) if strings => Ok(Some(v.clone())),
                Some(v) => Err(KwError::new(
                    format!("kwargs.{key}"),
                    format!(
                        "expected a number{} or null, found {}",
                        if strings { ", a string" } else { "" },
                        kind_of(v)
                    ),
                )),
            }
        };
        let min = bound("min_value")?;
        let max = bound("max_value")?;
        let strict_min = self.opt_bool("strict_min")?.unwrap_or(false);
        let strict_max = self.opt_bool("strict_max")?.unwrap_or(false);
        Ok(Bounds { min, max, strict_min, strict_max })
    }

    fn map(&mut self, kind: MapKind) -> Result<Expectation, KwError> {
        let column = self.column()?;
        let mostly = self.mostly()?;
        Ok(Expectation::Map { column, mostly, kind })
    }

    fn aggregate(&mut self, stat: Stat) -> Result<Expectation, KwError> {
        let column = self.column()?;
        let bounds = self.bounds(false)?;
        Ok(Expectation::Aggregate { column, stat, bounds })
    }

    fn quantiles(&mut self) -> Result<Expectation, KwError> {
        let column = self.column()?;
        let interp = match self.take("allow_relative_error") {
            None | Some(Value::Null | Value::Bool(false)) => Interp::Nearest,
            Some(Value::String(s)) => match s.as_str() {
                "lower" => Interp::Lower,
                "higher" => Interp::Higher,
                "linear" => Interp::Linear,
                "midpoint" => Interp::Midpoint,
                "nearest" => Interp::Nearest,
                other => {
                    return Err(KwError::new(
                        "kwargs.allow_relative_error",
                        format!("expected lower, higher, linear, midpoint or nearest, found {other:?}"),
                    ));
                }
            },
            Some(v) => {
                return Err(KwError::new(
                    "kwargs.allow_relative_error",
                    format!(
                        "the pandas backend reads this as an interpolation name (lower, higher, linear, midpoint, \
                         nearest) or false, found {}",
                        kind_of(v)
                    ),
                ));
            }
        };
        let ranges_value = match self.take("quantile_ranges") {
            Some(Value::Object(m)) => m.clone(),
            Some(v) => {
                return Err(KwError::new(
                    "kwargs.quantile_ranges",
                    format!("expected an object, found {}", kind_of(v)),
                ));
            }
            None => return Err(KwError::new("kwargs.quantile_ranges", "missing")),
        };
        let quantiles = match ranges_value.get("quantiles") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v.as_f64() {
                    Some(q) if (0.0..=1.0).contains(&q) => Ok(q),
                    _ => Err(KwError::new(
                        format!("kwargs.quantile_ranges.quantiles[{i}]"),
                        format!("expected a number between 0 and 1, found {}", kind_of(v)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(v) => {
                return Err(KwError::new(
                    "kwargs.quantile_ranges.quantiles",
                    format!("expected a list of numbers, found {}", kind_of(v)),
                ));
            }
            None => return Err(KwError::new("kwargs.quantile_ranges.quantiles", "missing")),
        };
        let ranges = match ranges_value.get("value_ranges") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let field = format!("kwargs.quantile_ranges.value_ranges[{i}]");
                    let bad = |v: &Value| {
                        KwError::new(
                            field.clone(),
                            format!("expected [min, max] (numbers or null), found {}", kind_of(v)),
                        )
                    };
                    match v {
                        Value::Array(pair) if pair.len() == 2 => {
                            let one = |x: &Value| match x {
                                Value::Null => Ok(None),
                                Value::Number(n) => Ok(n.as_f64()),
                                other => Err(bad(other)),
                            };
                            Ok([one(&pair[0])?, one(&pair[1])?])
                        }
                        other => Err(bad(other)),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(v) => {
                return Err(KwError::new(
                    "kwargs.quantile_ranges.value_ranges",
                    format!("expected a list of [min, max] pairs, found {}", kind_of(v)),
                ));
            }
            None => return Err(KwError::new("kwargs.quantile_ranges.value_ranges", "missing")),
        };
        if ranges.len() != quantiles.len() {
            return Err(KwError::new(
                "kwargs.quantile_ranges.value_ranges",
                format!("has {} ranges for {} quantiles", ranges.len(), quantiles.len()),
            ));
        }
        Ok(Expectation::Quantiles { column, quantiles, ranges, interp })
    }
}
