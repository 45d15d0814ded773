//! Turning request rows (JSON objects or form fields) into the Arrow batch the model scores,
//! checking every field against what the model saw in training.
//!
//! Every entry point (the JSON API, the CSV endpoint, `esteira predict` and the form) checks
//! values with the same functions here: a number written as text must be one number as
//! [`esteira_core::parse_number`] reads it (the train stage's reading; `1.500` is ambiguous),
//! and a category must be one the model saw in training. Errors are collected per row and
//! field, at most [`MAX_ERRORS`] of them listed (the rest counted), and a JSON body is read with
//! at most the row limit of rows.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_core::{MAX_EXCERPT_CHARS, NumberError, excerpt};
use esteira_train::{InputColumn, InputKind, Model};
use serde::Serialize;
use serde::de::{self, Deserialize as _, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The most errors one answer lists (the JSON API, the CSV endpoint, `esteira predict`); the
/// rest are only counted, so a request whose every field is wrong gets a small answer.
pub const MAX_ERRORS: usize = 100;

/// Errors found while checking a request: the first [`MAX_ERRORS`] of them and the total.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorList<T> {
    /// The first errors, in row order.
    pub(crate) listed: Vec<T>,
    /// How many there were in all.
    pub(crate) total: usize,
}

impl<T> ErrorList<T> {
    pub(crate) fn new() -> Self {
        Self { listed: Vec::new(), total: 0 }
    }

