//! Resolving a [`Spec`] against a schema before touching any row: every column name, type and
//! constant is checked here, so a bad recipe fails fast even on an empty table.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};

use crate::cast::{castable, is_string_like, target_type};
use crate::{CastType, FilterOp, Literal, OnError, PreprocessError, Spec, Step, Unmapped};

/// A step resolved against the columns it will see.
pub(crate) struct PlannedStep {
    /// 1-based.
    pub number: usize,
    pub kind: &'static str,
    pub op: Op,
}

pub(crate) enum Op {
    Select(Vec<usize>),
    Cast(Vec<CastColumn>),
    Filter { index: usize, pred: Pred },
    Map(MapOp),
    Fill(Vec<FillColumn>),
}

pub(crate) struct CastColumn {
    pub index: usize,
    pub name: String,
    pub to: CastType,
    pub on_error: OnError,
}

/// Constants are one-element arrays of the column's own type, ready for the compare kernels.
pub(crate) enum Pred {
    Eq(ArrayRef),
    Ne(ArrayRef),
    In(Vec<ArrayRef>),
    NotIn(Vec<ArrayRef>),
    IsNull,
    IsNotNull,
}

pub(crate) struct MapOp {
    pub index: usize,
    pub name: String,
    /// Old values by their length in bytes, each with its position in `targets`: a column
    /// holds a few distinct values, so comparing the one or two of the same length beats
    /// hashing every value.
    pub by_len: Vec<Vec<(Box<[u8]>, u32)>>,
    pub targets: Vec<String>,
    pub unmapped: Unmapped,
}

impl MapOp {
    /// The position in `targets` of the value `old` maps to.
    #[inline]
    pub fn find(&self, old: &[u8]) -> Option<u32> {
        self.by_len.get(old.len())?.iter().find(|(from, _)| esteira_core::table::same_bytes(from, old)).map(|(_, t)| *t)
    }
}

pub(crate) struct FillColumn {
    pub index: usize,
    pub name: String,
    pub value: ArrayRef,
}

pub(crate) struct Plan {
    pub steps: Vec<PlannedStep>,
    pub schema: SchemaRef,
}

/// The schema applying `spec` would produce for a table of `schema`, or the first error in
/// the recipe that does not depend on row values.
pub fn output_schema(spec: &Spec, schema: &SchemaRef) -> Result<SchemaRef, PreprocessError> {
    Ok(compile(spec, schema)?.schema)
}

/// The input columns (indices into `schema`, in its order) applying `spec` reads: those of a
/// leading `select`, when the recipe starts with one, else `None` (all of them). Any error
/// in the recipe that does not depend on row values is reported as [`output_schema`] would.
pub fn input_columns(spec: &Spec, schema: &SchemaRef) -> Result<Option<Vec<usize>>, PreprocessError> {
    let plan = compile(spec, schema)?;
    Ok(plan.steps.first().and_then(|s| match &s.op {
        Op::Select(indices) => {
            let mut read = indices.clone();
            read.sort_unstable();
            read.dedup();
            Some(read)
        }
        _ => None,
    }))
}

pub(crate) fn compile(spec: &Spec, schema: &SchemaRef) -> Result<Plan, PreprocessError> {
    spec.validate()?;
    let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
    let mut steps = Vec::with_capacity(spec.steps.len());
    for (i, step) in spec.steps.iter().enumerate() {
        let number = i + 1;
        let kind = step.kind();
        let names: Vec<&str> = match step {
            Step::Select(cols) => cols.iter().map(String::as_str).collect(),
            Step::Cast(cols) => cols.keys().map(String::as_str).collect(),
            Step::Filter(f) => vec![f.column.as_str()],
            Step::Map(m) => vec![m.column.as_str()],
            Step::Fill(cols) => cols.keys().map(String::as_str).collect(),
        };
        let indices = resolve(&fields, &names, number, kind)?;
        let column_error = |index: usize, message: String| PreprocessError::ColumnType {
            step: number,
            kind,
            column: fields[index].name().clone(),
            data_type: fields[index].data_type().to_string(),
            message,
        };
        let op = match step {
            Step::Select(_) => Op::Select(indices),
            Step::Cast(cols) => {
                let mut out = Vec::with_capacity(cols.len());
                for ((name, c), &index) in cols.iter().zip(&indices) {
                    if !castable(fields[index].data_type(), c.to) {
                        return Err(column_error(index, format!("cannot be cast to {}", c.to)));
                    }
                    out.push(CastColumn { index, name: name.clone(), to: c.to, on_error: c.on_error });
                }
                Op::Cast(out)
            }
            Step::Filter(f) => {
                let index = indices[0];
                let dt = fields[index].data_type();
                let one = |lit: &Literal| literal_array(lit, dt).map_err(|m| column_error(index, m));
                let pred = match &f.op {
                    FilterOp::Eq(v) => Pred::Eq(one(v)?),
                    FilterOp::Ne(v) => Pred::Ne(one(v)?),
                    FilterOp::In(vs) => Pred::In(vs.iter().map(one).collect::<Result<_, _>>()?),
                    FilterOp::NotIn(vs) => Pred::NotIn(vs.iter().map(one).collect::<Result<_, _>>()?),
                    FilterOp::IsNull => Pred::IsNull,
                    FilterOp::IsNotNull => Pred::IsNotNull,
                };
                Op::Filter { index, pred }
            }
            Step::Map(m) => {
                let index = indices[0];
                if !is_string_like(fields[index].data_type()) {
                    return Err(column_error(
                        index,
                        "map needs a string column (cast it to utf8 in an earlier step)".into(),
                    ));
                }
                let mut targets: Vec<String> = m.values.values().cloned().collect();
                targets.sort();
                targets.dedup();
                let longest = m.values.keys().map(String::len).max().unwrap_or(0);
                let mut by_len: Vec<Vec<(Box<[u8]>, u32)>> = vec![Vec::new(); longest + 1];
                for (from, to) in &m.values {
                    let target = targets.binary_search(to).unwrap_or(0) as u32;
                    by_len[from.len()].push((from.as_bytes().into(), target));
                }
                Op::Map(MapOp { index, name: m.column.clone(), by_len, targets, unmapped: m.unmapped })
            }
            Step::Fill(cols) => {
                let mut out = Vec::with_capacity(cols.len());
                for ((name, lit), &index) in cols.iter().zip(&indices) {
                    let value = literal_array(lit, fields[index].data_type()).map_err(|m| column_error(index, m))?;
                    out.push(FillColumn { index, name: name.clone(), value });
                }
                Op::Fill(out)
            }
        };
        fields = fields_after(&op, fields);
        steps.push(PlannedStep { number, kind, op });
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    Ok(Plan { steps, schema })
}

fn resolve(
    fields: &[FieldRef],
    names: &[&str],
    step: usize,
    kind: &'static str,
) -> Result<Vec<usize>, PreprocessError> {
    let mut indices = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        match fields.iter().position(|f| f.name() == name) {
            Some(i) => indices.push(i),
            None => missing.push((*name).to_owned()),
        }
    }
    if missing.is_empty() {
        Ok(indices)
    } else {
        Err(PreprocessError::MissingColumns {
            step,
            kind,
            missing,
            available: fields.iter().map(|f| f.name().clone()).collect(),
        })
    }
}

