//! esteira-serve: the model of a run, served. A Portuguese form page ("what would my chance
//! of passing have been?"), a JSON API, a run browser over the artifact store, and batch
//! scoring of CSV files.
//!
//! - [`LoadedModel::load`] finds the model in an [`esteira_core::ArtifactStore`] (the latest
//!   succeeded run's, a chosen run's or one named by hash), re-hashing it before use, with the
//!   test metrics its run recorded and the Platt calibrator its evaluate stage fitted
//!   ([`Calibration`]: the form, the APIs and `esteira predict` show the calibrated probability
//!   beside the model's, or say why there is none).
//! - [`app`] is the axum router over an immutable [`AppState`]; [`Server`] binds it;
//!   [`serve`] / [`serve_blocking`] do both and stop on Ctrl-C (`esteira serve`).
//! - [`predict_csv`] scores a `;`- or `,`-separated CSV file with no server
//!   (`esteira predict`); [`predict_from_store`] loads the model first.
//!
//! Routes: `GET /` and `POST /` (the form, plain HTML, no JavaScript), `POST /api/predict`
//! (one JSON row or a list), `POST /api/predict.csv`, `GET /api/model` (the model card),
//! `GET /healthz`, `GET /runs`, `GET /runs/{id}`, `GET /artifacts/{hash}`.
//!
//! Limits: bodies over the limit ([`DEFAULT_BODY_LIMIT`]) and requests with more than
//! [`DEFAULT_MAX_ROWS`] rows get 413. Invalid rows get 422 naming each bad field by row (JSON) or
//! line and column (CSV), the first [`MAX_ERRORS`] listed and all counted; a category the model
//! did not see in training is invalid everywhere (JSON, CSV, `esteira predict`). Connections have
//! [`Timeouts`] for the request head, the request and keep-alive idleness. Only objects a recorded
//! stage produced are served under `/artifacts/` (never one known only as a `file:` input).
//!
//! Batch scoring without a server:
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
//! use esteira_train::{TrainParams, train};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let n = 200;
//! let grupo: Vec<&str> = (0..n).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
//! let renda: Vec<f64> = (0..n).map(|i| f64::from((i * 37) % 100)).collect();
//! let descricao: Vec<&str> =
//!     (0..n).map(|i| if (i % 2 == 1 && i % 7 != 0) || i % 5 == 0 { "APROVADO" } else { "FALHOU" }).collect();
//! let batch = RecordBatch::try_from_iter([
//!     ("grupo", Arc::new(StringArray::from(grupo)) as ArrayRef),
//!     ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
//!     ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
//! ])?;
//! let params = TrainParams {
//!     categorical: vec!["grupo".into()],
//!     numeric: vec!["renda".into()],
//!     derived: Default::default(),
//!     ..TrainParams::default()
//! };
//! let model = train(&params, &[batch], "example")?.model;
//!
//! let input = "id;grupo;renda\n1;a;10\n2;b;10\n";
//! let mut out = Vec::new();
//! let rows = esteira_serve::predict_csv(&model, input.as_bytes(), &mut out)?;
//! let out = String::from_utf8(out)?;
//! assert_eq!(rows, 2);
//! assert!(out.starts_with("id;grupo;renda;probability_APROVADO;probability_FALHOU;decision\n"));
//! let p: Vec<f64> = out.lines().skip(1).map(|l| l.split(';').nth(3).unwrap().parse().unwrap()).collect();
//! assert!(p[1] > p[0]); // group "b" passes more often
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod api;
mod batch;
mod body;
mod calibration;
mod card;
mod error;
mod form;
#[cfg(test)]
mod fuzz;
mod html;
mod json;
mod load;
mod pages;
mod record;
mod rows;
mod runs;
mod server;
mod state;

pub use batch::{output_columns, predict_csv};
pub use calibration::{CALIBRATION_OUTPUT, CALIBRATOR_FORMAT, Calibration, Platt};
pub use error::{CsvCellError, ServeError};
pub use load::{Evaluation, LoadedModel};
pub use record::{EVALUATE_KIND, TRAIN_KIND};
pub use rows::{FieldError, MAX_ERRORS};
pub use server::{
    HEADER_READ_TIMEOUT, IDLE_TIMEOUT, REQUEST_TIMEOUT, ServeOptions, Server, Timeouts, app, exposure_warning,
    predict_from_store, predict_from_store_with, serve, serve_blocking, serve_until, serve_with,
};
pub use state::{AppState, DEFAULT_BODY_LIMIT, DEFAULT_MAX_ROWS};
