//! The command line: clap definitions, one module per subcommand.

/// `print!` to stdout that returns [`OrchestratorError::Stdout`] instead of panicking when the
/// reader went away (`esteira runs list | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*).map_err($crate::OrchestratorError::Stdout)
    }};
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::OrchestratorError::Stdout)
    }};
}

pub(crate) use {out, outln};

mod cat;
mod checks;
mod dag;
mod exec;
mod export;
mod gc;
mod predict;
mod pull;
mod push;
mod remote;
mod reproduce;
mod run;
mod runs;
mod select;
mod serve;
mod show;
mod stage_exec;
mod status;
mod sweep;
mod synth;
mod table;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use esteira_core::{LocalStore, Registry};

use crate::OrchestratorError;
use crate::dag::Dag;
use crate::pipeline::{Override, Pipeline};

/// esteira: an ML pipeline as a cached, reproducible DAG of stages.
#[derive(Debug, Parser)]
#[command(name = "esteira", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The pipeline file.
    #[arg(short = 'c', long = "config", global = true, default_value = "esteira.toml", env = "ESTEIRA_CONFIG")]
    config: PathBuf,
    /// The artifact store directory (default: the pipeline file's `store`, else ./artifacts).
    #[arg(long, global = true, env = "ESTEIRA_STORE")]
    store: Option<PathBuf>,
    /// No progress bars, and only warnings and errors logged.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Override a param without editing the file (`train.alpha=0.1`, `train.lof.k=10`; the value
    /// in TOML syntax); repeatable, a later one wins. Part of the cache key, and recorded in the
    /// run record's command line (for `run`, `status`, `dag`).
    #[arg(short = 'S', long = "set", global = true, value_name = "STAGE.KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the pipeline: execute what changed, reuse the cache for the rest.
    Run(run::Args),
    /// Show what a run would do and why (which param, input or version changed).
    Status(status::Args),
    /// Run a grid of param overrides (`-S train.alpha=0.1,1,10 -S segregate.seed=1..5`) as one
    /// DAG sharing the cache, one run per variant, and compare them.
    Sweep(sweep::Args),
    /// Print the DAG.
    Dag(dag::Args),
    /// List, show and compare recorded runs.
    #[command(subcommand)]
    Runs(runs::Cmd),
    /// Which stage and run produced an object, from which inputs.
    Show(show::Args),
    /// Write an object's bytes to stdout.
    Cat(cat::Args),
    /// Re-execute a recorded run, an object's lineage or a bundle without the cache and compare
    /// every output hash.
    Reproduce(reproduce::Args),
    /// Write a run, or an object and its lineage, as one self-contained archive to reproduce
    /// elsewhere.
    Export(export::Args),
    /// Re-hash every object in the store and report corrupt ones.
    Verify(verify::Args),
    /// Delete objects, cache entries and runs not reachable from the last N runs.
    Gc(gc::Args),
    /// Upload a run (its record, cache records and objects) to the remote.
    Push(push::Args),
    /// Download a run (its record, cache records and objects) from the remote.
    Pull(pull::Args),
    /// Run one stage kind outside any pipeline file.
    Exec(exec::Args),
    /// Validate tables against expectation suites, or propose a suite.
    #[command(subcommand)]
    Checks(checks::Cmd),
    /// Serve the prediction form, a JSON API and a run browser.
    Serve(serve::Args),
    /// Score a CSV with a stored model (no server).
    Predict(predict::Args),
    /// Write UFRN-format synthetic tables.
    Synth(synth::Args),
    /// One stage execution inside a Slurm job (what `run --executor slurm` submits).
    #[command(hide = true)]
    StageExec(stage_exec::Args),
}

/// Parses the command line, runs the command, and maps errors to exit codes.
pub fn main(registry: &Registry) -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.quiet);
    report(dispatch(cli, registry))
}

