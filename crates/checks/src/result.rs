//! Validation results in Great Expectations' result JSON shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CheckError;
use crate::suite::ExpectationConfig;

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

    /// Pretty JSON (keys in a fixed order, final newline): the bytes of the `result` output.
    pub fn to_json(&self) -> String {
        let value = crate::suite::sorted(serde_json::to_value(self).unwrap_or(Value::Null));
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
