//! Running one stage: resolve inputs, compute the cache key, hit the cache or execute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use esteira_core::store::{CacheStore, KeyParts, Origin};
use esteira_core::{
    ArtifactStore, CacheRecord, ContentHash, CoreError, InputArtifact, LocalStore, OutputSpec, PathPolicy, Progress,
    Stage, StageContext, StageOutcome, cache_key,
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
    /// True when that cache hit came from the remote under the local store (downloaded now).
    pub remote_hit: bool,
    /// The batch job that executed it (`slurm:N`), when one did.
    pub job: Option<String>,
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
    /// Outputs the stage completely wrote before it failed (e.g. a failed check's result and
    /// report). They go into the run record and `latest/`, never into a cache record.
    pub outputs: BTreeMap<String, ContentHash>,
    /// The batch job that executed it (`slurm:N`), when one did (boxed: a failure stays small
    /// enough to return by value).
    pub job: Option<Box<String>>,
}

/// Why [`run_stage`] failed, and the outputs the stage had committed by then.
#[derive(Debug, Clone)]
pub struct StageFailure {
    /// The error chain.
    pub message: String,
    /// Outputs completely written before the failure (durable objects in the store).
    pub partial_outputs: BTreeMap<String, ContentHash>,
}

impl std::fmt::Display for StageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Hashes of objects already verified in this process (verification happens once).
#[derive(Default)]
pub struct Verified(Mutex<BTreeSet<ContentHash>>);

