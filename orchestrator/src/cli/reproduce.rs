//! `esteira reproduce RUN|HASH` and `reproduce --bundle FILE`: re-execute recorded stages
//! without the cache and compare each output hash with the record.
//!
//! - A run: every stage, each from its recorded inputs, into a scratch store.
//! - An object: the stage that produced it and its whole lineage, each stage from the outputs of
//!   the ones re-executed before it, starting from the recorded external sources.
//! - A bundle (`esteira export`): the same chain in the target store (empty on a reviewer's
//!   machine), from the bundle's objects alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use esteira_core::{ArtifactStore, LocalStore, PathPolicy, Registry, RunRecord, RunStatus};

use super::{Global, Target, command_line, open_store, print_json, resolve_target, table};
use crate::reproduce::{Comparison, Inputs, Job, Verdict, reproduce, version_changes};
use crate::{OrchestratorError, exit};

/// Options of `esteira reproduce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id or unique prefix (`latest` for the newest), or an object hash or unique prefix
    /// (its stage and lineage are re-executed).
    #[arg(required_unless_present = "bundle", conflicts_with = "bundle")]
    target: Option<String>,
    /// Reproduce from a bundle written by `esteira export`, into the store (`--store`, else
    /// ./artifacts), needing nothing else.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Only this stage of a run (repeatable).
    #[arg(long, value_name = "STAGE")]
    stage: Vec<String>,
    /// Keep the scratch store for inspection.
    #[arg(long)]
    keep_scratch: bool,
    /// JSON instead of a table (notes go to stderr).
    #[arg(long)]
    json: bool,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    if let Some(bundle) = &a.bundle {
        return from_bundle(g, registry, a, bundle);
    }
    let Some(target) = a.target.as_deref() else {
        return Err(OrchestratorError::Usage("give a run, an object hash, or --bundle FILE".into()));
    };
    let store = open_store(g, None)?;
    let (record, stages, inputs, what) = match resolve_target(&store, target)? {
        Target::Run(record) => {
            let stages: Vec<String> =
                record.order.iter().filter(|n| a.stage.is_empty() || a.stage.contains(n)).cloned().collect();
            let what = format!("run {}", record.id);
            (record, stages, Inputs::Recorded, what)
        }
        Target::Object(p) => {
            if !a.stage.is_empty() {
                return Err(OrchestratorError::Usage(
                    "--stage selects stages of a run, not of an object's lineage".into(),
                ));
            }
            let stages = crate::lineage::closure(&p.run, &p.stage);
            let hash = p.run.stages[&p.stage].outputs[&p.output];
            let what = format!("object {} ({}.{} of run {})", hash.short(), p.stage, p.output, p.run.id);
            (p.run, stages, Inputs::Chained, what)
        }
    };
    let scratch_dir = store.root().join("tmp").join(format!("reproduce-{}-{}", record.id, std::process::id()));
    let scratch: Arc<dyn ArtifactStore> = Arc::new(LocalStore::open(&scratch_dir)?);
    let base = PathBuf::from(&record.pipeline).parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let esteira_change = esteira_change(&record.esteira_version);
    let notes = notes(registry, &record, &stages, esteira_change.as_deref());
    let job = Job {
        registry,
        run: &record,
        stages: &stages,
        source: &store,
        scratch,
        inputs,
        paths: PathPolicy::confined(&base, &[]),
        esteira_change,
    };
    print_notes(&notes, a.json)?;
    let verdicts = reproduce(&job);
    if !a.keep_scratch {
        let _ = std::fs::remove_dir_all(&scratch_dir);
    }
    report(&verdicts, &record, &what, a.json, !a.stage.is_empty())
}

