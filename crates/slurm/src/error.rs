//! The one error type of esteira-slurm.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong describing, submitting, polling or cancelling Slurm jobs.
///
/// A job that *fails* is not an error of this type: it is a [`crate::JobOutcome::Failed`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlurmError {
    /// A resource setting is invalid (found when the pipeline file is read).
    #[error(transparent)]
    Resource(#[from] esteira_core::resources::ResourceError),
    /// A job script cannot be written as asked (a relative path, a newline in an argument…).
    #[error("job script: {0}")]
    Script(String),
    /// A file of a job directory could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A Slurm command could not be started.
    #[error("cannot run `{program}`: {source} (is Slurm installed and on PATH?)")]
    Spawn {
        /// The program as configured.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A Slurm command did not finish in time (it was killed).
    #[error("`{program}` did not answer within {} (slurmctld overloaded or unreachable?)", humanise(*after))]
    Timeout {
        /// The program as configured.
        program: String,
        /// The timeout.
        after: Duration,
    },
    /// A Slurm command failed.
    #[error("`{program}` failed ({status}): {stderr}")]
    Command {
        /// The program as configured.
        program: String,
        /// Its exit status.
        status: String,
        /// The end of its stderr (an excerpt).
        stderr: String,
    },
    /// A Slurm command printed something this crate cannot read.
    #[error("`{program}` printed {output:?}: {message}")]
    Output {
        /// The program as configured.
        program: String,
        /// The output (an excerpt).
        output: String,
        /// What was expected.
        message: String,
    },
}

impl SlurmError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

fn humanise(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
