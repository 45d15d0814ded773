//! `run --executor slurm`: every stage that must execute becomes one Slurm job running
//! `esteira stage-exec` against the shared store, while this process keeps the DAG, the cache
//! and the run record exactly as for a local run.
//!
//! The hand-over is two files in the job directory `<store>/jobs/<run>/<stage>/` (beside
//! esteira-slurm's `job.sh`, `stdout`, `stderr`, `slurm.out`, `exit_code`):
//! - `spec.json` ([`JobSpec`]), written here: the pipeline file (by path and by hash, so a file
//!   edited after submission is refused, not silently used), the `--set` overrides, the stage,
//!   its input hashes and the cache key this process computed. The job rebuilds the stage from
//!   them and refuses to run when its key differs (another esteira build, another tool version
//!   on the node).
//! - `result.json` ([`JobResult`]), written by the job: the outputs (already objects in the
//!   store: content-addressed, so writing them without the store lock is safe), metrics, or the
//!   stage's error and what it kept. This process re-hashes every output before it writes the
//!   cache record, so nothing a node wrote is trusted unchecked.
//!
//! One poller thread asks Slurm about all of the run's jobs at once ([`Tracker`]); each stage's
//! blocking task waits for its job's end. Volatile stages (fetch) run in this process: they
//! revalidate an external source, which compute nodes often cannot reach (Snakemake's
//! `localrules`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use esteira_core::store::CacheStore;
use esteira_core::{ContentHash, Progress, StageOutcome};
use esteira_slurm::{Finished, JobId, JobOutcome, JobScript, PollPolicy, Slurm, Tracker};
use serde::{Deserialize, Serialize};

use crate::dag::Dag;
use crate::execute::{BatchBackend, BatchExecutor, StageFailure};

/// The format tag of [`JobSpec`] and [`JobResult`]: a job of another esteira build that reads
/// another format says so instead of misreading it.
pub const JOB_FORMAT: &str = "esteira-job/1";

/// How many Slurm jobs a run keeps in the queue at once unless `-j` says otherwise.
pub const SLURM_DEFAULT_JOBS: usize = 64;

/// Settings of `--executor slurm`.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The esteira binary the jobs run (this one, unless `ESTEIRA_SLURM_BINARY` names another):
    /// it must be reachable at this path on the compute nodes.
    pub binary: PathBuf,
    /// How often to poll.
    pub poll: PollPolicy,
    /// The Slurm client (programs, command timeout).
    pub slurm: Slurm,
    /// `--job-store DIR`: each job works in its own store at this path on its node (a local
    /// disk) and objects move through the run's remote, for clusters whose nodes do not share
    /// the store's file system. `None`: the jobs use the store itself.
    pub job_store: Option<PathBuf>,
    /// `--jobs-dir DIR`: where the job directories go (on a file system the nodes share);
    /// default `<store>/jobs`.
    pub jobs_dir: Option<PathBuf>,
}

impl SlurmOptions {
    /// This binary, default polling and `sbatch`/`squeue`/`sacct`/`scancel` from `PATH`.
    pub fn new(binary: PathBuf) -> Self {
        Self { binary, poll: PollPolicy::default(), slurm: Slurm::new(), job_store: None, jobs_dir: None }
    }
}

/// What a job executes: written by the orchestrator, read by `esteira stage-exec`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSpec {
    /// [`JOB_FORMAT`].
    pub format: String,
    /// The run this job belongs to.
    pub run_id: String,
    /// The pipeline file (absolute).
    pub pipeline: PathBuf,
    /// BLAKE3 of its text when the run read it.
    pub pipeline_hash: ContentHash,
    /// The run's `-S/--set` overrides, in order.
    pub set: Vec<String>,
    /// The stage.
    pub stage: String,
    /// The store (absolute).
    pub store: PathBuf,
    /// Input name -> object.
    pub inputs: BTreeMap<String, ContentHash>,
    /// The cache key the orchestrator computed.
    pub key: ContentHash,
    /// `--offline`.
    pub offline: bool,
    /// The job's own store on its node, when objects move through `remote` (else `store`).
    #[serde(default)]
    pub job_store: Option<PathBuf>,
    /// The run's remote (`s3://…`), with `job_store`.
    #[serde(default)]
    pub remote: Option<String>,
}