/// Unpacks a bundle into the store (every member checked) and re-executes its stages there.
fn from_bundle(g: &Global, registry: &Registry, a: &Args, file: &Path) -> Result<u8, OrchestratorError> {
    if !a.stage.is_empty() {
        return Err(OrchestratorError::Usage("--stage selects stages of a run, not of a bundle".into()));
    }
    let started = Instant::now();
    let store = open_store(g, None)?;
    let _lock = store.lock(&command_line(), Duration::ZERO)?;
    let unpacked = esteira_bundle::read(file, store.as_ref(), &esteira_bundle::Limits::default())?;
    let m = &unpacked.manifest;
    let recorded_with = format!("esteira {}{}", m.esteira_version, build_suffix(&m.build));
    let this = format!("esteira {}{}", env!("CARGO_PKG_VERSION"), build_suffix(&crate::build_info()));
    let header = format!(
        "bundle {} (blake3 {}): run {}, {} stage(s), {} object(s) unpacked into {}\nrecorded with {recorded_with}; \
         reproducing with {this}",
        file.display(),
        unpacked.archive_hash,
        m.run_id,
        m.stages.len(),
        unpacked.objects,
        store.root().display(),
    );
    if a.json {
        eprintln!("{header}");
    } else {
        super::outln!("{header}")?;
    }
    let esteira_change = esteira_change(&m.esteira_version);
    let notes = notes(registry, &unpacked.run, &m.stages, esteira_change.as_deref());
    print_notes(&notes, a.json)?;
    let scratch: Arc<dyn ArtifactStore> = Arc::clone(&store) as Arc<dyn ArtifactStore>;
    let job = Job {
        registry,
        run: &unpacked.run,
        stages: &m.stages,
        source: &store,
        scratch,
        inputs: Inputs::Chained,
        // Nothing re-executed reads local files; confine any attempt to the store itself.
        paths: PathPolicy::confined(store.root(), &[]),
        esteira_change,
    };
    let verdicts = reproduce(&job);
    let what = format!("bundle {}", file.display());
    let code = report(&verdicts, &unpacked.run, &what, a.json, false)?;
    // Every output of the bundle's stages is now in this store, re-made here: their record can
    // go in too (cut to those stages for an object's lineage), so `show`, `runs`, `predict` and
    // `serve` work on the reproduction as on the original. A run the store already has (the
    // author's own store) is left as it is.
    let complete = verdicts.iter().all(|v| matches!(v.result, Comparison::Identical | Comparison::External));
    if complete && store.run_by_id(&unpacked.run.id)?.is_none() {
        let mut record = unpacked.run;
        record.stages.retain(|name, _| m.stages.contains(name));
        record.order.retain(|name| m.stages.contains(name));
        store.run_put(&record)?;
    }
    if !a.json {
        super::outln!("unpacked, re-executed and compared in {:.1}s", started.elapsed().as_secs_f64())?;
    }
    Ok(code)
}

/// `esteira is now X (recorded Y)` when this binary is another version than the recorded one.
fn esteira_change(recorded: &str) -> Option<String> {
    let now = env!("CARGO_PKG_VERSION");
    (recorded != now).then(|| format!("esteira is now {now} (recorded {recorded})"))
}

fn build_suffix(b: &esteira_core::store::BuildInfo) -> String {
    match (b.target.as_str(), b.profile.as_str()) {
        ("", "") => String::new(),
        (t, p) => format!(" ({t}, {p})"),
    }
}

/// What the reader should know before the comparison: versions that differ from the record.
fn notes(registry: &Registry, run: &RunRecord, stages: &[String], esteira_change: Option<&str>) -> Vec<String> {
    let mut notes: Vec<String> = esteira_change.map(|c| format!("note: {c}")).into_iter().collect();
    for c in version_changes(registry, run, stages) {
        notes.push(format!(
            "note: stage `{}` (kind `{}`) is version {} in this esteira, the run recorded version {}: it is compared \
             anyway, and a difference is most likely that change",
            c.stage, c.kind, c.now, c.recorded
        ));
    }
    notes
}

fn print_notes(notes: &[String], json: bool) -> Result<(), OrchestratorError> {
    for n in notes {
        if json {
            eprintln!("{n}");
        } else {
            super::outln!("{n}")?;
        }
    }
    Ok(())
}

/// Prints the verdicts and turns them into the exit code.
fn report(
    verdicts: &[Verdict],
    record: &RunRecord,
    what: &str,
    json: bool,
    filtered: bool,
) -> Result<u8, OrchestratorError> {
    if json {
        print_json(&verdicts)?;
    } else {
        let rows: Vec<Vec<String>> =
            verdicts.iter().map(|v| vec![v.stage.clone(), v.result.as_str().to_owned(), v.detail.clone()]).collect();
        super::out!("{}", table::render(&["STAGE", "RESULT", "DETAIL"], &rows))?;
    }
    let of = |result: Comparison| -> Vec<&str> {
        verdicts.iter().filter(|v| v.result == result).map(|v| v.stage.as_str()).collect()
    };
    let (different, not_run) = (of(Comparison::Different), of(Comparison::NotRun));
    if !different.is_empty() {
        return Err(OrchestratorError::NotReproduced { what: what.to_owned(), stages: different.join(", ") });
    }
    let summary = compared_summary(&of(Comparison::Identical), &of(Comparison::External), &not_run, filtered);
    if record.status != RunStatus::Succeeded && !not_run.is_empty() {
        // A failed or interrupted run cannot be reproduced whole: what it did not finish was
        // never compared, and saying "reproduced" would claim more than was checked.
        return Err(OrchestratorError::Incomplete {
            run: record.id.clone(),
            status: record.status.as_str().to_owned(),
            summary,
        });
    }
    if !json {
        super::outln!("{what} reproduced: {summary}")?;
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
        s.push_str("; every stage needed was compared");
    } else {
        s.push_str(&format!("; not compared (they did not complete in the recorded run): {}", not_run.join(", ")));
    }
    s
}