impl Verified {
    /// Re-hashes an input object the first time it is used (fetching it from the remote first
    /// when it is not local); a mismatch is an error.
    pub fn check(&self, store: &dyn CacheStore, hash: &ContentHash) -> Result<(), String> {
        if self.0.lock().is_ok_and(|s| s.contains(hash)) {
            return Ok(());
        }
        let repair = |e: CoreError| format!("{e} (run `esteira verify --repair`)");
        store.check_object(hash).map_err(repair)?;
        store.local().verify_object(hash).map_err(repair)?;
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

/// Executes one stage elsewhere (a batch system) and waits for it: what `--executor slurm`
/// plugs in under [`execute_pending`], which keeps the inputs' checks, the outputs' checks and
/// the cache record as for a stage run here.
pub trait BatchExecutor: Send + Sync {
    /// Executes stage `name` of `dag` on `inputs` (verified objects of `layers`) under `key`.
    /// Returns how it went and the batch job's id (`slurm:N`) when one was submitted.
    #[allow(clippy::too_many_arguments, reason = "one stage execution's whole context, as execute_pending has it")]
    fn execute(
        &self,
        layers: &dyn CacheStore,
        dag: &Dag,
        name: &str,
        inputs: &BTreeMap<String, ContentHash>,
        key: ContentHash,
        offline: bool,
        progress: &Arc<dyn Progress>,
    ) -> (Result<StageOutcome, StageFailure>, Option<String>);

    /// Cancels everything submitted for the run (Ctrl-C or TERM reached the run); no more is
    /// submitted afterwards.
    fn cancel_all(&self);

    /// Called once when the run's scheduling is over (to log what the run cost, say).
    fn finish(&self) {}
}

/// A batch system that can run a run's stages: `--executor slurm` (esteira's `SlurmOptions`).
/// The engine starts it for a run once something must execute.
pub trait BatchBackend: Send + Sync + std::fmt::Debug {
    /// How many stages the run keeps submitted at once when `-j` is 0.
    fn default_jobs(&self) -> usize;

    /// Starts executing for run `run_id` of `dag` over the store at `store` (with `remote`, the
    /// URL of the remote under it, when the run has one; `set`: the `-S` overrides the pipeline
    /// was loaded with, which the jobs apply too).
    fn start(
        &self,
        dag: &Dag,
        store: &Path,
        remote: Option<String>,
        run_id: &str,
        set: &[String],
    ) -> Result<Arc<dyn BatchExecutor>, std::io::Error>;
}

/// Where a run's stages execute.
#[derive(Debug, Clone, Default)]
pub enum Executor {
    /// In this process, on tokio's blocking pool.
    #[default]
    Local,
    /// On a batch system (volatile stages still here).
    Batch(Arc<dyn BatchBackend>),
}

/// Everything a stage execution needs besides the DAG.
pub struct Env<'a> {
    /// The store read from and written to: the local store, or the local store with a remote
    /// under it.
    pub store: &'a Arc<dyn CacheStore>,
    /// `--offline`.
    pub offline: bool,
    /// The run id recorded in cache records.
    pub run_id: &'a str,
    /// Verified inputs.
    pub verified: &'a Verified,
    /// Where stages that are not volatile execute when not in this process (`--executor
    /// slurm`: esteira's `SlurmExecutor`).
    pub batch: Option<&'a dyn BatchExecutor>,
}

/// A stage that must execute, with what [`lookup`] found out about it.
#[derive(Debug, Clone)]
pub struct Pending {
    inputs: BTreeMap<String, ContentHash>,
    key: ContentHash,
    params: serde_json::Value,
    declared: Vec<OutputSpec>,
    /// A volatile stage's usable record under its key, which it revalidates.
    previous: Option<CacheRecord>,
    /// That record came from the remote (downloaded by the lookup).
    previous_remote: bool,
}

impl Pending {
    /// Whether this is a volatile stage revalidating a usable previous record (a `file:` fetch
    /// costs a `stat`, an HTTP one a conditional request): it may well end up cached.
    pub fn revalidates(&self) -> bool {
        self.previous.is_some()
    }
}

/// What [`lookup`] found: the stage is done (a cache hit, or a failure before executing), or it
/// must execute.
#[derive(Debug)]
pub enum Lookup {
    /// Served from the cache, or failed before executing.
    Done(Result<Executed, Failure>),
    /// Must execute ([`execute_pending`]).
    Execute(Box<Pending>),
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
    match lookup(dag, env, name, mode, upstream) {
        Lookup::Done(done) => done,
        Lookup::Execute(pending) => execute_pending(dag, env, name, *pending, progress),
    }
}

/// The cache key `name` will be looked up under, given its upstream stages' outputs; `None`
/// when its inputs do not resolve (its lookup then says why).
pub fn key_of(
    dag: &Dag,
    store: &dyn CacheStore,
    name: &str,
    upstream: &BTreeMap<String, BTreeMap<String, ContentHash>>,
) -> Option<ContentHash> {
    let stage = dag.nodes[name].stage.as_ref();
    let inputs = resolve_inputs(dag, store.local(), name, upstream).ok()?;
    Some(cache_key(stage.kind(), stage.version(), &stage.params(), &inputs))
}

/// Resolves a stage's inputs and key and looks it up in the cache, executing nothing: a hit (or a
/// stage not selected) is done, anything else must execute. Volatile stages always execute (they
/// revalidate their source) unless not selected.
pub fn lookup(
    dag: &Dag,
    env: &Env<'_>,
    name: &str,
    mode: Mode,
    upstream: &BTreeMap<String, BTreeMap<String, ContentHash>>,
) -> Lookup {
    let node = &dag.nodes[name];
    let stage = node.stage.as_ref();
    let store = env.store.as_ref();
    let inputs = match resolve_inputs(dag, store.local(), name, upstream) {
        Ok(inputs) => inputs,
        Err(message) => {
            return Lookup::Done(Err(Failure {
                message,
                inputs: BTreeMap::new(),
                key: None,
                outputs: BTreeMap::new(),
                job: None,
            }));
        }
    };
    let params = stage.params();
    let key = cache_key(stage.kind(), stage.version(), &params, &inputs);
    let fail = |message: String| Failure {
        message,
        inputs: inputs.clone(),
        key: Some(key),
        outputs: BTreeMap::new(),
        job: None,
    };
    let declared = stage.outputs();
    let force = matches!(mode, Mode::Execute { force: true });
    // A forced stage does not look at the cache: its record (and any damaged output object) is
    // replaced by what it writes now.
    let usable = if force {
        None
    } else {
        let parts = KeyParts { kind: stage.kind(), version: stage.version(), params: &params, inputs: &inputs };
        match usable_record(store, name, &key, &parts, &declared, true) {
            Ok(usable) => usable,
            Err(message) => return Lookup::Done(Err(fail(message))),
        }
    };
    let remote_hit = usable.as_ref().is_some_and(|(_, origin)| *origin == Origin::Remote);
    let usable = usable.map(|(r, _)| r);
    match (mode, usable) {
        (Mode::ResolveOnly, Some(r)) => Lookup::Done(Ok(hit(inputs, key, &r, remote_hit))),
        (Mode::ResolveOnly, None) => Lookup::Done(Err(fail(format!(
            "not selected for this run and not in the cache (key {}): run it first",
            key.short()
        )))),
        (Mode::Execute { force: false }, Some(r)) if !stage.volatile() => {
            Lookup::Done(Ok(hit(inputs, key, &r, remote_hit)))
        }
        (_, usable) => {
            let previous = if stage.volatile() && !force { usable } else { None };
            let previous_remote = remote_hit && previous.is_some();
            Lookup::Execute(Box::new(Pending { inputs, key, params, declared, previous, previous_remote }))
        }
    }
}

/// Executes a stage [`lookup`] found must execute, and writes its cache record.
///
/// A volatile stage that reused its previous record unchanged (same outputs, metrics and
/// state) leaves that record as it is: a revalidation that changed nothing writes nothing.
pub fn execute_pending(
    dag: &Dag,
    env: &Env<'_>,
    name: &str,
    pending: Pending,
    progress: Arc<dyn Progress>,
) -> Result<Executed, Failure> {
    let Pending { inputs, key, params, declared, previous, previous_remote } = pending;
    let stage = dag.nodes[name].stage.as_ref();
    let store = env.store;
    let fail = |message: String| Failure {
        message,
        inputs: inputs.clone(),
        key: Some(key),
        outputs: BTreeMap::new(),
        job: None,
    };
    let mut artifacts = BTreeMap::new();
    for (input, hash) in &inputs {
        env.verified.check(store.as_ref(), hash).map_err(|e| fail(format!("input `{input}`: {e}")))?;
        let path = store.object_path(hash).map_err(|e| fail(e.to_string()))?;
        artifacts.insert(input.clone(), InputArtifact { hash: *hash, path });
    }
    let started = Instant::now();
    // Volatile stages revalidate an external source: they run here, never on a compute node.
    let (executed, job) = match env.batch.filter(|_| !stage.volatile()) {
        Some(batch) => batch.execute(store.as_ref(), dag, name, &inputs, key, env.offline, &progress),
        None => {
            let out: Arc<dyn ArtifactStore> = Arc::clone(store) as Arc<dyn ArtifactStore>;
            (run_stage(stage, name, &dag.pipeline.paths, artifacts, out, previous.clone(), env.offline, progress), None)
        }
    };
    let fail = |message: String| Failure { job: job.clone().map(Box::new), ..fail(message) };
    let outcome = match executed {
        Ok(outcome) => outcome,
        // What the stage wrote before failing is kept for people to read (recorded and
        // materialised), but no cache record is written: a failed stage runs again next time.
        Err(f) => {
            let mut kept = f.partial_outputs;
            // A job's objects were written by another process: only intact ones are kept.
            kept.retain(|output, hash| match store.check_object(hash) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!("stage `{name}`: not keeping output `{output}`: {e}");
                    false
                }
            });
            let message = kept_note(f.message, store.local(), name, &declared, &kept);
            return Err(Failure { outputs: kept, ..fail(message) });
        }
    };
    // Fresh outputs were verified as they were written in this process; outputs a volatile
    // stage reused from its previous record, and a job's, were not: check them like a hit's
    // (a job's are hashed now, this process has no stamp for them).
    for (output, hash) in &outcome.outputs {
        store
            .check_object(hash)
            .map_err(|e| fail(format!("output `{output}`: {e} (run `esteira verify --repair`)")))?;
    }
    if job.is_some()
        && let Some(problem) = declared_outputs_problem(&declared, &outcome.outputs)
    {
        return Err(fail(problem));
    }
    let mut outcome = outcome;
    let unchanged = outcome.reused
        && previous
            .as_ref()
            .is_some_and(|p| p.outputs == outcome.outputs && p.metrics == outcome.metrics && p.state == outcome.state);
    if !unchanged {
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
        let winner = store
            .cache_put_shared(&record, &declared)
            .map_err(|e| Failure { outputs: outcome.outputs.clone(), ..fail(e.to_string()) })?;
        // Another machine wrote this key first with other bytes (a stage that is not
        // deterministic): its record is the one under the key now, here and in the remote, so
        // downstream stages use its outputs and every machine agrees on them.
        if let Some(w) = winner {
            tracing::warn!(
                "stage `{name}`: the remote already had key {} with other outputs (is the stage deterministic?); \
                 using those",
                key.short()
            );
            outcome.outputs = w.outputs;
            outcome.metrics = w.metrics;
            outcome.state = w.state;
        }
    }
    let cached = outcome.reused;
    // A revalidation that kept a record the remote supplied is a remote hit too.
    Ok(Executed { inputs, key, outcome, cached, remote_hit: unchanged && previous_remote, job })
}

