//! The engine's error type: what loading a pipeline, building its DAG and running it can report.
//! Stage errors are not here: a failed stage is recorded in the run record, not returned.

use std::path::PathBuf;

/// Everything the engine reports. The `esteira` binary wraps it and chooses the exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The pipeline file is malformed; the message names file, line (and column, when known)
    /// and key.
    #[error("{file}:{line}{}: {message}", column.map(|c| format!(":{c}")).unwrap_or_default())]
    Pipeline {
        /// The pipeline file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters), when the error has a position in the TOML.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The pipeline file has a cycle.
    #[error("{file}: the stages form a cycle: {cycle}")]
    Cycle {
        /// The pipeline file.
        file: PathBuf,
        /// `a -> b -> a`.
        cycle: String,
    },
    /// An option names something the pipeline does not have (`--only nope`, `-S nope.k=1`).
    #[error("{0}")]
    Usage(String),
    /// A store or stage-contract error.
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
    /// The async runtime (or a batch executor) could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
