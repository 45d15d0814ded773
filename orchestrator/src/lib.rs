//! The `esteira` command line: the engine (`esteira-engine`: pipeline files, the DAG, cached
//! parallel execution, records), the shipped stage kinds ([`registry`]), Slurm
//! ([`slurm_jobs`]), the S3 team cache and every subcommand ([`cli`]). `main.rs` only calls
//! [`cli::main`].
//!
//! # Embedding: your own stages, the same CLI
//!
//! A project of yours can depend on this package (`esteira`) and build the `esteira` command
//! line with its own stage kinds beside the shipped ones. The stable surface for that is:
//!
//! - the stage contract, re-exported here from `esteira-core` so that one dependency is enough:
//!   [`Stage`], [`StageContext`], [`StageError`], [`OutputSpec`], [`StageFactory`], [`Registry`],
//!   [`CoreError`], [`Params`] (typed params parsed and serialised once: errors name the bad
//!   key), [`parse_params`] and [`params_json`]; the rest of core (tables, hashes) is
//!   [`esteira_core`];
//! - [`registry::builtin`] (the shipped kinds) and [`registry::register_builtin`];
//! - [`cli::main_with`] (the shipped kinds plus yours, then the whole CLI) and [`cli::main`]
//!   (a registry you assembled).
//!
//! [`Registry::register`] refuses a kind that is already there. `examples/custom-stage` is a
//! complete binary. The other modules are public for the workspace's own tests and tools; they
//! are not a promise.

#![forbid(unsafe_code)]

pub mod cli;
pub mod error;
#[cfg(test)]
mod pipeline_fuzz;
pub mod registry;
pub mod slurm_jobs;

// The engine's modules at the paths they had before it became its own crate.
pub use esteira_engine::{
    EngineError, build_info, dag, execute, lineage, pipeline, plan, progress, reproduce, runner, sweep,
};

pub use error::{OrchestratorError, exit};
pub use esteira_core;
pub use esteira_core::{
    CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, params_json, parse_params,
};
