//! Validation results in Great Expectations' result JSON shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CheckError;
use crate::config::ExpectationConfig;

/// Whether evaluating an expectation raised, as GE reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// True when the expectation could not be evaluated (missing column, wrong type …).
    pub raised_exception: bool,
    /// What went wrong.
    pub exception_message: Option<String>,
    /// GE puts a Python traceback here; we put the same message (no stack to show).
    pub exception_traceback: Option<String>,
}

impl ExceptionInfo {
    pub(crate) fn raised(message: String) -> Self {
        Self { raised_exception: true, exception_message: Some(message.clone()), exception_traceback: Some(message) }
    }
}

/// The result of one expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// Set when the expectation could not be evaluated.
    pub exception_info: ExceptionInfo,
    /// The expectation, as written in the suite.
    pub expectation_config: ExpectationConfig,
    /// Free-form metadata (empty).
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// `observed_value`, or the map-expectation counts (`element_count`, `unexpected_count`,
    /// `partial_unexpected_list` …), plus `details` where GE gives them.
    #[serde(default)]
    pub result: Map<String, Value>,
    /// Whether the expectation was met.
    pub success: bool,
}

impl ExpectationResult {
    /// The observed value of an aggregate expectation, if any.
    pub fn observed_value(&self) -> Option<&Value> {
        self.result.get("observed_value")
    }

    /// The number of unexpected values of a map expectation, if any.
    pub fn unexpected_count(&self) -> Option<u64> {
        self.result.get("unexpected_count").and_then(Value::as_u64)
    }

    /// `#index expectation_type(column)`: how errors and logs name an expectation.
    pub fn label(&self, index: usize) -> String {
        let c = &self.expectation_config;
        match c.column() {
            Some(col) => format!("#{index} {}({col})", c.expectation_type),
            None => format!("#{index} {}", c.expectation_type),
        }
    }

    /// The label and what was found, on one line, for error messages: for a map expectation
    /// the unexpected count, of how many rows (the non-missing ones when missing values are not
    /// considered), the percentage and up to [`FAILURE_EXAMPLES`] distinct unexpected values;
    /// for an aggregate one the observed value (and the bounds, when given); for one that
    /// could not be evaluated, why. User text (column names, values, messages) is cut with
    /// [`esteira_core::excerpt`].
    ///
    /// `#3 expect_column_values_to_match_regex(id_discente): 12032 unexpected of 12032 (100 %),
    /// e.g. "400001", "400004", "400005"`
    pub fn failure_summary(&self, index: usize) -> String {
        use esteira_core::excerpt;
        let c = &self.expectation_config;
        let mut s = format!("#{index} {}", excerpt(&c.expectation_type, 80));
        let list = c.kwargs.get("column_list").and_then(Value::as_array).map(|l| {
            let names: Vec<&str> = l.iter().filter_map(Value::as_str).collect();
            names.join(", ")
        });
        if let Some(cols) = c.column().map(str::to_owned).or(list) {
            s.push_str(&format!("({})", excerpt(&cols, 80)));
        }
        if self.exception_info.raised_exception {
            let why = self.exception_info.exception_message.as_deref().unwrap_or("no message");
            s.push_str(&format!(": could not be evaluated: {}", excerpt(why, esteira_core::MAX_EXCERPT_CHARS)));
            return s;
        }
        if let Some(observed) = self.observed_value() {
            s.push_str(&format!(": observed {}", value_excerpt(observed)));
            let bound = |k: &str| c.kwargs.get(k).filter(|v| !v.is_null()).map(value_excerpt);
            match (bound("min_value"), bound("max_value")) {
                (Some(lo), Some(hi)) if lo == hi => s.push_str(&format!(", expected {lo}")),
                (Some(lo), Some(hi)) => s.push_str(&format!(", expected between {lo} and {hi}")),
                (Some(lo), None) => s.push_str(&format!(", expected at least {lo}")),
                (None, Some(hi)) => s.push_str(&format!(", expected at most {hi}")),
                (None, None) => {}
            }
            return s;
        }
        let Some(unexpected) = self.unexpected_count() else { return s };
        let count = |k: &str| self.result.get(k).and_then(Value::as_u64);
        let elements = count("element_count").unwrap_or(0);
        let of = match count("missing_count") {
            Some(missing) if missing > 0 => format!("{} non-missing", elements.saturating_sub(missing)),
            _ => elements.to_string(),
        };
        s.push_str(&format!(": {unexpected} unexpected of {of}"));
        if let Some(pct) = self.result.get("unexpected_percent").and_then(Value::as_f64) {
            s.push_str(&format!(" ({} %)", percent_text(pct)));
        }
        // Distinct as shown: two values cut to the same text are one example.
        let mut examples: Vec<String> = Vec::new();
        if let Some(Value::Array(list)) = self.result.get("partial_unexpected_list") {
            for shown in list.iter().map(value_excerpt) {
                if examples.len() == FAILURE_EXAMPLES {
                    break;
                }
                if !examples.contains(&shown) {
                    examples.push(shown);
                }
            }
        }
        if !examples.is_empty() {
            s.push_str(&format!(", e.g. {}", examples.join(", ")));
        }
        s
    }
}

