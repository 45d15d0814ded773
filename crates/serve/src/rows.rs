//! Turning request rows (JSON objects or form fields) into the Arrow batch the model scores,
//! checking every field against what the model saw in training.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_train::{InputColumn, InputKind, Model};
use serde::Serialize;

/// One invalid field of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// 0-based index of the row in the request (0 for a single object).
    pub row: usize,
    /// The field (column) name; empty when the row itself is wrong.
    pub field: String,
    /// What is wrong, in English.
    pub message: String,
    /// The same in Portuguese, for the form page.
    #[serde(skip)]
    pub mensagem: String,
}

/// The model's input columns with an Arrow schema to build batches with.
#[derive(Debug, Clone)]
pub(crate) struct InputSchema {
    pub(crate) columns: Vec<InputColumn>,
    pub(crate) schema: SchemaRef,
}

/// How blank values are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blank {
    /// A blank or null value is imputed by the model (the JSON API).
    Impute,
    /// A blank value is an error (the form, whose fields are all required).
    Required,
}

/// A checked value of one field.
enum Cell {
    Number(Option<f64>),
    Text(Option<String>),
}

/// Rows ready to score, with notes on what the model will do with them.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) batch: RecordBatch,
    /// Per row: imputed and extrapolated fields, in words.
    pub(crate) notes: Vec<Vec<String>>,
}

const MAX_LISTED: usize = 12;

fn list_categories(categories: &[String]) -> String {
    let mut s = String::new();
    for (i, c) in categories.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{c:?}");
    }
    if categories.len() > MAX_LISTED {
        let _ = write!(s, " … and {} more (see GET /api/model)", categories.len() - MAX_LISTED);
    }
    s
}

/// Parses a number the way the training data was read: `.` or `,` as the decimal separator.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let v = s.parse::<f64>().ok().or_else(|| s.replace(',', ".").parse::<f64>().ok())?;
    v.is_finite().then_some(v)
}

impl InputSchema {
    pub(crate) fn new(model: &Model) -> Self {
        let columns = model.input_columns();
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                let t = match c.kind {
                    InputKind::Numeric { .. } => DataType::Float64,
                    InputKind::Categorical { .. } => DataType::Utf8,
                };
                Field::new(&c.name, t, true)
            })
            .collect();
        Self { columns, schema: Arc::new(Schema::new(fields)) }
    }

    /// Checks one field's JSON value; `Err((english, portuguese))` when it cannot be used.
    fn cell(col: &InputColumn, value: Option<&serde_json::Value>, blank: Blank) -> Result<Cell, (String, String)> {
        use serde_json::Value;
        let Some(value) = value else {
            return Err(match blank {
                Blank::Impute => ("missing; send null to let the model impute it".into(), "campo ausente".into()),
                Blank::Required => ("required".into(), "obrigatório: escolha ou preencha um valor".into()),
            });
        };
        let text = match value {
            Value::Null => None,
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(_) | Value::Object(_) => {
                let what = match col.kind {
                    InputKind::Numeric { .. } => ("a number", "um número"),
                    InputKind::Categorical { .. } => ("a string", "um texto"),
                };
                return Err((
                    format!("expected {}, got a JSON {}", what.0, kind_name(value)),
                    format!("esperava {}", what.1),
                ));
            }
        };
        if text.is_none() && blank == Blank::Required {
            return Err(("required".into(), "obrigatório: escolha ou preencha um valor".into()));
        }
        match &col.kind {
            InputKind::Numeric { .. } => match (value, text) {
                (_, None) => Ok(Cell::Number(None)),
                (Value::Number(n), _) => n
                    .as_f64()
                    .filter(|v| v.is_finite())
                    .map(|v| Cell::Number(Some(v)))
                    .ok_or_else(|| (format!("{n} is not a finite number"), format!("{n} não é um número válido"))),
                (Value::Bool(b), _) => Err((format!("expected a number, got {b}"), "esperava um número".into())),
                (_, Some(s)) => parse_number(&s).map(|v| Cell::Number(Some(v))).ok_or_else(|| {
                    (format!("expected a number, got {s:?}"), format!("esperava um número, recebeu {s:?}"))
                }),
            },
            InputKind::Categorical { categories } => match text {
                None => Ok(Cell::Text(None)),
                Some(s) if categories.contains(&s) => Ok(Cell::Text(Some(s))),
                Some(s) => Err((
                    format!(
                        "{s:?} is not a category the model knows; expected one of: {}",
                        list_categories(categories)
                    ),
                    format!("{s:?} não é uma opção conhecida pelo modelo"),
                )),
            },
        }
    }

    /// Checks rows given as JSON values (objects keyed by column name). Fields the model does not
    /// use are ignored. Returns every error, not only the first.
    pub(crate) fn parse(&self, rows: &[serde_json::Value], blank: Blank) -> Result<Parsed, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut cells: Vec<Vec<Cell>> = self.columns.iter().map(|_| Vec::with_capacity(rows.len())).collect();
        let mut notes = Vec::with_capacity(rows.len());
        if rows.is_empty() {
            errors.push(FieldError {
                row: 0,
                field: String::new(),
                message: "no rows to score".into(),
                mensagem: "nenhuma linha".into(),
            });
        }
        for (i, row) in rows.iter().enumerate() {
            let Some(obj) = row.as_object() else {
                errors.push(FieldError {
                    row: i,
                    field: String::new(),
                    message: format!("expected a JSON object of column -> value, got a JSON {}", kind_name(row)),
                    mensagem: "esperava um objeto JSON".into(),
                });
                continue;
            };
            let mut row_notes = Vec::new();
            for (j, col) in self.columns.iter().enumerate() {
                match Self::cell(col, obj.get(&col.name), blank) {
                    Ok(cell) => {
                        match (&cell, &col.kind) {
                            (Cell::Number(None) | Cell::Text(None), kind) => row_notes.push(match kind {
                                InputKind::Numeric { median, .. } => {
                                    format!("{}: missing, imputed with the training median {median}", col.name)
                                }
                                InputKind::Categorical { .. } => {
                                    format!("{}: missing, imputed with the most frequent training value", col.name)
                                }
                            }),
                            (Cell::Number(Some(v)), InputKind::Numeric { min, max, .. }) if *v < *min || *v > *max => {
                                row_notes.push(format!(
                                    "{}: {v} is outside the training range [{min}, {max}]; the model extrapolates",
                                    col.name
                                ));
                            }
                            _ => {}
                        }
                        cells[j].push(cell);
                    }
                    Err((message, mensagem)) => {
                        errors.push(FieldError { row: i, field: col.name.clone(), message, mensagem });
                    }
                }
            }
            notes.push(row_notes);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .zip(cells)
            .map(|(c, cells)| match c.kind {
                InputKind::Numeric { .. } => Arc::new(
                    cells
                        .into_iter()
                        .map(|c| match c {
                            Cell::Number(v) => v,
                            Cell::Text(_) => None,
                        })
                        .collect::<Float64Array>(),
                ) as ArrayRef,
                InputKind::Categorical { .. } => Arc::new(
                    cells
                        .into_iter()
                        .map(|c| match c {
                            Cell::Text(v) => v,
                            Cell::Number(_) => None,
                        })
                        .collect::<StringArray>(),
                ) as ArrayRef,
            })
            .collect();
        match RecordBatch::try_new(self.schema.clone(), arrays) {
            Ok(batch) => Ok(Parsed { batch, notes }),
            // Unreachable with the schema built from the same columns; reported, not panicked.
            Err(e) => Err(vec![FieldError {
                row: 0,
                field: String::new(),
                message: format!("internal error building the batch: {e}"),
                mensagem: "erro interno".into(),
            }]),
        }
    }
}

