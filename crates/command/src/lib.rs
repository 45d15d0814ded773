//! esteira-command: the `command` stage — any program with declared inputs and outputs, cached
//! by content, cut off early and reproduced like the shipped stages.
//!
//! ```toml
//! [stages.features]
//! kind = "command"
//! inputs = { table = "preprocess.table", script = "file:scripts/features.py" }
//! [stages.features.params]
//! run = ["python3", "{inputs.script}", "{inputs.table}", "{outputs.features}"]
//! outputs = { features = "parquet", summary = "json" }
//! env = { PYTHONHASHSEED = "0" }
//! version_cmd = ["python3", "--version"]
//! timeout = "10m"
//! ```
//!
//! The rules ([`CommandParams`] has every param):
//! - **Scratch directory.** Each execution gets a fresh directory (under the system temp
//!   directory), the program's working directory and `HOME`, removed afterwards. Each input is
//!   copied there read-only as `in/NAME` (a copy, so not even root can change the store's
//!   object); an input that is a directory output of another command stage is unpacked as a
//!   read-only directory `in/NAME/`. `in/` itself is read-only.
//! - **Placeholders** in `run` and in `env` values: `{inputs.NAME}` → `in/NAME`,
//!   `{outputs.NAME}` → `out/NAME.EXT` (`out/NAME` for a `dir` output); paths are relative to
//!   the working directory, so outputs that echo them stay deterministic. `{{` and `}}` are
//!   literal braces; any other `{…}` is an error naming it. The stage's inputs are exactly the
//!   names its placeholders use.
//! - **Outputs.** `outputs = { NAME = KIND }`, KIND a file extension (`parquet`, `json`, `csv`,
//!   `txt`, `html` … 1 to 16 of `[a-z0-9]`) or `dir`. After exit 0 every declared output must
//!   exist at its path, as a regular file (no symlink) or, for `dir`, a directory; `parquet`
//!   outputs must carry the Parquet magic and `json` ones must parse. Anything else the program
//!   writes is discarded (undeclared files in `out/` are named in a warning).
//! - **Directory outputs** are stored as one deterministic tar archive ([`archive`]: sorted
//!   entries, no times, owners or permissions beyond the exec bit), materialised as
//!   `latest/<stage>/NAME.tar`; equal trees give equal hashes, so early cutoff works for them.
//! - **Environment.** Nothing is inherited: the program gets `PATH=/usr/local/bin:/usr/bin:/bin`,
//!   `HOME` (the scratch directory), `LANG=C.UTF-8`, `TMPDIR` (`tmp/` in the scratch directory),
//!   `TZ=UTC`, and the `env` table, which may override any of them. stdin is `/dev/null`.
//! - **Cache key**: `run`, `outputs`, `env`, `timeout`, `log`, `version_cmd` and its output
//!   `tool_version` (run when the stage is built, once per process), with the input hashes. A
//!   `tool_version` written in the pipeline file is a pin: another version is an error.
//! - **Log.** stdout and stderr go to the `log` output (`log.txt`): `==> stdout <==`, stdout,
//!   `==> stderr <==`, stderr — concatenated, not interleaved, so its bytes never depend on how
//!   the two streams raced. It is written before the exit status is looked at, so a failed
//!   stage keeps it (`latest/<stage>/log.txt`). It is an output like any other, so
//!   `esteira reproduce` compares it too: a program that prints timings is told so, by the
//!   `log` output alone differing. `log = false` keeps no log (errors still quote its tail).
//! - **Failures**: a non-zero exit, a signal, a missing or mistyped output, or the `timeout`
//!   (the program and all its descendants are killed, see `process` in the source) fail the
//!   stage with the last lines the program printed.
//!
//! This is not a sandbox: the program can read any file and reach the network. Hermeticity is
//! by contract — what it reads besides its inputs, and what its tools are, `reproduce` and
//! `tool_version` can only detect, not prevent.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use esteira_command::CommandStage;
//! use esteira_core::{ArtifactStore, InputArtifact, LocalStore, Stage, StageContext};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stage = CommandStage::from_params(serde_json::json!({
//!     "run": ["sh", "-c", "tr a-z A-Z < \"$1\" > \"$2\"; echo done", "sh", "{inputs.text}", "{outputs.upper}"],
//!     "outputs": { "upper": "txt" },
//! }))?;
//! assert_eq!(stage.inputs(), ["text"]);
//!
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(LocalStore::open(dir.path())?);
//! let hash = store.put_bytes(b"conveyor belt")?;
//! let inputs = BTreeMap::from([("text".to_owned(), InputArtifact { hash, path: store.object_path(&hash)? })]);
//! let mut ctx = StageContext::new("shout", inputs, stage.outputs(), store.clone());
//! stage.run(&mut ctx).map_err(|e| e.to_string())?;
//! let out = ctx.finish()?;
//! assert_eq!(std::fs::read(store.object_path(&out.outputs["upper"])?)?, b"CONVEYOR BELT");
//! let log = std::fs::read_to_string(store.object_path(&out.outputs["log"])?)?;
//! assert_eq!(log, "==> stdout <==\ndone\n==> stderr <==\n");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod archive;
mod error;
mod params;
mod process;
mod stage;
mod template;

pub use error::CommandError;
pub use params::{
    CommandParams, DEFAULT_PATH, DIR_EXT, DIR_KIND, LOG_OUTPUT, MAX_METRICS, MAX_METRICS_BYTES, MAX_TOOL_VERSION_BYTES,
    OutputKind, VERSION_CMD_TIMEOUT, input_path, output_path,
};
pub use stage::{CommandStage, KIND, register};
