//! The esteira orchestrator: pipeline files, the DAG, cached parallel execution, records,
//! and the command line. `main.rs` only calls [`cli::main`].
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
pub mod dag;
pub mod error;
pub mod execute;
pub mod lineage;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod registry;
pub mod reproduce;
pub mod runner;
pub mod slurm_jobs;
pub mod sweep;

pub use error::{OrchestratorError, exit};
pub use esteira_core;
pub use esteira_core::{
    CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, params_json, parse_params,
};

/// How this binary was built, for run records: the target triple and the profile (`debug` when
/// built with debug assertions, as cargo's dev profile is, else `release`).
pub fn build_info() -> esteira_core::store::BuildInfo {
    esteira_core::store::BuildInfo {
        target: env!("ESTEIRA_TARGET").to_owned(),
        profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
    }
}
