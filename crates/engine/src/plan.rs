//! `esteira status` and `run --dry-run`: what would run, and why.

use std::collections::{BTreeMap, BTreeSet};

use esteira_core::store::{CacheStore, KeyParts, Origin};
use esteira_core::{ArtifactStore, ContentHash, RunRecord, StageStatus, cache_key};
use serde::Serialize;

use crate::EngineError;
use crate::dag::Dag;
use crate::pipeline::Source;
use crate::runner::{RunOptions, selection};

/// What a stage would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Served from the cache.
    Cached,
    /// Executed.
    Run,
    /// A volatile stage (e.g. a download) that will revalidate its source.
    Revalidate,
    /// Not selected by `--until`/`--only`.
    NotSelected,
}

/// One line of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    /// Stage name.
    pub stage: String,
    /// Stage kind.
    pub kind: String,
    /// What would happen.
    pub action: Action,
    /// Why (empty for a cache hit).
    pub reasons: Vec<String>,
    /// The cache key, when all inputs are known.
    pub key: Option<String>,
}

/// Computes the plan without executing or writing anything (file hashes use the memo). With a
/// remote under the local store, a local miss that the remote has (record, and its objects at
/// their sizes) is a hit `from the remote`, as the run would find it; nothing is downloaded.
pub fn plan(dag: &Dag, layers: &dyn CacheStore, opts: &RunOptions) -> Result<Vec<PlanEntry>, EngineError> {
    let selected = selection(dag, opts)?;
    let store = layers.local();
    // Run records are only needed to explain a miss: read them once, and only then.
    let runs = std::cell::OnceCell::new();
    let mut known: BTreeMap<String, BTreeMap<String, ContentHash>> = BTreeMap::new();
    let mut will_run: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for name in &dag.order {
        let node = &dag.nodes[name];
        let stage = node.stage.as_ref();
        let mut reasons = Vec::new();
        let mut inputs = BTreeMap::new();
        let mut complete = true;
        for (input, src) in &node.decl.inputs {
            match src {
                Source::Stage { stage: up, output } => match known.get(up).and_then(|o| o.get(output)) {
                    Some(h) => {
                        inputs.insert(input.clone(), *h);
                    }
                    None => {
                        complete = false;
                        reasons.push(format!("upstream `{up}` will run, so input `{input}` may change"));
                    }
                },
                Source::File(p) => match dag
                    .pipeline
                    .paths
                    .resolve(p)
                    .and_then(|f| store.hash_file_memo(&f).map_err(|e| e.to_string()))
                {
                    Ok(h) => {
                        inputs.insert(input.clone(), h);
                    }
                    Err(e) => {
                        complete = false;
                        reasons.push(format!("input `{input}`: {e}"));
                    }
                },
            }
        }
        let params = stage.params();
        let key = complete.then(|| cache_key(stage.kind(), stage.version(), &params, &inputs));
        // The same test a run makes, so `status` never promises a hit the run would refuse.
        let parts = KeyParts { kind: stage.kind(), version: stage.version(), params: &params, inputs: &inputs };
        let found = key.and_then(|k| {
            crate::execute::usable_record(layers, name, &k, &parts, &stage.outputs(), false).ok().flatten()
        });
        let from_remote = found.as_ref().is_some_and(|(_, origin)| *origin == Origin::Remote);
        let hit = found.map(|(r, _)| r);
        let forced = opts.force_all || opts.force.contains(name);
        let action = if !selected.contains(name) {
            Action::NotSelected
        } else if stage.volatile() {
            reasons.push("reads an external source: revalidates it every run".into());
            Action::Revalidate
        } else if forced {
            reasons.push("forced".into());
            Action::Run
        } else if hit.is_some() {
            if from_remote {
                reasons.push(format!("from the remote {}", layers.remote_url().unwrap_or_default()));
            }
            Action::Cached
        } else {
            if complete {
                reasons.extend(explain(
                    runs.get_or_init(|| store.run_list().unwrap_or_default()),
                    name,
                    stage.version(),
                    &params,
                    &inputs,
                ));
            }
            Action::Run
        };
        match (&hit, action) {
            (Some(r), Action::Cached | Action::Revalidate | Action::NotSelected) => {
                known.insert(name.clone(), r.outputs.clone());
            }
            _ => {
                will_run.insert(name.clone());
            }
        }
        out.push(PlanEntry {
            stage: name.clone(),
            kind: stage.kind().to_owned(),
            action,
            reasons,
            key: key.map(|k| k.short()),
        });
    }
    Ok(out)
}

/// Why a stage's key differs from its most recent recorded execution.
fn explain(
    runs: &[RunRecord],
    name: &str,
    version: &str,
    params: &serde_json::Value,
    inputs: &BTreeMap<String, ContentHash>,
) -> Vec<String> {
    let prev = runs
        .iter()
        .rev()
        .filter_map(|r| r.stages.get(name))
        .find(|s| s.key.is_some() && matches!(s.status, StageStatus::Ran | StageStatus::Cached));
    let Some(prev) = prev else { return vec!["no previous execution recorded".into()] };
    let mut reasons = Vec::new();
    if prev.version != version {
        reasons.push(format!("stage version changed: {} -> {version}", prev.version));
    }
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten("", &prev.params, &mut a);
    flatten("", params, &mut b);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (old, new) = (a.get(k), b.get(k));
        if old != new {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(unset)".into());
            reasons.push(format!("param `{k}` changed: {} -> {}", show(old), show(new)));
        }
    }
    let names: BTreeSet<&String> = prev.inputs.keys().chain(inputs.keys()).collect();
    for n in names {
        let (old, new) = (prev.inputs.get(n), inputs.get(n));
        if old != new {
            let show = |h: Option<&ContentHash>| h.map_or_else(|| "(none)".into(), ContentHash::short);
            reasons.push(format!("input `{n}` changed: {} -> {}", show(old), show(new)));
        }
    }
    if reasons.is_empty() {
        reasons.push("outputs of the last execution are no longer in the store".into());
    }
    reasons
}

/// Flattens JSON into dotted paths -> compact JSON text.
pub fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&p, v, out);
            }
        }
        other => {
            out.insert(if prefix.is_empty() { ".".into() } else { prefix.to_owned() }, other.to_string());
        }
    }
}
