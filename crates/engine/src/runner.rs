//! A whole run: selection, parallel scheduling, records, materialisation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use esteira_core::store::CacheStore;
use esteira_core::{
    ArtifactStore, ContentHash, LocalStore, RunRecord, RunStatus, StageRecord, StageStatus, now_rfc3339,
};
use tokio::task::JoinSet;

use crate::EngineError;
use crate::dag::Dag;
use crate::execute::{
    BatchExecutor, Env, Executed, Executor, Failure, Lookup, Mode, Pending, Verified, execute_pending, execute_stage,
    key_of, lookup,
};
use crate::progress::Reporter;

/// Options of `esteira run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stages executing at once; 0 for the number of cores (looked up only when something
    /// executes).
    pub jobs: usize,
    /// Stages to re-execute despite the cache.
    pub force: BTreeSet<String>,
    /// Re-execute everything.
    pub force_all: bool,
    /// Run only this stage and its ancestors.
    pub until: Option<String>,
    /// Run only this stage (inputs from the cache).
    pub only: Option<String>,
    /// Forbid network access.
    pub offline: bool,
    /// The command line, for the record.
    pub command: String,
    /// How long to wait for another writer.
    pub lock_wait: Duration,
    /// Where stages execute: here, or as Slurm jobs.
    pub executor: Executor,
    /// The `-S/--set` overrides the pipeline was loaded with (a Slurm job applies them too).
    pub set: Vec<String>,
    /// `--name`: the name the run gets (or the run it matched, when it wrote no record).
    pub name: Option<String>,
    /// The sweep the run is (`esteira sweep`'s own run), for its record.
    pub sweep: Option<esteira_core::SweepTag>,
}

impl RunOptions {
    /// Stages executing at once: [`Self::jobs`], or when that is 0 the number of cores (local)
    /// or the batch system's [`BatchBackend::default_jobs`](crate::execute::BatchBackend) jobs
    /// in its queue.
    pub fn effective_jobs(&self) -> usize {
        match (self.jobs, &self.executor) {
            (0, Executor::Local) => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            (0, Executor::Batch(b)) => b.default_jobs(),
            (n, _) => n,
        }
    }
}

/// Which stages a run executes (others are resolved from the cache).
pub fn selection(dag: &Dag, opts: &RunOptions) -> Result<BTreeSet<String>, EngineError> {
    for f in &opts.force {
        dag.require(f, "--force")?;
    }
    if let Some(u) = &opts.until {
        dag.require(u, "--until")?;
        return Ok(dag.ancestors_of(u));
    }
    if let Some(o) = &opts.only {
        dag.require(o, "--only")?;
        return Ok(BTreeSet::from([o.clone()]));
    }
    Ok(dag.order.iter().cloned().collect())
}

/// A fresh run id that sorts after every earlier one (ids are created under the store lock).
pub fn new_run_id(store: &LocalStore) -> String {
    let last = store.run_ids().ok().and_then(|mut ids| ids.pop());
    run_id_after(last.as_deref())
}

