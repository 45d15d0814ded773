//! Re-executing recorded stages without the cache and comparing their outputs with the record:
//! what `esteira reproduce RUN`, `reproduce HASH` and `reproduce --bundle` share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use esteira_core::{
    ArtifactStore, ContentHash, InputArtifact, LocalStore, NoProgress, PathPolicy, Registry, RunRecord, StageStatus,
};

use crate::execute::run_stage;
use crate::lineage::{InputSource, input_source};

/// Where a re-executed stage's inputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// The recorded input objects, from the source store: each stage is checked on its own, so
    /// a difference is pinned to the stage that made it (`reproduce RUN`).
    Recorded,
    /// Outputs of the stages re-executed before it; only external sources (fetched bytes,
    /// `file:` inputs) are taken as recorded. The whole chain is rebuilt from what entered it
    /// (`reproduce HASH`, `reproduce --bundle`).
    Chained,
}

/// How one stage compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    /// Re-executed, every output bit-for-bit equal.
    Identical,
    /// An external source: its recorded bytes were verified, not re-read.
    External,
    /// An output differs, or the stage could not be re-executed.
    Different,
    /// The stage did not complete in the recorded run.
    #[serde(rename = "not run")]
    NotRun,
}

impl Comparison {
    /// The word shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identical => "identical",
            Self::External => "external",
            Self::Different => "different",
            Self::NotRun => "not run",
        }
    }
}

/// One stage's verdict.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    /// The stage.
    pub stage: String,
    /// How it compared.
    pub result: Comparison,
    /// Why, in words.
    pub detail: String,
}

/// A stage whose kind is at another version in this binary than in the record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionChange {
    /// The stage.
    pub stage: String,
    /// Its kind.
    pub kind: String,
    /// The recorded version.
    pub recorded: String,
    /// This binary's.
    pub now: String,
}

/// What to re-execute, from where, into where.
pub struct Job<'a> {
    /// The stage kinds.
    pub registry: &'a Registry,
    /// The recorded run.
    pub run: &'a RunRecord,
    /// The stages to compare, in the run's order.
    pub stages: &'a [String],
    /// Where the recorded inputs and external sources are.
    pub source: &'a LocalStore,
    /// Where re-executions write their outputs.
    pub scratch: Arc<dyn ArtifactStore>,
    /// Where inputs come from.
    pub inputs: Inputs,
    /// The local-file policy stages get (no re-executed stage reads local files: fetch stages
    /// are verified, not re-run).
    pub paths: PathPolicy,
    /// `esteira is now X (recorded Y)` when the run was recorded by another esteira version:
    /// named as the likely cause of a difference no stage version change explains.
    pub esteira_change: Option<String>,
}

/// The stages of `stages` whose kind this binary builds at another version than recorded.
pub fn version_changes(registry: &Registry, run: &RunRecord, stages: &[String]) -> Vec<VersionChange> {
    stages
        .iter()
        .filter_map(|name| {
            let s = run.stages.get(name)?;
            let now = registry.build(&s.kind, s.params.clone()).ok()?.version().to_owned();
            (now != s.version).then(|| VersionChange {
                stage: name.clone(),
                kind: s.kind.clone(),
                recorded: s.version.clone(),
                now,
            })
        })
        .collect()
}

