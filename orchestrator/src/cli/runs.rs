//! `esteira runs list|show|diff`.

use std::collections::{BTreeMap, BTreeSet};

use esteira_core::{ArtifactStore, LocalStore, RunRecord, StageStatus};

use super::{Global, open_store, print_json, table};
use crate::plan::flatten;
use crate::runner::latest_path;
use crate::{OrchestratorError, exit};

/// `esteira runs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// One line per run, newest last.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A run's stages, keys, metrics and errors (`latest` for the newest).
    Show {
        /// Run id or unique prefix.
        run: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Name a run, so commands take the name where they take a run id (`run --name` does it
    /// when the run is made). A name points at one run: given again, it moves.
    Tag {
        /// Run id, unique prefix, `latest` or another name.
        run: String,
        /// The name: ASCII letters, digits, `_` and `-`.
        name: String,
    },
    /// Runs side by side: the params that differ (a sweep's swept params) and the metrics with
    /// their intervals; `--html` writes a page with a chart per param and metric.
    Compare {
        /// Runs (ids, prefixes, names); or none with `--sweep`.
        runs: Vec<String>,
        /// Every variant of this sweep (its latest runs).
        #[arg(long, value_name = "NAME")]
        sweep: Option<String>,
        /// Also write the comparison as a self-contained HTML page here.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// Order by this metric, best (highest) first.
        #[arg(long, value_name = "METRIC")]
        sort: Option<String>,
        /// With `--sort`: lowest first.
        #[arg(long)]
        ascending: bool,
        /// Show this metric (repeatable; default: those with intervals).
        #[arg(long, value_name = "METRIC")]
        metric: Vec<String>,
        /// Paired differences against this level of a param (`train.numeric_bins=0`): each run
        /// is paired with the run at the baseline that agrees on every other compared param.
        #[arg(long, value_name = "PARAM=VALUE")]
        baseline: Option<String>,
        /// Paired differences against another stage's metrics of the same names, run by run
        /// (`--against reference`: `evaluate.roc_auc − reference.roc_auc` in each run).
        #[arg(long, value_name = "STAGE")]
        against: Option<String>,
    },
    /// Params, metrics and outputs of two runs side by side.
    Diff {
        /// The first run.
        a: String,
        /// The second run (default: latest).
        #[arg(default_value = "latest")]
        b: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn exec(g: &Global, cmd: &Cmd) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    match cmd {
        Cmd::List { json } => {
            let runs = store.run_list()?;
            if *json {
                print_json(&runs)?;
            } else {
                super::out!("{}", list(&runs, &store.run_names()?))?;
            }
        }
        Cmd::Show { run, json } => {
            let r = store.run_get(run)?;
            if *json {
                print_json(&r)?;
            } else {
                super::out!("{}", show(&store, &r))?;
            }
        }
        Cmd::Tag { run, name } => {
            let _lock = store.lock(&super::command_line(), std::time::Duration::ZERO)?;
            let r = store.run_get(run)?;
            store.name_run(name, &r.id).map_err(|e| OrchestratorError::Usage(e.to_string()))?;
            super::outln!("{name} -> run {}", r.id)?;
        }
        Cmd::Compare { runs, sweep, html, json, sort, ascending, metric, baseline, against } => {
            let records = match (sweep, runs.is_empty()) {
                (Some(name), true) => sweep_runs(&store, name)?,
                (None, false) => runs.iter().map(|r| store.run_get(r)).collect::<Result<Vec<_>, _>>()?,
                _ => return Err(OrchestratorError::Usage("runs compare: give runs, or --sweep NAME".into())),
            };
            let mut cmp = esteira_core::compare::Comparison::of(&records);
            let metrics = metric
                .iter()
                .map(|m| cmp.metric_named(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(OrchestratorError::Usage)?;
            if let Some(m) = sort {
                let m = cmp.metric_named(m).map_err(OrchestratorError::Usage)?;
                cmp.sort_by(&m, *ascending);
            }
            let paired = match baseline {
                Some(b) => Some(paired_differences(&cmp, b, &metrics)?),
                None => None,
            };
            let versus = match against {
                Some(stage) => Some(stage_differences(&cmp, stage, &metrics)?),
                None => None,
            };
            if let Some(path) = html {
                let title =
                    cmp.sweep.as_ref().map_or_else(|| format!("{} runs", cmp.runs.len()), |s| format!("sweep {s}"));
                std::fs::write(path, cmp.render_html(&title, &metrics))
                    .map_err(|e| OrchestratorError::WriteFile { path: path.clone(), source: e })?;
            }
            if *json {
                print_json(&serde_json::json!({"comparison": cmp, "paired": paired, "against": versus}))?;
            } else {
                super::out!("{}", cmp.render_text(&metrics))?;
                if let Some(p) = &paired {
                    super::out!("{}", render_paired(p))?;
                }
                if let (Some(d), Some(stage)) = (&versus, against) {
                    super::out!("{}", render_against(stage, d))?;
                }
            }
        }
        Cmd::Diff { a, b, json } => {
            let (ra, rb) = (store.run_get(a)?, store.run_get(b)?);
            let d = diff(&ra, &rb);
            if *json {
                print_json(&d)?;
            } else {
                super::out!("{}", render_diff(&ra, &rb, &d))?;
            }
        }
    }
    Ok(exit::OK)
}

/// The latest run of each variant of sweep `name`, in variant order.
fn sweep_runs(store: &LocalStore, name: &str) -> Result<Vec<RunRecord>, OrchestratorError> {
    let runs = esteira_core::compare::sweep_variants(store.run_list()?, name);
    if runs.is_empty() {
        return Err(OrchestratorError::Usage(format!(
            "no runs of a sweep named `{name}` in {}",
            store.root().display()
        )));
    }
    Ok(runs)
}

/// `--baseline PARAM=VALUE`: the paired differences of each shown metric.
fn paired_differences(
    cmp: &esteira_core::compare::Comparison,
    baseline: &str,
    metrics: &[String],
) -> Result<Vec<esteira_core::compare::PairedDifference>, OrchestratorError> {
    let o = crate::pipeline::Override::parse(baseline)?;
    let param = format!("{}.{}", o.stage, o.path.join("."));
    if !cmp.params.contains(&param) {
        return Err(OrchestratorError::Usage(format!(
            "--baseline {param}: not a compared param (compared: {})",
            cmp.params.join(", ")
        )));
    }
    let shown = if metrics.is_empty() { &cmp.headline } else { metrics };
    Ok(shown.iter().flat_map(|m| esteira_core::compare::paired(cmp, &param, &o.value, m)).collect())
}

/// `--against STAGE`: each shown metric against STAGE's metric of the same name.
fn stage_differences(
    cmp: &esteira_core::compare::Comparison,
    stage: &str,
    metrics: &[String],
) -> Result<Vec<esteira_core::compare::StageDifference>, OrchestratorError> {
    let has_stage =
        cmp.runs.iter().any(|r| r.metrics.keys().any(|m| m.split_once('.').is_some_and(|(s, _)| s == stage)));
    if !has_stage {
        return Err(OrchestratorError::Usage(format!(
            "--against {stage}: no compared run has metrics of a stage named `{stage}`"
        )));
    }
    let shown = if metrics.is_empty() { &cmp.headline } else { metrics };
    Ok(esteira_core::compare::against(cmp, stage, shown))
}

fn render_against(stage: &str, d: &[esteira_core::compare::StageDifference]) -> String {
    if d.is_empty() {
        return format!("\nagainst {stage}: it has none of the shown metrics (see --metric)\n");
    }
    let rows: Vec<Vec<String>> = d
        .iter()
        .map(|d| {
            vec![
                format!("{} - {}", d.metric, d.against),
                d.pairs.to_string(),
                format!("{:+.4}", d.difference.mean),
                d.difference.interval_text(),
                format!("{}/{}", d.at_least, d.pairs),
            ]
        })
        .collect();
    format!(
        "\npaired differences against `{stage}` (run by run; 95 % t interval over the runs):\n{}",
        table::render(&["DIFFERENCE", "PAIRS", "MEAN", "INTERVAL", ">= 0"], &rows)
    )
}

fn render_paired(p: &[esteira_core::compare::PairedDifference]) -> String {
    if p.is_empty() {
        return "paired differences: no pairs (no run at the baseline agrees with another on the other params)\n"
            .into();
    }
    let rows: Vec<Vec<String>> = p
        .iter()
        .map(|d| {
            vec![
                d.metric.clone(),
                format!("{} = {} vs {}", d.param, d.level, d.baseline),
                d.pairs.to_string(),
                format!("{:+.4}", d.difference.mean),
                d.difference.interval_text(),
            ]
        })
        .collect();
    format!(
        "\npaired differences (level - baseline; 95 % t interval over the pairs):\n{}",
        table::render(&["METRIC", "LEVEL", "PAIRS", "MEAN", "INTERVAL"], &rows)
    )
}

/// Headline metrics of a run: the evaluation stage's scores when present.
pub fn headline(r: &RunRecord) -> String {
    let mut parts = Vec::new();
    for s in r.stages.values() {
        for key in ["roc_auc", "balanced_accuracy"] {
            if let Some(v) = s.metrics.get(key).and_then(serde_json::Value::as_f64) {
                parts.push(format!("{key}={v:.3}"));
            }
        }
    }
    parts.join(" ")
}

fn list(runs: &[RunRecord], names: &BTreeMap<String, String>) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let c = r.counts();
            let get = |k: &str| c.get(k).copied().unwrap_or(0).to_string();
            vec![
                r.id.clone(),
                names_of(names, &r.id),
                r.status.as_str().to_owned(),
                r.started_at.clone(),
                super::duration_secs(&r.started_at, r.ended_at.as_deref()).map_or("-".into(), |s| format!("{s:.0}s")),
                get("ran"),
                get("cached"),
                get("failed"),
                headline(r),
            ]
        })
        .collect();
    table::render(&["RUN", "NAME", "STATUS", "STARTED", "TIME", "RAN", "CACHED", "FAILED", "METRICS"], &rows)
}

/// The names pointing at run `id`, comma-separated (empty when none).
fn names_of(names: &BTreeMap<String, String>, id: &str) -> String {
    names.iter().filter(|(_, run)| *run == id).map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(",")
}

fn show(store: &LocalStore, r: &RunRecord) -> String {
    let named = store.run_names().map(|n| names_of(&n, &r.id)).unwrap_or_default();
    let mut out = if named.is_empty() { String::new() } else { format!("name {named}\n") };
    out += &format!(
        "run {}  {}\npipeline {} (config {})\nstarted {}  ended {}  on {}  esteira {}\ncommand {}\n\n",
        r.id,
        r.status.as_str(),
        r.pipeline,
        r.config_hash.short(),
        r.started_at,
        r.ended_at.as_deref().unwrap_or("-"),
        r.host,
        r.esteira_version,
        r.command
    );
    if !r.overrides.is_empty() {
        let set: Vec<String> = r.overrides.iter().map(|o| format!("-S {o}")).collect();
        out.push_str(&format!("overrides {}\n\n", set.join(" ")));
    }
    out.push_str(&super::run::summary(r));
    for name in &r.order {
        let Some(s) = r.stages.get(name) else { continue };
        let from = if s.remote_hit { " (from the remote)" } else { "" };
        out.push_str(&format!("\n[{name}] {} {}{from}\n", s.kind, s.status.as_str()));
        if let Some(job) = &s.job {
            out.push_str(&format!("  job {job}\n"));
        }
        for (k, v) in &s.inputs {
            let src = s.input_sources.get(k).map(String::as_str).unwrap_or("");
            out.push_str(&format!("  in  {k:<12} {}  ({src})\n", v.short()));
        }
        if s.status == StageStatus::Failed && !s.outputs.is_empty() {
            out.push_str("  kept: outputs written before the stage failed (not cached)\n");
        }
        for (k, v) in &s.outputs {
            // Where people open it, while `latest/` still holds this object.
            let file = s.output_files.get(k).unwrap_or(k);
            let path = latest_path(store, name, file, v)
                .map(|p| format!("  {}", p.strip_prefix(".").unwrap_or(&p).display()))
                .unwrap_or_default();
            out.push_str(&format!("  out {k:<12} {v}{path}\n"));
        }
        for (k, v) in &s.metrics {
            out.push_str(&format!("  metric {k} = {}\n", compact(v)));
        }
        if let Some(e) = &s.error {
            out.push_str(&format!("  note: {e}\n"));
        }
    }
    out
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map_or_else(
            || n.to_string(),
            |f| {
                if f.fract() == 0.0 && f.abs() < 1e15 { format!("{f:.0}") } else { format!("{f:.6}") }
            },
        ),
        other => {
            let s = other.to_string();
            if s.len() > 100 {
                format!("{}…", &s[..s.char_indices().nth(100).map_or(s.len(), |(i, _)| i)])
            } else {
                s
            }
        }
    }
}

