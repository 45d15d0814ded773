//! `esteira sweep`.

use esteira_core::Registry;
use esteira_core::compare::Comparison;

use super::remote::open_layers;
use super::select::{Select, options};
use super::{Global, print_json};
use crate::pipeline::Pipeline;
use crate::plan::plan;
use crate::progress::Reporter;
use crate::sweep::{Axis, Sweep, run_sweep, variants};
use crate::{OrchestratorError, exit};

/// Options of `esteira sweep` (the swept params are the `-S` flags).
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools, reason = "clap flags: each bool is one switch on the command line")]
pub struct Args {
    #[command(flatten)]
    select: Select,
    /// Pair the i-th values of the swept params instead of taking every combination.
    #[arg(long)]
    zip: bool,
    /// The sweep's name (its runs are tagged with it; default: `sweep-` and the start time).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Stages executing at once across all variants (the same as `-j`).
    #[arg(long, value_name = "N", conflicts_with = "jobs")]
    max_parallel: Option<usize>,
    /// Order the summary by this metric, best (highest) first (default: the first headline
    /// metric, e.g. `roc_auc`).
    #[arg(long, value_name = "METRIC")]
    sort: Option<String>,
    /// With `--sort`: lowest first (for losses such as `brier_score`).
    #[arg(long)]
    ascending: bool,
    /// Print the variants and what would execute, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds to wait for another process holding the store.
    #[arg(long, default_value_t = 0.0)]
    wait: f64,
    /// The comparison as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    if g.set.is_empty() {
        return Err(OrchestratorError::Usage(
            "sweep: give the params to sweep as -S STAGE.KEY=V1,V2,… (or A..B for integers)".into(),
        ));
    }
    if a.select.until.is_some() || a.select.only.is_some() {
        return Err(OrchestratorError::Usage(
            "sweep: --until and --only are for run (a sweep runs every variant whole)".into(),
        ));
    }
    let axes = g.set.iter().map(|s| Axis::parse(s)).collect::<Result<Vec<_>, _>>()?;
    let grid = variants(&axes, a.zip)?;
    let name = match &a.name {
        Some(n) => {
            if let Some(why) = esteira_core::name_problem(n) {
                return Err(OrchestratorError::Usage(format!("--name {:?}: {why}", esteira_core::excerpt(n, 80))));
            }
            n.clone()
        }
        None => format!(
            "sweep-{}",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace([':', '-'], "")
        ),
    };
    let pipeline = Pipeline::load(&g.config)?;
    let sweep = Sweep::plan(name, &pipeline, axes, grid, registry)?;
    let store = open_layers(g, &sweep.dag.pipeline, &a.select.remote)?;
    let mut opts = options(g, &a.select, a.wait);
    if let Some(n) = a.max_parallel {
        opts.jobs = n;
    }
    let (nodes, stages) = sweep.sizes();
    if a.dry_run {
        super::outln!(
            "sweep {}: {} variants, {stages} stages in all, {nodes} distinct",
            sweep.name,
            sweep.variants.len()
        )?;
        for (i, v) in sweep.variants.iter().enumerate() {
            super::outln!("  variant {}: {}", i + 1, v.sets.join(" "))?;
        }
        let entries = plan(&sweep.dag, store.as_ref(), &opts)?;
        super::out!("{}", super::status::render(&entries))?;
        return Ok(exit::OK);
    }
    let reporter = Reporter::new(g.quiet);
    let count = sweep.variants.len();
    let sweep_name = sweep.name.clone();
    let outcome = run_sweep(sweep, &store, &opts, &reporter)?;
    let mut cmp = Comparison::of(&outcome.variants);
    let sort = match &a.sort {
        Some(m) => Some(cmp.metric_named(m).map_err(OrchestratorError::Usage)?),
        None => cmp.headline.iter().find(|m| m.ends_with(".roc_auc")).or(cmp.headline.first()).cloned(),
    };
    if let Some(m) = &sort {
        cmp.sort_by(m, a.ascending);
    }
    let failed = outcome.variants.iter().filter(|r| r.status != esteira_core::RunStatus::Succeeded).count();
    if a.json {
        print_json(&cmp)?;
    } else {
        let counts = outcome.run.record.counts();
        let get = |k: &str| counts.get(k).copied().unwrap_or(0);
        super::out!("{}", cmp.render_text(&[]))?;
        super::outln!(
            "sweep {sweep_name}: {count} variants ({} succeeded, {failed} failed); {stages} stages in all, {nodes} distinct: \
             {} ran, {} cached, {} failed, {} skipped (run {}){}",
            count - failed,
            get("ran"),
            get("cached"),
            get("failed"),
            get("skipped"),
            outcome.run.record.id,
            sort.map(|m| format!("; sorted by {m}")).unwrap_or_default()
        )?;
        super::outln!("compare: esteira runs compare --sweep {sweep_name} [--html FILE]")?;
    }
    if failed == 0 {
        Ok(exit::OK)
    } else {
        let first = outcome
            .variants
            .iter()
            .flat_map(|r| r.order.iter().filter_map(|n| r.stages.get(n).map(|s| (n, s))))
            .find(|(_, s)| s.status == esteira_core::StageStatus::Failed)
            .map(|(n, s)| format!("{n}: {}", s.error.as_deref().unwrap_or("failed")))
            .unwrap_or_default();
        let stages = outcome.run.record.stages.values();
        let failed_stages = stages.clone().filter(|s| s.status == esteira_core::StageStatus::Failed).count();
        let blocked = stages.filter(|s| s.status == esteira_core::StageStatus::Skipped && s.error.is_some()).count();
        Err(OrchestratorError::StagesFailed { failed: failed_stages, blocked, first })
    }
}