/// How the job's stage execution went: written by `esteira stage-exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobResult {
    /// [`JOB_FORMAT`].
    pub format: String,
    /// Output name -> object (on success).
    pub outputs: BTreeMap<String, ContentHash>,
    /// The stage's metrics.
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// A volatile stage's state (never, today: they run locally).
    pub state: serde_json::Value,
    /// The error, when the stage failed.
    pub error: Option<String>,
    /// Outputs completely written before a failure.
    pub partial_outputs: BTreeMap<String, ContentHash>,
}

impl JobResult {
    /// Where a job writes it.
    pub fn path(job_dir: &Path) -> PathBuf {
        job_dir.join("result.json")
    }

    /// Writes it through a temporary file and a rename (a reader never sees half of it).
    pub fn write(&self, job_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = job_dir.join("result.json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, Self::path(job_dir))
    }

    fn read(job_dir: &Path) -> Result<Self, String> {
        let path = Self::path(job_dir);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let r: Self = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if r.format != JOB_FORMAT {
            return Err(format!("{}: format {:?}, expected {JOB_FORMAT:?}", path.display(), r.format));
        }
        Ok(r)
    }
}

/// What the poller hands a waiting stage.
type Ended = Result<Finished, String>;

struct Waiter {
    done: mpsc::Sender<Ended>,
    progress: Arc<dyn Progress>,
}

struct Shared {
    tracker: Mutex<Tracker>,
    waiters: Mutex<BTreeMap<JobId, Waiter>>,
    stop: AtomicBool,
    cancelled: AtomicBool,
}

impl Shared {
    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn waiters(&self) -> MutexGuard<'_, BTreeMap<JobId, Waiter>> {
        self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The Slurm side of one run: submits stage jobs, polls them all from one thread, cancels them.
pub struct SlurmExecutor {
    shared: Arc<Shared>,
    poller: Option<std::thread::JoinHandle<()>>,
    binary: PathBuf,
    store: PathBuf,
    jobs_dir: PathBuf,
    /// `--job-store` and the remote the objects move through.
    via_remote: Option<(PathBuf, String)>,
    pipeline: PathBuf,
    workdir: PathBuf,
    run_id: String,
    set: Vec<String>,
}

impl SlurmExecutor {
    /// Starts the poller for run `run_id` of `dag` on the store at `store`; `remote` is the
    /// run's writable remote, which `--job-store` needs.
    pub fn start(
        opts: &SlurmOptions,
        dag: &Dag,
        store: &Path,
        remote: Option<String>,
        run_id: &str,
        set: &[String],
    ) -> Result<Self, std::io::Error> {
        let abs = |p: &Path| std::fs::canonicalize(p);
        let via_remote = match (&opts.job_store, remote) {
            (None, _) => None,
            (Some(dir), Some(url)) => Some((dir.clone(), url)),
            (Some(_), None) => {
                return Err(std::io::Error::other("--job-store needs a writable remote (--remote s3://…)"));
            }
        };
        let store = abs(store)?;
        let jobs_dir = match &opts.jobs_dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                abs(d)?
            }
            None => store.join("jobs"),
        };
        let shared = Arc::new(Shared {
            tracker: Mutex::new(Tracker::new(opts.slurm.clone(), opts.poll)),
            waiters: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
        });
        let poller = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("esteira-slurm-poll".into()).spawn(move || poll_loop(&shared))?
        };
        Ok(Self {
            shared,
            poller: Some(poller),
            binary: opts.binary.clone(),
            store,
            jobs_dir,
            via_remote,
            pipeline: abs(&dag.pipeline.path)?,
            workdir: abs(&dag.pipeline.base_dir)?,
            run_id: run_id.to_owned(),
            set: set.to_vec(),
        })
    }

    /// The job name every job of this run carries (`squeue --name` finds them).
    pub fn job_name(&self) -> String {
        format!("esteira-{}", self.run_id)
    }

    /// Cancels every job of the run with one `scancel` and submits no more: their stages fail
    /// as cancelled.
    pub fn cancel_all_jobs(&self) {
        let mut tracker = self.shared.tracker();
        self.shared.cancelled.store(true, Ordering::SeqCst);
        match tracker.cancel_all() {
            Ok(ids) if !ids.is_empty() => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                tracing::warn!("interrupted: cancelled Slurm jobs {}", ids.join(", "));
            }
            Ok(_) => {}
            Err(e) => tracing::error!("interrupted, but cannot cancel the run's Slurm jobs: {e}"),
        }
    }

    /// How many `squeue`, `sacct`, `sbatch` and `scancel` calls this run made.
    pub fn calls(&self) -> esteira_slurm::Calls {
        self.shared.tracker().slurm().calls()
    }
}

