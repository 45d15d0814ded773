//! Expectation suites in Great Expectations' legacy JSON format, read and written losslessly.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CheckError;
use crate::config::{ExpectationConfig, kind_of, sorted};
use crate::expectation::Expectation;

/// An expectation suite: a name, a list of expectations and metadata.
///
/// [`Suite::from_json`] checks every expectation (type known, kwargs present and well typed)
/// and fails with the expectation's index and the field at fault; [`Suite::to_json`] writes
/// the suite back with every field it was read with, keys sorted as GE writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    /// The suite's name.
    pub expectation_suite_name: String,
    /// The expectations, in evaluation order.
    #[serde(default)]
    pub expectations: Vec<ExpectationConfig>,
    /// Suite metadata (GE keeps `great_expectations_version` and citations here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Other top-level fields (`data_asset_type`, `ge_cloud_id` …), preserved as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Suite {
    /// An empty suite called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            expectation_suite_name: name.into(),
            expectations: Vec::new(),
            meta: Some(Value::Object(Map::new())),
            extra: BTreeMap::new(),
        }
    }

    /// Parses a suite from GE's legacy JSON and checks every expectation.
    pub fn from_json(text: &str) -> Result<Self, CheckError> {
        Self::from_json_named(text, "suite")
    }

    /// Like [`Suite::from_json`], naming `source_name` (a file name) in errors.
    pub fn from_json_named(text: &str, source_name: &str) -> Result<Self, CheckError> {
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| CheckError::SuiteFormat { source_name: source_name.to_owned(), message: json_message(&e) })?;
        Self::from_value(value, source_name)
    }

    /// Reads and checks a suite file.
    pub fn from_path(path: &Path) -> Result<Self, CheckError> {
        let text = std::fs::read_to_string(path).map_err(|e| CheckError::io(path, e))?;
        Self::from_json_named(&text, &path.display().to_string())
    }

    /// Builds a suite from an already parsed JSON value and checks every expectation.
    pub fn from_value(value: Value, source_name: &str) -> Result<Self, CheckError> {
        let format = |message: String| CheckError::SuiteFormat { source_name: source_name.to_owned(), message };
        let Value::Object(obj) = &value else {
            return Err(format(format!("expected a JSON object at the top level, found {}", kind_of(&value))));
        };
        match obj.get("expectation_suite_name") {
            Some(Value::String(_)) => {}
            Some(v) => {
                return Err(format(format!("`expectation_suite_name`: expected a string, found {}", kind_of(v))));
            }
            None => return Err(format("missing field `expectation_suite_name`".into())),
        }
        match obj.get("expectations") {
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    let err = |field: &str, message: String| CheckError::Expectation {
                        source_name: source_name.to_owned(),
                        index,
                        expectation_type: item
                            .get("expectation_type")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_owned(),
                        field: field.to_owned(),
                        message,
                    };
                    let Value::Object(e) = item else {
                        return Err(err("expectation", format!("expected an object, found {}", kind_of(item))));
                    };
                    match e.get("expectation_type") {
                        Some(Value::String(_)) => {}
                        Some(v) => {
                            return Err(err("expectation_type", format!("expected a string, found {}", kind_of(v))));
                        }
                        None => return Err(err("expectation_type", "missing".into())),
                    }
                    if let Some(k) = e.get("kwargs").filter(|k| !k.is_object()) {
                        return Err(err("kwargs", format!("expected an object, found {}", kind_of(k))));
                    }
                }
            }
            Some(v) => return Err(format(format!("`expectations`: expected an array, found {}", kind_of(v)))),
            None => {}
        }
        let suite: Suite = serde_json::from_value(value).map_err(|e| format(json_message(&e)))?;
        suite.check_named(source_name)?;
        Ok(suite)
    }

    /// Checks every expectation (known type, required kwargs present and well typed).
    pub fn check(&self) -> Result<(), CheckError> {
        self.check_named("suite")
    }

    fn check_named(&self, source_name: &str) -> Result<(), CheckError> {
        for (index, config) in self.expectations.iter().enumerate() {
            Expectation::parse(config).map_err(|e| e.into_error(source_name, index, &config.expectation_type))?;
        }
        Ok(())
    }

    /// The suite as pretty JSON in GE's legacy format (keys sorted, two-space indent, final newline).
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut s = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Appends an expectation.
    pub fn push(&mut self, expectation_type: &str, kwargs: Value) {
        self.expectations.push(ExpectationConfig::new(expectation_type, kwargs));
    }
}

