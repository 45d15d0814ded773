//! The JSON records kept beside the objects: cache records and run records.

use std::collections::BTreeMap;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ContentHash, OutputSpec};

/// What one execution of a stage produced, stored under its cache key.
///
/// Written only after every output object is durably in the store, so a record never points
/// at a missing or partial object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// BLAKE3 of the canonical JSON {kind, version, params, inputs}.
    pub key: ContentHash,
    /// The stage kind.
    pub kind: String,
    /// The stage version.
    pub version: String,
    /// The canonical params.
    pub params: serde_json::Value,
    /// Input name -> content hash.
    pub inputs: BTreeMap<String, ContentHash>,
    /// Output name -> content hash.
    pub outputs: BTreeMap<String, ContentHash>,
    /// Metrics the stage recorded.
    #[serde(default)]
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Private state of a volatile stage (e.g. HTTP validators), carried to its next run.
    #[serde(default)]
    pub state: serde_json::Value,
    /// Wall time of the execution that produced it.
    pub duration_ms: f64,
    /// The run that produced it.
    pub run_id: String,
    /// The stage name in that run.
    pub stage: String,
}

impl CacheRecord {
    /// Why this record cannot be the one stored under `key`, if it cannot: it names another
    /// key, or its kind, version, params and inputs do not hash to `key` (a record copied or
    /// edited by hand).
    pub fn key_problem(&self, key: &ContentHash) -> Option<String> {
        if self.key != *key {
            return Some(format!("it names key {}, not {}", self.key.short(), key.short()));
        }
        let actual = crate::cache_key(&self.kind, &self.version, &self.params, &self.inputs);
        (actual != *key)
            .then(|| format!("its kind, version, params and inputs hash to {}, not its key", actual.short()))
    }
}

/// What a cache key is computed from ([`crate::cache_key`]): a stage's kind, version, params and
/// input hashes.
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    /// The stage kind.
    pub kind: &'a str,
    /// The stage version.
    pub version: &'a str,
    /// The canonical params.
    pub params: &'a serde_json::Value,
    /// Input name -> content hash.
    pub inputs: &'a BTreeMap<String, ContentHash>,
}

impl CacheRecord {
    /// [`Self::key_problem`], given what `key` was computed from: a record naming `key` whose
    /// kind, version, params and inputs are exactly those parts (params as canonical JSON spells
    /// them: `1` is not `1.0`, `-0.0` is not `0.0`) hashes to it without being hashed again; any
    /// other record is hashed.
    pub fn key_problem_for(&self, key: &ContentHash, parts: &KeyParts<'_>) -> Option<String> {
        let same = self.key == *key
            && self.kind == parts.kind
            && self.version == parts.version
            && self.inputs == *parts.inputs
            && same_json(&self.params, parts.params);
        if same { None } else { self.key_problem(key) }
    }
}

/// Whether two JSON values have the same canonical JSON (numbers compared by kind and bits,
/// objects by keys and values whatever their order).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::String(x), V::String(y)) => x == y,
        (V::Number(x), V::Number(y)) => {
            (x.as_u64(), x.as_i64(), x.as_f64().map(f64::to_bits))
                == (y.as_u64(), y.as_i64(), y.as_f64().map(f64::to_bits))
                && x.is_f64() == y.is_f64()
        }
        (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => false,
    }
}

/// What the store records about one output of a cache record beside the record itself, and
/// checks before the record is used: the extension the stage declared and the object's size.
///
/// Kept in the record's file under `output_meta` (older records have none) rather than as a
/// field of [`CacheRecord`], so that code building records by hand keeps compiling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMeta {
    /// The declared extension (`parquet`, `json`; empty for none); `None` when the record was
    /// written without the stage's declaration at hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    /// The object's size in bytes.
    pub size: u64,
}

