//! The store's run records as serve reads them: a run's stages in order, which of them
//! completed, the model a stage produced (by media kind), and objects re-hashed as they are read.

use esteira_core::{ArtifactStore, ContentHash, RunRecord, StageRecord, StageStatus, media};

use crate::ServeError;

/// The stage kind whose `model` output is served in records older than media kinds (now: any
/// stage's output of media kind [`media::MODEL`]).
pub const TRAIN_KIND: &str = "train";
/// The stage kind whose `metrics` output and metric map describe the model on the test split.
pub const EVALUATE_KIND: &str = "evaluate";

pub(crate) fn usable(s: &StageRecord) -> bool {
    matches!(s.status, StageStatus::Ran | StageStatus::Cached)
}

/// Stages of a run in execution order (then any the order does not list, by name).
pub(crate) fn stages_in_order(run: &RunRecord) -> Vec<(&str, &StageRecord)> {
    let mut out: Vec<(&str, &StageRecord)> =
        run.order.iter().filter_map(|n| run.stages.get(n).map(|s| (n.as_str(), s))).collect();
    for (n, s) in &run.stages {
        if !run.order.contains(n) {
            out.push((n, s));
        }
    }
    out
}

/// The stage's model: its output declared of media kind `model` (whatever the stage's kind),
/// or, in records older than media kinds, a `train` stage's `model` output.
pub(crate) fn model_output(s: &StageRecord) -> Option<ContentHash> {
    let declared = s.output_media.iter().find(|(_, m)| m.as_str() == media::MODEL);
    match declared {
        Some((name, _)) => s.outputs.get(name).copied(),
        None if s.kind == TRAIN_KIND && s.output_media.is_empty() => s.outputs.get("model").copied(),
        None => None,
    }
}

/// The bytes of object `hash`, re-hashed: `verify_object` hashed the file a moment ago, and
/// hashing the bytes we parse closes the window in which it could have changed.
pub(crate) fn read_verified(store: &dyn ArtifactStore, hash: &ContentHash) -> Result<Vec<u8>, ServeError> {
    store.verify_object(hash)?;
    let path = store.object_path(hash)?;
    let bytes = std::fs::read(&path).map_err(|e| ServeError::io(path.display().to_string(), e))?;
    let actual = ContentHash::of_bytes(&bytes);
    if actual != *hash {
        return Err(esteira_core::CoreError::Corrupt { expected: hash.to_hex(), actual: actual.to_hex() }.into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn stage(kind: &str, outputs: &[(&str, &[u8])], media: &[(&str, &str)]) -> StageRecord {
        StageRecord {
            kind: kind.into(),
            version: "1".into(),
            params: serde_json::json!({}),
            key: None,
            status: StageStatus::Ran,
            input_sources: BTreeMap::new(),
            inputs: BTreeMap::new(),
            outputs: outputs.iter().map(|(n, b)| ((*n).to_owned(), ContentHash::of_bytes(b))).collect(),
            output_files: BTreeMap::new(),
            output_media: media.iter().map(|(n, m)| ((*n).to_owned(), (*m).to_owned())).collect(),
            metrics: BTreeMap::new(),
            start_ms: 0.0,
            end_ms: 0.0,
            error: None,
            remote_hit: false,
            job: None,
        }
    }

    #[test]
    fn a_model_is_found_by_its_media_kind_whatever_the_stage_kind() {
        let custom = stage("my.trainer", &[("fitted", b"m"), ("log", b"l")], &[("fitted", media::MODEL)]);
        assert_eq!(model_output(&custom), Some(ContentHash::of_bytes(b"m")));
        // A record from before media kinds: train's `model` output.
        assert_eq!(model_output(&stage("train", &[("model", b"t")], &[])), Some(ContentHash::of_bytes(b"t")));
        // An output called `model` is not a model unless it says so, or is train's.
        assert_eq!(model_output(&stage("command", &[("model", b"c")], &[])), None);
        assert_eq!(model_output(&stage("train", &[("model", b"t")], &[("cv", "report")])), None);
    }
}