/// serde_json's message with any value it quotes cut, and its line and column kept.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return esteira_core::excerpt(&text, 4 * esteira_core::MAX_EXCERPT_CHARS).into_owned();
    }
    let position = format!(" at line {} column {}", e.line(), e.column());
    let body = text.strip_suffix(&position).unwrap_or(&text);
    format!("{}{position}", esteira_core::excerpt(body, 4 * esteira_core::MAX_EXCERPT_CHARS))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ORIGINAL: &str = include_str!("../tests/data/students_expects.json");

    #[test]
    fn original_suite_round_trips_losslessly() {
        let suite = Suite::from_json(ORIGINAL).unwrap();
        assert_eq!(suite.expectation_suite_name, "students_expects");
        assert_eq!(suite.expectations.len(), 39);
        // Unknown top-level fields survive.
        assert!(suite.extra.contains_key("ge_cloud_id"));
        assert!(suite.extra.contains_key("data_asset_type"));
        let original: Value = serde_json::from_str(ORIGINAL).unwrap();
        let written: Value = serde_json::from_str(&suite.to_json()).unwrap();
        assert_eq!(original, written);
        // Writing twice gives the same bytes.
        assert_eq!(Suite::from_json(&suite.to_json()).unwrap().to_json(), suite.to_json());
    }

    #[test]
    fn unknown_expectation_fields_are_kept() {
        let text = r#"{"expectation_suite_name": "s", "custom": {"a": 1}, "expectations": [
            {"expectation_type": "expect_column_to_exist", "kwargs": {"column": "a"}, "ge_cloud_id": "x1", "rendered": [1]}
        ]}"#;
        let suite = Suite::from_json(text).unwrap();
        let back: Value = serde_json::from_str(&suite.to_json()).unwrap();
        assert_eq!(back["custom"]["a"], 1);
        assert_eq!(back["expectations"][0]["ge_cloud_id"], "x1");
        assert_eq!(back["expectations"][0]["rendered"][0], 1);
        // A missing meta is not invented.
        assert!(back["expectations"][0].get("meta").is_none());
    }

    #[test]
    fn huge_user_text_is_cut_in_errors() {
        // A 1 MB type name, kwarg name or regex used to come back whole in the error.
        let huge = "x".repeat(1 << 20);
        let suite = |expectation: Value| json!({"expectation_suite_name": "s", "expectations": [expectation]});
        let cases = [
            suite(json!({"expectation_type": huge, "kwargs": {}})),
            suite(json!({"expectation_type": "expect_column_to_exist", "kwargs": {"column": "a", huge.as_str(): 1}})),
            suite(json!({"expectation_type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "a", "regex": format!("({huge}")}})),
            suite(json!({"expectation_type": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": ["a"], "ignore_row_if": huge}})),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let msg = Suite::from_json(&case.to_string()).unwrap_err().to_string();
            assert!(msg.len() < 3_000, "case {i}: {} bytes: {}", msg.len(), &msg[..200]);
            assert!(msg.contains("chars]"), "case {i}: {msg}");
        }
        // The regex's own explanation survives the cut.
        let case = suite(json!({"expectation_type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "a", "regex": format!("({huge}")}}));
        let msg = Suite::from_json(&case.to_string()).unwrap_err().to_string();
        assert!(msg.contains("unclosed group"), "{msg}");
    }

    #[test]
    fn malformed_suites_name_index_and_field() {
        let cases = [
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_to_exist","kwargs":{"column":"a"}},{"expectation_type":"expect_column_values_to_be_purple","kwargs":{"column":"a"}}]}"#,
                vec![
                    "expectation 1",
                    "expect_column_values_to_be_purple",
                    "expectation_type",
                    "unknown expectation type",
                ],
            ),
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_values_to_be_in_set","kwargs":{"column":"a"}}]}"#,
                vec!["expectation 0", "kwargs.value_set", "missing"],
            ),
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_mean_to_be_between","kwargs":{"column":"a","min_value":"low"}}]}"#,
                vec!["expectation 0", "kwargs.min_value", "expected a number or null", "string \"low\""],
            ),
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_values_to_not_be_null","kwargs":{"column":3}}]}"#,
                vec!["expectation 0", "kwargs.column", "expected a string", "number 3"],
            ),
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_values_to_not_be_null","kwargs":{"column":"a","mostly":1.5}}]}"#,
                vec!["kwargs.mostly", "between 0 and 1"],
            ),
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_values_to_match_regex","kwargs":{"column":"a","regex":"("}}]}"#,
                vec!["kwargs.regex", "invalid regular expression"],
            ),
            (
                r#"{"expectation_suite_name":"s","expectations":[{"expectation_type":"expect_column_values_to_not_be_null","kwargs":{"column":"a","colum":"b"}}]}"#,
                vec!["kwargs.colum", "unknown kwarg"],
            ),
            (r#"{"expectations": []}"#, vec!["missing field `expectation_suite_name`"]),
            (r#"{"expectation_suite_name": "s", "expectations": [1]}"#, vec!["expectation 0", "expected an object"]),
            ("{\"expectation_suite_name\": \"s\",\n \"expectations\": [}", vec!["line 2"]),
        ];
        for (text, needles) in cases {
            let msg = Suite::from_json(text).unwrap_err().to_string();
            for n in needles {
                assert!(msg.contains(n), "{msg:?} should contain {n:?}");
            }
        }
    }
}
