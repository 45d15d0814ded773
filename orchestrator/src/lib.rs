//! The esteira orchestrator: pipeline files, the DAG, cached parallel execution, records,
//! and the command line. `main.rs` only calls [`cli::main`].

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

pub use error::{OrchestratorError, exit};

/// How this binary was built, for run records: the target triple and the profile (`debug` when
/// built with debug assertions, as cargo's dev profile is, else `release`).
pub fn build_info() -> esteira_core::store::BuildInfo {
    esteira_core::store::BuildInfo {
        target: env!("ESTEIRA_TARGET").to_owned(),
        profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
    }
}
