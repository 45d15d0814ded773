//! esteira-engine: what runs a pipeline, for any set of stage kinds. It depends on
//! `esteira-core` only: the stage kinds come in through a [`Registry`](esteira_core::Registry),
//! a batch system through [`execute::BatchBackend`], a remote cache as the
//! [`CacheStore`](esteira_core::store::CacheStore) the run is given.
//!
//! - [`pipeline`]: the pipeline file (TOML with spans, so errors name file, line and column),
//!   `-S` overrides, `[stages.X.resources]`.
//! - [`dag`]: the stages built from a registry, validated, in topological order; rendered as
//!   text, dot or mermaid.
//! - [`plan`]: what a run would execute and why (`status`, `--dry-run`).
//! - [`execute`] and [`runner`]: one stage (inputs, key, cache, run) and a whole run (selection,
//!   `-j` parallel scheduling, early cutoff, run records, `latest/`), here or on a batch system.
//! - [`lineage`] and [`reproduce`]: which execution produced an object, and re-executing a run,
//!   an object's lineage or a bundle to compare bit for bit.
//! - [`sweep`]: a grid of overrides as one DAG whose shared stages execute once.
//! - [`progress`]: progress bars on a terminal, log lines otherwise.
//!
//! The `esteira` binary is this engine, the shipped stage kinds, Slurm and S3, and the CLI.
//!
//! ```
//! use esteira_core::{OutputSpec, Registry, Stage, StageContext, StageError, StageFactory};
//! use esteira_engine::{dag::Dag, pipeline::Pipeline};
//!
//! struct Hello;
//! impl Stage for Hello {
//!     fn kind(&self) -> &'static str { "hello" }
//!     fn version(&self) -> &'static str { "1" }
//!     fn inputs(&self) -> Vec<String> { vec![] }
//!     fn outputs(&self) -> Vec<OutputSpec> { vec![OutputSpec::new("text", "txt")] }
//!     fn params(&self) -> serde_json::Value { serde_json::json!({}) }
//!     fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
//!         ctx.write_bytes("text", b"hello")?;
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = Registry::new();
//! registry.register(StageFactory { kind: "hello", summary: "says hello", build: |_| Ok(Box::new(Hello)) })?;
//! let text = "[stages.greet]\nkind = \"hello\"\n";
//! let pipeline = Pipeline::parse(std::path::Path::new("esteira.toml"), text.to_owned())?;
//! let dag = Dag::build(pipeline, &registry)?;
//! assert_eq!(dag.order, ["greet"]);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod dag;
mod error;
pub mod execute;
pub mod lineage;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod reproduce;
pub mod runner;
pub mod sweep;

pub use error::EngineError;

/// How this binary was built, for run records: the target triple and the profile (`debug` when
/// built with debug assertions, as cargo's dev profile is, else `release`).
pub fn build_info() -> esteira_core::store::BuildInfo {
    esteira_core::store::BuildInfo {
        target: env!("ESTEIRA_TARGET").to_owned(),
        profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
    }
}