impl BatchBackend for SlurmOptions {
    fn default_jobs(&self) -> usize {
        SLURM_DEFAULT_JOBS
    }

    fn start(
        &self,
        dag: &Dag,
        store: &Path,
        remote: Option<String>,
        run_id: &str,
        set: &[String],
    ) -> Result<Arc<dyn BatchExecutor>, std::io::Error> {
        Ok(Arc::new(SlurmExecutor::start(self, dag, store, remote, run_id, set)?))
    }
}

impl BatchExecutor for SlurmExecutor {
    fn cancel_all(&self) {
        self.cancel_all_jobs();
    }

    fn finish(&self) {
        let c = self.calls();
        tracing::info!(
            "slurm: {} sbatch, {} squeue, {} sacct, {} scancel calls for this run",
            c.sbatch,
            c.squeue,
            c.sacct,
            c.scancel
        );
    }

    /// Executes stage `name` with `inputs` (verified objects of `layers`) as one job and waits
    /// for it. Returns the job id (`slurm:N`) when one was submitted. With `--job-store` the
    /// inputs are uploaded to the remote first (the job downloads them there).
    fn execute(
        &self,
        layers: &dyn CacheStore,
        dag: &Dag,
        name: &str,
        inputs: &BTreeMap<String, ContentHash>,
        key: ContentHash,
        offline: bool,
        progress: &Arc<dyn Progress>,
    ) -> (Result<StageOutcome, StageFailure>, Option<String>) {
        let fail = |message: String| StageFailure { message, partial_outputs: BTreeMap::new() };
        let dir = self.jobs_dir.join(&self.run_id).join(name);
        if self.via_remote.is_some() {
            for (input, hash) in inputs {
                match layers.push_object(hash) {
                    Ok(true) => {}
                    Ok(false) => return (Err(fail("--job-store: the remote is read-only or down".into())), None),
                    Err(e) => return (Err(fail(format!("input `{input}`: {e}"))), None),
                }
            }
        }
        let decl = &dag.nodes[name].decl;
        let resources = decl.resources.or(&dag.pipeline.resources);
        let spec = JobSpec {
            format: JOB_FORMAT.to_owned(),
            run_id: self.run_id.clone(),
            pipeline: self.pipeline.clone(),
            pipeline_hash: ContentHash::of_bytes(dag.pipeline.text.as_bytes()),
            set: self.set.clone(),
            stage: name.to_owned(),
            store: self.store.clone(),
            inputs: inputs.clone(),
            key,
            offline,
            job_store: self.via_remote.as_ref().map(|(d, _)| d.clone()),
            remote: self.via_remote.as_ref().map(|(_, u)| u.clone()),
        };
        let spec_path = dir.join("spec.json");
        let argv = [self.binary.display().to_string(), "stage-exec".to_owned(), spec_path.display().to_string()];
        let script = match JobScript::new(&dir, &self.workdir, argv, resources) {
            Ok(s) => s,
            Err(e) => return (Err(fail(e.to_string())), None),
        };
        let prepared = script.write().map_err(|e| e.to_string()).and_then(|_| {
            let _ = std::fs::remove_file(JobResult::path(&dir));
            let bytes = serde_json::to_vec_pretty(&spec).map_err(|e| e.to_string())?;
            std::fs::write(&spec_path, bytes).map_err(|e| format!("{}: {e}", spec_path.display()))
        });
        if let Err(e) = prepared {
            return (Err(fail(format!("cannot write the job directory: {e}"))), None);
        }
        let (tx, rx) = mpsc::channel();
        let job = {
            let mut tracker = self.shared.tracker();
            if self.shared.cancelled.load(Ordering::SeqCst) {
                return (Err(fail("not submitted: the run was interrupted".into())), None);
            }
            match tracker.submit(&script, &self.job_name()) {
                Ok(job) => {
                    progress.set_message(&format!("Slurm job {job}: submitted"));
                    self.shared.waiters().insert(job.clone(), Waiter { done: tx, progress: Arc::clone(progress) });
                    job
                }
                Err(e) => return (Err(fail(format!("cannot submit the Slurm job: {e}"))), None),
            }
        };
        tracing::info!("stage `{name}`: Slurm job {job} ({})", dir.display());
        let id = Some(format!("slurm:{job}"));
        let ended = rx.recv().unwrap_or_else(|_| Err("the Slurm poller stopped".into()));
        let result = match ended {
            Err(e) => Err(fail(format!("Slurm job {job}: {e}"))),
            Ok(f) => judge(&job, &f.outcome, &dir),
        };
        (result, id)
    }
}

