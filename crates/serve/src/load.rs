//! Finding the model to serve in the store: the latest succeeded run's, a chosen run's, or a
//! model named by hash, with the test metrics the same run recorded for it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use esteira_core::{ArtifactStore, ContentHash, RunRecord, RunStatus, media};
use esteira_train::Model;

use crate::ServeError;
use crate::calibration::{self, Calibration};
use crate::record::{EVALUATE_KIND, model_output, read_verified, stages_in_order, usable};

/// A model read from the store (hash verified) and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The model.
    pub model: Arc<Model>,
    /// The hash of the model artifact.
    pub hash: ContentHash,
    /// The run the model was taken from (`None` for a model named by hash that no run lists).
    pub run_id: Option<String>,
    /// The train stage's name in that run.
    pub train_stage: Option<String>,
    /// The evaluation of this model in the same run, if there is one.
    pub evaluation: Option<Evaluation>,
    /// The calibrator the same run's evaluate stage fitted for this model, or why there is none.
    pub calibration: Calibration,
}

/// What an `evaluate` stage recorded about the served model.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The evaluate stage's name.
    pub stage: String,
    /// Its metric map from the run record (accuracy, balanced_accuracy, roc_auc, rows …).
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Hash of its full `metrics` JSON output.
    pub metrics_hash: Option<ContentHash>,
    /// Hash of its HTML `report` output.
    pub report_hash: Option<ContentHash>,
}

/// The stages of a run that produced a model: (stage name, model hash), in execution order.
fn models_of(run: &RunRecord) -> Vec<(String, ContentHash)> {
    stages_in_order(run)
        .into_iter()
        .filter(|(_, s)| usable(s))
        .filter_map(|(n, s)| model_output(s).map(|h| (n.to_owned(), h)))
        .collect()
}

fn evaluation_of(run: &RunRecord, model: &ContentHash) -> Option<Evaluation> {
    let evaluates: Vec<_> =
        stages_in_order(run).into_iter().filter(|(_, s)| s.kind == EVALUATE_KIND && usable(s)).collect();
    // Prefer the evaluate stage fed this exact model; a run with one evaluate stage and an
    // input named differently still describes its model.
    let chosen = evaluates
        .iter()
        .find(|(_, s)| s.inputs.values().any(|h| h == model))
        .or_else(|| if evaluates.len() == 1 { evaluates.first() } else { None })?;
    let (name, s) = chosen;
    Some(Evaluation {
        stage: (*name).to_owned(),
        metrics: s.metrics.clone(),
        metrics_hash: s.outputs.get("metrics").copied(),
        report_hash: s.outputs.get("report").copied(),
    })
}

impl LoadedModel {
    /// Loads the model to serve from `store`:
    /// - `model` (a hash or a unique prefix of one): that model; the newest run that trained it
    ///   (if any) supplies the test metrics;
    /// - else `run` (an id, a unique prefix or `latest`): that run's trained model;
    /// - else the model of the newest *succeeded* run that trained one.
    ///
    /// When both are given, the model must be one the run trained. The object is re-hashed
    /// before use, so a corrupted artifact is refused. The calibrator comes from the same run's
    /// evaluate stage that was fed this model ([`Calibration`]); a calibration file that cannot
    /// be used is an error ([`ServeError::Calibration`]), a run without one is not.
    pub fn load(store: &dyn ArtifactStore, run: Option<&str>, model: Option<&str>) -> Result<Self, ServeError> {
        Self::load_with(store, run, model, true)
    }

