//! The one error type of esteira-checks.

use std::path::PathBuf;

/// Everything that can go wrong reading suites and tables or running the `check` stage.
///
/// An expectation that cannot be evaluated on a table (a missing column, a wrong type) is not an
/// error: it becomes a failed result with `exception_info`, as in Great Expectations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A suite is not valid JSON or not shaped like a GE suite.
    #[error("{source_name}: not a valid expectation suite: {message}")]
    SuiteFormat {
        /// The suite file (or `suite` when read from a string).
        source_name: String,
        /// What is wrong, with the JSON line and column when known.
        message: String,
    },
    /// One expectation of a suite is malformed.
    #[error("{source_name}: expectation {index} ({}): {field}: {message}", crate::config::short(expectation_type))]
    Expectation {
        /// The suite file (or `suite`).
        source_name: String,
        /// Position of the expectation in `expectations` (0-based).
        index: usize,
        /// Its `expectation_type`.
        expectation_type: String,
        /// The offending field, e.g. `kwargs.min_value` or `expectation_type`.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV table could not be parsed.
    #[error("{source_name}: CSV: {message}")]
    Csv {
        /// The table file (or input name).
        source_name: String,
        /// What is wrong, with the record and column when known.
        message: String,
    },
    /// An Arrow operation on the table failed.
    #[error("{what}: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// Reading the table, the store or the stage context failed.
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
    /// The suite failed and the `check` stage runs with `severity = "error"`.
    #[error(
        "stage `{stage}`: suite `{}` failed {failed_count} of {evaluated} expectations: {}",
        crate::config::short(suite),
        esteira_core::excerpt(failed, 10 * esteira_core::MAX_EXCERPT_CHARS)
    )]
    SuiteFailed {
        /// The stage's name.
        stage: String,
        /// The suite's name.
        suite: String,
        /// How many expectations failed.
        failed_count: usize,
        /// How many were evaluated.
        evaluated: usize,
        /// The failed expectations: the first few with what was found (e.g. `#3
        /// expect_column_values_to_match_regex(id): 12 unexpected of 12 (100 %), e.g. "4"`),
        /// `; `-separated, then the others by `#index expectation_type(column)`.
        failed: String,
    },
    /// Profiler options or another argument out of range.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending option.
        field: String,
        /// What was expected.
        message: String,
    },
}

impl CheckError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