/// The whole `esteira` command line with the shipped stage kinds plus the caller's: the entry
/// point of a user's own binary (`examples/custom-stage`).
///
/// `register` adds the caller's kinds to [`crate::registry::builtin`]. A kind it registers under
/// a name already taken is an error ([`esteira_core::CoreError::DuplicateKind`], exit 4) before
/// anything else runs, so a pipeline never silently gets another stage than the one it names.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     esteira::cli::main_with(|registry| {
///         registry.register(esteira::StageFactory {
///             kind: "my.stage",
///             summary: "what it does, for `esteira exec --list`",
///             build: |_params| todo!("parse the params, return Box<dyn esteira::Stage>"),
///         })?;
///         Ok(())
///     })
/// }
/// ```
pub fn main_with(register: impl FnOnce(&mut Registry) -> Result<(), esteira_core::CoreError>) -> ExitCode {
    let mut registry = crate::registry::builtin();
    match register(&mut registry) {
        Ok(()) => main(&registry),
        Err(e) => report(Err(e.into())),
    }
}

/// The process's exit: the code of a success, or the error said on stderr and its exit code.
fn report(result: Result<u8, OrchestratorError>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader of our output is gone: nothing to say, and nobody to say it to.
        Err(e) if e.is_broken_pipe() => ExitCode::from(crate::exit::OK),
        Err(e) => {
            eprintln!("error: {}", esteira_core::excerpt(&e.to_string(), 4000));
            ExitCode::from(e.exit_code())
        }
    }
}

fn init_tracing(quiet: bool) {
    use tracing_subscriber::EnvFilter;
    // On a terminal the bars show progress, so only warnings are logged by default; in CI and
    // pipes each stage logs a line.
    let default = if quiet || crate::progress::bars_enabled() { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("ESTEIRA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::progress::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

fn dispatch(cli: Cli, registry: &Registry) -> Result<u8, OrchestratorError> {
    let g = &cli.global;
    // `--set` is a global flag (it goes anywhere on the line) but only these build the DAG: on
    // any other command it would be silently ignored.
    if !g.set.is_empty()
        && !matches!(cli.command, Command::Run(_) | Command::Status(_) | Command::Dag(_) | Command::Sweep(_))
    {
        return Err(OrchestratorError::Usage(
            "--set applies to run, status, dag and sweep only (this command reads no pipeline params)".into(),
        ));
    }
    match cli.command {
        Command::Run(a) => run::exec(g, registry, &a),
        Command::Status(a) => status::exec(g, registry, &a),
        Command::Sweep(a) => sweep::exec(g, registry, &a),
        Command::Dag(a) => dag::exec(g, registry, &a),
        Command::Runs(c) => runs::exec(g, &c),
        Command::Show(a) => show::exec(g, registry, &a),
        Command::Cat(a) => cat::exec(g, &a),
        Command::Reproduce(a) => reproduce::exec(g, registry, &a),
        Command::Export(a) => export::exec(g, registry, &a),
        Command::Verify(a) => verify::exec(g, &a),
        Command::Gc(a) => gc::exec(g, &a),
        Command::Push(a) => push::exec(g, &a),
        Command::Pull(a) => pull::exec(g, &a),
        Command::Exec(a) => exec::exec(g, registry, &a),
        Command::Checks(c) => checks::exec(g, &c),
        Command::Serve(a) => serve::exec(g, &a),
        Command::Predict(a) => predict::exec(g, &a),
        Command::Synth(a) => synth::exec(g, &a),
        Command::StageExec(a) => stage_exec::exec(registry, &a),
    }
}

/// Loads and validates the pipeline file.
fn load_dag(g: &Global, registry: &Registry) -> Result<Dag, OrchestratorError> {
    let mut pipeline = Pipeline::load(&g.config)?;
    let overrides = g.set.iter().map(|s| Override::parse(s)).collect::<Result<Vec<_>, _>>()?;
    pipeline.apply_overrides(&overrides)?;
    Ok(Dag::build(pipeline, registry)?)
}

/// Opens the store: `--store`, else the pipeline file's, else `./artifacts`.
fn open_store(g: &Global, pipeline: Option<&Pipeline>) -> Result<Arc<LocalStore>, OrchestratorError> {
    Ok(Arc::new(open_local(g, pipeline)?))
}

/// [`open_store`], unshared (for the layered store, which owns its local store).
fn open_local(g: &Global, pipeline: Option<&Pipeline>) -> Result<LocalStore, OrchestratorError> {
    let root = match (&g.store, pipeline) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => p.store.clone(),
        (None, None) if g.config.is_file() => Pipeline::load(&g.config)?.store,
        (None, None) => PathBuf::from("artifacts"),
    };
    if root.exists() && !root.is_dir() {
        return Err(OrchestratorError::StoreNotDir { path: root });
    }
    Ok(LocalStore::open(root)?)
}

/// The command line as typed, for records and lock holders.
fn command_line() -> String {
    std::env::args().map(|a| if a.contains(' ') { format!("{a:?}") } else { a }).collect::<Vec<_>>().join(" ")
}

/// Resolves an object hash or unique prefix (at least 6 hex digits).
fn resolve_object(store: &LocalStore, prefix: &str) -> Result<esteira_core::ContentHash, OrchestratorError> {
    use esteira_core::ArtifactStore;
    if let Ok(h) = prefix.parse() {
        return Ok(h);
    }
    if prefix.len() < 6 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OrchestratorError::Usage(format!("{prefix:?}: give a hash or a prefix of at least 6 hex digits")));
    }
    let p = prefix.to_ascii_lowercase();
    let matches: Vec<_> = store.list_objects()?.into_iter().filter(|h| h.to_hex().starts_with(&p)).collect();
    match matches.as_slice() {
        [h] => Ok(*h),
        [] => Err(OrchestratorError::Usage(format!("no object starts with {prefix} in {}", store.root().display()))),
        _ => Err(OrchestratorError::Usage(format!("{prefix} is ambiguous: {} objects start with it", matches.len()))),
    }
}

