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

/// Everything the orchestrator reports. Library errors keep their own type (`#[source]`), and
/// [`OrchestratorError::exit_code`] reads the exit code off the variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrchestratorError {
    /// Loading the pipeline, building its DAG or running it failed (file:line errors, an
    /// unknown stage, the store).
    #[error(transparent)]
    Engine(#[from] esteira_engine::EngineError),
    /// A command-line argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// The store path names something that is not a directory.
    #[error("the store {path} is not a directory (check `store` in the pipeline file or --store)")]
    StoreNotDir {
        /// The path given.
        path: PathBuf,
    },
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
    #[error("{what} did not reproduce: {stages} differ")]
    NotReproduced {
        /// What was reproduced: `run ID`, `object HASH`, `bundle FILE`.
        what: String,
        /// The stages whose outputs differ.
        stages: String,
    },
    /// `reproduce` of a run that did not finish: part of it could not be compared.
    #[error("run {run} was {status}, so it cannot be reproduced whole: {summary}")]
    Incomplete {
        /// The run id.
        run: String,
        /// How the recorded run ended.
        status: String,
        /// What was and was not compared.
        summary: String,
    },
    /// `verify` found corrupt or missing objects or records.
    #[error("{0} problem(s) in the store")]
    Corrupt(usize),
    /// A store or stage-contract error.
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
    /// `checks validate|profile` failed to read or check its inputs.
    #[error(transparent)]
    Checks(#[from] esteira_checks::CheckError),
    /// `checks validate` ran and an expectation failed.
    #[error("{failed} of {evaluated} expectations failed")]
    ChecksFailed {
        /// Failed expectations.
        failed: u64,
        /// Evaluated expectations.
        evaluated: u64,
    },
    /// `synth` failed.
    #[error(transparent)]
    Synth(#[from] esteira_synth::SynthError),
    /// `export` or `reproduce --bundle` could not write or read a bundle (a tampered one names
    /// the member).
    #[error(transparent)]
    Bundle(#[from] esteira_bundle::BundleError),
    /// `serve` or `predict` failed.
    #[error(transparent)]
    Serve(#[from] esteira_serve::ServeError),
    /// The remote (`--remote`, `ESTEIRA_REMOTE`, `[pipeline] remote`) could not be used:
    /// a bad URL, refused credentials, a missing bucket, or (`push`/`pull`) an outage.
    #[error(transparent)]
    Remote(#[from] esteira_remote::RemoteError),
    /// `push`/`pull` without a remote configured.
    #[error(
        "`esteira {command}` needs a remote: give --remote s3://BUCKET/PREFIX, set ESTEIRA_REMOTE, or set `remote` in [pipeline] of {config}"
    )]
    NoRemote {
        /// The subcommand.
        command: &'static str,
        /// The pipeline file looked at.
        config: PathBuf,
    },
    /// `exec`: the stage ran and failed (its error chain).
    #[error("{kind}: {message}")]
    ExecFailed {
        /// The stage kind.
        kind: String,
        /// The stage's error chain.
        message: String,
    },
    /// Writing the command's output to stdout failed (a closed pipe is a quiet exit).
    #[error("writing to standard output: {0}")]
    Stdout(#[source] std::io::Error),
    /// A file the command was asked to write (`--html FILE`) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A value could not be serialised to JSON (a bug).
    #[error("cannot serialise JSON output: {0}")]
    Json(#[source] serde_json::Error),
}

impl OrchestratorError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::StoreNotDir { .. } | Self::WriteFile { .. } | Self::NoRemote { .. } => {
                exit::BAD_INPUT
            }
            Self::StagesFailed { .. }
            | Self::NotReproduced { .. }
            | Self::Incomplete { .. }
            | Self::Corrupt(_)
            | Self::ChecksFailed { .. }
            | Self::ExecFailed { .. } => exit::FAILED,
            Self::Core(e) => core_exit(e),
            Self::Engine(e) => engine_exit(e),
            Self::Checks(e) => checks_exit(e),
            Self::Synth(e) => synth_exit(e),
            Self::Serve(e) => serve_exit(e),
            Self::Bundle(e) => bundle_exit(e),
            Self::Remote(e) => remote_exit(e),
            Self::Stdout(_) | Self::Runtime(_) | Self::Json(_) => exit::INTERNAL,
        }
    }

    /// Whether this is a write to a closed pipe (`esteira runs list | head`): not worth a
    /// message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

fn engine_exit(e: &esteira_engine::EngineError) -> u8 {
    use esteira_engine::EngineError;
    match e {
        EngineError::Core(c) => core_exit(c),
        EngineError::Runtime(_) => exit::INTERNAL,
        _ => exit::BAD_INPUT,
    }
}

fn core_exit(e: &esteira_core::CoreError) -> u8 {
    use esteira_core::CoreError;
    match e {
        CoreError::Locked { .. } => exit::LOCKED,
        CoreError::Corrupt { .. } | CoreError::BadObject { .. } => exit::FAILED,
        CoreError::Param { .. } | CoreError::BadHash(_) | CoreError::Run(_) | CoreError::MissingObject(_) => {
            exit::BAD_INPUT
        }
        _ => exit::INTERNAL,
    }
}

/// A file the user named that is missing or unreadable is bad input; other I/O is ours.
fn io_exit(e: &std::io::Error) -> u8 {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::IsADirectory | ErrorKind::InvalidData => {
            exit::BAD_INPUT
        }
        _ => exit::INTERNAL,
    }
}

fn checks_exit(e: &esteira_checks::CheckError) -> u8 {
    use esteira_checks::CheckError;
    match e {
        CheckError::Core(c) => core_exit(c),
        CheckError::Io { source, .. } => io_exit(source),
        CheckError::SuiteFailed { .. } => exit::FAILED,
        _ => exit::BAD_INPUT,
    }
}

fn synth_exit(e: &esteira_synth::SynthError) -> u8 {
    use esteira_synth::SynthError;
    match e {
        SynthError::Write { .. } | SynthError::Io { .. } => exit::INTERNAL,
        _ => exit::BAD_INPUT,
    }
}

fn serve_exit(e: &esteira_serve::ServeError) -> u8 {
    use esteira_serve::ServeError;
    match e {
        ServeError::Core(c) => core_exit(c),
        ServeError::Io { source, .. } => io_exit(source),
        ServeError::Bind { .. } => exit::INTERNAL,
        _ => exit::BAD_INPUT,
    }
}

/// A bundle that was altered is a failure found (like a corrupt object); one that is not a
/// bundle, or is hostile, is bad input; a store or disk that fails us is ours.
fn bundle_exit(e: &esteira_bundle::BundleError) -> u8 {
    use esteira_bundle::BundleError;
    match e {
        BundleError::HashMismatch { .. }
        | BundleError::SizeMismatch { .. }
        | BundleError::MissingMember { .. }
        | BundleError::Inconsistent { .. } => exit::FAILED,
        BundleError::Io { source, .. } => io_exit(source),
        BundleError::Store { source, .. } | BundleError::Object { source, .. } => core_exit(source),
        BundleError::ObjectChanged { .. } => exit::INTERNAL,
        _ => exit::BAD_INPUT,
    }
}

/// Bytes that do not match their name are a failure found (as a corrupt local object); a
/// configuration to fix is bad input; an outage or a failing disk is ours.
fn remote_exit(e: &esteira_remote::RemoteError) -> u8 {
    use esteira_remote::RemoteError;
    match e {
        RemoteError::Corrupt { .. } | RemoteError::InvalidRecord { .. } | RemoteError::Unverified { .. } => {
            exit::FAILED
        }
        RemoteError::Config { .. } | RemoteError::Denied { .. } | RemoteError::NotFound { .. } => exit::BAD_INPUT,
        RemoteError::Local(c) => core_exit(c),
        RemoteError::Io { source, .. } => io_exit(source),
        _ => exit::INTERNAL,
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
