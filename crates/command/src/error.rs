//! The one error type of esteira-command.

use std::path::PathBuf;

use esteira_core::CoreError;

/// Everything that can go wrong building or running a command stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A param is invalid (found when the stage is built, before anything runs).
    #[error("param `{key}`: {message}")]
    Param {
        /// The param, with its index or key (`run[2]`, `outputs.features`).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `version_cmd` could not be run, failed, or printed something other than a pinned
    /// `tool_version`.
    #[error("version_cmd `{command}`: {message}")]
    Version {
        /// The command line, joined with spaces.
        command: String,
        /// What went wrong.
        message: String,
    },
    /// The scratch directory could not be made, filled or read.
    #[error("stage `{stage}`: scratch directory {}: {message}", path.display())]
    Scratch {
        /// The stage's name.
        stage: String,
        /// The file or directory concerned.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The program could not be started.
    #[error("stage `{stage}`: cannot start `{program}`: {source} (PATH={path_var})")]
    Spawn {
        /// The stage's name.
        stage: String,
        /// `run[0]` after substitution.
        program: String,
        /// The PATH it was looked up in.
        path_var: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program exited with a non-zero status or was killed by a signal.
    #[error("stage `{stage}`: `{program}` {how}{tail}")]
    Failed {
        /// The stage's name.
        stage: String,
        /// `run[0]`.
        program: String,
        /// `exited with status 1`, `was killed by signal 9`.
        how: String,
        /// The last lines it printed (with a leading separator), or nothing.
        tail: String,
    },
    /// The program ran past `timeout`; its process tree was killed.
    #[error("stage `{stage}`: `{program}` timed out after {timeout} and was killed{tail}")]
    Timeout {
        /// The stage's name.
        stage: String,
        /// `run[0]`.
        program: String,
        /// The timeout as written in the params.
        timeout: String,
        /// The last lines it printed (with a leading separator), or nothing.
        tail: String,
    },
    /// The program exited 0 but did not write some declared outputs.
    #[error("stage `{stage}`: `{program}` exited 0 but did not write {missing}{found}{tail}")]
    MissingOutputs {
        /// The stage's name.
        stage: String,
        /// `run[0]`.
        program: String,
        /// Each missing output with the path it was expected at.
        missing: String,
        /// What the program did write in `out/` instead (with a leading separator), or nothing.
        found: String,
        /// The last lines it printed (with a leading separator), or nothing.
        tail: String,
    },
    /// An output is there but is not what was declared (a directory for a file, a symlink, a
    /// Parquet output that is not Parquet …).
    #[error("stage `{stage}`: output `{name}`: {message}")]
    Output {
        /// The stage's name.
        stage: String,
        /// The output.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The store or the stage context failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}