    /// Counts an error; builds and keeps it only while fewer than [`MAX_ERRORS`] are listed.
    pub(crate) fn push_with(&mut self, make: impl FnOnce() -> T) {
        self.total += 1;
        if self.listed.len() < MAX_ERRORS {
            self.listed.push(make());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }
}

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
    /// Per column: the categories the model knows (empty for numeric columns).
    known: Vec<HashSet<String>>,
    /// Per column: the note on a row whose value is imputed.
    imputed: Vec<String>,
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
pub(crate) struct Parsed<'a> {
    pub(crate) batch: RecordBatch,
    /// Per row: imputed and extrapolated fields, in words.
    pub(crate) notes: Vec<Vec<Cow<'a, str>>>,
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

/// A text value of a numeric column (a JSON string, a CSV cell, a form field) as a number, read
/// by [`esteira_core::parse_number`] exactly as the training data was read (`Ok(None)` when
/// blank); `Err((english, portuguese))` says why it is not one number, in English with the
/// parser's own words (the train stage's message) after the value.
pub(crate) fn number_from_text(s: &str) -> Result<Option<f64>, (String, String)> {
    esteira_core::parse_number(s).map_err(|e| {
        let shown = excerpt(s, MAX_EXCERPT_CHARS);
        let english = match e {
            NumberError::Invalid => format!("expected a number, got {shown:?}"),
            _ => format!("{shown:?}: {e}"),
        };
        let portuguese = match e {
            NumberError::Ambiguous { separator, grouped, decimal } => {
                let decimal = decimal.to_string().replace('.', ",");
                format!(
                    "{shown:?} é ambíguo: {grouped} se `{separator}` separa os milhares, {decimal} se é o \
                     separador decimal; escreva {grouped} ou {decimal}"
                )
            }
            NumberError::BadGrouping => {
                format!("{shown:?}: os separadores de milhar devem agrupar de três em três (1.234.567,89)")
            }
            NumberError::OutOfRange => format!("{shown:?}: número fora do intervalo"),
            _ => format!("esperava um número, recebeu {shown:?}"),
        };
        (english, portuguese)
    })
}

/// A value the model refused while scoring rows that passed the checks (a number so far outside
/// the training range that scaling it overflows): `(0-based row, column, value, message)`.
pub(crate) fn refused_value(e: &esteira_train::TrainError) -> Option<(usize, &str, &str, &str)> {
    match e {
        esteira_train::TrainError::BadValue { column, row, value, message } => {
            Some((row.saturating_sub(1), column.as_str(), value.as_str(), message.as_str()))
        }
        _ => None,
    }
}

/// Why a request body is not a list of rows.
#[derive(Debug)]
pub(crate) enum RowsError {
    /// Not JSON (serde_json's error names the line and column).
    Json(serde_json::Error),
    /// More rows than the limit; nothing past the limit was read.
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// Valid JSON, but neither an object nor an array: the JSON type's name.
    NotRows(&'static str),
}

/// What made [`RowsVisitor`] stop (serde's error type cannot carry it).
#[derive(Debug, Clone, Copy)]
enum Refusal {
    TooMany,
    NotRows(&'static str),
}

/// Reads a JSON object (one row) or an array (rows) and stops at the row limit, so a body of
/// many tiny rows never becomes many parsed rows.
struct RowsVisitor<'a> {
    limit: usize,
    refusal: &'a std::cell::Cell<Option<Refusal>>,
}

impl RowsVisitor<'_> {
    fn not_rows<T, E: de::Error>(&self, kind: &'static str) -> Result<T, E> {
        self.refusal.set(Some(Refusal::NotRows(kind)));
        Err(E::custom(format_args!("a JSON {kind} is not a row")))
    }
}

impl<'de> Visitor<'de> for RowsVisitor<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object (one row) or an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut rows = Vec::new();
        while let Some(row) = seq.next_element::<Value>()? {
            if rows.len() == self.limit {
                self.refusal.set(Some(Refusal::TooMany));
                return Err(de::Error::custom(format_args!("more than {} rows", self.limit)));
            }
            rows.push(row);
        }
        Ok(rows)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<Value>, A::Error> {
        Ok(vec![Value::deserialize(de::value::MapAccessDeserializer::new(map))?])
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<Value>, E> {
        self.not_rows("boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<Value>, E> {
        self.not_rows("number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<Value>, E> {
        self.not_rows("number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<Value>, E> {
        self.not_rows("number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<Value>, E> {
        self.not_rows("string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Value>, E> {
        self.not_rows("null")
    }
}

/// The rows of a predict body: a JSON object (one row) or an array of at most `limit` values.
/// Stops reading at row `limit + 1`; never panics, whatever the bytes.
pub(crate) fn rows_from_json(bytes: &[u8], limit: usize) -> Result<Vec<Value>, RowsError> {
    let refusal = std::cell::Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let rows = (&mut de).deserialize_any(RowsVisitor { limit, refusal: &refusal }).and_then(|rows| {
        de.end()?;
        Ok(rows)
    });
    match (refusal.get(), rows) {
        (Some(Refusal::TooMany), _) => Err(RowsError::TooMany { limit }),
        (Some(Refusal::NotRows(kind)), _) => Err(RowsError::NotRows(kind)),
        (None, Ok(rows)) => Ok(rows),
        (None, Err(e)) => Err(RowsError::Json(e)),
    }
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
        Self::from_columns(columns, fields)
    }

    fn from_columns(columns: Vec<InputColumn>, fields: Vec<Field>) -> Self {
        let known = columns
            .iter()
            .map(|c| match &c.kind {
                InputKind::Categorical { categories } => categories.iter().cloned().collect(),
                InputKind::Numeric { .. } => HashSet::new(),
            })
            .collect();
        let imputed = columns
            .iter()
            .map(|c| match &c.kind {
                InputKind::Numeric { median, .. } => {
                    format!("{}: missing, imputed with the training median {median}", c.name)
                }
                InputKind::Categorical { .. } => {
                    format!("{}: missing, imputed with the most frequent training value", c.name)
                }
            })
            .collect();
        Self { columns, schema: Arc::new(Schema::new(fields)), known, imputed }
    }

    /// Checks that `s` (trimmed, not empty) is a category column `j` saw in training;
    /// `Err((english, portuguese))` names the categories it knows.
    pub(crate) fn category(&self, j: usize, s: &str) -> Result<(), (String, String)> {
        if self.known.get(j).is_some_and(|k| k.contains(s)) {
            return Ok(());
        }
        let categories = match self.columns.get(j).map(|c| &c.kind) {
            Some(InputKind::Categorical { categories }) => categories.as_slice(),
            _ => &[],
        };
        Err((
            format!("{s:?} is not a category the model knows; expected one of: {}", list_categories(categories)),
            format!("{s:?} não é uma opção conhecida pelo modelo"),
        ))
    }

    /// Checks one field's JSON value; `Err((english, portuguese))` when it cannot be used.
    fn cell(&self, j: usize, value: Option<&Value>, blank: Blank) -> Result<Cell, (String, String)> {
        let col = &self.columns[j];
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
                // A JSON number is already one number (JSON writes a decimal point only); text
                // goes through the one parser. `+ 0.0` turns -0 into 0, as the parser does.
                (Value::Number(n), _) => n
                    .as_f64()
                    .filter(|v| v.is_finite())
                    .map(|v| Cell::Number(Some(v + 0.0)))
                    .ok_or_else(|| (format!("{n} is not a finite number"), format!("{n} não é um número válido"))),
                (Value::Bool(b), _) => Err((format!("expected a number, got {b}"), "esperava um número".into())),
                (_, Some(s)) => number_from_text(&s).map(Cell::Number),
            },
            InputKind::Categorical { .. } => match text {
                None => Ok(Cell::Text(None)),
                Some(s) => self.category(j, &s).map(|()| Cell::Text(Some(s))),
            },
        }
    }

    /// Checks rows given as JSON values (objects keyed by column name). Fields the model does not
    /// use are ignored. Reports every error by row and field (the first [`MAX_ERRORS`] listed,
    /// all counted), not only the first.
    pub(crate) fn parse(&self, rows: &[Value], blank: Blank) -> Result<Parsed<'_>, ErrorList<FieldError>> {
        let mut errors = ErrorList::new();
        let mut cells: Vec<Vec<Cell>> = self.columns.iter().map(|_| Vec::with_capacity(rows.len())).collect();
        let mut notes = Vec::with_capacity(rows.len());
        if rows.is_empty() {
            errors.push_with(|| FieldError {
                row: 0,
                field: String::new(),
                message: "no rows to score".into(),
                mensagem: "nenhuma linha".into(),
            });
        }
        for (i, row) in rows.iter().enumerate() {
            let Some(obj) = row.as_object() else {
                errors.push_with(|| FieldError {
                    row: i,
                    field: String::new(),
                    message: format!("expected a JSON object of column -> value, got a JSON {}", kind_name(row)),
                    mensagem: "esperava um objeto JSON".into(),
                });
                continue;
            };
            if !errors.is_empty() {
                // Nothing will be scored: only count and list the errors, keep no cells or notes.
                for (j, col) in self.columns.iter().enumerate() {
                    if let Err((message, mensagem)) = self.cell(j, obj.get(&col.name), blank) {
                        errors.push_with(|| FieldError { row: i, field: col.name.clone(), message, mensagem });
                    }
                }
                continue;
            }
            let mut row_notes = Vec::new();
            for (j, col) in self.columns.iter().enumerate() {
                match self.cell(j, obj.get(&col.name), blank) {
                    Ok(cell) => {
                        match (&cell, &col.kind) {
                            // The same words for every row: borrowed, not copied per row.
                            (Cell::Number(None) | Cell::Text(None), _) => {
                                row_notes.push(Cow::Borrowed(self.imputed[j].as_str()));
                            }
                            (Cell::Number(Some(v)), InputKind::Numeric { min, max, .. }) if *v < *min || *v > *max => {
                                row_notes.push(Cow::Owned(format!(
                                    "{}: {v} is outside the training range [{min}, {max}]; the model extrapolates",
                                    col.name
                                )));
                            }
                            _ => {}
                        }
                        cells[j].push(cell);
                    }
                    Err((message, mensagem)) => {
                        errors.push_with(|| FieldError { row: i, field: col.name.clone(), message, mensagem });
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
            Err(e) => {
                let mut errors = ErrorList::new();
                errors.push_with(|| FieldError {
                    row: 0,
                    field: String::new(),
                    message: format!("internal error building the batch: {e}"),
                    mensagem: "erro interno".into(),
                });
                Err(errors)
            }
        }
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
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
        InputSchema::from_columns(columns, fields)
    }

    #[test]
    fn accepts_numbers_text_and_nulls_with_notes() {
        let rows = vec![
            serde_json::json!({"renda": 1000, "sexo": "F", "extra": 1}),
            serde_json::json!({"renda": "1500,5", "sexo": " M "}),
            serde_json::json!({"renda": null, "sexo": ""}),
            serde_json::json!({"renda": 9000, "sexo": "M"}),
        ];
        let schema = schema();
        let p = schema.parse(&rows, Blank::Impute).unwrap();
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
    fn numbers_are_read_by_the_one_parser() {
        assert_eq!(number_from_text("1.500,50"), Ok(Some(1500.5)));
        assert_eq!(number_from_text(" "), Ok(None));
        let (english, portuguese) = number_from_text("1.500").unwrap_err();
        let words = esteira_core::parse_number("1.500").unwrap_err().to_string();
        assert_eq!(english, format!("\"1.500\": {words}"));
        assert_eq!(
            portuguese,
            "\"1.500\" é ambíguo: 1500 se `.` separa os milhares, 1,5 se é o separador decimal; escreva 1500 ou 1,5"
        );
        assert_eq!(number_from_text("x").unwrap_err().0, "expected a number, got \"x\"");
        // A JSON number -0 is 0, as the text "-0" is.
        let rows = [serde_json::json!({"renda": -0.0, "sexo": "F"}), serde_json::json!({"renda": "-0", "sexo": "F"})];
        let schema = schema();
        let p = schema.parse(&rows, Blank::Impute).unwrap();
        let renda = p.batch.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
        assert!(renda.values().iter().all(|v| v.to_bits() == 0), "{renda:?}");
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
        assert_eq!(errs.total, 6);
        let errs = errs.listed;
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
        let errs = schema().parse(&rows, Blank::Required).unwrap_err().listed;
        assert_eq!(errs.len(), 1);
        assert!(errs[0].mensagem.contains("obrigatório"));
        assert!(schema().parse(&[], Blank::Impute).is_err());
    }

    #[test]
    fn errors_past_the_cap_are_counted_not_kept() {
        let rows = vec![serde_json::json!({}); 3 * MAX_ERRORS];
        let errs = schema().parse(&rows, Blank::Impute).unwrap_err();
        assert_eq!((errs.listed.len(), errs.total), (MAX_ERRORS, 2 * 3 * MAX_ERRORS));
        assert_eq!((errs.listed[0].row, errs.listed[1].row, errs.listed[2].row), (0, 0, 1));
        // The first bad row stops the collection of cells; later rows are still checked.
        let mut rows = vec![serde_json::json!({"renda": 1, "sexo": "F"}); 5];
        rows[1] = serde_json::json!({"renda": 1, "sexo": "Zzz"});
        rows[4] = serde_json::json!({"renda": "x", "sexo": "F"});
        let errs = schema().parse(&rows, Blank::Impute).unwrap_err();
        let got: Vec<(usize, &str)> = errs.listed.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(got, [(1, "sexo"), (4, "renda")]);
    }

    #[test]
    fn json_bodies_are_read_up_to_the_row_limit() {
        assert_eq!(rows_from_json(b"{\"a\": 1}", 1).unwrap(), [serde_json::json!({"a": 1})]);
        assert_eq!(rows_from_json(b" [{}, 2] ", 2).unwrap().len(), 2);
        assert!(matches!(rows_from_json(b"[{}, {}, {}]", 2), Err(RowsError::TooMany { limit: 2 })));
        // The limit is found before the rest of the body is parsed, even if that is not JSON.
        assert!(matches!(rows_from_json(b"[{}, {}, {}, nope", 2), Err(RowsError::TooMany { .. })));
        for (body, kind) in [("42", "number"), ("\"x\"", "string"), ("null", "null"), ("true", "boolean")] {
            assert!(matches!(rows_from_json(body.as_bytes(), 5), Err(RowsError::NotRows(k)) if k == kind), "{body}");
        }
        for body in ["", "{", "[{}", "{} {}", "[1,]", "\u{feff}"] {
            assert!(matches!(rows_from_json(body.as_bytes(), 5), Err(RowsError::Json(_))), "{body:?}");
        }
        assert_eq!(rows_from_json(b"[]", 0).unwrap().len(), 0);
    }
}