    /// [`LoadedModel::load`]; with `calibrate` false the calibrator is not read at all (the
    /// way past a calibration file that cannot be used).
    pub fn load_with(
        store: &dyn ArtifactStore,
        run: Option<&str>,
        model: Option<&str>,
        calibrate: bool,
    ) -> Result<Self, ServeError> {
        let (hash, run_rec, train_stage) = match (run, model) {
            (_, Some(query)) => {
                let (hash, found) = resolve_model(store, query)?;
                let found = match (run, found) {
                    (Some(run_id), _) => {
                        let rec = store.run_get(run_id)?;
                        let stage = models_of(&rec).into_iter().find(|(_, h)| *h == hash).map(|(n, _)| n);
                        let Some(stage) = stage else {
                            return Err(ServeError::Model {
                                query: query.to_owned(),
                                reason: format!("run {} did not train this model", rec.id),
                            });
                        };
                        Some((rec, stage))
                    }
                    (None, found) => found,
                };
                match found {
                    Some((rec, stage)) => (hash, Some(rec), Some(stage)),
                    None => (hash, None, None),
                }
            }
            (Some(run_id), None) => {
                let rec = store.run_get(run_id)?;
                let Some((stage, hash)) = models_of(&rec).into_iter().next() else {
                    return Err(ServeError::NoModel {
                        store: store.describe(),
                        reason: format!(
                            "run {} has no stage that produced a model (an output of media kind `{}`, as `train`'s)",
                            rec.id,
                            media::MODEL
                        ),
                    });
                };
                if rec.status != RunStatus::Succeeded {
                    tracing::warn!(run = %rec.id, status = rec.status.as_str(), "serving the model of a run that did not succeed");
                }
                (hash, Some(rec), Some(stage))
            }
            (None, None) => {
                let runs = store.run_list()?;
                let total = runs.len();
                let newest = runs
                    .into_iter()
                    .rev()
                    .filter(|r| r.status == RunStatus::Succeeded)
                    .find_map(|r| models_of(&r).into_iter().next().map(|(stage, hash)| (stage, hash, r)));
                let Some((stage, hash, rec)) = newest else {
                    return Err(ServeError::NoModel {
                        store: store.describe(),
                        reason: format!(
                            "none of its {total} run(s) succeeded with a stage that produces a model (`train`); run `esteira run` first"
                        ),
                    });
                };
                (hash, Some(rec), Some(stage))
            }
        };
        let bytes = read_verified(store, &hash)?;
        let model = Model::from_json(&bytes)?;
        let evaluation = run_rec.as_ref().and_then(|r| evaluation_of(r, &hash));
        let calibration = if calibrate {
            calibration::of_run(store, run_rec.as_ref(), &hash, model.positive_class())?
        } else {
            Calibration::unavailable("calibration was turned off with --no-calibration")
        };
        match calibration.reason() {
            None => tracing::info!(model = %hash.short(), "calibrated probabilities from the evaluate stage"),
            Some(reason) => tracing::info!(model = %hash.short(), reason, "no calibrated probability"),
        }
        tracing::info!(
            model = %hash.short(),
            run = run_rec.as_ref().map_or("-", |r| r.id.as_str()),
            "loaded model"
        );
        Ok(Self { model: Arc::new(model), hash, run_id: run_rec.map(|r| r.id), train_stage, evaluation, calibration })
    }
}

/// A model hash from a full hash or a prefix of one that some run trained; with the newest run
/// (succeeded runs first) that trained it.
fn resolve_model(
    store: &dyn ArtifactStore,
    query: &str,
) -> Result<(ContentHash, Option<(RunRecord, String)>), ServeError> {
    let q = query.trim().to_ascii_lowercase();
    if q.is_empty() || !q.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServeError::Model {
            query: query.to_owned(),
            reason: "not a hash or hash prefix (hex digits)".into(),
        });
    }
    let runs = store.run_list()?;
    let mut matches = BTreeSet::new();
    for r in &runs {
        for (_, h) in models_of(r) {
            if h.to_hex().starts_with(&q) {
                matches.insert(h);
            }
        }
    }
    if matches.is_empty()
        && let Ok(h) = q.parse::<ContentHash>()
        && store.contains(&h)
    {
        // A model object no run lists (e.g. put in the store by hand): serve it without context.
        return Ok((h, None));
    }
    let hash = match matches.len() {
        1 => matches
            .into_iter()
            .next()
            .ok_or_else(|| ServeError::Model { query: query.to_owned(), reason: "no model matches".into() })?,
        0 => {
            return Err(ServeError::Model {
                query: query.to_owned(),
                reason: format!("no stage of the {} run(s) in the store produced it as a model", runs.len()),
            });
        }
        n => {
            return Err(ServeError::Model {
                query: query.to_owned(),
                reason: format!("ambiguous: {n} models start with it; give more digits"),
            });
        }
    };
    let producer = |want_succeeded: bool| {
        runs.iter()
            .rev()
            .filter(|r| !want_succeeded || r.status == RunStatus::Succeeded)
            .find_map(|r| models_of(r).into_iter().find(|(_, h)| *h == hash).map(|(stage, _)| (r.clone(), stage)))
    };
    Ok((hash, producer(true).or_else(|| producer(false))))
}