/// A fresh run id that sorts after `last`.
fn run_id_after(last: Option<&str>) -> String {
    loop {
        let id = run_id_now();
        if last.is_none_or(|l| id.as_str() > l) {
            return id;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn run_id_now() -> String {
    let now = std::time::SystemTime::now();
    let ts = humantime::format_rfc3339_millis(now).to_string().replace(['-', ':'], "");
    let nanos = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let salt = ContentHash::of_bytes(format!("{nanos}-{}", std::process::id()).as_bytes()).short();
    format!("{}-{}", ts, &salt[..4])
}

/// Writes `current-run` by rename, so a symlink planted at that name is replaced, never
/// followed.
fn write_marker(store: &LocalStore, run_id: &str) {
    let root = store.root();
    let tmp = root.join("tmp").join(format!("current-run-{}", std::process::id()));
    let written = std::fs::write(&tmp, run_id).and_then(|()| std::fs::rename(&tmp, root.join("current-run")));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!("cannot write {}: {e}", root.join("current-run").display());
    }
}

/// Marks a run that was in progress when its process died (found by the next lock holder).
fn mark_interrupted(store: &LocalStore) {
    let marker = store.root().join("current-run");
    if std::fs::symlink_metadata(&marker).is_ok_and(|m| !m.is_file()) {
        // Not ours: a symlink or directory planted there is removed, never read through.
        let _ = std::fs::remove_file(&marker);
        return;
    }
    if let Ok(id) = std::fs::read_to_string(&marker) {
        if let Ok(mut r) = store.run_get(id.trim())
            && r.status == RunStatus::Running
        {
            r.status = RunStatus::Interrupted;
            let _ = store.run_put(&r);
            tracing::warn!(run = %r.id, "previous run was interrupted; marked as such");
        }
        let _ = std::fs::remove_file(&marker);
    }
}

/// What [`run`] did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// This run's record: the one written to the store, or, for a run that wrote none, what this
    /// run found, under the id of the run it matched.
    pub record: RunRecord,
    /// `Some(id)` when nothing executed and every stage's key, outputs and metrics are those of
    /// the latest recorded run `id` (which succeeded): then no run record was written (README,
    /// "How caching works").
    pub same_as: Option<String>,
}

/// Executes the DAG. Returns the run record (also when stages failed).
///
/// Stages are first resolved in order on this thread: cache hits, and volatile stages that
/// revalidate a previous record. Only when a stage must execute are the run record (`running`)
/// and the `current-run` marker written and the tokio runtime started, which runs the rest in
/// parallel. A run that executed nothing and matches the latest recorded run writes no record
/// ([`RunOutcome::same_as`]); one that did writes its record at the end.
///
/// `layers` is the local store, or the local store with a remote under it: cache lookups,
/// object checks and new cache records go through it; the lock, run records, `current-run`,
/// `latest/` and the memo belong to its local store.
pub fn run(
    dag: &Arc<Dag>,
    layers: &Arc<dyn CacheStore>,
    opts: &RunOptions,
    reporter: &Arc<Reporter>,
) -> Result<RunOutcome, EngineError> {
    let selected = selection(dag, opts)?;
    let store = layers.local();
    let _lock = store.lock(&opts.command, opts.lock_wait)?;
    mark_interrupted(store);
    let latest = store.run_ids()?.pop();
    let run_id = run_id_after(latest.as_deref());
    let mut record = RunRecord {
        id: run_id.clone(),
        status: RunStatus::Running,
        pipeline: dag.pipeline.path.display().to_string(),
        config_hash: ContentHash::of_bytes(dag.pipeline.text.as_bytes()),
        esteira_version: env!("CARGO_PKG_VERSION").to_owned(),
        build: crate::build_info(),
        command: opts.command.clone(),
        host: esteira_core::hostname(),
        started_at: now_rfc3339(),
        ended_at: None,
        order: dag.order.clone(),
        overrides: opts.set.clone(),
        sweep: opts.sweep.clone(),
        stages: BTreeMap::new(),
    };
    let t0 = Instant::now();
    let verified = Arc::new(Verified::default());
    let mut board = Board::new(dag, &selected, reporter, t0);
    let mut ctx = RunCtx { dag, store: layers, opts, run_id: &run_id, verified: &verified, batch: None };
    let first = resolve_in_order(&ctx, &mut board);
    let marked = !board.pending.is_empty();
    let mut interrupted = false;
    if marked {
        store.run_put(&record)?;
        write_marker(store, &run_id);
        if let Executor::Batch(backend) = &opts.executor {
            let executor = backend
                .start(dag, store.root(), layers.remote_url(), &run_id, &opts.set)
                .map_err(EngineError::Runtime)?;
            ctx.batch = Some(executor);
        }
        let jobs = opts.effective_jobs();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(jobs.min(4))
            .max_blocking_threads(jobs.max(1))
            .enable_all()
            .build()
            .map_err(EngineError::Runtime)?;
        interrupted = runtime.block_on(schedule(&ctx, &mut board, first));
        if let Some(batch) = ctx.batch.take() {
            batch.finish();
        }
    }

    record.stages = board.records;
    // A selected stage that could not run (its inputs were unavailable) fails the run too.
    let failed = record
        .stages
        .iter()
        .any(|(n, s)| s.status == StageStatus::Failed || (s.status == StageStatus::Skipped && selected.contains(n)));
    record.status = if interrupted {
        RunStatus::Interrupted
    } else if failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    record.ended_at = Some(now_rfc3339());
    let same_as = latest.filter(|id| !marked && same_as_recorded(store, id, &record));
    match &same_as {
        Some(id) => id.clone_into(&mut record.id),
        None => {
            store.run_put(&record)?;
            if marked {
                let _ = std::fs::remove_file(store.root().join("current-run"));
            }
        }
    }
    if let Some(name) = &opts.name {
        store.name_run(name, &record.id)?;
    }
    materialise(store, &record);
    store.save_memo()?;
    Ok(RunOutcome { record, same_as })
}

/// The fields of a run record [`same_as_recorded`] compares (the rest is not parsed).
#[derive(serde::Deserialize)]
struct Recorded {
    id: String,
    status: RunStatus,
    pipeline: String,
    config_hash: ContentHash,
    order: Vec<String>,
    stages: BTreeMap<String, RecordedStage>,
}
/// The fields of a stage's record [`same_as_recorded`] compares.
#[derive(serde::Deserialize)]
struct RecordedStage {
    status: StageStatus,
    key: Option<ContentHash>,
    outputs: BTreeMap<String, ContentHash>,
    metrics: BTreeMap<String, serde_json::Value>,
}

/// Whether `record` (a run in which nothing executed) is the run recorded as `id` again: every
/// stage served from the cache, and that run succeeded with the same pipeline file and the same
/// stages, keys, outputs and metrics.
fn same_as_recorded(store: &LocalStore, id: &str, record: &RunRecord) -> bool {
    if record.status != RunStatus::Succeeded || record.stages.values().any(|s| s.status != StageStatus::Cached) {
        return false;
    }
    let Ok(Some(prev)) = store.run_fields_by_id::<Recorded>(id, |r| &r.id) else { return false };
    prev.status == RunStatus::Succeeded
        && prev.pipeline == record.pipeline
        && prev.config_hash == record.config_hash
        && prev.order == record.order
        && prev.stages.len() == record.stages.len()
        && record.stages.iter().all(|(n, s)| {
            prev.stages
                .get(n)
                .is_some_and(|p| is_ok(p.status) && p.key == s.key && p.outputs == s.outputs && p.metrics == s.metrics)
        })
}

/// What every stage of a run shares.
struct RunCtx<'a> {
    dag: &'a Arc<Dag>,
    store: &'a Arc<dyn CacheStore>,
    opts: &'a RunOptions,
    run_id: &'a str,
    verified: &'a Arc<Verified>,
    /// `--executor slurm`, once something must execute.
    batch: Option<Arc<dyn BatchExecutor>>,
}

