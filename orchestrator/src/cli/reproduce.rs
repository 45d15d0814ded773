//! `esteira reproduce RUN`: re-execute every stage of a recorded run without the cache, into a
//! scratch store, and compare each output hash with the record.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use esteira_core::{
    ArtifactStore, InputArtifact, LocalStore, NoProgress, PathPolicy, Registry, RunStatus, StageStatus,
};

use super::{Global, open_store, print_json, table};
use crate::execute::run_stage;
use crate::{OrchestratorError, exit};

/// Options of `esteira reproduce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id or unique prefix (`latest` for the newest).
    run: String,
    /// Only this stage (repeatable).
    #[arg(long, value_name = "STAGE")]
    stage: Vec<String>,
    /// Keep the scratch store for inspection.
    #[arg(long)]
    keep_scratch: bool,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Verdict {
    stage: String,
    result: &'static str,
    detail: String,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let record = store.run_get(&a.run)?;
    let scratch_dir = store.root().join("tmp").join(format!("reproduce-{}-{}", record.id, std::process::id()));
    let scratch: Arc<dyn ArtifactStore> = Arc::new(LocalStore::open(&scratch_dir)?);
    let base = PathBuf::from(&record.pipeline).parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    // Only volatile stages read local files, and they are verified, not re-executed: no stage
    // needs anything beyond the pipeline's own directory here.
    let paths = PathPolicy::confined(&base, &[]);
    let mut verdicts = Vec::new();
    for name in &record.order {
        if !a.stage.is_empty() && !a.stage.contains(name) {
            continue;
        }
        let Some(s) = record.stages.get(name) else { continue };
        let v = |result, detail: String| Verdict { stage: name.clone(), result, detail };
        if !matches!(s.status, StageStatus::Ran | StageStatus::Cached) {
            verdicts.push(v("not run", format!("status was {}", s.status.as_str())));
            continue;
        }
        let stage = match registry.build(&s.kind, s.params.clone()) {
            Ok(st) => st,
            Err(e) => {
                verdicts.push(v("different", format!("cannot rebuild the stage: {e}")));
                continue;
            }
        };
        if stage.version() != s.version {
            verdicts.push(v("different", format!("stage version is now {} (recorded {})", stage.version(), s.version)));
            continue;
        }
        if stage.volatile() {
            // An external source cannot be re-read as it was; check the recorded bytes instead.
            let bad: Vec<String> =
                s.outputs.iter().filter(|(_, h)| store.verify_object(h).is_err()).map(|(o, _)| o.clone()).collect();
            if bad.is_empty() {
                verdicts.push(v("external", "reads an external source: recorded outputs verified intact".into()));
            } else {
                verdicts.push(v("different", format!("recorded outputs missing or corrupt: {}", bad.join(", "))));
            }
            continue;
        }
        let mut inputs = BTreeMap::new();
        let mut missing = None;
        for (k, h) in &s.inputs {
            match store.verify_object(h).and_then(|()| store.object_path(h)) {
                Ok(path) => {
                    inputs.insert(k.clone(), InputArtifact { hash: *h, path });
                }
                Err(e) => missing = Some(format!("input `{k}`: {e}")),
            }
        }
        if let Some(m) = missing {
            verdicts.push(v("different", m));
            continue;
        }
        let started = std::time::Instant::now();
        match run_stage(stage.as_ref(), name, &paths, inputs, Arc::clone(&scratch), None, true, Arc::new(NoProgress)) {
            Err(e) => verdicts.push(v("different", format!("re-execution failed: {e}"))),
            Ok(outcome) => {
                let diffs: Vec<String> = s
                    .outputs
                    .iter()
                    .filter(|(o, h)| outcome.outputs.get(*o) != Some(h))
                    .map(|(o, h)| {
                        let got =
                            outcome.outputs.get(o).map_or_else(|| "(missing)".into(), esteira_core::ContentHash::short);
                        format!("{o}: recorded {} now {got}", h.short())
                    })
                    .collect();
                let secs = started.elapsed().as_secs_f64();
                if diffs.is_empty() {
                    verdicts
                        .push(v("identical", format!("{} output(s) bit-for-bit equal ({secs:.2}s)", s.outputs.len())));
                } else {
                    verdicts.push(v("different", diffs.join("; ")));
                }
            }
        }
    }
    if !a.keep_scratch {
        let _ = std::fs::remove_dir_all(&scratch_dir);
    }
    if a.json {
        print_json(&verdicts)?;
    } else {
        let rows: Vec<Vec<String>> =
            verdicts.iter().map(|v| vec![v.stage.clone(), v.result.to_owned(), v.detail.clone()]).collect();
        super::out!("{}", table::render(&["STAGE", "RESULT", "DETAIL"], &rows))?;
    }
    let of = |result: &str| -> Vec<&str> {
        verdicts.iter().filter(|v| v.result == result).map(|v| v.stage.as_str()).collect()
    };
    let (different, not_run) = (of("different"), of("not run"));
    if !different.is_empty() {
        return Err(OrchestratorError::NotReproduced { run: record.id, stages: different.join(", ") });
    }
    let summary = compared_summary(&of("identical"), &of("external"), &not_run, !a.stage.is_empty());
    if record.status != RunStatus::Succeeded && !not_run.is_empty() {
        // A failed or interrupted run cannot be reproduced whole: what it did not finish was
        // never compared, and saying "reproduced" would claim more than was checked.
        return Err(OrchestratorError::Incomplete {
            run: record.id,
            status: record.status.as_str().to_owned(),
            summary,
        });
    }
    if !a.json {
        super::outln!("run {} reproduced: {summary}", record.id)?;
    }
    Ok(exit::OK)
}

/// `6 stages re-executed and identical, 4 external sources verified; not compared: train, evaluate`.
fn compared_summary(identical: &[&str], external: &[&str], not_run: &[&str], filtered: bool) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let mut s = format!(
        "{} re-executed and identical, {} verified",
        n(identical.len(), "stage", "stages"),
        n(external.len(), "external source", "external sources")
    );
    if not_run.is_empty() && filtered {
        s.push_str("; only the stages asked for were compared");
    } else if not_run.is_empty() {
        s.push_str("; every stage of the run was compared");
    } else {
        s.push_str(&format!("; not compared (they did not complete in the recorded run): {}", not_run.join(", ")));
    }
    s
}