/// A stage's outcome from its job's end and its `result.json`.
fn judge(job: &JobId, outcome: &JobOutcome, dir: &Path) -> Result<StageOutcome, StageFailure> {
    let result = JobResult::read(dir);
    match (outcome, result) {
        (JobOutcome::Succeeded, Ok(r)) if r.error.is_none() => {
            Ok(StageOutcome { outputs: r.outputs, metrics: r.metrics, state: r.state, reused: false })
        }
        // The stage failed on the node: its own message, as a local run would give it.
        (_, Ok(r)) if r.error.is_some() => Err(StageFailure {
            message: format!("{} (Slurm job {job})", r.error.unwrap_or_default()),
            partial_outputs: r.partial_outputs,
        }),
        (JobOutcome::Succeeded, _) => Err(StageFailure {
            message: format!("Slurm job {job} exited 0 but left no usable result ({})", result_problem(dir)),
            partial_outputs: BTreeMap::new(),
        }),
        // Killed (time limit, memory, node, cancel) or died before writing a result.
        (JobOutcome::Failed(why), _) => {
            Err(StageFailure { message: format!("Slurm job {job}: {why}"), partial_outputs: BTreeMap::new() })
        }
    }
}

fn result_problem(dir: &Path) -> String {
    JobResult::read(dir).err().unwrap_or_else(|| "no outputs".into())
}

fn poll_loop(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        // Sleep the tracker's interval in small steps: a submission shortens it, a stop ends it.
        let slept = Instant::now();
        loop {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let wait = shared.tracker().next_wait();
            if slept.elapsed() >= wait {
                break;
            }
            std::thread::sleep(wait.saturating_sub(slept.elapsed()).min(Duration::from_millis(100)));
        }
        let (polled, states) = {
            let mut tracker = shared.tracker();
            let polled = tracker.poll();
            let states: Vec<(JobId, String)> =
                tracker.jobs().filter_map(|j| tracker.state(j).map(|s| (j.clone(), s.to_string()))).collect();
            (polled, states)
        };
        // Lock order: tracker, then waiters (as in `execute`); never both the other way round.
        let mut waiters = shared.waiters();
        for (job, state) in states {
            if let Some(w) = waiters.get(&job) {
                w.progress.set_message(&format!("Slurm job {job}: {state}"));
            }
        }
        match polled {
            Ok(done) => {
                for f in done {
                    if let Some(w) = waiters.remove(&f.job) {
                        let _ = w.done.send(Ok(f));
                    }
                }
            }
            // Slurm did not answer for the policy's whole patience: every waiting stage fails.
            Err(e) => {
                let gone = std::mem::take(&mut *waiters);
                drop(waiters);
                let mut tracker = shared.tracker();
                for (job, w) in gone {
                    tracker.forget(&job);
                    let _ = w.done.send(Err(format!("lost track of it: {e}")));
                }
            }
        }
    }
}

