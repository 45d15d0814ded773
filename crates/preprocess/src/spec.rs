//! The declarative step list: what a pipeline file writes under `[stages.x.params]`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::PreprocessError;

/// A whole preprocessing recipe: steps applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The steps, run in the declared order.
    pub steps: Vec<Step>,
}

/// One step. In TOML each step is a table with exactly one key naming the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Keeps these columns, in this order.
    Select(Vec<String>),
    /// Converts columns to types, each with its policy for values that do not convert.
    Cast(BTreeMap<String, CastSpec>),
    /// Keeps the rows matching a predicate on one column.
    Filter(FilterSpec),
    /// Replaces the values of a string column through a table.
    Map(MapSpec),
    /// Replaces nulls in columns with constants.
    Fill(BTreeMap<String, Literal>),
}

impl Step {
    /// The step's name as written in a pipeline file (`select`, `cast` …).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Select(_) => "select",
            Step::Cast(_) => "cast",
            Step::Filter(_) => "filter",
            Step::Map(_) => "map",
            Step::Fill(_) => "fill",
        }
    }
}

impl Spec {
    /// Checks what can be checked without a table: non-empty lists, no duplicate selections.
    /// Column names and types are checked against the schema by [`crate::output_schema`].
    pub fn validate(&self) -> Result<(), PreprocessError> {
        for (i, step) in self.steps.iter().enumerate() {
            let bad = |message: String| PreprocessError::Spec { step: i + 1, kind: step.kind(), message };
            match step {
                Step::Select(cols) => {
                    if cols.is_empty() {
                        return Err(bad("selects no columns".into()));
                    }
                    let mut seen = std::collections::BTreeSet::new();
                    for c in cols {
                        if !seen.insert(c) {
                            return Err(bad(format!("column `{c}` is selected twice")));
                        }
                    }
                }
                Step::Cast(cols) if cols.is_empty() => return Err(bad("names no columns".into())),
                Step::Fill(cols) if cols.is_empty() => return Err(bad("names no columns".into())),
                Step::Map(m) if m.values.is_empty() => {
                    return Err(bad(format!("the mapping of column `{}` has no values", m.column)));
                }
                Step::Filter(_) | Step::Cast(_) | Step::Fill(_) | Step::Map(_) => {}
            }
        }
        Ok(())
    }
}

/// A target type of the `cast` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CastType {
    /// 64-bit signed integer.
    Int64,
    /// 64-bit float (read by [`esteira_core::parse_number`]: a decimal comma is accepted, an
    /// ambiguous `1.234` is not; see the crate doc).
    Float64,
    /// Boolean, from `true/false/t/f/True/False`.
    Bool,
    /// UTF-8 string.
    Utf8,
}

impl fmt::Display for CastType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CastType::Int64 => "int64",
            CastType::Float64 => "float64",
            CastType::Bool => "bool",
            CastType::Utf8 => "utf8",
        })
    }
}

/// What to do with a value that does not convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Fail the step, listing up to 20 offending values with their row numbers.
    #[default]
    Error,
    /// Replace the value with null.
    Null,
    /// Drop the row.
    Drop,
}

/// How one column is cast: `"int64"` or `{ type = "float64", on_error = "null" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CastSpec {
    /// The target type.
    pub to: CastType,
    /// The policy for values that do not convert.
    pub on_error: OnError,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CastTable {
    #[serde(rename = "type")]
    to: CastType,
    #[serde(default)]
    on_error: OnError,
}

impl Serialize for CastSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Always the long form, so the cache key does not depend on which form was written.
        CastTable { to: self.to, on_error: self.on_error }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CastSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CastSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a type name ("int64", "float64", "bool", "utf8") or a table { type, on_error }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CastSpec, E> {
                let to = CastType::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(CastSpec { to, on_error: OnError::Error })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CastSpec, A::Error> {
                let t = CastTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(CastSpec { to: t.to, on_error: t.on_error })
            }
        }
        d.deserialize_any(V)
    }
}

