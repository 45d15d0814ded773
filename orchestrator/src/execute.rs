//! Running one stage: resolve inputs, compute the cache key, hit the cache or execute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use esteira_core::{
    ArtifactStore, CacheRecord, ContentHash, InputArtifact, LocalStore, PathPolicy, Progress, Stage, StageContext,
    StageOutcome, cache_key,
};

use crate::dag::Dag;
use crate::pipeline::Source;

/// How a stage should be treated in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Selected: use the cache unless forced, else execute.
    Execute {
        /// Ignore the cache.
        force: bool,
    },
    /// Not selected (`--until`/`--only`): take outputs from the cache or report them missing.
    ResolveOnly,
}

/// What happened to a stage.
#[derive(Debug, Clone)]
pub struct Executed {
    /// Input name -> hash.
    pub inputs: BTreeMap<String, ContentHash>,
    /// The cache key.
    pub key: ContentHash,
    /// The outputs, metrics and whether they came from the cache.
    pub outcome: StageOutcome,
    /// True when served from the cache (or revalidated unchanged).
    pub cached: bool,
}

/// A stage failure, with the key when it was known.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The error chain.
    pub message: String,
    /// Input hashes resolved before the failure.
    pub inputs: BTreeMap<String, ContentHash>,
    /// The key, if computed.
    pub key: Option<ContentHash>,
}

/// Hashes of objects already verified in this process (verification happens once).
#[derive(Default)]
pub struct Verified(Mutex<BTreeSet<ContentHash>>);

impl Verified {
    /// Re-hashes an input object the first time it is used; a mismatch is an error.
    pub fn check(&self, store: &LocalStore, hash: &ContentHash) -> Result<(), String> {
        if self.0.lock().is_ok_and(|s| s.contains(hash)) {
            return Ok(());
        }
        store.verify_object(hash).map_err(|e| format!("{e} (run `esteira verify --repair`)"))?;
        if let Ok(mut s) = self.0.lock() {
            s.insert(*hash);
        }
        Ok(())
    }
}

/// Resolves a stage's input hashes from upstream outputs and files (files are imported into
/// the store, hashed through the memo).
pub fn resolve_inputs(
    dag: &Dag,
    store: &LocalStore,
    name: &str,
    upstream: &BTreeMap<String, BTreeMap<String, ContentHash>>,
) -> Result<BTreeMap<String, ContentHash>, String> {
    let decl = &dag.nodes[name].decl;
    let mut inputs = BTreeMap::new();
    for (input, src) in &decl.inputs {
        let hash = match src {
            Source::Stage { stage, output } => *upstream
                .get(stage)
                .and_then(|o| o.get(output))
                .ok_or_else(|| format!("input `{input}`: `{stage}.{output}` is not available"))?,
            Source::File(p) => {
                let path = dag.pipeline.paths.resolve(p).map_err(|e| format!("input `{input}`: {e}"))?;
                store.import_file(&path).map_err(|e| format!("input `{input}` (file:{}): {e}", p.display()))?
            }
        };
        inputs.insert(input.clone(), hash);
    }
    Ok(inputs)
}

/// Everything a stage execution needs besides the DAG.
pub struct Env<'a> {
    /// The store read from and written to.
    pub store: &'a Arc<LocalStore>,
    /// `--offline`.
    pub offline: bool,
    /// The run id recorded in cache records.
    pub run_id: &'a str,
    /// Verified inputs.
    pub verified: &'a Verified,
}

/// Runs (or resolves from cache) one stage.
pub fn execute_stage(
    dag: &Dag,
    env: &Env<'_>,
    name: &str,
    mode: Mode,
    upstream: &BTreeMap<String, BTreeMap<String, ContentHash>>,
    progress: Arc<dyn Progress>,
) -> Result<Executed, Failure> {
    let node = &dag.nodes[name];
    let stage = node.stage.as_ref();
    let store = env.store;
    let inputs = resolve_inputs(dag, store, name, upstream).map_err(|message| Failure {
        message,
        inputs: BTreeMap::new(),
        key: None,
    })?;
    let params = stage.params();
    let key = cache_key(stage.kind(), stage.version(), &params, &inputs);
    let fail = |message: String| Failure { message, inputs: inputs.clone(), key: Some(key) };
    let record = store.cache_get(&key).map_err(|e| fail(e.to_string()))?;
    let usable = record.filter(|r| r.outputs.values().all(|h| store.contains(h)));
    let force = matches!(mode, Mode::Execute { force: true });
    match (mode, &usable) {
        (Mode::ResolveOnly, Some(r)) => return Ok(hit(inputs, key, r)),
        (Mode::ResolveOnly, None) => {
            return Err(fail(format!(
                "not selected for this run and not in the cache (key {}): run it first",
                key.short()
            )));
        }
        (Mode::Execute { force: false }, Some(r)) if !stage.volatile() => return Ok(hit(inputs, key, r)),
        _ => {}
    }
    let mut artifacts = BTreeMap::new();
    for (input, hash) in &inputs {
        env.verified.check(store, hash).map_err(|e| fail(format!("input `{input}`: {e}")))?;
        let path = store.object_path(hash).map_err(|e| fail(e.to_string()))?;
        artifacts.insert(input.clone(), InputArtifact { hash: *hash, path });
    }
    let previous = if stage.volatile() && !force { usable } else { None };
    let started = Instant::now();
    let out: Arc<dyn ArtifactStore> = Arc::clone(store) as Arc<dyn ArtifactStore>;
    let outcome = run_stage(stage, name, &dag.pipeline.paths, artifacts, out, previous, env.offline, progress)
        .map_err(fail)?;
    let record = CacheRecord {
        key,
        kind: stage.kind().to_owned(),
        version: stage.version().to_owned(),
        params,
        inputs: inputs.clone(),
        outputs: outcome.outputs.clone(),
        metrics: outcome.metrics.clone(),
        state: outcome.state.clone(),
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        run_id: env.run_id.to_owned(),
        stage: name.to_owned(),
    };
    store.cache_put(&record).map_err(|e| fail(e.to_string()))?;
    let cached = outcome.reused;
    Ok(Executed { inputs, key, outcome, cached })
}

fn hit(inputs: BTreeMap<String, ContentHash>, key: ContentHash, r: &CacheRecord) -> Executed {
    Executed {
        inputs,
        key,
        outcome: StageOutcome {
            outputs: r.outputs.clone(),
            metrics: r.metrics.clone(),
            state: r.state.clone(),
            reused: true,
        },
        cached: true,
    }
}

/// Executes a stage with given input files, writing outputs into `out`. No cache involved:
/// used by runs and by `reproduce`.
#[allow(clippy::too_many_arguments, reason = "mirrors StageContext's builder; shared by run and reproduce")]
pub fn run_stage(
    stage: &dyn Stage,
    name: &str,
    paths: &PathPolicy,
    inputs: BTreeMap<String, InputArtifact>,
    out: Arc<dyn ArtifactStore>,
    previous: Option<CacheRecord>,
    offline: bool,
    progress: Arc<dyn Progress>,
) -> Result<StageOutcome, String> {
    let mut ctx = StageContext::new(name, inputs, stage.outputs(), out)
        .with_previous(previous)
        .with_offline(offline)
        .with_base_dir(base_dir(paths.base()))
        .with_path_policy(paths.clone())
        .with_progress(progress);
    // A panicking stage must not take the run (and its records) down with it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stage.run(&mut ctx)));
    match result {
        Ok(Ok(())) => ctx.finish().map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("stage panicked (a bug in kind `{}`): {msg}", stage.kind()))
        }
    }
}

fn base_dir(p: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