/// A cache record with what the store recorded about its outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    /// The record.
    pub record: CacheRecord,
    /// Output name -> its declared extension and size; empty for records written before
    /// esteira kept them.
    pub meta: BTreeMap<String, OutputMeta>,
}

impl CacheEntry {
    /// Why the record does not fit a stage declaring `declared` outputs, if it does not: other
    /// output names, or another extension recorded for one of them.
    pub fn declared_problem(&self, declared: &[OutputSpec]) -> Option<String> {
        let names: Vec<&str> = declared.iter().map(|o| o.name.as_str()).collect();
        let recorded: Vec<&str> = self.record.outputs.keys().map(String::as_str).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        if sorted != recorded {
            return Some(format!(
                "it lists outputs [{}], the stage declares [{}]",
                recorded.join(", "),
                names.join(", ")
            ));
        }
        for spec in declared {
            if let Some(ext) = self.meta.get(&spec.name).and_then(|m| m.ext.as_deref())
                && ext != spec.ext
            {
                return Some(format!(
                    "output `{}` is recorded as `.{ext}`, the stage declares `.{}`",
                    spec.name, spec.ext
                ));
            }
        }
        None
    }
}

/// A record file that cannot be used: it was skipped (with a warning) wherever records are
/// read, and `esteira verify` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// Every record of one kind in the store: the usable ones and the files that are not.
#[derive(Debug, Clone)]
pub struct RecordScan<T> {
    /// The usable records.
    pub records: Vec<T>,
    /// The files that are not.
    pub bad: Vec<BadRecord>,
}

/// How a stage ended within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Executed and succeeded.
    Ran,
    /// Served from the cache (or, for a volatile stage, revalidated unchanged).
    Cached,
    /// Executed and failed.
    Failed,
    /// Not executed because an upstream stage failed, or excluded by `--until`/`--only`.
    Skipped,
}

impl StageStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ran => "ran",
            Self::Cached => "cached",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// One stage within a run record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage kind.
    pub kind: String,
    /// The stage version.
    pub version: String,
    /// The canonical params.
    pub params: serde_json::Value,
    /// The cache key (absent when the stage was skipped before its inputs were known).
    pub key: Option<ContentHash>,
    /// How it ended.
    pub status: StageStatus,
    /// Input name -> where it came from (`stage.output` or `file:path`).
    pub input_sources: BTreeMap<String, String>,
    /// Input name -> content hash.
    pub inputs: BTreeMap<String, ContentHash>,
    /// Output name -> content hash.
    pub outputs: BTreeMap<String, ContentHash>,
    /// Output name -> file name used when materialised (`table.parquet`).
    pub output_files: BTreeMap<String, String>,
    /// Output name -> its declared media kind, for the outputs that declare one
    /// ([`crate::media::MODEL`]). Absent (empty) in older records and for stages without any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_media: BTreeMap<String, String>,
    /// Metrics (from the execution, or from the cache record on a hit).
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Milliseconds from run start to stage start.
    pub start_ms: f64,
    /// Milliseconds from run start to stage end.
    pub end_ms: f64,
    /// The error chain of a failed stage, or why it was skipped.
    pub error: Option<String>,
    /// A cache hit served by the remote under the local store (`--remote`): its record and
    /// outputs were downloaded in this run. Absent (false) in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remote_hit: bool,
    /// The batch job that executed the stage (`slurm:12345` under `run --executor slurm`);
    /// absent for stages executed in the esteira process, cache hits and older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// How a whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going (or killed; see `Interrupted`).
    Running,
    /// Every selected stage ran or was cached.
    Succeeded,
    /// At least one stage failed.
    Failed,
    /// The process died before finishing; found and marked by the next writer.
    Interrupted,
}

impl RunStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// How the esteira binary that wrote a run record was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The target triple (`x86_64-unknown-linux-gnu`); empty when unknown.
    #[serde(default)]
    pub target: String,
    /// The cargo profile: `debug` or `release`; empty when unknown.
    #[serde(default)]
    pub profile: String,
}