/// A constant in a filter or fill: a string, an integer, a float or a boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Literal {
    /// `string`, `integer`, `float` or `boolean`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Literal::Str(_) => "string",
            Literal::Int(_) => "integer",
            Literal::Float(_) => "float",
            Literal::Bool(_) => "boolean",
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Literal::Str(s.to_owned())
    }
}

impl Serialize for Literal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Literal::Str(v) => s.serialize_str(v),
            Literal::Int(v) => s.serialize_i64(*v),
            Literal::Float(v) => s.serialize_f64(*v),
            Literal::Bool(v) => s.serialize_bool(*v),
        }
    }
}

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Literal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Literal, E> {
                Ok(Literal::Str(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Literal, E> {
                Ok(Literal::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Literal, E> {
                i64::try_from(v).map(Literal::Int).map_err(|_| E::custom(format!("integer {v} does not fit in int64")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Literal, E> {
                Ok(Literal::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Literal, E> {
                Ok(Literal::Bool(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `filter = { column = "descricao", not_in = ["INDEFERIDO"] }`: exactly one predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FilterTable", into = "FilterTable")]
pub struct FilterSpec {
    /// The column tested.
    pub column: String,
    /// The predicate rows must satisfy to be kept.
    pub op: FilterOp,
}

/// A filter predicate. A null is never equal to a value: `eq`/`in` drop null rows, `ne`/`not_in`
/// keep them (as pandas does).
#[derive(Debug, Clone, PartialEq)]
pub enum FilterOp {
    /// Keep rows equal to the value.
    Eq(Literal),
    /// Keep rows not equal to the value (and nulls).
    Ne(Literal),
    /// Keep rows equal to one of the values.
    In(Vec<Literal>),
    /// Keep rows equal to none of the values (and nulls).
    NotIn(Vec<Literal>),
    /// Keep null rows.
    IsNull,
    /// Keep non-null rows.
    IsNotNull,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterTable {
    column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eq: Option<Literal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ne: Option<Literal>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    in_: Option<Vec<Literal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_in: Option<Vec<Literal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_null: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_not_null: Option<bool>,
}

impl TryFrom<FilterTable> for FilterSpec {
    type Error = String;
    fn try_from(t: FilterTable) -> Result<Self, String> {
        let mut ops = Vec::new();
        if let Some(v) = t.eq {
            ops.push(FilterOp::Eq(v));
        }
        if let Some(v) = t.ne {
            ops.push(FilterOp::Ne(v));
        }
        for (name, list, make) in [
            ("in", t.in_, FilterOp::In as fn(Vec<Literal>) -> FilterOp),
            ("not_in", t.not_in, FilterOp::NotIn as fn(Vec<Literal>) -> FilterOp),
        ] {
            if let Some(list) = list {
                if list.is_empty() {
                    return Err(format!("filter on `{}`: `{name}` needs at least one value", t.column));
                }
                ops.push(make(list));
            }
        }
        // `is_null = false` reads naturally as "is not null", so both spellings are accepted.
        if let Some(b) = t.is_null {
            ops.push(if b { FilterOp::IsNull } else { FilterOp::IsNotNull });
        }
        if let Some(b) = t.is_not_null {
            ops.push(if b { FilterOp::IsNotNull } else { FilterOp::IsNull });
        }
        if ops.len() != 1 {
            return Err(format!(
                "filter on `{}` needs exactly one of eq, ne, in, not_in, is_null, is_not_null (got {})",
                t.column,
                ops.len()
            ));
        }
        Ok(FilterSpec { column: t.column, op: ops.remove(0) })
    }
}

impl From<FilterSpec> for FilterTable {
    fn from(f: FilterSpec) -> Self {
        let mut t = FilterTable {
            column: f.column,
            eq: None,
            ne: None,
            in_: None,
            not_in: None,
            is_null: None,
            is_not_null: None,
        };
        match f.op {
            FilterOp::Eq(v) => t.eq = Some(v),
            FilterOp::Ne(v) => t.ne = Some(v),
            FilterOp::In(v) => t.in_ = Some(v),
            FilterOp::NotIn(v) => t.not_in = Some(v),
            FilterOp::IsNull => t.is_null = Some(true),
            FilterOp::IsNotNull => t.is_not_null = Some(true),
        }
        t
    }
}

/// `map = { column = "descricao", values = { APROVADO = "APROVADO" }, unmapped = "error" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// A string column.
    pub column: String,
    /// Old value -> new value.
    pub values: BTreeMap<String, String>,
    /// What happens to values (and nulls) the table does not cover.
    #[serde(default)]
    pub unmapped: Unmapped,
}

/// The policy for values a `map` table does not cover. Nulls count as unmapped values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// Fail, listing the unmapped values and their counts.
    #[default]
    Error,
    /// Keep the value unchanged.
    Keep,
    /// Drop the row.
    Drop,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_shape() {
        let spec: Spec = serde_json::from_value(json!({"steps": [
            {"select": ["a", "b"]},
            {"cast": {"a": "int64", "b": {"type": "float64", "on_error": "null"}}},
            {"filter": {"column": "c", "not_in": ["X", 1, 2.5, true]}},
            {"map": {"column": "c", "values": {"A": "B"}, "unmapped": "keep"}},
            {"fill": {"c": "none", "a": 0}},
        ]}))
        .unwrap();
        assert_eq!(spec.steps.len(), 5);
        assert_eq!(
            spec.steps[1],
            Step::Cast(BTreeMap::from([
                ("a".into(), CastSpec { to: CastType::Int64, on_error: OnError::Error }),
                ("b".into(), CastSpec { to: CastType::Float64, on_error: OnError::Null }),
            ]))
        );
        assert_eq!(
            spec.steps[2],
            Step::Filter(FilterSpec {
                column: "c".into(),
                op: FilterOp::NotIn(vec![
                    Literal::Str("X".into()),
                    Literal::Int(1),
                    Literal::Float(2.5),
                    Literal::Bool(true)
                ])
            })
        );
        spec.validate().unwrap();
    }

    #[test]
    fn serialises_canonically_and_round_trips() {
        let spec: Spec = serde_json::from_value(json!({"steps": [
            {"cast": {"a": "int64"}},
            {"filter": {"column": "c", "is_null": false}},
        ]}))
        .unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            v,
            json!({"steps": [
                {"cast": {"a": {"type": "int64", "on_error": "error"}}},
                {"filter": {"column": "c", "is_not_null": true}},
            ]})
        );
        let back: Spec = serde_json::from_value(v).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn rejects_bad_shapes_with_reasons() {
        let err = |v: serde_json::Value| serde_json::from_value::<Spec>(v).unwrap_err().to_string();
        assert!(err(json!({"steps": [{"selct": ["a"]}]})).contains("unknown variant `selct`"));
        assert!(err(json!({"steps": [{"cast": {"a": "int32"}}]})).contains("unknown variant `int32`"));
        assert!(err(json!({"steps": [{"cast": {"a": {"type": "bool", "on_eror": "null"}}}]})).contains("on_eror"));
        let two = err(json!({"steps": [{"filter": {"column": "c", "eq": "a", "ne": "b"}}]}));
        assert!(two.contains("needs exactly one of eq, ne, in, not_in, is_null, is_not_null (got 2)"), "{two}");
        assert!(err(json!({"steps": [{"filter": {"column": "c", "in": []}}]})).contains("at least one value"));
        assert!(err(json!({"steps": [{"fill": {"c": [1]}}]})).contains("a string, number or boolean"));
    }

    #[test]
    fn validate_names_the_step() {
        let spec = Spec { steps: vec![Step::Select(vec!["a".into()]), Step::Select(vec!["b".into(), "b".into()])] };
        assert_eq!(spec.validate().unwrap_err().to_string(), "step 2 (select): column `b` is selected twice");
    }
}