fn kind_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> InputSchema {
        let columns = vec![
            InputColumn { name: "renda".into(), kind: InputKind::Numeric { min: 0.0, max: 3000.0, median: 1500.0 } },
            InputColumn {
                name: "sexo".into(),
                kind: InputKind::Categorical { categories: vec!["F".into(), "M".into()] },
            },
        ];
        let fields = vec![Field::new("renda", DataType::Float64, true), Field::new("sexo", DataType::Utf8, true)];
        InputSchema { columns, schema: Arc::new(Schema::new(fields)) }
    }

    #[test]
    fn accepts_numbers_text_and_nulls_with_notes() {
        let rows = vec![
            serde_json::json!({"renda": 1000, "sexo": "F", "extra": 1}),
            serde_json::json!({"renda": "1500,5", "sexo": " M "}),
            serde_json::json!({"renda": null, "sexo": ""}),
            serde_json::json!({"renda": 9000, "sexo": "M"}),
        ];
        let p = schema().parse(&rows, Blank::Impute).unwrap();
        assert_eq!(p.batch.num_rows(), 4);
        let renda = p.batch.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(renda.iter().collect::<Vec<_>>(), [Some(1000.0), Some(1500.5), None, Some(9000.0)]);
        let sexo = p.batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(sexo.iter().collect::<Vec<_>>(), [Some("F"), Some("M"), None, Some("M")]);
        assert!(p.notes[0].is_empty());
        assert_eq!(p.notes[2].len(), 2);
        assert!(p.notes[3][0].contains("outside the training range"), "{:?}", p.notes[3]);
    }

    #[test]
    fn reports_every_bad_field() {
        let rows = vec![
            serde_json::json!({"renda": "muito", "sexo": "X"}),
            serde_json::json!({"sexo": ["F"]}),
            serde_json::json!(3),
            serde_json::json!({"renda": true, "sexo": "F"}),
        ];
        let errs = schema().parse(&rows, Blank::Impute).unwrap_err();
        let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(got, [(0, "renda"), (0, "sexo"), (1, "renda"), (1, "sexo"), (2, ""), (3, "renda")]);
        assert!(errs[0].message.contains("\"muito\""));
        assert!(errs[1].message.contains("expected one of: \"F\", \"M\""));
        assert!(errs[2].message.contains("send null"));
        assert!(errs[3].message.contains("got a JSON array"));
    }

    #[test]
    fn form_fields_are_required() {
        let rows = vec![serde_json::json!({"renda": "", "sexo": "F"})];
        let errs = schema().parse(&rows, Blank::Required).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].mensagem.contains("obrigatório"));
        assert!(schema().parse(&[], Blank::Impute).is_err());
    }
}