/// What is wrong with a job's outputs against the declared ones (the job's `result.json` is
/// another process's word).
fn declared_outputs_problem(declared: &[OutputSpec], outputs: &BTreeMap<String, ContentHash>) -> Option<String> {
    let missing: Vec<&str> = declared.iter().map(|o| o.name.as_str()).filter(|n| !outputs.contains_key(*n)).collect();
    let extra: Vec<&str> =
        outputs.keys().map(String::as_str).filter(|n| !declared.iter().any(|o| o.name == *n)).collect();
    match (missing.is_empty(), extra.is_empty()) {
        (true, true) => None,
        _ => Some(format!(
            "the job's result does not list the declared outputs (missing: [{}], undeclared: [{}])",
            missing.join(", "),
            extra.join(", ")
        )),
    }
}

/// The cache record under `key` if this run may use it. Checked on every hit, cheaply:
/// - the record belongs under its key and lists the stage's declared outputs, with the
///   extensions it declares (when the record says);
/// - every output object is a regular file that is intact: it still has the stamp it had when
///   it was last hashed, else it is re-hashed now ([`LocalStore::check_object`]);
/// - and has the size the record says.
///
/// A record that fails a check of its own (unreadable, another key, other outputs, a size that
/// does not fit its object) is a miss with a warning naming its file: the stage runs again and
/// replaces it. A missing object is a miss too. A damaged object is an error: the run fails and
/// says to run `esteira verify --repair`, it never uses or silently overwrites it. A record
/// from before sizes were kept is used once its objects check out, and rewritten with them.
///
/// `key` was computed from `parts` (so a record made of them needs no hashing to be found its
/// own). `upgrade` lets a run add output sizes to an old record and download a remote hit;
/// `status` (which holds no lock) passes `false` and writes nothing: a remote record counts
/// when the remote holds its objects ([`CacheStore::peek_lower_cache_entry`]).
pub(crate) fn usable_record(
    store: &dyn CacheStore,
    name: &str,
    key: &ContentHash,
    parts: &KeyParts<'_>,
    declared: &[OutputSpec],
    upgrade: bool,
) -> Result<Option<(CacheRecord, Origin)>, String> {
    let local = store.local();
    let found = match local.cache_entry_for(key, parts).map_err(|e| e.to_string())? {
        Some(entry) => Some((entry, Origin::Local)),
        None if upgrade => store.lower_cache_entry(key).map_err(|e| e.to_string())?.map(|e| (e, Origin::Remote)),
        None => store.peek_lower_cache_entry(key).map_err(|e| e.to_string())?.map(|e| (e, Origin::Remote)),
    };
    let Some((entry, origin)) = found else { return Ok(None) };
    let miss = |why: String| {
        let file = match origin {
            Origin::Local => local.cache_record_path(key).display().to_string(),
            Origin::Remote => format!("{} (from the remote)", local.cache_record_path(key).display()),
        };
        tracing::warn!("stage `{name}`: {file}: cache record does not fit ({why}); running the stage again");
        Ok(None)
    };
    if let Some(why) = entry.declared_problem(declared) {
        return miss(why);
    }
    // A remote record `status` peeked at has no local objects yet: the remote's HEADs stood in.
    let peeked = !upgrade && origin == Origin::Remote;
    for (output, hash) in entry.record.outputs.iter().filter(|_| !peeked) {
        let size = match store.check_object(hash) {
            Ok(size) => size,
            Err(CoreError::MissingObject(_)) => return Ok(None),
            Err(e) => return Err(format!("output `{output}`: {e} (run `esteira verify --repair`)")),
        };
        if let Some(meta) = entry.meta.get(output)
            && meta.size != size
        {
            return miss(format!(
                "output `{output}` is recorded as {} bytes, object {} has {size}",
                meta.size,
                hash.short()
            ));
        }
    }
    let complete = entry.record.outputs.keys().all(|o| entry.meta.get(o).is_some_and(|m| m.ext.is_some()));
    if upgrade
        && !complete
        && let Err(e) = local.cache_put_declared(&entry.record, declared)
    {
        tracing::warn!("stage `{name}`: cannot add output sizes to its cache record: {e}");
    }
    Ok(Some((entry.record, origin)))
}

