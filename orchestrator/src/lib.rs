//! The esteira orchestrator: pipeline files, the DAG, cached parallel execution, records,
//! and the command line. `main.rs` only calls [`cli::main`].

#![forbid(unsafe_code)]

pub mod cli;
pub mod dag;
pub mod error;
pub mod execute;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod registry;
pub mod runner;

pub use error::{OrchestratorError, exit};
