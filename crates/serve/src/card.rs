//! The model card served at `GET /api/model`, built once when the model is loaded.

use esteira_train::{InputColumn, InputKind};
use serde_json::{Value, json};

use crate::form;
use crate::load::LoadedModel;

/// The model card served at `GET /api/model`.
pub(crate) fn model_card(loaded: &LoadedModel, columns: &[InputColumn]) -> Vec<u8> {
    let m = &loaded.model;
    let inputs: Vec<Value> = columns
        .iter()
        .map(|c| match &c.kind {
            InputKind::Numeric { min, max, median } => json!({
                "name": c.name, "label": form::label(&c.name), "kind": "numeric",
                "min": min, "max": max, "median": median,
            }),
            InputKind::Categorical { categories } => json!({
                "name": c.name, "label": form::label(&c.name), "kind": "categorical", "categories": categories,
            }),
        })
        .collect();
    let evaluation = loaded.evaluation.as_ref().map(|e| {
        json!({
            "stage": e.stage,
            "metrics_hash": e.metrics_hash.map(|h| h.to_hex()),
            "report_hash": e.report_hash.map(|h| h.to_hex()),
        })
    });
    let card = json!({
        "model_hash": loaded.hash.to_hex(),
        "run_id": loaded.run_id,
        "train_stage": loaded.train_stage,
        "algorithm": m.algorithm(),
        "target": m.target(),
        "positive_class": m.positive_class(),
        "negative_class": m.negative_class(),
        "threshold": m.threshold(),
        "threshold_rule": m.threshold_rule(),
        "group": m.group(),
        "inputs": inputs,
        "feature_names": m.feature_names(),
        "feature_effects": m.feature_effects(),
        "training": m.training(),
        "test_metrics": loaded.evaluation.as_ref().map(|e| &e.metrics),
        "calibration": loaded.calibration.card(),
        "evaluation": evaluation,
        "caveat": "A statistical model of UFRN's 2020.5 remote semester: it shows associations between a profile \
                   and the outcome, not causes, and it is often wrong; do not use it to decide about a person.",
    });
    let mut v = serde_json::to_vec_pretty(&card).unwrap_or_default();
    v.push(b'\n');
    v
}