impl RunCtx<'_> {
    fn mode(&self, selected: &BTreeSet<String>, name: &str) -> Mode {
        if selected.contains(name) {
            Mode::Execute { force: self.opts.force_all || self.opts.force.contains(name) }
        } else {
            Mode::ResolveOnly
        }
    }
}

/// The state of a run: finished stages, their outputs, and the stages still to do.
struct Board<'a> {
    dag: &'a Dag,
    selected: &'a BTreeSet<String>,
    reporter: &'a Reporter,
    t0: Instant,
    records: BTreeMap<String, StageRecord>,
    outputs: BTreeMap<String, BTreeMap<String, ContentHash>>,
    pending: BTreeSet<String>,
}

impl<'a> Board<'a> {
    fn new(dag: &'a Dag, selected: &'a BTreeSet<String>, reporter: &'a Reporter, t0: Instant) -> Self {
        Self {
            dag,
            selected,
            reporter,
            t0,
            records: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: dag.order.iter().cloned().collect(),
        }
    }

    fn now_ms(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * 1e3
    }

    /// Records how a stage ended.
    fn finish(&mut self, n: String, done: Result<Executed, Failure>, start: f64, end: f64) {
        let mut r = base_record(self.dag, &n, start);
        r.end_ms = end;
        match done {
            Ok(ex) => {
                r.status = if ex.cached { StageStatus::Cached } else { StageStatus::Ran };
                r.remote_hit = ex.remote_hit;
                r.job = ex.job;
                r.key = Some(ex.key);
                r.inputs = ex.inputs;
                r.outputs = ex.outcome.outputs.clone();
                r.metrics = ex.outcome.metrics;
                if !self.selected.contains(&n) {
                    r.error = Some("not selected; outputs taken from the cache".into());
                }
                self.outputs.insert(n.clone(), ex.outcome.outputs);
            }
            Err(f) => {
                r.status = if self.selected.contains(&n) { StageStatus::Failed } else { StageStatus::Skipped };
                r.key = f.key;
                r.inputs = f.inputs;
                // Kept for people to read; descendants never see them (they are skipped).
                r.outputs = f.outputs;
                r.error = Some(f.message);
                r.job = f.job.map(|j| *j);
            }
        }
        self.reporter.finished(&n, &r);
        self.records.insert(n, r);
    }
}

