//! The one error type of esteira-serve.

use std::net::SocketAddr;

/// Everything that can go wrong while loading a model, scoring a CSV file or serving HTTP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The store could not be read (missing object, corrupt object, bad run record …).
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
    /// The model artifact could not be read or applied.
    #[error(transparent)]
    Train(#[from] esteira_train::TrainError),
    /// The store has no run whose model could be served.
    #[error("no model to serve in the store at {store}: {reason}")]
    NoModel {
        /// The store's description (its root directory).
        store: String,
        /// Why nothing qualified.
        reason: String,
    },
    /// `--model` named no model, or more than one.
    #[error("model {query:?}: {reason}")]
    Model {
        /// The hash or prefix asked for.
        query: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The evaluate stage's `calibration` output of the served model cannot be used.
    #[error("{file}: field `{field}`: {message} (`--no-calibration` serves the model's probability alone)")]
    Calibration {
        /// Which object of which stage and run.
        file: String,
        /// The JSON path of the bad field (`.` for the whole file).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The input CSV is malformed (bad quoting, a row with the wrong number of fields, not UTF-8).
    #[error("{source_name}: line {line}: {message}")]
    Csv {
        /// What was read (`input.csv`, `request body`).
        source_name: String,
        /// 1-based physical line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The input CSV lacks columns the model needs.
    #[error("{source_name}: the header lacks the column(s) the model needs: {missing} (header: {header})")]
    CsvColumns {
        /// What was read.
        source_name: String,
        /// The missing columns, comma-separated.
        missing: String,
        /// The header as read.
        header: String,
    },
    /// Values of the input CSV cannot be used (a number that does not parse, a category the model
    /// does not know). Every row is checked: the first [`MAX_ERRORS`](crate::MAX_ERRORS) errors are
    /// listed, all are counted.
    #[error("{}", values_message(source_name, errors, *total, *written))]
    CsvValues {
        /// What was read.
        source_name: String,
        /// The first errors, by line.
        errors: Vec<CsvCellError>,
        /// How many values were wrong in all.
        total: usize,
        /// Rows already written before the first invalid one was met (only when reading a stream
        /// that cannot be checked first, such as standard input; otherwise 0: nothing was scored).
        written: usize,
    },
    /// More rows than one request may carry.
    #[error(
        "{source_name}: more than {limit} rows; send at most {limit} per request (`esteira predict` scores files of any size)"
    )]
    TooManyRows {
        /// What was read.
        source_name: String,
        /// The limit.
        limit: usize,
    },
    /// Reading the input or writing the output failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server could not listen on the address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// One unusable value of a CSV input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CsvCellError {
    /// 1-based physical line.
    pub line: u64,
    /// The column.
    #[serde(rename = "field")]
    pub column: String,
    /// The value as read (trimmed).
    pub value: String,
    /// What is wrong, naming the value.
    pub message: String,
}

impl std::fmt::Display for CsvCellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column `{}`: {}", self.line, self.column, self.message)
    }
}

fn values_message(source_name: &str, errors: &[CsvCellError], total: usize, written: usize) -> String {
    let mut s = format!("{source_name}: {total} invalid value(s)");
    match (written, errors.first()) {
        (0, _) | (_, None) => s.push_str("; nothing was scored"),
        (n, Some(first)) => {
            s.push_str(&format!("; {n} row(s) had already been written when line {} was read", first.line));
        }
    }
    for e in errors {
        s.push_str(&format!("\n  {e}"));
    }
    if total > errors.len() {
        s.push_str(&format!("\n  … and {} more", total - errors.len()));
    }
    s
}

impl ServeError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }
}