/// Re-executes each stage of the job and compares it with the record.
pub fn reproduce(job: &Job<'_>) -> Vec<Verdict> {
    // Stage -> output -> the hash it has now, for chained inputs.
    let mut produced: BTreeMap<String, BTreeMap<String, ContentHash>> = BTreeMap::new();
    let mut differed: Vec<String> = Vec::new();
    let mut verdicts = Vec::new();
    for name in job.stages {
        let Some(s) = job.run.stages.get(name) else { continue };
        let v = |result, detail: String| Verdict { stage: name.clone(), result, detail };
        if !matches!(s.status, StageStatus::Ran | StageStatus::Cached) {
            verdicts.push(v(Comparison::NotRun, format!("status was {}", s.status.as_str())));
            continue;
        }
        let stage = match job.registry.build(&s.kind, s.params.clone()) {
            Ok(st) => st,
            Err(e) => {
                verdicts.push(v(Comparison::Different, format!("cannot rebuild the stage: {e}")));
                differed.push(name.clone());
                continue;
            }
        };
        // A changed version is reported and still compared: the new code may well give the
        // same bytes, and when it does not, the change is the first suspect.
        let version_note = (stage.version() != s.version)
            .then(|| format!("stage version is now {} (recorded {})", stage.version(), s.version));
        if stage.volatile() {
            // An external source cannot be re-read as it was; its recorded bytes are the input.
            let bad: Vec<String> = s
                .outputs
                .iter()
                .filter(|(_, h)| job.source.verify_object(h).is_err())
                .map(|(o, _)| o.clone())
                .collect();
            if bad.is_empty() {
                produced.insert(name.clone(), s.outputs.clone());
                verdicts
                    .push(v(Comparison::External, "reads an external source: recorded outputs verified intact".into()));
            } else {
                verdicts
                    .push(v(Comparison::Different, format!("recorded outputs missing or corrupt: {}", bad.join(", "))));
                differed.push(name.clone());
            }
            continue;
        }
        let mut inputs = BTreeMap::new();
        let mut problem = None;
        let mut upstream_changed = Vec::new();
        for (k, recorded) in &s.inputs {
            let src = s.input_sources.get(k).map_or("", String::as_str);
            let chained = match (job.inputs, input_source(src)) {
                (Inputs::Chained, InputSource::Stage { stage, output }) if job.stages.iter().any(|n| n == stage) => {
                    Some((stage, output))
                }
                _ => None,
            };
            let resolved = match chained {
                Some((up, output)) => match produced.get(up).and_then(|o| o.get(output)) {
                    Some(h) => {
                        if h != recorded {
                            upstream_changed.push(format!("input `{k}` ({src}) differs"));
                        }
                        // Re-executed outputs are in the scratch store, external sources' recorded
                        // bytes (verified above) in the source store.
                        let store: &dyn ArtifactStore =
                            if job.scratch.contains(h) { job.scratch.as_ref() } else { job.source };
                        store.object_path(h).map(|path| InputArtifact { hash: *h, path }).map_err(|e| e.to_string())
                    }
                    None => Err(format!("`{up}` did not reproduce")),
                },
                None => job
                    .source
                    .verify_object(recorded)
                    .and_then(|()| job.source.object_path(recorded))
                    .map(|path| InputArtifact { hash: *recorded, path })
                    .map_err(|e| e.to_string()),
            };
            match resolved {
                Ok(a) => {
                    inputs.insert(k.clone(), a);
                }
                Err(e) => problem = Some(format!("input `{k}`: {e}")),
            }
        }
        if let Some(m) = problem {
            verdicts.push(v(Comparison::Different, m));
            differed.push(name.clone());
            continue;
        }
        let started = Instant::now();
        let outcome = run_stage(
            stage.as_ref(),
            name,
            &job.paths,
            inputs,
            Arc::clone(&job.scratch),
            None,
            true,
            Arc::new(NoProgress),
        );
        let secs = started.elapsed().as_secs_f64();
        let cause = |mut detail: String| {
            if let Some(note) = &version_note {
                detail.push_str(&format!(" — likely cause: {note}"));
            } else if !upstream_changed.is_empty() {
                detail
                    .push_str(&format!(" — likely cause: {} (an upstream stage differs)", upstream_changed.join(", ")));
            } else if let Some(change) = &job.esteira_change {
                detail.push_str(&format!(" — likely cause: {change}"));
            }
            detail
        };
        match outcome {
            Err(e) => {
                verdicts.push(v(Comparison::Different, cause(format!("re-execution failed: {e}"))));
                differed.push(name.clone());
            }
            Ok(outcome) => {
                let diffs: Vec<String> = s
                    .outputs
                    .iter()
                    .filter(|(o, h)| outcome.outputs.get(*o) != Some(h))
                    .map(|(o, h)| {
                        let got = outcome.outputs.get(o).map_or_else(|| "(missing)".into(), ContentHash::short);
                        format!("{o}: recorded {} now {got}", h.short())
                    })
                    .collect();
                produced.insert(name.clone(), outcome.outputs.clone());
                if diffs.is_empty() {
                    let mut detail = format!("{} output(s) bit-for-bit equal ({secs:.2}s)", s.outputs.len());
                    if let Some(note) = &version_note {
                        detail.push_str(&format!("; {note}"));
                    }
                    verdicts.push(v(Comparison::Identical, detail));
                } else {
                    verdicts.push(v(Comparison::Different, cause(diffs.join("; "))));
                    differed.push(name.clone());
                }
            }
        }
    }
    tracing::debug!(stages = verdicts.len(), different = differed.len(), "reproduced");
    verdicts
}