/// One differing value.
#[derive(Debug, serde::Serialize)]
pub struct Change {
    stage: String,
    what: String,
    a: Option<String>,
    b: Option<String>,
}

fn diff(a: &RunRecord, b: &RunRecord) -> Vec<Change> {
    let mut out = Vec::new();
    // What explains outputs that differ although params and inputs do not: the binary.
    let build = |r: &RunRecord| {
        [
            ("esteira_version", r.esteira_version.clone()),
            ("build.target", r.build.target.clone()),
            ("build.profile", r.build.profile.clone()),
        ]
    };
    for ((what, x), (_, y)) in build(a).into_iter().zip(build(b)) {
        if x != y {
            let some = |v: String| if v.is_empty() { None } else { Some(v) };
            out.push(Change { stage: "(run)".into(), what: what.into(), a: some(x), b: some(y) });
        }
    }
    let names: BTreeSet<&String> = a.stages.keys().chain(b.stages.keys()).collect();
    for n in names {
        let (sa, sb) = (a.stages.get(n), b.stages.get(n));
        let mut fa = BTreeMap::new();
        let mut fb = BTreeMap::new();
        if let Some(s) = sa {
            fa.insert("version".into(), s.version.clone());
            flatten("param", &s.params, &mut fa);
            for (k, v) in &s.metrics {
                flatten(&format!("metric.{k}"), v, &mut fa);
            }
            for (k, v) in &s.outputs {
                fa.insert(format!("output.{k}"), v.short());
            }
            fa.insert("status".into(), s.status.as_str().into());
        }
        if let Some(s) = sb {
            fb.insert("version".into(), s.version.clone());
            flatten("param", &s.params, &mut fb);
            for (k, v) in &s.metrics {
                flatten(&format!("metric.{k}"), v, &mut fb);
            }
            for (k, v) in &s.outputs {
                fb.insert(format!("output.{k}"), v.short());
            }
            fb.insert("status".into(), s.status.as_str().into());
        }
        let keys: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
        for k in keys {
            let (x, y) = (fa.get(k), fb.get(k));
            if x != y && k != "status" {
                out.push(Change { stage: n.clone(), what: k.clone(), a: x.cloned(), b: y.cloned() });
            }
        }
    }
    out
}

fn render_diff(a: &RunRecord, b: &RunRecord, d: &[Change]) -> String {
    if d.is_empty() {
        return format!(
            "runs {} and {} have the same params, metrics and outputs, stage versions and build\n",
            a.id, b.id
        );
    }
    let rows: Vec<Vec<String>> = d
        .iter()
        .map(|c| {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            vec![c.stage.clone(), c.what.clone(), show(&c.a), show(&c.b)]
        })
        .collect();
    table::render(&["STAGE", "WHAT", &a.id, &b.id], &rows)
}