/// Resolves stages in topological order on this thread for as long as nothing must execute in
/// parallel: cache hits (and not-selected stages), and volatile stages revalidating a previous
/// record (a `file:` fetch costs a `stat`; they run here one after another). Stops at the first
/// stage that must execute, which it returns with what its lookup found, or at the first
/// failure; the scheduler takes over from there. A fully cached plan thus never starts a thread.
fn resolve_in_order(ctx: &RunCtx<'_>, board: &mut Board<'_>) -> Option<(String, Box<Pending>)> {
    // What this pass executes (volatile stages revalidating) runs here under any executor.
    let env =
        Env { store: ctx.store, offline: ctx.opts.offline, run_id: ctx.run_id, verified: ctx.verified, batch: None };
    for n in &ctx.dag.order {
        let upstream_ok = ctx.dag.upstream(n).iter().all(|u| board.records.get(u).is_some_and(|r| is_ok(r.status)));
        if !upstream_ok {
            return None;
        }
        let mode = ctx.mode(board.selected, n);
        let start = board.now_ms();
        let done = match lookup(ctx.dag, &env, n, mode, &board.outputs) {
            Lookup::Done(done) => done,
            Lookup::Execute(p) if p.revalidates() => {
                board.reporter.started(n, &ctx.dag.nodes[n].decl.kind);
                let progress = board.reporter.progress_for(n);
                execute_pending(ctx.dag, &env, n, *p, progress)
            }
            Lookup::Execute(p) => return Some((n.clone(), p)),
        };
        let ok = done.is_ok();
        board.pending.remove(n);
        let end = board.now_ms();
        board.finish(n.clone(), done, start, end);
        if !ok {
            return None;
        }
    }
    None
}

