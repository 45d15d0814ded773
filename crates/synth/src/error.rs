//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while generating the sample tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The scale factor is not a positive finite number (or is absurdly large).
    #[error("invalid scale {value}: expected a finite number in (0, {max}]")]
    InvalidScale {
        /// The rejected value.
        value: f64,
        /// The largest accepted scale.
        max: f64,
    },
    /// A semester other than `2020.5` and `2019.2` was asked for.
    #[error("invalid semester `{value}`: expected 2020.5 or 2019.2")]
    InvalidSemester {
        /// The rejected text (at most 40 characters of it).
        value: String,
    },
    /// The marginals JSON could not be parsed or is inconsistent.
    #[error("marginals: field `{field}`: {message}")]
    Marginals {
        /// JSON path of the offending field, e.g. `discentes.sexo`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The embedded course table is malformed.
    #[error("course table line {line}: {message}")]
    CourseTable {
        /// 1-based physical line in the course CSV.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// Writing one of the output tables failed.
    #[error("writing table `{table}`: {source}")]
    Write {
        /// File name of the table being written.
        table: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Creating, renaming or syncing an output file failed.
    #[error("output file {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}