/// How many distinct unexpected values [`ExpectationResult::failure_summary`] shows.
pub const FAILURE_EXAMPLES: usize = 3;

/// The most characters of one value a failure summary repeats.
const VALUE_EXCERPT_CHARS: usize = 40;

/// A value as JSON (strings quoted), long text cut; a row of a multi-column expectation
/// (`{"column": value, …}`) has each value cut on its own, so that rows stay told apart.
fn value_excerpt(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(esteira_core::excerpt(s, VALUE_EXCERPT_CHARS).into_owned()).to_string(),
        Value::Object(fields) => {
            let shown: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", value_excerpt(&Value::String(k.clone())), value_excerpt(v)))
                .collect();
            esteira_core::excerpt(&format!("{{{}}}", shown.join(", ")), 4 * VALUE_EXCERPT_CHARS).into_owned()
        }
        other => esteira_core::excerpt(&other.to_string(), VALUE_EXCERPT_CHARS).into_owned(),
    }
}

/// A percentage with at most two decimals, but never rounded to 0 or 100 when it is not.
fn percent_text(pct: f64) -> String {
    let fixed = format!("{pct:.2}");
    let text = if fixed.contains('.') { fixed.trim_end_matches('0').trim_end_matches('.') } else { &fixed };
    if text == "0" && pct > 0.0 {
        "< 0.01".to_owned()
    } else if text == "100" && pct < 100.0 {
        "> 99.99".to_owned()
    } else {
        text.to_owned()
    }
}

/// Counts of a validation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// Expectations evaluated.
    pub evaluated_expectations: u64,
    /// Percentage that succeeded (null when none were evaluated).
    pub success_percent: Option<f64>,
    /// Expectations met.
    pub successful_expectations: u64,
    /// Expectations failed (including those that raised).
    pub unsuccessful_expectations: u64,
}

/// The result of validating a table against a suite (GE's `ExpectationSuiteValidationResult`).
///
/// Deterministic: no run id or timestamp (those belong in esteira's run record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationResult {
    /// Unused (GE's evaluation parameters); kept for shape compatibility.
    #[serde(default)]
    pub evaluation_parameters: Map<String, Value>,
    /// `expectation_suite_name`, the validator and the table's shape.
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// One result per expectation, in suite order.
    pub results: Vec<ExpectationResult>,
    /// Counts.
    pub statistics: Statistics,
    /// True when every expectation succeeded.
    pub success: bool,
}

impl ValidationResult {
    /// Builds the result (statistics and overall success) from per-expectation results.
    pub fn from_results(suite_name: &str, rows: usize, columns: usize, results: Vec<ExpectationResult>) -> Self {
        let evaluated = results.len() as u64;
        let successful = results.iter().filter(|r| r.success).count() as u64;
        let statistics = Statistics {
            evaluated_expectations: evaluated,
            success_percent: (evaluated > 0).then(|| successful as f64 / evaluated as f64 * 100.0),
            successful_expectations: successful,
            unsuccessful_expectations: evaluated - successful,
        };
        let mut meta = Map::new();
        meta.insert("expectation_suite_name".into(), Value::String(suite_name.to_owned()));
        meta.insert("validator".into(), Value::String("esteira-checks".into()));
        meta.insert("table_rows".into(), Value::from(rows as u64));
        meta.insert("table_columns".into(), Value::from(columns as u64));
        Self { evaluation_parameters: Map::new(), meta, results, statistics, success: successful == evaluated }
    }

    /// The suite's name.
    pub fn suite_name(&self) -> &str {
        self.meta.get("expectation_suite_name").and_then(Value::as_str).unwrap_or("")
    }

    /// The failed expectations with their index in the suite.
    pub fn failed(&self) -> impl Iterator<Item = (usize, &ExpectationResult)> {
        self.results.iter().enumerate().filter(|(_, r)| !r.success)
    }

    /// What failed, for an error message: the [`ExpectationResult::failure_summary`] of the first
    /// `max` failed expectations, `; `-separated, then the labels of the rest.
    pub fn failure_summary(&self, max: usize) -> String {
        let mut parts: Vec<String> = self.failed().take(max).map(|(i, r)| r.failure_summary(i)).collect();
        let rest: Vec<String> = self.failed().skip(max).map(|(i, r)| r.label(i)).collect();
        if !rest.is_empty() {
            parts.push(format!("and {} more: {}", rest.len(), rest.join(", ")));
        }
        parts.join("; ")
    }