fn fields_after(op: &Op, mut fields: Vec<FieldRef>) -> Vec<FieldRef> {
    let retype = |f: &FieldRef, dt: DataType, nullable: bool| -> FieldRef {
        Arc::new(Field::new(f.name(), dt, nullable).with_metadata(f.metadata().clone()))
    };
    match op {
        Op::Select(indices) => return indices.iter().map(|&i| Arc::clone(&fields[i])).collect(),
        Op::Cast(cols) => {
            for c in cols {
                let dt = target_type(c.to);
                // An unchanged type keeps its field (and nullability); a conversion may null values.
                if fields[c.index].data_type() != &dt {
                    fields[c.index] = retype(&fields[c.index], dt, true);
                }
            }
        }
        Op::Map(m) => fields[m.index] = retype(&fields[m.index], DataType::Utf8, true),
        Op::Fill(cols) => {
            for c in cols {
                let dt = fields[c.index].data_type().clone();
                fields[c.index] = retype(&fields[c.index], dt, false);
            }
        }
        Op::Filter { .. } => {}
    }
    fields
}

/// A constant as a one-element array of the column's type, or why it does not fit.
pub(crate) fn literal_array(lit: &Literal, dt: &DataType) -> Result<ArrayRef, String> {
    let mismatch = || format!("the constant {lit} is a {}, which does not fit this column", lit.type_name());
    let natural: ArrayRef = match lit {
        Literal::Str(s) if is_string_like(dt) => Arc::new(StringArray::from(vec![s.as_str()])),
        Literal::Int(i) if dt.is_integer() || dt.is_floating() => Arc::new(Int64Array::from(vec![*i])),
        Literal::Float(x) if dt.is_floating() => Arc::new(Float64Array::from(vec![*x])),
        Literal::Float(x) if dt.is_integer() => {
            if x.fract() != 0.0 || !x.is_finite() {
                return Err(format!("the constant {lit} is not an integer"));
            }
            Arc::new(Int64Array::from(vec![*x as i64]))
        }
        Literal::Bool(b) if dt == &DataType::Boolean => Arc::new(BooleanArray::from(vec![*b])),
        _ => return Err(mismatch()),
    };
    cast_with_options(&natural, dt, &CastOptions { safe: false, ..Default::default() })
        .map_err(|e| format!("the constant {lit} does not fit this column: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true), Field::new("n", DataType::Int8, true)]))
    }

    #[test]
    fn literals_follow_the_column_type() {
        assert_eq!(literal_array(&Literal::Int(3), &DataType::Int8).unwrap().data_type(), &DataType::Int8);
        assert_eq!(literal_array(&Literal::Int(3), &DataType::Float32).unwrap().data_type(), &DataType::Float32);
        assert!(literal_array(&Literal::Int(300), &DataType::Int8).unwrap_err().contains("does not fit"));
        assert_eq!(
            literal_array(&Literal::Float(2.5), &DataType::Int64).unwrap_err(),
            "the constant 2.5 is not an integer"
        );
        assert_eq!(
            literal_array(&Literal::Str("x".into()), &DataType::Int64).unwrap_err(),
            r#"the constant "x" is a string, which does not fit this column"#
        );
    }

    #[test]
    fn output_schema_follows_the_steps() {
        let spec: Spec = serde_json::from_value(serde_json::json!({"steps": [
            {"cast": {"n": "float64"}},
            {"fill": {"a": "?"}},
            {"select": ["n", "a"]},
        ]}))
        .unwrap();
        let out = output_schema(&spec, &schema()).unwrap();
        assert_eq!(out.field(0).data_type(), &DataType::Float64);
        assert_eq!(out.field(1).name(), "a");
        assert!(!out.field(1).is_nullable());
    }

    #[test]
    fn map_rejects_numbers() {
        let spec: Spec = serde_json::from_value(serde_json::json!({"steps": [
            {"map": {"column": "n", "values": {"1": "one"}}},
        ]}))
        .unwrap();
        let err = output_schema(&spec, &schema()).unwrap_err().to_string();
        assert_eq!(
            err,
            "step 1 (map): column `n` (Int8): map needs a string column (cast it to utf8 in an earlier step)"
        );
    }
}