/// Runs the pending stages, `-j` at a time, as their inputs complete. Returns whether the run
/// was interrupted (Ctrl-C under `--executor slurm`: the run's jobs are cancelled, no more are
/// submitted, and the stages that had not started are skipped).
async fn schedule(ctx: &RunCtx<'_>, board: &mut Board<'_>, mut first: Option<(String, Box<Pending>)>) -> bool {
    let dag = ctx.dag;
    let mut interrupted = false;
    // Installed once, before the first job is submitted, so no signal falls between two waits.
    let mut signals = ctx.batch.as_ref().and_then(|_| {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(int), Ok(term)) => Some((int, term)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot catch Ctrl-C (an interrupted run would leave its Slurm jobs running): {e}");
                None
            }
        }
    });
    let mut running: BTreeMap<String, f64> = BTreeMap::new();
    // Stages of one kind and params (a sweep's variants of a stage whose upstream forms differ
    // only in ways that left their outputs alike) can have one key: such a stage waits while
    // another with its key executes, then is served from the cache. Its key is worked out only
    // while a stage of its form is executing, so the scheduler resolves (and maybe hashes) no
    // inputs otherwise.
    let forms = twin_forms(dag);
    // What executes now, of the stages that have twins: name -> (form, key once worked out).
    let mut executing: BTreeMap<String, (usize, Option<Option<ContentHash>>)> = BTreeMap::new();
    let mut set: JoinSet<(String, Result<Executed, Failure>, f64, f64)> = JoinSet::new();
    let jobs = ctx.opts.effective_jobs();
    loop {
        // Skip stages whose upstream failed or was skipped, to a fixpoint: a stage skipped now
        // dooms its own descendants in the same pass (else the run could end with them never
        // recorded, a selected stage among them, and call itself a success).
        loop {
            let doomed: Vec<(String, String)> = board
                .pending
                .iter()
                .filter_map(|n| {
                    dag.upstream(n)
                        .into_iter()
                        .find(|u| {
                            board
                                .records
                                .get(u)
                                .is_some_and(|r| matches!(r.status, StageStatus::Failed | StageStatus::Skipped))
                        })
                        .map(|u| (n.clone(), u))
                })
                .collect();
            let doomed =
                if interrupted { board.pending.iter().map(|n| (n.clone(), String::new())).collect() } else { doomed };
            if doomed.is_empty() {
                break;
            }
            for (n, u) in doomed {
                board.pending.remove(&n);
                let now = board.now_ms();
                let mut r = base_record(dag, &n, now);
                r.status = StageStatus::Skipped;
                r.error = Some(if interrupted {
                    "not started: the run was interrupted".to_owned()
                } else {
                    format!("upstream stage `{u}` did not complete")
                });
                board.reporter.finished(&n, &r);
                board.records.insert(n, r);
            }
        }
        let ready: Vec<String> = board
            .pending
            .iter()
            .filter(|n| dag.upstream(n).iter().all(|u| board.records.get(u).is_some_and(|r| is_ok(r.status))))
            .cloned()
            .collect();
        for n in ready {
            if running.len() >= jobs {
                break;
            }
            let mode = ctx.mode(board.selected, &n);
            if let Some(&form) = forms.get(&n)
                && mode == (Mode::Execute { force: false })
            {
                let mut key = None;
                let mut wait = false;
                for (other, (_, other_key)) in executing.iter_mut().filter(|(_, (f, _))| *f == form) {
                    let key = *key.get_or_insert_with(|| key_of(dag, ctx.store.as_ref(), &n, &board.outputs));
                    let other_key =
                        *other_key.get_or_insert_with(|| key_of(dag, ctx.store.as_ref(), other, &board.outputs));
                    wait |= key.is_some() && key == other_key;
                }
                if wait {
                    continue;
                }
                executing.insert(n.clone(), (form, key));
            }
            board.pending.remove(&n);
            let start = board.now_ms();
            running.insert(n.clone(), start);
            if mode != Mode::ResolveOnly {
                board.reporter.started(&n, &dag.nodes[&n].decl.kind);
            }
            // The stage the in-order pass stopped at has been looked up already.
            let looked_up = first.take_if(|(f, _)| *f == n).map(|(_, p)| p);
            let (dag, store, verified) = (Arc::clone(dag), Arc::clone(ctx.store), Arc::clone(ctx.verified));
            let progress = board.reporter.progress_for(&n);
            let upstream = board.outputs.clone();
            let run_id = ctx.run_id.to_owned();
            let offline = ctx.opts.offline;
            let t0 = board.t0;
            let batch = ctx.batch.clone();
            set.spawn_blocking(move || {
                let env = Env { store: &store, offline, run_id: &run_id, verified: &verified, batch: batch.as_deref() };
                let done = match looked_up {
                    Some(p) => execute_pending(&dag, &env, &n, *p, progress),
                    None => execute_stage(&dag, &env, &n, mode, &upstream, progress),
                };
                let end = t0.elapsed().as_secs_f64() * 1e3;
                (n, done, start, end)
            });
        }
        let joined = match (&ctx.batch, &mut signals) {
            // Ctrl-C (or a TERM): cancel the jobs (their stages then end as cancelled) instead of
            // dying and leaving them running against the store.
            (Some(batch), Some((int, term))) if !interrupted => tokio::select! {
                joined = set.join_next() => joined,
                _ = int.recv() => {
                    interrupted = true;
                    batch.cancel_all();
                    continue;
                }
                _ = term.recv() => {
                    interrupted = true;
                    batch.cancel_all();
                    continue;
                }
            },
            _ => set.join_next().await,
        };
        let Some(joined) = joined else { break };
        let (n, done, start, end) = match joined {
            Ok(v) => v,
            Err(e) => {
                // A join error means the blocking task itself died: record what we can.
                tracing::error!("a stage task died: {e}");
                continue;
            }
        };
        running.remove(&n);
        executing.remove(&n);
        board.finish(n, done, start, end);
    }
    interrupted
}

/// The stages whose kind and params another stage of `dag` shares, each with the number of its
/// form (stages of one form have one number).
fn twin_forms(dag: &Dag) -> BTreeMap<String, usize> {
    let mut by_form: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for (name, node) in &dag.nodes {
        let stage = node.stage.as_ref();
        let form = serde_json::json!({"kind": stage.kind(), "version": stage.version(), "params": stage.params()});
        by_form.entry(esteira_core::canonical_json(&form)).or_default().push(name);
    }
    by_form
        .into_values()
        .filter(|names| names.len() > 1)
        .enumerate()
        .flat_map(|(form, names)| names.into_iter().map(move |n| (n.clone(), form)))
        .collect()
}

