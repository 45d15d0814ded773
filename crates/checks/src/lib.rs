//! esteira-checks: data checks compatible with Great Expectations (GE), on Arrow tables.
//!
//! - [`Suite`]: expectation suites in GE's legacy JSON format, read and written without
//!   losing unknown fields; malformed expectations are errors naming their index and field.
//! - [`validate`] / [`validate_table`]: evaluate a suite on record batches with GE's semantics
//!   (pandas backend) and get a [`ValidationResult`] in GE's result JSON shape. An
//!   expectation that cannot be evaluated is a failed result with `exception_info`.
//! - [`render_html`]: a self-contained HTML report (inline CSS and SVG).
//! - [`profile`]: propose a tolerant suite from a table; [`profile_columns`]: chart data.
//! - [`read_table_file`], [`read_csv`]: Parquet, or CSV typed as pandas' `read_csv` would.
//! - [`CheckStage`] (kind `check`) and [`register`] for the orchestrator; [`cli`] for
//!   `esteira checks validate|profile`.
//!
//! Type names follow pandas (see [`type_name`]): `int64`, `float64`, `bool`, `object`.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use esteira_checks::{Suite, validate};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("sexo", DataType::Utf8, true),
//!     Field::new("renda", DataType::Int64, true),
//! ]));
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(StringArray::from(vec![Some("F"), Some("M"), Some("X")])),
//!     Arc::new(Int64Array::from(vec![1000, 2500, 4000])),
//! ]).unwrap();
//! let suite = Suite::from_json(r#"{
//!   "expectation_suite_name": "demo",
//!   "expectations": [
//!     {"expectation_type": "expect_column_values_to_be_in_set",
//!      "kwargs": {"column": "sexo", "value_set": ["F", "M"]}},
//!     {"expectation_type": "expect_column_median_to_be_between",
//!      "kwargs": {"column": "renda", "min_value": 2000, "max_value": 3000}}
//!   ]}"#).unwrap();
//! let result = validate(&[batch], &suite);
//! assert!(!result.success);
//! assert_eq!(result.results[0].result["partial_unexpected_list"], serde_json::json!(["X"]));
//! assert_eq!(result.results[1].result["observed_value"], serde_json::json!(2500.0));
//! assert_eq!(result.exit_code(), esteira_checks::EXIT_FAILED);
//! ```
#![forbid(unsafe_code)]

pub mod cli;
mod column;
mod config;
mod error;
mod expectation;
mod input;
mod profile;
mod report;
mod result;
mod scalar;
mod stage;
mod suite;
mod types;
mod validate;

pub use config::ExpectationConfig;
pub use error::CheckError;
pub use expectation::EXPECTATION_TYPES;
pub use input::{PANDAS_NA_VALUES, infer_types, is_parquet, read_csv, read_table_file};
pub use profile::{Chart, ColumnProfile, ProfileOptions, profile, profile_columns};
pub use report::{escape, render_html};
pub use result::{
    EXIT_BAD_INPUT, EXIT_FAILED, EXIT_PASSED, ExceptionInfo, ExpectationResult, Statistics, ValidationResult,
};
pub use stage::{CHECK_KIND, CheckParams, CheckStage, Severity, register};
pub use suite::Suite;
pub use types::{type_matches, type_name};
pub use validate::{PARTIAL_UNEXPECTED, validate, validate_and_profile, validate_table};