/// `message`, followed by where the outputs a failed stage kept are materialised.
fn kept_note(
    message: String,
    store: &LocalStore,
    name: &str,
    declared: &[OutputSpec],
    kept: &BTreeMap<String, ContentHash>,
) -> String {
    if kept.is_empty() {
        return message;
    }
    let files: Vec<String> =
        declared.iter().filter(|o| kept.contains_key(&o.name)).map(OutputSpec::file_name).collect();
    let dir = store.root().join("latest").join(name);
    let dir = dir.strip_prefix(".").unwrap_or(&dir);
    format!("{message} (kept, written before the failure: {} in {}/)", files.join(", "), dir.display())
}

fn hit(inputs: BTreeMap<String, ContentHash>, key: ContentHash, r: &CacheRecord, remote_hit: bool) -> Executed {
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
        remote_hit,
        job: None,
    }
}

/// Executes a stage with given input files, writing outputs into `out`. No cache involved:
/// used by runs and by `reproduce`. On failure (an error, a panic, a declared output not
/// written) the error carries the outputs the stage had committed by then.
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
) -> Result<StageOutcome, StageFailure> {
    let mut ctx = StageContext::new(name, inputs, stage.outputs(), out)
        .with_previous(previous)
        .with_offline(offline)
        .with_base_dir(base_dir(paths.base()))
        .with_path_policy(paths.clone())
        .with_progress(progress);
    // A panicking stage must not take the run (and its records) down with it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stage.run(&mut ctx)));
    let message = match result {
        Ok(Ok(())) => {
            let partial_outputs = ctx.committed_outputs();
            return ctx.finish().map_err(|e| StageFailure { message: e.to_string(), partial_outputs });
        }
        Ok(Err(e)) => e.to_string(),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into());
            format!("stage panicked (a bug in kind `{}`): {msg}", stage.kind())
        }
    };
    Err(StageFailure { message, partial_outputs: ctx.committed_outputs() })
}

fn base_dir(p: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