fn is_ok(s: StageStatus) -> bool {
    matches!(s, StageStatus::Ran | StageStatus::Cached)
}

fn base_record(dag: &Dag, name: &str, start: f64) -> StageRecord {
    let node = &dag.nodes[name];
    StageRecord {
        kind: node.stage.kind().to_owned(),
        version: node.stage.version().to_owned(),
        params: node.stage.params(),
        key: None,
        status: StageStatus::Skipped,
        input_sources: node.decl.inputs.iter().map(|(k, v)| (k.clone(), v.to_string())).collect(),
        inputs: BTreeMap::new(),
        outputs: BTreeMap::new(),
        output_files: node.stage.outputs().iter().map(|o| (o.name.clone(), o.file_name())).collect(),
        output_media: node.stage.outputs().into_iter().filter_map(|o| Some((o.name, o.media?))).collect(),
        metrics: BTreeMap::new(),
        start_ms: start,
        end_ms: start,
        error: None,
        remote_hit: false,
        job: None,
    }
}

/// Links each completed stage's outputs under `<store>/latest/<stage>/<output>.<ext>`.
/// Links that already point at the right object are left alone, so a no-op run touches
/// nothing.
///
/// A failed stage's directory is made to hold exactly the outputs it wrote before failing
/// (none, if it wrote none): a file left by an earlier successful run is removed, so nothing in
/// `latest/<stage>/` can be mistaken for this run's. Stages that did not execute (skipped) keep
/// what an earlier run put there.
///
/// Whatever the record says, nothing outside `latest/` is written or deleted: a stage name that
/// is not a plain name ([`esteira_core::name_problem`]), an output file name that is not one
/// plain file name, and a `latest/` or stage directory that is a symlink or not a directory are
/// skipped with a warning. Only objects that pass [`LocalStore::check_object`] are linked (every
/// output of a run has already passed it in this process, so that costs one `lstat`).
pub fn materialise(store: &LocalStore, record: &RunRecord) {
    let latest = store.root().join("latest");
    if let Err(why) = real_dir(&latest) {
        tracing::warn!("not materialising outputs: {}: {why}", latest.display());
        return;
    }
    for (name, s) in &record.stages {
        // Completed stages with outputs, and every failed stage (to show what it kept).
        let failed = s.status == StageStatus::Failed;
        if !(failed || (is_ok(s.status) && !s.outputs.is_empty())) {
            continue;
        }
        if let Some(why) = esteira_core::name_problem(name) {
            tracing::warn!("not materialising stage {:?}: its name {why}", esteira_core::excerpt(name, 80));
            continue;
        }
        let dir = latest.join(name);
        // A failed stage that wrote nothing only clears a directory an earlier run left.
        if s.outputs.is_empty() && !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if let Err(why) = real_dir(&dir) {
            tracing::warn!("not materialising stage `{name}`: {}: {why}", dir.display());
            continue;
        }
        let mut files = BTreeMap::new();
        for (out, hash) in &s.outputs {
            let file = s.output_files.get(out).unwrap_or(out);
            match file_name_problem(file) {
                None => {
                    files.insert(file.clone(), (out, hash));
                }
                Some(why) => tracing::warn!(
                    "not materialising {name}.{out}: file name {:?} {why}",
                    esteira_core::excerpt(file, 80)
                ),
            }
        }
        // Drop files of outputs this stage no longer has (entries of this directory only; a
        // symlink is removed, never followed).
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if !files.contains_key(&e.file_name().to_string_lossy().into_owned())
                    && e.file_type().is_ok_and(|t| !t.is_dir())
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for (file, (out, hash)) in files {
            let dest = dir.join(file);
            let object = match store.checked_object_metadata(hash) {
                Ok(md) => md,
                Err(e) => {
                    tracing::warn!("not materialising {name}.{out}: {e}");
                    // Whatever an earlier run linked there is not this run's output.
                    let _ = std::fs::remove_file(&dest);
                    continue;
                }
            };
            if std::fs::symlink_metadata(&dest).is_ok_and(|d| is_link_to(&object, &d)) {
                continue;
            }
            if let Err(e) = store.link_object(hash, &dest) {
                tracing::warn!("cannot materialise {name}.{out}: {e}");
            }
        }
    }
}