/// The record of one `esteira run` (or `reproduce`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Sortable id: `YYYYMMDDTHHMMSSZ-xxxx`.
    pub id: String,
    /// How it ended.
    pub status: RunStatus,
    /// The pipeline file, as given.
    pub pipeline: String,
    /// BLAKE3 of the pipeline file's bytes.
    pub config_hash: ContentHash,
    /// The esteira version that ran it.
    pub esteira_version: String,
    /// How that esteira was built (target triple, profile): with the esteira and stage
    /// versions, what explains a run that does not reproduce elsewhere. Empty in records
    /// written before esteira kept it.
    #[serde(default)]
    pub build: BuildInfo,
    /// The command line.
    pub command: String,
    /// Host name.
    pub host: String,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    pub ended_at: Option<String>,
    /// Stage names in execution (topological) order.
    pub order: Vec<String>,
    /// The `-S/--set STAGE.KEY=VALUE` overrides the run's pipeline was loaded with, in order
    /// (their values are in the stages' params too). Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// The sweep this run belongs to (`esteira sweep`): absent for a plain run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepTag>,
    /// Stage name -> record.
    pub stages: BTreeMap<String, StageRecord>,
}

/// How a run belongs to a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepTag {
    /// The sweep's name (`--name`, or one made from its start time).
    pub name: String,
    /// The variant's index in the sweep, from 0; absent on the sweep's own run, which executed
    /// every variant's stages together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<usize>,
    /// The swept params and this variant's values (`train.alpha` -> `0.1`); on the sweep's own
    /// run, each swept param's values.
    pub params: BTreeMap<String, serde_json::Value>,
}

impl RunRecord {
    /// Counts of stages per status.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for s in self.stages.values() {
            *m.entry(s.status.as_str()).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_is_the_same_only_when_its_canonical_form_is() {
        let same = |a: serde_json::Value, b: serde_json::Value| {
            let canonical = crate::canonical_json(&a) == crate::canonical_json(&b);
            assert_eq!(same_json(&a, &b), canonical, "{a} vs {b}");
            canonical
        };
        assert!(same(json!({"a": 1, "b": [1.5, "x", null]}), json!({"b": [1.5, "x", null], "a": 1})));
        assert!(!same(json!(1), json!(1.0)));
        assert!(!same(json!(0.0), json!(-0.0)));
        assert!(!same(json!(-1), json!(1)));
        assert!(!same(json!({"a": 1}), json!({"a": 1, "b": 2})));
        assert!(!same(json!([1, 2]), json!([2, 1])));
        assert!(!same(json!(u64::MAX), json!(-1)));
    }

    #[test]
    fn a_record_made_of_other_parts_is_hashed() {
        let params = json!({"x": 0.0});
        let inputs = BTreeMap::new();
        let key = crate::cache_key("k", "1", &params, &inputs);
        let record = CacheRecord {
            key,
            kind: "k".into(),
            version: "1".into(),
            params: params.clone(),
            inputs: inputs.clone(),
            outputs: BTreeMap::new(),
            metrics: BTreeMap::new(),
            state: serde_json::Value::Null,
            duration_ms: 0.0,
            run_id: "r".into(),
            stage: "s".into(),
        };
        let parts = KeyParts { kind: "k", version: "1", params: &params, inputs: &inputs };
        assert_eq!(record.key_problem_for(&key, &parts), None);
        // Edited to -0.0 (numerically equal, another key): found out by hashing.
        let edited = CacheRecord { params: json!({"x": -0.0}), ..record.clone() };
        assert!(edited.key_problem_for(&key, &parts).is_some());
        assert_eq!(edited.key_problem_for(&key, &parts), edited.key_problem(&key));
        let other = crate::cache_key("k", "2", &params, &inputs);
        assert!(record.key_problem_for(&other, &parts).is_some());
    }
}
