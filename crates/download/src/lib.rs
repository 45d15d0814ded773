//! esteira-download: getting the raw data in.
//!
//! - [`fetch`](fetch()) a source — `https://`, `http://` or `file:` — into a [`DownloadSink`],
//!   streaming and hashing, with retries, resumption, size cap, checksum and conditional
//!   requests; [`fetch_to_vec`] and [`fetch_to_file`] for the simple cases. HTTP is the default
//!   `http` feature (reqwest, rustls, tokio): with `default-features = false` the crate reads
//!   `file:` sources, CSV and joins with no network stack.
//! - [`read_csv`] the UFRN portal's CSV dialect (`;`, quoted, CRLF or LF, BOM) into Arrow, every
//!   column `Utf8`, empty fields null, with errors naming the source, the physical line and the
//!   field counts. The text encoding is declared, never guessed silently ([`CsvEncoding`]):
//!   UTF-8 by default (the first invalid byte is an error naming its byte offset, line and
//!   column), Windows-1252, or `auto` (Windows-1252 for the whole file when it is not UTF-8, with
//!   a warning naming the file and the byte).
//! - [`select`], [`join`] (inner or left, composite keys), [`join_with`] (a declared
//!   [`Cardinality`], checked like pandas' `merge(validate=…)`, and the right table collapsed to
//!   one row per key first), [`aggregate`] (one row per key: boolean flags OR-ed, other columns
//!   taken from the first row or required equal) and [`drop_duplicates`] on [`Table`]s, and
//!   [`merge_tables`] which chains them as a pipeline file declares.
//! - The `fetch` and `merge` stages ([`FetchStage`], [`MergeStage`]) over these functions, for
//!   the esteira orchestrator: [`register`] adds them to a registry. [`FetchParams`] lists the
//!   upper bounds of fetch's size-like params; merge has none. Fetch stores the bytes as they
//!   come; merge decodes them (its `encoding` param). Merge's `joins` metric has, per join, the
//!   fan-out on each side (distinct and repeated keys, the most rows per key, `multiplied`,
//!   `extra_rows`), the rows whose key is null or empty ([`JoinStats`]) and what an aggregation
//!   did ([`AggregateStats`]); a join that multiplies rows without declaring it is warned about.
//!   [`MergeParams`] shows and explains the merge's params.
//!
//! Using the functions directly, with no orchestrator:
//!
//! ```
//! use esteira_download::{CsvOptions, JoinType, join, read_csv};
//!
//! # fn main() -> Result<(), esteira_download::DownloadError> {
//! let students = "\"id_discente\";\"sexo\"\r\n\"1\";\"F\"\r\n\"2\";\"M\"\r\n\"3\";\"\"\r\n";
//! let enrolments = "\"discente\";\"descricao\"\r\n\"1\";\"APROVADO\"\r\n\"3\";\"REPROVADO\"\r\n\"1\";\"APROVADO\"\r\n";
//! let students = read_csv(students.as_bytes(), "discentes.csv", &CsvOptions::default())?.table;
//! let enrolments = read_csv(enrolments.as_bytes(), "matriculas.csv", &CsvOptions::default())?.table;
//! let rename = [("discente".to_owned(), "id_discente".to_owned())].into();
//! let enrolments = esteira_download::select(&enrolments, "matriculas", None, &rename)?;
//!
//! let on = ["id_discente".to_owned()];
//! let (joined, stats) = join(&students, "discentes", &enrolments, "matriculas", &on, JoinType::Inner)?;
//! assert_eq!(joined.column_names(), ["id_discente", "sexo", "descricao"]);
//! assert_eq!(stats.out_rows, 3);
//! assert_eq!(stats.unmatched_left_rows, 1); // student 2 has no enrolment
//!
//! let (unique, dropped) = esteira_download::drop_duplicates(joined)?;
//! assert_eq!((unique.num_rows(), dropped), (2, 1));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod aggregate;
mod csv;
mod dedup;
mod error;
mod fetch;
mod fetch_stage;
mod join;
mod keys;
mod merge;
mod table;

pub use aggregate::{AggregateParams, AggregateStats, aggregate};
pub use csv::{CsvEncoding, CsvOptions, CsvTable, InvalidUtf8, TextEncoding, read_csv, read_csv_file};
pub use dedup::drop_duplicates;
pub use error::DownloadError;
pub use fetch::{
    DownloadSink, FetchOptions, FetchOutcome, FetchReport, Source, Validators, copy_file, fetch, fetch_to_file,
    fetch_to_vec,
};
#[cfg(feature = "http")]
pub use fetch::{fetch_http, http_client};
pub use fetch_stage::{FetchParams, FetchStage, MAX_BACKOFF_MS, MAX_FETCH_BYTES, MAX_RETRIES, MAX_TIMEOUT_SECS};
pub use join::{Cardinality, JoinSpec, JoinStats, JoinType, join, join_with, select};
pub use merge::{
    InputFile, JoinParams, JoinReport, MergeParams, MergeReport, MergeStage, merge_tables, read_input_file,
    read_table_file, render_report,
};
pub use table::Table;

/// Registers the `fetch` and `merge` stage kinds.
pub fn register(registry: &mut esteira_core::Registry) -> Result<(), esteira_core::CoreError> {
    registry.register(esteira_core::StageFactory {
        kind: "fetch",
        summary: "download one source (https, http or file) into the store, revalidating instead of re-downloading",
        build: |params| Ok(Box::new(FetchStage::from_params(params)?)),
    })?;
    registry.register(esteira_core::StageFactory {
        kind: "merge",
        summary: "join portal CSV or Parquet inputs into one Parquet table (inner/left joins, duplicates dropped)",
        build: |params| Ok(Box::new(MergeStage::from_params(params)?)),
    })?;
    Ok(())
}