/// `<store>/latest/<stage>/<file>` when it is the materialised copy of the object `hash` (a hard
/// link to it: what a later run put there, or a name that could leave `latest/`, is not).
pub fn latest_path(store: &LocalStore, stage: &str, file: &str, hash: &ContentHash) -> Option<std::path::PathBuf> {
    if esteira_core::name_problem(stage).is_some() || file_name_problem(file).is_some() {
        return None;
    }
    let path = store.root().join("latest").join(stage).join(file);
    same_file(store, hash, &path).then_some(path)
}

/// Makes sure `dir` is a directory of its own (creating it): not a symlink, not a file.
fn real_dir(dir: &std::path::Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(md) if md.file_type().is_symlink() => Err("is a symbolic link".into()),
        Ok(_) => Err("is not a directory".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(dir).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Why `file` is not one plain file name (so `dir.join(file)` could leave `dir`), if it is not.
fn file_name_problem(file: &str) -> Option<&'static str> {
    use std::path::Component;
    let mut parts = std::path::Path::new(file).components();
    if file.is_empty() || file.len() > 255 {
        return Some("is empty or too long");
    }
    if file.contains(['/', '\\']) || file.chars().any(char::is_control) {
        return Some("contains a path separator or a control character");
    }
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) => None,
        _ => Some("is not a plain file name"),
    }
}

/// Whether `dest` is already a hard link to the object (a symlink at `dest` is not).
fn same_file(store: &LocalStore, hash: &ContentHash, dest: &std::path::Path) -> bool {
    let (Ok(obj), Ok(d)) = (
        store.object_path(hash).and_then(|p| std::fs::metadata(&p).map_err(|e| esteira_core::CoreError::io(&p, e))),
        std::fs::symlink_metadata(dest),
    ) else {
        return false;
    };
    is_link_to(&obj, &d)
}