impl Drop for SlurmExecutor {
    fn drop(&mut self) {
        // Jobs still followed here belong to stages nobody waits for any more (a panic): they
        // would write into the store unsupervised.
        if !self.shared.tracker().is_empty() {
            self.cancel_all();
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(p) = self.poller.take() {
            let _ = p.join();
        }
    }
}

/// `esteira stage-exec SPEC`, inside a job: rebuilds the stage the spec names from its pipeline
/// file, checks the key, executes it against the store and writes `result.json` beside the
/// spec. Returns whether the stage succeeded (the job's exit code is 0 then, 1 otherwise); an
/// error is a job that could not even try (it exits with the error's code).
pub fn run_job(spec_path: &Path, registry: &esteira_core::Registry) -> Result<bool, crate::OrchestratorError> {
    use crate::OrchestratorError;
    let dir = spec_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let bytes = std::fs::read(spec_path)
        .map_err(|e| OrchestratorError::Usage(format!("{}: cannot read the job spec: {e}", spec_path.display())))?;
    let spec: JobSpec = serde_json::from_slice(&bytes)
        .map_err(|e| OrchestratorError::Usage(format!("{}: not a job spec: {e}", spec_path.display())))?;
    if spec.format != JOB_FORMAT {
        return Err(OrchestratorError::Usage(format!(
            "{}: job spec format {:?}; this esteira ({}) reads {JOB_FORMAT:?}",
            spec_path.display(),
            spec.format,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let outcome = execute_spec(&spec, registry);
    let result = match outcome {
        Ok(o) => JobResult {
            format: JOB_FORMAT.to_owned(),
            outputs: o.outputs,
            metrics: o.metrics,
            state: o.state,
            ..JobResult::default()
        },
        Err(f) => JobResult {
            format: JOB_FORMAT.to_owned(),
            error: Some(f.message),
            partial_outputs: f.partial_outputs,
            ..JobResult::default()
        },
    };
    let ok = result.error.is_none();
    if let Some(e) = &result.error {
        eprintln!("error: stage `{}`: {e}", spec.stage);
    }
    result.write(&dir).map_err(|e| OrchestratorError::Usage(format!("{}: {e}", JobResult::path(&dir).display())))?;
    Ok(ok)
}

fn execute_spec(spec: &JobSpec, registry: &esteira_core::Registry) -> Result<StageOutcome, StageFailure> {
    let fail = |message: String| StageFailure { message, partial_outputs: BTreeMap::new() };
    let text =
        std::fs::read_to_string(&spec.pipeline).map_err(|e| fail(format!("{}: {e}", spec.pipeline.display())))?;
    if ContentHash::of_bytes(text.as_bytes()) != spec.pipeline_hash {
        return Err(fail(format!(
            "{} changed after the run read it: not executing another stage than the run planned",
            spec.pipeline.display()
        )));
    }
    let mut pipeline = crate::pipeline::Pipeline::parse(&spec.pipeline, text).map_err(|e| fail(e.to_string()))?;
    let overrides = spec
        .set
        .iter()
        .map(|s| crate::pipeline::Override::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    pipeline.apply_overrides(&overrides).map_err(|e| fail(e.to_string()))?;
    let dag = Dag::build(pipeline, registry).map_err(|e| fail(e.to_string()))?;
    let node = dag.nodes.get(&spec.stage).ok_or_else(|| fail(format!("no stage `{}` in the pipeline", spec.stage)))?;
    let stage = node.stage.as_ref();
    let key = esteira_core::cache_key(stage.kind(), stage.version(), &stage.params(), &spec.inputs);
    if key != spec.key {
        return Err(fail(format!(
            "the stage built on this node has cache key {}, the run computed {} (another esteira build, or a tool \
             version that differs here)",
            key.short(),
            spec.key.short()
        )));
    }
    let store: Arc<dyn CacheStore> = match (&spec.job_store, &spec.remote) {
        (Some(dir), Some(url)) => {
            let local = esteira_core::LocalStore::open(dir).map_err(|e| fail(e.to_string()))?;
            let remote = esteira_remote::RemoteStore::from_env(url).map_err(|e| fail(e.to_string()))?;
            Arc::new(
                esteira_remote::LayeredStore::connect(local, Some(remote), false).map_err(|e| fail(e.to_string()))?,
            )
        }
        _ => Arc::new(esteira_core::LocalStore::open(&spec.store).map_err(|e| fail(e.to_string()))?),
    };
    let mut artifacts = BTreeMap::new();
    for (input, hash) in &spec.inputs {
        // On this node too (downloading it first with a job store): a shared file system or a
        // remote that serves stale or damaged bytes is caught here.
        store.check_object(hash).map_err(|e| fail(format!("input `{input}`: {e}")))?;
        let path = store.object_path(hash).map_err(|e| fail(e.to_string()))?;
        artifacts.insert(input.clone(), esteira_core::InputArtifact { hash: *hash, path });
    }
    let out: Arc<dyn esteira_core::ArtifactStore> = Arc::clone(&store) as Arc<dyn esteira_core::ArtifactStore>;
    let result = crate::execute::run_stage(
        stage,
        &spec.stage,
        &dag.pipeline.paths,
        artifacts,
        out,
        None,
        spec.offline,
        Arc::new(esteira_core::NoProgress),
    );
    if spec.job_store.is_none() {
        return result;
    }
    // The orchestrator takes the outputs from the remote: each must be there before the result
    // says it exists.
    match result {
        Ok(outcome) => {
            for (output, hash) in &outcome.outputs {
                store.push_object(hash).map_err(|e| fail(format!("output `{output}`: {e}")))?;
            }
            Ok(outcome)
        }
        Err(mut f) => {
            f.partial_outputs.retain(|_, hash| store.push_object(hash).unwrap_or(false));
            Err(f)
        }
    }
}
