//! One expectation as a suite writes it ([`ExpectationConfig`]), and the JSON helpers both the
//! suite reader and the expectations use (so neither module depends on the other's internals).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One expectation as written in a suite: its type, its kwargs and its meta. Fields this crate
/// does not know (e.g. `ge_cloud_id`) are kept in `extra` and written back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationConfig {
    /// E.g. `expect_column_values_to_not_be_null`.
    pub expectation_type: String,
    /// The expectation's arguments (`column`, `min_value`, `mostly` …).
    #[serde(default)]
    pub kwargs: Map<String, Value>,
    /// Free-form metadata (notes, provenance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Any other field, preserved as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ExpectationConfig {
    /// An expectation of type `expectation_type` with `kwargs` (a JSON object; anything else
    /// gives empty kwargs) and empty meta.
    pub fn new(expectation_type: impl Into<String>, kwargs: Value) -> Self {
        let kwargs = match kwargs {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Self {
            expectation_type: expectation_type.into(),
            kwargs,
            meta: Some(Value::Object(Map::new())),
            extra: BTreeMap::new(),
        }
    }

    /// The `column` kwarg, when the expectation has one.
    pub fn column(&self) -> Option<&str> {
        self.kwargs.get("column").and_then(Value::as_str)
    }
}

/// Rebuilds objects with sorted keys, whatever map type serde_json was built with.
pub(crate) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(m) => {
            let tree: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(tree.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

/// User text (a name, a type, a key) as an error message shows it: at most
/// [`esteira_core::MAX_EXCERPT_CHARS`] characters.
pub(crate) fn short(s: &str) -> std::borrow::Cow<'_, str> {
    esteira_core::excerpt(s, esteira_core::MAX_EXCERPT_CHARS)
}

/// A short description of a JSON value's kind, for error messages.
pub(crate) fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("string {short:?}")
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