/// What `reproduce` and `export` were given: a run, or an object and the stage that produced it.
enum Target {
    Run(esteira_core::RunRecord),
    Object(crate::lineage::Producer),
}

/// Reads a run id (or unique prefix, or `latest`) or an object hash (or unique prefix). A run
/// wins when both could match (an all-digit prefix like `2026` is both).
fn resolve_target(store: &LocalStore, s: &str) -> Result<Target, OrchestratorError> {
    use esteira_core::ArtifactStore;
    let hex = s.len() >= 6 && s.chars().all(|c| c.is_ascii_hexdigit());
    if s.len() != 64 {
        match store.run_get(s) {
            Ok(r) => return Ok(Target::Run(r)),
            Err(e) if !hex => return Err(e.into()),
            Err(_) => {}
        }
    }
    let hash = resolve_object(store, s)?;
    crate::lineage::producer(&store.run_list()?, &hash).map(Target::Object).ok_or_else(|| {
        OrchestratorError::Usage(format!(
            "object {hash} was not produced by a recorded stage that completed (an input file, or its runs were \
             collected): there is nothing to re-execute"
        ))
    })
}

/// `--json` output helper.
fn print_json<T: serde::Serialize>(v: &T) -> Result<(), OrchestratorError> {
    let s = serde_json::to_string_pretty(v).map_err(OrchestratorError::Json)?;
    outln!("{s}")
}

/// Seconds between two RFC 3339 stamps.
fn duration_secs(start: &str, end: Option<&str>) -> Option<f64> {
    let s = humantime::parse_rfc3339(start).ok()?;
    let e = humantime::parse_rfc3339(end?).ok()?;
    e.duration_since(s).ok().map(|d| d.as_secs_f64())
}
