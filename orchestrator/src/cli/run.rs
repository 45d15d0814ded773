//! `esteira run`.

use std::sync::Arc;

use esteira_core::{Registry, RunRecord, RunStatus, StageStatus};

use super::remote::{open_layers, traffic_line};
use super::select::{Select, options};
use super::{Global, load_dag, print_json, table};
use crate::execute::Executor;
use crate::plan::plan;
use crate::progress::Reporter;
use crate::runner::run;
use crate::slurm_jobs::SlurmOptions;
use crate::{OrchestratorError, exit};

/// Options of `esteira run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub(super) select: Select,
    /// Print what would run and why, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait for another process holding the store.
    #[arg(long, default_value_t = 0.0)]
    wait: f64,
    /// Print the run record as JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Name the run (commands then take the name where they take a run id; see `runs tag`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Where stages execute: `local` (this process) or `slurm` (one Slurm job per stage, against
    /// a store on a file system the compute nodes share; README "On a Slurm cluster").
    #[arg(long, value_enum, default_value_t = ExecutorKind::Local, env = "ESTEIRA_EXECUTOR")]
    executor: ExecutorKind,
    /// With `--executor slurm` on nodes that do not share the store's file system: each job's
    /// own store at this path on its node (a local disk), objects moving through the remote
    /// (`--remote`, writable).
    #[arg(long, value_name = "DIR", env = "ESTEIRA_JOB_STORE")]
    job_store: Option<std::path::PathBuf>,
    /// With `--executor slurm`: where the job directories (scripts, logs, specs, results) go, on
    /// a file system the nodes share (default: `<store>/jobs`).
    #[arg(long, value_name = "DIR", env = "ESTEIRA_SLURM_JOBS_DIR")]
    jobs_dir: Option<std::path::PathBuf>,
}

/// `--executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    /// In this process.
    Local,
    /// As Slurm jobs (`sbatch`), polled with `squeue`/`sacct`.
    Slurm,
}

/// The Slurm executor's settings: jobs run this binary unless `ESTEIRA_SLURM_BINARY` names
/// another (the path the compute nodes see it at).
fn slurm_options() -> Result<SlurmOptions, OrchestratorError> {
    let binary = match std::env::var_os("ESTEIRA_SLURM_BINARY") {
        Some(b) => std::path::PathBuf::from(b),
        None => std::env::current_exe().map_err(OrchestratorError::Runtime)?,
    };
    if !binary.is_absolute() {
        return Err(OrchestratorError::Usage(format!(
            "ESTEIRA_SLURM_BINARY={}: give an absolute path (the jobs run in another directory)",
            binary.display()
        )));
    }
    Ok(SlurmOptions::new(binary))
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let dag = load_dag(g, registry)?;
    let store = open_layers(g, &dag.pipeline, &a.select.remote)?;
    let mut opts = options(g, &a.select, a.wait);
    if let Some(name) = &a.name {
        if let Some(why) = esteira_core::name_problem(name) {
            return Err(OrchestratorError::Usage(format!("--name {:?}: {why}", esteira_core::excerpt(name, 80))));
        }
        if name == "latest" {
            return Err(OrchestratorError::Usage("--name latest: `latest` always means the newest run".into()));
        }
        opts.name = Some(name.clone());
    }
    match a.executor {
        ExecutorKind::Slurm => {
            let mut slurm = slurm_options()?;
            if a.job_store.is_some() && (store.remote_url().is_none() || a.select.remote.remote_read_only) {
                return Err(OrchestratorError::Usage(
                    "--job-store: the jobs hand objects over through the remote, so it needs a writable --remote"
                        .into(),
                ));
            }
            for (flag, dir) in [("--job-store", &a.job_store), ("--jobs-dir", &a.jobs_dir)] {
                if dir.as_ref().is_some_and(|d| !d.is_absolute()) {
                    return Err(OrchestratorError::Usage(format!(
                        "{flag}: give an absolute path (the jobs run elsewhere)"
                    )));
                }
            }
            slurm.job_store.clone_from(&a.job_store);
            slurm.jobs_dir.clone_from(&a.jobs_dir);
            opts.executor = Executor::Batch(Arc::new(slurm));
        }
        ExecutorKind::Local if a.job_store.is_some() || a.jobs_dir.is_some() => {
            return Err(OrchestratorError::Usage("--job-store and --jobs-dir are for --executor slurm".into()));
        }
        ExecutorKind::Local => {}
    }
    if a.dry_run {
        let entries = plan(&dag, store.as_ref(), &opts)?;
        if a.json {
            print_json(&entries)?;
        } else {
            super::out!("{}", super::status::render(&entries))?;
        }
        return Ok(exit::OK);
    }
    let reporter = Reporter::new(g.quiet);
    let outcome = run(&Arc::new(dag), &store, &opts, &reporter)?;
    let record = &outcome.record;
    if a.json {
        print_json(record)?;
    } else {
        match &outcome.same_as {
            Some(id) => super::out!(
                "{}nothing ran: {} cached, the same keys and outputs as run {id} (no new run record)\n",
                stage_table(record),
                record.stages.len()
            )?,
            None => super::out!("{}", summary(record))?,
        }
        if let Some(line) = traffic_line(store.as_ref()) {
            super::out!("{line}")?;
        }
    }
    if record.status == RunStatus::Succeeded {
        Ok(exit::OK)
    } else {
        let stages = || record.order.iter().filter_map(|n| record.stages.get(n).map(|s| (n, s)));
        let failed: Vec<_> = stages().filter(|(_, s)| s.status == StageStatus::Failed).collect();
        // Stages that never ran because something they need did not complete.
        let blocked: Vec<_> = stages().filter(|(_, s)| s.status == StageStatus::Skipped && s.error.is_some()).collect();
        let first = failed
            .first()
            .or(blocked.first())
            .map(|(n, s)| format!("{n}: {}", s.error.as_deref().unwrap_or("failed")))
            .unwrap_or_default();
        Err(OrchestratorError::StagesFailed { failed: failed.len(), blocked: blocked.len(), first })
    }
}

/// The summary table printed after a run.
pub fn summary(r: &RunRecord) -> String {
    let mut out = stage_table(r);
    let c = r.counts();
    let get = |k: &str| c.get(k).copied().unwrap_or(0);
    let secs = r.stages.values().map(|s| s.end_ms).fold(0.0, f64::max) / 1e3;
    let remote = r.stages.values().filter(|s| s.remote_hit).count();
    let from_remote = if remote > 0 { format!(" ({remote} from the remote)") } else { String::new() };
    out.push_str(&format!(
        "run {} {}: {} ran, {} cached{from_remote}, {} failed, {} skipped in {secs:.3}s\n",
        r.id,
        r.status.as_str(),
        get("ran"),
        get("cached"),
        get("failed"),
        get("skipped"),
    ));
    out
}

/// One row per stage: name, kind, status, time, key.
fn stage_table(r: &RunRecord) -> String {
    let rows: Vec<Vec<String>> = r
        .order
        .iter()
        .filter_map(|n| r.stages.get(n).map(|s| (n, s)))
        .map(|(n, s)| {
            vec![
                n.clone(),
                s.kind.clone(),
                if s.remote_hit { "cached (remote)".to_owned() } else { s.status.as_str().to_owned() },
                format!("{:.3}s", (s.end_ms - s.start_ms) / 1e3),
                s.key.map(|k| k.short()).unwrap_or_default(),
            ]
        })
        .collect();
    table::render(&["STAGE", "KIND", "STATUS", "TIME", "KEY"], &rows)
}
