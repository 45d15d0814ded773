//! esteira-core: the contract between esteira's stages and its orchestrator.
//!
//! - [`Stage`]: an object-safe step with a kind, a version, named inputs and outputs, and
//!   typed params; [`Registry`] builds stages from pipeline-file params.
//! - [`StageContext`]: how a stage reads inputs (files or Arrow tables) and writes outputs,
//!   metrics and progress.
//! - [`ContentHash`] (BLAKE3) and the [`ArtifactStore`] trait with [`LocalStore`]: immutable
//!   content-addressed objects, cache records, run records, one writer at a time.
//! - [`table`]: Parquet written with fixed properties so equal tables give equal bytes.
//! - [`parse_number`] / [`parse_integer`]: the one reading of numbers written as text (the
//!   portal's `5.9`, a decimal comma `1,5`; `1.500` is rejected as ambiguous).
//!
//! Running a stage by hand, with no orchestrator:
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use esteira_core::{LocalStore, OutputSpec, Stage, StageContext, StageError, ArtifactStore};
//!
//! struct Upper;
//! impl Stage for Upper {
//!     fn kind(&self) -> &'static str { "upper" }
//!     fn version(&self) -> &'static str { "1" }
//!     fn inputs(&self) -> Vec<String> { vec!["text".into()] }
//!     fn outputs(&self) -> Vec<OutputSpec> { vec![OutputSpec::new("text", "txt")] }
//!     fn params(&self) -> serde_json::Value { serde_json::json!({}) }
//!     fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
//!         let s = String::from_utf8(ctx.read_bytes("text")?)?;
//!         ctx.write_bytes("text", s.to_uppercase().as_bytes())?;
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("esteira-doc-{}", std::process::id()));
//! let store = Arc::new(LocalStore::open(&dir)?);
//! let hash = store.put_bytes(b"conveyor belt")?;
//! let inputs = BTreeMap::from([(
//!     "text".to_owned(),
//!     esteira_core::InputArtifact { hash, path: store.object_path(&hash)? },
//! )]);
//! let stage = Upper;
//! let mut ctx = StageContext::new("upper", inputs, stage.outputs(), store.clone());
//! stage.run(&mut ctx).map_err(|e| e.to_string())?;
//! let out = ctx.finish()?;
//! let bytes = std::fs::read(store.object_path(&out.outputs["text"])?)?;
//! assert_eq!(bytes, b"CONVEYOR BELT");
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```

// One measured exception: `table::TextBuilder::finish` builds text arrays from copies of valid
// UTF-8 without arrow re-validating every byte (a fifth of the preprocess stage's time).
#![deny(unsafe_code)]

mod canonical;
pub mod compare;
mod context;
mod error;
mod hash;
mod html;
pub mod number;
mod paths;
pub mod resources;
mod stage;
pub mod store;
pub mod table;
mod text;
mod typed_params;

pub use canonical::{cache_key, canonical_json};
pub use context::{InputArtifact, NoProgress, OutputWriter, Progress, StageContext, StageOutcome};
pub use error::CoreError;
pub use hash::{ContentHash, HashingWriter};
pub use html::escape_html;
pub use number::{NumberError, parse_integer, parse_number};
pub use paths::{MAX_NAME_LEN, PathPolicy, is_safe_name, name_problem};
pub use stage::{BuildFn, OutputSpec, Registry, Stage, StageError, StageFactory, media, params_json, parse_params};
pub use store::{
    ArtifactStore, CacheRecord, LocalStore, ObjectSink, RunRecord, RunStatus, StageRecord, StageStatus, StoreLock,
    SweepTag,
};
pub use text::{MAX_EXCERPT_CHARS, excerpt};
pub use typed_params::Params;

/// The current UTC time in RFC 3339 with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// This machine's host name (for run records and lock holders).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_owned())
}
