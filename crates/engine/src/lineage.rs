//! Lineage from run records: which stage execution produced an object, the stages it needs
//! (its closure), and that closure as a tree (`esteira show`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use esteira_core::{ContentHash, RunRecord, StageRecord, StageStatus};

/// The recorded stage execution that produced an object.
#[derive(Debug, Clone)]
pub struct Producer {
    /// The run it is recorded in.
    pub run: RunRecord,
    /// The stage.
    pub stage: String,
    /// Its output name.
    pub output: String,
}

/// Where a stage input came from, read off its recorded source (`stage.output`, `file:path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource<'a> {
    /// Another stage's output.
    Stage {
        /// The stage.
        stage: &'a str,
        /// Its output.
        output: &'a str,
    },
    /// A local file (or a source spelled in a way this version does not know).
    External(&'a str),
}

/// Reads a recorded input source. Stage names cannot contain `.`, so the first dot splits.
pub fn input_source(src: &str) -> InputSource<'_> {
    if src.starts_with("file:") {
        return InputSource::External(src);
    }
    match src.split_once('.') {
        Some((stage, output)) => InputSource::Stage { stage, output },
        None => InputSource::External(src),
    }
}

/// The newest run in which a stage that ran or was served from the cache lists `hash` as an
/// output (`runs` oldest first, as the store lists them).
pub fn producer(runs: &[RunRecord], hash: &ContentHash) -> Option<Producer> {
    for run in runs.iter().rev() {
        for name in &run.order {
            let Some(s) = run.stages.get(name) else { continue };
            if !matches!(s.status, StageStatus::Ran | StageStatus::Cached) {
                continue;
            }
            if let Some((output, _)) = s.outputs.iter().find(|(_, h)| *h == hash) {
                return Some(Producer { run: run.clone(), stage: name.clone(), output: output.clone() });
            }
        }
    }
    None
}

/// `stage` and every stage of the run it takes inputs from, directly or not, in the run's order.
pub fn closure(run: &RunRecord, stage: &str) -> Vec<String> {
    let mut needed = BTreeSet::new();
    let mut todo = vec![stage.to_owned()];
    while let Some(name) = todo.pop() {
        if !needed.insert(name.clone()) {
            continue;
        }
        let Some(s) = run.stages.get(&name) else { continue };
        for src in s.input_sources.values() {
            if let InputSource::Stage { stage, .. } = input_source(src)
                && run.stages.contains_key(stage)
            {
                todo.push(stage.to_owned());
            }
        }
    }
    run.order.iter().filter(|n| needed.contains(*n)).cloned().collect()
}

/// The closure of `p` as a tree: the object, then each input of its stage, depth first. A stage
/// reached a second time is shown once with `(see above)`; `external` says which stages read an
/// external source (their recorded bytes are what a reproduction starts from).
pub fn tree(p: &Producer, external: &dyn Fn(&StageRecord) -> bool) -> String {
    let mut out = String::new();
    let mut shown = BTreeSet::new();
    let Some(s) = p.run.stages.get(&p.stage) else { return out };
    let hash = s.outputs.get(&p.output).map(ContentHash::short).unwrap_or_default();
    let _ = writeln!(out, "{}.{} {hash} {}", p.stage, p.output, label(s, external(s)));
    node(&p.run, &p.stage, "", &mut shown, external, &mut out);
    out
}

fn label(s: &StageRecord, external: bool) -> String {
    format!("[{} v{}{}]", s.kind, s.version, if external { ", external source" } else { "" })
}

fn node(
    run: &RunRecord,
    name: &str,
    prefix: &str,
    shown: &mut BTreeSet<String>,
    external: &dyn Fn(&StageRecord) -> bool,
    out: &mut String,
) {
    shown.insert(name.to_owned());
    let Some(s) = run.stages.get(name) else { return };
    let n = s.inputs.len();
    for (i, (input, hash)) in s.inputs.iter().enumerate() {
        let last = i + 1 == n;
        let (branch, more) = if last { ("└── ", "    ") } else { ("├── ", "│   ") };
        let src = s.input_sources.get(input).map_or("?", String::as_str);
        let line = match input_source(src) {
            InputSource::Stage { stage, .. } => match run.stages.get(stage) {
                Some(up) if shown.contains(stage) => {
                    format!("{src} {} {} (see above)", hash.short(), label(up, external(up)))
                }
                Some(up) => format!("{src} {} {}", hash.short(), label(up, external(up))),
                None => format!("{src} {} (stage not in the run)", hash.short()),
            },
            InputSource::External(f) => format!("{f} {} [file]", hash.short()),
        };
        let _ = writeln!(out, "{prefix}{branch}{line}  ← input `{input}`");
        if let InputSource::Stage { stage, .. } = input_source(src)
            && run.stages.contains_key(stage)
            && !shown.contains(stage)
        {
            node(run, stage, &format!("{prefix}{more}"), shown, external, out);
        }
    }
}
