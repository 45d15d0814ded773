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
    /// A CSV value cannot be used (an unparseable number).
    #[error("{source_name}: line {line}, column `{column}`: value {value:?}: {message}")]
    CsvValue {
        /// What was read.
        source_name: String,
        /// 1-based physical line.
        line: u64,
        /// The column.
        column: String,
        /// The offending value.
        value: String,
        /// What is wrong.
        message: String,
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

impl ServeError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }
}
