//! esteira-preprocess: declarative cleaning of Arrow tables — select, cast, filter, map, fill.
//!
//! A recipe ([`Spec`]) is an ordered list of steps; [`apply`] runs it over record batches and
//! returns the new table with a [`Report`] (rows before/after each step, outcome counts per
//! column). [`PreprocessStage`] (kind `preprocess`, input `table`, output `table`) runs the same
//! function inside an esteira pipeline, with the report as metrics.
//!
//! # The recipe in a pipeline file
//!
//! Each step is a table with exactly one key naming the step:
//!
//! ```toml
//! [stages.preprocess]
//! kind = "preprocess"
//! inputs = { table = "check_raw.table" }
//! [[stages.preprocess.params.steps]]
//! select = ["id_discente", "sexo", "ano_nascimento", "raca", "renda", "descricao"]
//! [[stages.preprocess.params.steps]]
//! cast = { ano_nascimento = "int64", renda = { type = "float64", on_error = "null" } }
//! [[stages.preprocess.params.steps]]
//! filter = { column = "descricao", not_in = ["INDEFERIDO"] }
//! [[stages.preprocess.params.steps]]
//! map = { column = "descricao", unmapped = "error", values = { APROVADO = "APROVADO", "APROVADO POR NOTA" = "APROVADO", REPROVADO = "FALHOU" } }
//! [[stages.preprocess.params.steps]]
//! fill = { raca = "Não Informado" }
//! ```
//!
//! - `select = [cols]`: keeps these columns in this order. Unknown names are an error listing
//!   the missing and the available columns.
//! - `cast = { col = TYPE | { type = TYPE, on_error = POLICY } }` with TYPE `int64`, `float64`,
//!   `bool` or `utf8` and POLICY `error` (default: fails listing up to 20 offending values with
//!   their row numbers), `null` or `drop` (the row). Text is trimmed; blank text becomes null
//!   (not an error). `bool` reads exactly `true/false/t/f/True/False` (and integers 0/1).
//!   `float64` and `int64` read text with [`esteira_core::parse_number`] /
//!   [`esteira_core::parse_integer`], as the train stage and the server do: the portal's `5.9`,
//!   a decimal comma (`1234,5`), both separators (`1.234,5`); one separator before exactly three
//!   digits (`1.234`, `12,500`) is rejected as ambiguous, and so are NaN and infinities; `int64`
//!   text must be a whole number written without decimals (`1994`, not `1994.0`). A float
//!   column becomes an `int64` only when it has no fraction.
//! - `filter = { column = C, OP = … }` with exactly one OP: `eq`, `ne` (a constant), `in`,
//!   `not_in` (a list), `is_null = true`, `is_not_null = true`. Constants must fit the column's
//!   type (a string for a text column, a number for a numeric one). A null never equals a
//!   constant: `eq`/`in` drop null rows, `ne`/`not_in` keep them.
//! - `map = { column = C, values = { old = "new" }, unmapped = POLICY }` on a text column, with
//!   POLICY `error` (default: fails listing each unmapped value and its row count), `keep` or
//!   `drop`. Nulls count as unmapped values.
//! - `fill = { col = constant }`: replaces nulls; the column is then non-nullable.
//!
//! Metrics: `rows_in`, `rows_out`, `stepNN.<kind>.rows_in|rows_out` and per column
//! `stepNN.<kind>.<column>.<outcome>` (see [`StepReport::counts`]). Row numbers in errors
//! count from 1 in the stage's input table; step numbers count from 1.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{AsArray, RecordBatch, StringArray};
//! use arrow::datatypes::{DataType, Field, Float64Type, Schema};
//! use esteira_preprocess::{Spec, apply};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("renda", DataType::Utf8, true),
//!     Field::new("descricao", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(StringArray::from(vec!["1725,5", "0", "abc"])),
//!     Arc::new(StringArray::from(vec!["APROVADO POR NOTA", "INDEFERIDO", "REPROVADO"])),
//! ]).unwrap();
//! let spec: Spec = serde_json::from_value(serde_json::json!({ "steps": [
//!     { "cast": { "renda": { "type": "float64", "on_error": "null" } } },
//!     { "filter": { "column": "descricao", "ne": "INDEFERIDO" } },
//!     { "map": { "column": "descricao",
//!                "values": { "APROVADO POR NOTA": "APROVADO", "REPROVADO": "FALHOU" } } },
//! ]})).unwrap();
//! let out = apply(&spec, &schema, vec![batch]).unwrap();
//! let b = &out.batches[0];
//! assert_eq!(b.column(0).as_primitive::<Float64Type>().value(0), 1725.5);
//! assert!(b.column(0).is_null(1)); // "abc" -> null under on_error = "null"
//! assert_eq!(b.column(1).as_string::<i32>().value(1), "FALHOU");
//! assert_eq!(out.report.metrics()["step01.cast.renda.set_null"], 1);
//! assert_eq!(out.report.rows_out, 2);
//! ```

#![forbid(unsafe_code)]

mod apply;
mod cast;
mod error;
mod plan;
mod spec;
mod stage;
mod steps;

pub use apply::{Preprocessed, Report, StepReport, apply, apply_stream};
pub use cast::{Parsed, parse_bool, parse_float64, parse_int64};
pub use error::{MAX_EXAMPLES, PreprocessError};
pub use plan::{input_columns, output_schema};
pub use spec::{CastSpec, CastType, FilterOp, FilterSpec, Literal, MapSpec, OnError, Spec, Step, Unmapped};
pub use stage::{KIND, PreprocessStage, register};