/// Whether `dest` (from `lstat`) is a regular file and the same inode as `object`.
fn is_link_to(object: &std::fs::Metadata, dest: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    dest.file_type().is_file() && object.dev() == dest.dev() && object.ino() == dest.ino()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// A scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let tag = ContentHash::of_bytes(format!("{}-{nanos}", std::process::id()).as_bytes()).short();
            let p = std::env::temp_dir().join(format!("esteira-materialise-{tag}"));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn stage(hash: ContentHash, files: &[(&str, &str)]) -> StageRecord {
        StageRecord {
            kind: "k".into(),
            version: "1".into(),
            params: serde_json::Value::Null,
            key: None,
            status: StageStatus::Ran,
            input_sources: BTreeMap::new(),
            inputs: BTreeMap::new(),
            outputs: files.iter().map(|(o, _)| ((*o).to_owned(), hash)).collect(),
            output_files: files.iter().map(|(o, f)| ((*o).to_owned(), (*f).to_owned())).collect(),
            output_media: BTreeMap::new(),
            metrics: BTreeMap::new(),
            start_ms: 0.0,
            end_ms: 0.0,
            error: None,
            remote_hit: false,
            job: None,
        }
    }

    fn run_record(stages: Vec<(String, StageRecord)>) -> RunRecord {
        RunRecord {
            id: "20260101T000000Z-0000".into(),
            status: RunStatus::Succeeded,
            pipeline: "p.toml".into(),
            config_hash: ContentHash::of_bytes(b""),
            esteira_version: "0".into(),
            build: esteira_core::store::BuildInfo::default(),
            command: "esteira run".into(),
            host: "h".into(),
            started_at: now_rfc3339(),
            ended_at: None,
            order: stages.iter().map(|(n, _)| n.clone()).collect(),
            overrides: Vec::new(),
            sweep: None,
            stages: stages.into_iter().collect(),
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn materialise_never_writes_or_deletes_outside_latest() {
        let scratch = Scratch::new();
        let store = LocalStore::open(scratch.0.join("store")).unwrap();
        let victim = scratch.0.join("victim");
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("keep.txt"), "precious").unwrap();
        let h = store.put_bytes(b"payload").unwrap();
        let latest = store.root().join("latest");
        std::fs::create_dir_all(&latest).unwrap();
        std::os::unix::fs::symlink(&victim, latest.join("linked")).unwrap();
        let record = run_record(vec![
            (victim.display().to_string(), stage(h, &[("out", "out.txt")])),
            ("../../victim".into(), stage(h, &[("out", "out.txt")])),
            ("..".into(), stage(h, &[("out", "out.txt")])),
            ("linked".into(), stage(h, &[("out", "out.txt")])),
            (
                "names".into(),
                stage(h, &[("a", "../../../victim/evil.txt"), ("b", "/tmp/evil.txt"), ("c", ".."), ("d", "")]),
            ),
            ("good".into(), stage(h, &[("out", "out.txt")])),
        ]);
        materialise(&store, &record);
        assert_eq!(listing(&victim), vec!["keep.txt"]);
        assert_eq!(std::fs::read_to_string(victim.join("keep.txt")).unwrap(), "precious");
        assert_eq!(listing(&scratch.0), vec!["store", "victim"]);
        assert_eq!(listing(&latest), vec!["good", "linked", "names"]);
        assert!(listing(&latest.join("names")).is_empty());
        assert!(std::fs::symlink_metadata(latest.join("linked")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(latest.join("good/out.txt")).unwrap(), "payload");
    }

    #[test]
    fn a_failed_stage_shows_only_what_it_kept_and_a_skipped_one_keeps_the_earlier_run() {
        let scratch = Scratch::new();
        let store = LocalStore::open(scratch.0.join("store")).unwrap();
        let old = store.put_bytes(b"old report").unwrap();
        let new = store.put_bytes(b"new report").unwrap();
        let latest = store.root().join("latest");
        let files = [("report", "report.html"), ("table", "table.parquet")];
        let ok = run_record(vec![
            ("chk".into(), stage(old, &files)),
            ("empty".into(), stage(old, &files)),
            ("down".into(), stage(old, &files)),
        ]);
        materialise(&store, &ok);
        assert_eq!(listing(&latest.join("chk")), vec!["report.html", "table.parquet"]);
        let mut chk = stage(new, &[("report", "report.html")]);
        chk.status = StageStatus::Failed;
        chk.output_files.insert("table".into(), "table.parquet".into());
        let mut empty = stage(new, &[]);
        empty.status = StageStatus::Failed;
        let mut down = stage(new, &[]);
        down.status = StageStatus::Skipped;
        let mut never = stage(new, &[]);
        never.status = StageStatus::Failed;
        let failed = run_record(vec![
            ("chk".into(), chk),
            ("empty".into(), empty),
            ("down".into(), down),
            ("never".into(), never),
        ]);
        materialise(&store, &failed);
        // The kept report replaces the old one; the table it did not write is gone.
        assert_eq!(listing(&latest.join("chk")), vec!["report.html"]);
        assert_eq!(std::fs::read_to_string(latest.join("chk/report.html")).unwrap(), "new report");
        assert!(listing(&latest.join("empty")).is_empty());
        assert_eq!(listing(&latest.join("down")), vec!["report.html", "table.parquet"]);
        assert!(!latest.join("never").exists(), "a failed stage that wrote nothing creates no directory");
    }

    #[test]
    fn materialise_refuses_a_symlinked_latest_and_objects_that_are_not_intact() {
        let scratch = Scratch::new();
        let store = LocalStore::open(scratch.0.join("store")).unwrap();
        let victim = scratch.0.join("victim");
        std::fs::create_dir_all(victim.join("good")).unwrap();
        std::fs::write(victim.join("good/keep.txt"), "precious").unwrap();
        let h = store.put_bytes(b"payload").unwrap();
        let latest = store.root().join("latest");
        std::os::unix::fs::symlink(&victim, &latest).unwrap();
        let record = run_record(vec![("good".into(), stage(h, &[("out", "out.txt")]))]);
        materialise(&store, &record);
        assert_eq!(listing(&victim.join("good")), vec!["keep.txt"]);
        // An object replaced by a symlink is not linked into latest/.
        std::fs::remove_file(&latest).unwrap();
        let object = store.object_path(&h).unwrap();
        std::fs::remove_file(&object).unwrap();
        std::os::unix::fs::symlink(victim.join("good/keep.txt"), &object).unwrap();
        materialise(&store, &record);
        assert!(listing(&latest.join("good")).is_empty());
    }
}
