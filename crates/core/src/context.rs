//! What a running stage sees: its inputs, a place to write outputs, metrics and progress.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::Serialize;

use crate::store::{ArtifactStore, CacheRecord, ObjectSink};
use crate::{ContentHash, CoreError, OutputSpec};

/// Progress reporting for long work. The orchestrator draws a bar on a TTY and logs otherwise;
/// outside the orchestrator [`NoProgress`] ignores it.
pub trait Progress: Send + Sync {
    /// Sets the total amount of work (bytes, rows …); 0 means unknown.
    fn set_length(&self, total: u64);
    /// Adds done work.
    fn inc(&self, delta: u64);
    /// A short message (what is being done now).
    fn set_message(&self, message: &str);
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_length(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn set_message(&self, _: &str) {}
}

/// An input handed to a stage: its hash and a local read-only file.
#[derive(Debug, Clone)]
pub struct InputArtifact {
    /// Content hash.
    pub hash: ContentHash,
    /// Local file with the bytes (an object in the store: never write to it).
    pub path: PathBuf,
}

/// A partially written output; finish it with [`StageContext::commit_output`].
pub struct OutputWriter {
    name: String,
    sink: Box<dyn ObjectSink>,
}

impl OutputWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.sink.written()
    }
}

impl Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// The result of a stage's run, collected by the orchestrator.
#[derive(Debug, Clone, Default)]
pub struct StageOutcome {
    /// Output name -> hash.
    pub outputs: BTreeMap<String, ContentHash>,
    /// Recorded metrics.
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Private state for the next run of a volatile stage.
    pub state: serde_json::Value,
    /// True when a volatile stage reused its previous outputs (counts as cached).
    pub reused: bool,
}

/// A stage's window on the world. Stages read inputs and write outputs only through it.
pub struct StageContext {
    stage: String,
    inputs: BTreeMap<String, InputArtifact>,
    declared: Vec<OutputSpec>,
    store: Arc<dyn ArtifactStore>,
    previous: Option<CacheRecord>,
    offline: bool,
    base_dir: PathBuf,
    paths: crate::PathPolicy,
    progress: Arc<dyn Progress>,
    outcome: StageOutcome,
}

impl StageContext {
    /// A context for stage `stage` writing into `store`. Used by the orchestrator, by
    /// `esteira exec`, and by tests and other programs that run a stage directly.
    pub fn new(
        stage: impl Into<String>,
        inputs: BTreeMap<String, InputArtifact>,
        outputs: Vec<OutputSpec>,
        store: Arc<dyn ArtifactStore>,
    ) -> Self {
        Self {
            stage: stage.into(),
            inputs,
            declared: outputs,
            store,
            previous: None,
            offline: false,
            base_dir: PathBuf::from("."),
            paths: crate::PathPolicy::default(),
            progress: Arc::new(NoProgress),
            outcome: StageOutcome::default(),
        }
    }

    /// Gives a volatile stage its previous cache record.
    #[must_use]
    pub fn with_previous(mut self, previous: Option<CacheRecord>) -> Self {
        self.previous = previous;
        self
    }