    /// Pretty JSON (keys in a fixed order, final newline): the bytes of the `result` output.
    pub fn to_json(&self) -> String {
        let value = crate::config::sorted(serde_json::to_value(self).unwrap_or(Value::Null));
        let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses a result written by [`ValidationResult::to_json`] (or by GE).
    pub fn from_json(text: &str) -> Result<Self, CheckError> {
        serde_json::from_str(text)
            .map_err(|e| CheckError::SuiteFormat { source_name: "validation result".into(), message: e.to_string() })
    }

    /// The process exit status for `esteira checks validate`: 0 when the suite passed, 1 when an
    /// expectation failed. (Bad input — an unreadable table or suite — is [`EXIT_BAD_INPUT`].)
    pub fn exit_code(&self) -> u8 {
        if self.success { EXIT_PASSED } else { EXIT_FAILED }
    }
}

/// Exit status: the suite passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit status: at least one expectation failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the table or the suite could not be read.
pub const EXIT_BAD_INPUT: u8 = 2;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::{Suite, validate};

    fn result(ids: Vec<Option<String>>, expectations: &serde_json::Value) -> super::ValidationResult {
        let n = ids.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id_discente", DataType::Utf8, true),
            Field::new("renda", DataType::Float64, true),
        ]));
        let renda: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(ids)), Arc::new(Float64Array::from(renda))])
                .unwrap();
        let suite = serde_json::json!({"expectation_suite_name": "s", "expectations": expectations});
        validate(&[batch], &Suite::from_json(&suite.to_string()).unwrap())
    }

    #[test]
    fn a_failure_summary_names_count_percentage_and_a_few_distinct_values() {
        let ids: Vec<Option<String>> =
            ["400001", "400001", "400004", "400005", "400006"].iter().map(|s| Some((*s).to_owned())).collect();
        let r = result(
            ids,
            &serde_json::json!([
                {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id_discente"}},
                {"expectation_type": "expect_column_values_to_match_regex",
                 "kwargs": {"column": "id_discente", "regex": "^[0-9a-f]{32}$"}},
            ]),
        );
        assert_eq!(
            r.results[1].failure_summary(1),
            "#1 expect_column_values_to_match_regex(id_discente): 5 unexpected of 5 (100 %), \
             e.g. \"400001\", \"400004\", \"400005\""
        );
        assert_eq!(r.failure_summary(5), r.results[1].failure_summary(1), "only failed expectations");
    }

    #[test]
    fn missing_values_are_not_counted_and_long_values_are_cut() {
        let long = "x".repeat(1000);
        let ids = vec![None, Some(long), Some("ok".into()), Some("ok".into())];
        let r = result(
            ids,
            &serde_json::json!([
                {"expectation_type": "expect_column_values_to_be_in_set",
                 "kwargs": {"column": "id_discente", "value_set": ["ok"]}},
                {"expectation_type": "expect_column_median_to_be_between",
                 "kwargs": {"column": "renda", "min_value": 10, "max_value": 20}},
                {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nope"}},
            ]),
        );
        let first = r.results[0].failure_summary(0);
        assert_eq!(
            first,
            format!(
                "#0 expect_column_values_to_be_in_set(id_discente): 1 unexpected of 3 non-missing (33.33 %), \
                 e.g. \"{}…[+960 chars]\"",
                "x".repeat(40)
            )
        );
        assert_eq!(
            r.results[1].failure_summary(1),
            "#1 expect_column_median_to_be_between(renda): observed 1.5, expected between 10 and 20"
        );
        let third = r.results[2].failure_summary(2);
        assert!(third.starts_with("#2 expect_column_values_to_not_be_null(nope): could not be evaluated: "), "{third}");
        let all = r.failure_summary(1);
        assert!(all.starts_with(&first), "{all}");
        assert!(
            all.ends_with(
                "; and 2 more: #1 expect_column_median_to_be_between(renda), \
                 #2 expect_column_values_to_not_be_null(nope)"
            ),
            "{all}"
        );
    }

    #[test]
    fn rows_of_a_multi_column_expectation_have_each_value_cut() {
        // Values longer than the cut that differ only at their end: each stays told apart.
        let long = "9d87eead".repeat(6);
        let ids: Vec<Option<String>> =
            ["1", "1", "2", "3", "3"].iter().map(|t| Some(format!("{long}{t}"))).chain([Some("b".into())]).collect();
        let r = result(
            ids,
            &serde_json::json!([
                {"expectation_type": "expect_compound_columns_to_be_unique",
                 "kwargs": {"column_list": ["id_discente"]}},
            ]),
        );
        let summary = r.results[0].failure_summary(0);
        let shown = format!("{{\"id_discente\": \"{}…[+9 chars]\"}}", &long[..40]);
        assert_eq!(
            summary,
            format!("#0 expect_compound_columns_to_be_unique(id_discente): 4 unexpected of 6 (66.67 %), e.g. {shown}"),
            "values cut alike are one example"
        );
    }

    #[test]
    fn percentages_are_never_rounded_to_none_or_all() {
        assert_eq!(super::percent_text(100.0), "100");
        assert_eq!(super::percent_text(12.5), "12.5");
        assert_eq!(super::percent_text(0.001), "< 0.01");
        assert_eq!(super::percent_text(99.999), "> 99.99");
        assert_eq!(super::percent_text(0.0), "0");
    }
}
