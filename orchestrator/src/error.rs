//! The orchestrator's error type and exit codes.

use std::path::PathBuf;

/// Exit codes of the `esteira` binary (documented in README.md).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The work ran and found a failure: a stage failed, `reproduce` found a difference,
    /// `verify` found a corrupt object, `checks validate` found a failed expectation.
    pub const FAILED: u8 = 1;
    /// Bad input: command line, pipeline file, a missing or malformed file.
    pub const BAD_INPUT: u8 = 2;
    /// The store is locked by another process.
    pub const LOCKED: u8 = 3;
    /// An I/O or internal error.
    pub const INTERNAL: u8 = 4;
}

/// Everything the orchestrator reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrchestratorError {
    /// The pipeline file is malformed; the message names file, line and key.
    #[error("{file}:{line}: {message}")]
    Pipeline {
        /// The pipeline file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
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
    /// A command-line argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// One or more stages failed, or could not run because something they need did not complete.
    #[error("{}: {first}", stages_failed(*failed, *blocked))]
    StagesFailed {
        /// Stages that ran and failed.
        failed: usize,
        /// Stages that did not run because an upstream stage did not complete.
        blocked: usize,
        /// The first failure (else the first blocked stage), with its error.
        first: String,
    },
    /// `reproduce` found outputs that differ from the record.
    #[error("run {run} did not reproduce: {stages} differ")]
    NotReproduced {
        /// The run id.
        run: String,
        /// The stages whose outputs differ.
        stages: String,
    },
    /// `verify` found corrupt objects.
    #[error("{0} corrupt object(s) in the store")]
    Corrupt(usize),
    /// A store or stage-contract error.
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
    /// A stage-specific library failed outside a pipeline (exec, checks, predict …).
    #[error("{0}")]
    Stage(String),
    /// Something failed that is not the user's input.
    #[error("{0}")]
    Internal(String),
    /// A failed expectation (`checks validate`).
    #[error("{0}")]
    ChecksFailed(String),
}

impl OrchestratorError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        use esteira_core::CoreError;
        match self {
            Self::Pipeline { .. } | Self::Cycle { .. } | Self::Usage(_) => exit::BAD_INPUT,
            Self::StagesFailed { .. } | Self::NotReproduced { .. } | Self::Corrupt(_) | Self::ChecksFailed(_) => {
                exit::FAILED
            }
            Self::Core(CoreError::Locked { .. }) => exit::LOCKED,
            Self::Core(
                CoreError::Param { .. } | CoreError::BadHash(_) | CoreError::Run(_) | CoreError::MissingObject(_),
            )
            | Self::Stage(_) => exit::BAD_INPUT,
            Self::Core(_) | Self::Internal(_) => exit::INTERNAL,
        }
    }
}

fn stages_failed(failed: usize, blocked: usize) -> String {
    let plural = |n: usize| if n == 1 { "stage" } else { "stages" };
    match (failed, blocked) {
        (0, b) => format!("{b} {} could not run", plural(b)),
        (f, 0) => format!("{f} {} failed", plural(f)),
        (f, b) => format!("{f} {} failed, {b} could not run", plural(f)),
    }
}
