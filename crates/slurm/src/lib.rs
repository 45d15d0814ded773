//! esteira-slurm: running esteira stages as Slurm jobs — what a job asks for ([`Resources`]),
//! the script it runs ([`JobScript`]), submitting, polling and cancelling ([`Slurm`]), following
//! a run's jobs until they end ([`Tracker`]) and telling how they went ([`JobOutcome`]).
//!
//! One job runs one stage execution: the orchestrator keeps the DAG, the cache and the run
//! record, and submits each ready stage as a job running the esteira binary against the shared
//! store. This crate knows nothing of stages: a job is a command (`argv`), a working directory, a
//! job directory and resources.
//!
//! ```no_run
//! use esteira_slurm::{JobOutcome, JobScript, PollPolicy, Resources, Slurm, Tracker};
//!
//! // [stages.train.resources] over the pipeline-wide [pipeline.resources].
//! let defaults: toml::Value = toml::from_str(r#"memory = "1G""#).unwrap();
//! let train: toml::Value = toml::from_str(r#"cpus = 2
//! time = "01:00:00""#).unwrap();
//! let resources = Resources::from_toml(train)?.or(&Resources::from_toml(defaults)?);
//!
//! let argv = ["/opt/esteira/bin/esteira", "stage-exec", "--run", "20260101T000000Z-0001", "--stage", "train"];
//! let script = JobScript::new("/shared/store/jobs/20260101T000000Z-0001/train", "/shared/project", argv, resources)?;
//!
//! let mut jobs = Tracker::new(Slurm::new(), PollPolicy::default());
//! let job = jobs.submit(&script, "esteira-20260101T000000Z-0001")?;
//! for done in jobs.wait()? {
//!     match done.outcome {
//!         JobOutcome::Succeeded => println!("Slurm job {job}: done"),
//!         JobOutcome::Failed(why) => eprintln!("Slurm job {job}: {why}"),
//!     }
//! }
//! # Ok::<(), esteira_slurm::SlurmError>(())
//! ```
//!
//! The job directory holds `job.sh`, `stdout`, `stderr`, `slurm.out` and, once the command has
//! ended, `exit_code` ([`JobFiles`]); it must be on a file system the submitting host and the
//! compute nodes share, like the store.
//!
//! Load on the controller: a poll of N jobs is one `squeue` call, plus one `sacct` call for
//! those that have left squeue; the [`PollPolicy`] default polls every 2 s growing to 10 s.
//! Every command has a timeout ([`DEFAULT_COMMAND_TIMEOUT`]); a poll that fails is retried,
//! and a job neither squeue nor sacct knows (accounting off) is judged by its `exit_code` file.

#![forbid(unsafe_code)]

mod client;
mod error;
mod outcome;
mod script;
mod tracker;

pub use client::{Calls, DEFAULT_COMMAND_TIMEOUT, JobId, JobState, JobStatus, Slurm, SlurmCommand, StatusSource};
pub use error::SlurmError;
pub use esteira_core::resources::{Cpus, Memory, Partition, ResourceError, Resources, SbatchArg, TimeLimit};
pub use outcome::{FailureReason, JobFailure, JobOutcome, TAIL_LINES};
pub use script::{JobFiles, JobScript, shell_quote};
pub use tracker::{Finished, PollPolicy, Tracker};