    /// Forbids network access (`--offline`).
    #[must_use]
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Sets the directory relative paths in params are resolved against (the pipeline file's
    /// directory). Not part of the cache key: params stay portable.
    #[must_use]
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    /// Sets which local files the stage may read through [`Self::resolve_local_file`] (the
    /// orchestrator confines a pipeline's stages to its directory and `external_paths`).
    #[must_use]
    pub fn with_path_policy(mut self, policy: crate::PathPolicy) -> Self {
        self.paths = policy;
        self
    }

    /// Resolves a local file named in a param against the base directory and checks it against
    /// the path policy: the canonical path, or why it may not be read.
    pub fn resolve_local_file(&self, path: impl AsRef<std::path::Path>) -> Result<PathBuf, String> {
        let p = path.as_ref();
        let joined = if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) };
        self.paths.resolve(&joined)
    }

    /// Resolves a path from a param against the base directory.
    pub fn resolve_path(&self, path: impl AsRef<std::path::Path>) -> PathBuf {
        let p = path.as_ref();
        if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) }
    }

    /// Routes progress somewhere.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The stage's name in the pipeline.
    pub fn stage_name(&self) -> &str {
        &self.stage
    }

    /// Whether network access is forbidden.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// Progress reporting.
    pub fn progress(&self) -> &dyn Progress {
        self.progress.as_ref()
    }

    /// The input names given.
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.inputs.keys().map(String::as_str)
    }

    /// One input.
    pub fn input(&self, name: &str) -> Result<&InputArtifact, CoreError> {
        self.inputs.get(name).ok_or_else(|| CoreError::UnknownInput {
            stage: self.stage.clone(),
            name: name.to_owned(),
            available: self.inputs.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Reads a whole input into memory.
    pub fn read_bytes(&self, name: &str) -> Result<Vec<u8>, CoreError> {
        let input = self.input(name)?;
        std::fs::read(&input.path).map_err(|e| CoreError::io(&input.path, e))
    }

    /// Reads a Parquet input.
    pub fn read_table(&self, name: &str) -> Result<crate::table::Table, CoreError> {
        crate::table::read_parquet(&self.input(name)?.path)
    }

    fn check_output(&self, name: &str) -> Result<(), CoreError> {
        let err = |message: &str| CoreError::Output {
            stage: self.stage.clone(),
            name: name.to_owned(),
            message: message.to_owned(),
        };
        if !self.declared.iter().any(|o| o.name == name) {
            return Err(err("not a declared output"));
        }
        if self.outcome.outputs.contains_key(name) {
            return Err(err("written twice"));
        }
        Ok(())
    }

    /// Starts writing an output as a stream of bytes.
    pub fn create_output(&mut self, name: &str) -> Result<OutputWriter, CoreError> {
        self.check_output(name)?;
        Ok(OutputWriter { name: name.to_owned(), sink: self.store.begin_object()? })
    }

    /// Finishes an output started with [`Self::create_output`].
    pub fn commit_output(&mut self, writer: OutputWriter) -> Result<ContentHash, CoreError> {
        self.check_output(&writer.name)?;
        let hash = writer.sink.commit()?;
        self.outcome.outputs.insert(writer.name, hash);
        Ok(hash)
    }

    /// Writes an output from bytes.
    pub fn write_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<ContentHash, CoreError> {
        let mut w = self.create_output(name)?;
        w.write_all(bytes).map_err(|e| CoreError::io(self.store.describe(), e))?;
        self.commit_output(w)
    }

    /// Writes an output as pretty JSON (object keys in the order the type serialises them:
    /// use `BTreeMap`s, never `HashMap`s, to keep the bytes deterministic).
    pub fn write_json<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<ContentHash, CoreError> {
        let mut bytes =
            serde_json::to_vec_pretty(value).map_err(|e| CoreError::Record { path: PathBuf::from(name), source: e })?;
        bytes.push(b'\n');
        self.write_bytes(name, &bytes)
    }

    /// Writes an output as a Parquet table with the fixed writer properties.
    pub fn write_table(
        &mut self,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<ContentHash, CoreError> {
        let w = self.create_output(name)?;
        let w = crate::table::write_parquet(w, schema, batches)?;
        self.commit_output(w)
    }

    /// Records a metric (row counts, scores …), kept in the cache and run records.
    pub fn metric(&mut self, name: &str, value: impl Serialize) {
        let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.outcome.metrics.insert(name.to_owned(), v);
    }

    /// The previous cache record of this (volatile) stage with the same key, if any.
    pub fn previous(&self) -> Option<&CacheRecord> {
        self.previous.as_ref()
    }

    /// Reuses the previous record's outputs (and metrics) unchanged; the stage then counts as
    /// cached. Fails if any of those objects is gone from the store.
    pub fn reuse_previous(&mut self) -> Result<(), CoreError> {
        let prev = self.previous.clone().ok_or_else(|| CoreError::Output {
            stage: self.stage.clone(),
            name: "*".into(),
            message: "no previous execution to reuse".into(),
        })?;
        for (name, hash) in &prev.outputs {
            if !self.store.contains(hash) {
                return Err(CoreError::MissingObject(hash.to_hex()));
            }
            self.outcome.outputs.insert(name.clone(), *hash);
        }
        for (k, v) in prev.metrics {
            self.outcome.metrics.entry(k).or_insert(v);
        }
        self.outcome.reused = true;
        Ok(())
    }

    /// Sets the private state carried to this stage's next run (e.g. an ETag).
    pub fn set_state(&mut self, state: serde_json::Value) {
        self.outcome.state = state;
    }

    /// The outputs this run committed so far: what a stage leaves when it fails after writing
    /// some of them (each object is complete and durable). Outputs taken over from the previous
    /// record with [`Self::reuse_previous`] are not included: an earlier execution wrote them.
    pub fn committed_outputs(&self) -> BTreeMap<String, ContentHash> {
        let reused = |name: &str, hash: &ContentHash| {
            self.outcome.reused && self.previous.as_ref().is_some_and(|p| p.outputs.get(name) == Some(hash))
        };
        self.outcome.outputs.iter().filter(|(n, h)| !reused(n, h)).map(|(n, h)| (n.clone(), *h)).collect()
    }

    /// Ends the run: every declared output must have been written.
    pub fn finish(self) -> Result<StageOutcome, CoreError> {
        for o in &self.declared {
            if !self.outcome.outputs.contains_key(&o.name) {
                return Err(CoreError::Output {
                    stage: self.stage.clone(),
                    name: o.name.clone(),
                    message: "declared but not written".into(),
                });
            }
        }
        Ok(self.outcome)
    }
}
