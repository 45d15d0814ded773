//! The one error type of esteira-train.

use esteira_core::{MAX_EXCERPT_CHARS, excerpt};

/// Everything that can go wrong while fitting, loading or applying a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A column the feature spec or the params need is not in the table.
    #[error(
        "column `{}` is missing from the table (columns present: {})",
        excerpt(column, MAX_EXCERPT_CHARS),
        excerpt(available, 4 * MAX_EXCERPT_CHARS)
    )]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// The columns the table has.
        available: String,
    },
    /// A column has a type the feature pipeline cannot read.
    #[error("column `{column}` has type {data_type}, expected {expected}")]
    ColumnType {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A value cannot be used (an unparseable number, a class outside the two declared).
    #[error(
        "column `{}`, row {row}: value {:?}: {message}",
        excerpt(column, MAX_EXCERPT_CHARS),
        excerpt(value, MAX_EXCERPT_CHARS)
    )]
    BadValue {
        /// The column.
        column: String,
        /// The 1-based row number in the table.
        row: usize,
        /// The offending value as text.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// The params are inconsistent (checked beyond what their types enforce).
    #[error("train param `{key}`: {message}")]
    Param {
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The training rows cannot support the requested fit (too few rows or classes).
    #[error("training data: {0}")]
    Data(String),
    /// The learning library failed.
    #[error("fitting {algorithm}: {message}")]
    Fit {
        /// `logistic_regression` or `random_forest`.
        algorithm: String,
        /// smartcore's message.
        message: String,
    },
    /// A model artifact has a format version this build does not read.
    #[error(
        "model artifact has format_version {found}, but this esteira-train reads only versions {oldest} to \
         {supported}; retrain the model or use a matching esteira version",
        oldest = crate::model::OLDEST_FORMAT_VERSION
    )]
    FormatVersion {
        /// The version in the artifact (or `missing`).
        found: String,
        /// The newest version this crate reads (the one it writes).
        supported: u32,
    },
    /// A model artifact is not valid JSON of the expected shape.
    #[error("model artifact: invalid JSON at line {line}, column {column}: {message}")]
    ModelJson {
        /// 1-based line in the JSON text.
        line: usize,
        /// 1-based column in the JSON text.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// An Arrow kernel failed.
    #[error("{what}: arrow: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// Reading inputs or writing outputs through the stage context failed.
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
}

impl TrainError {
    pub(crate) fn param(key: &str, message: impl Into<String>) -> Self {
        Self::Param { key: key.to_owned(), message: message.into() }
    }

    pub(crate) fn fit(algorithm: &str, message: impl std::fmt::Display) -> Self {
        Self::Fit { algorithm: algorithm.to_owned(), message: message.to_string() }
    }
}
