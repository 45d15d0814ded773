//! The `evaluate` stage: a thin [`Stage`] over [`evaluate_model`].

use esteira_core::{OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, parse_params};
use esteira_train::Model;

use crate::EvaluateError;
use crate::model_eval::{EvaluateParams, evaluate_model_with};

/// The stage kind.
pub const KIND: &str = "evaluate";

/// Evaluates a model (input `model`, the esteira-train JSON artifact) on a test split (input
/// `test`, Parquet), and fits on the training split (input `train`, the table the model was
/// trained on) the inference model behind the effects' intervals and the Platt calibrator.
/// Outputs `metrics` (json), `report` (html), `predictions` (parquet), `inference` (json: the
/// effects with every figure), `calibration` (json: the calibrator `serve` applies) and the
/// charts `confusion`, `roc`, `pr`, `effects` (a forest plot), `reliability` (svg).
#[derive(Debug, Clone)]
pub struct EvaluateStage {
    params: Params<EvaluateParams>,
}

impl EvaluateStage {
    /// A stage with typed params.
    pub fn new(params: EvaluateParams) -> Result<Self, esteira_core::CoreError> {
        Ok(Self { params: Params::new(KIND, params)? })
    }

    /// Builds the stage from pipeline-file params (JSON); errors name the offending key.
    pub fn from_params(value: serde_json::Value) -> Result<Self, esteira_core::CoreError> {
        let params: EvaluateParams = parse_params(KIND, value)?;
        params.validate().map_err(|e| match e {
            EvaluateError::Param { key, message } => {
                esteira_core::CoreError::Param { kind: KIND.into(), key: key.into(), message }
            }
            other => esteira_core::CoreError::Param { kind: KIND.into(), key: ".".into(), message: other.to_string() },
        })?;
        Self::new(params)
    }
}

impl Stage for EvaluateStage {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn version(&self) -> &'static str {
        // 2: the report explains the odds ratios of binned numeric columns.
        // 3: metrics.json and the report carry the model's training summary.
        // 4: metrics format 2 (names that field); "after outlier removal" only when rows were.
        // 5: numeric text in the test split is read by esteira_core::parse_number (through
        //    esteira-train's predict, as train 7 reads it): `1.500` is rejected as ambiguous.
        // 6: input `train`; the inference model's effects with clustered intervals (forest plot,
        //    `inference` output), calibration (reliability diagram, ECE, Platt `calibration`
        //    output), metrics format 3.
        // 7: the ECE intervals come from the metric bootstrap's resamples (the same seed: one
        //    draw for every interval, paired), not from a stream of their own.
        "7"
    }

    fn inputs(&self) -> Vec<String> {
        vec!["model".into(), "test".into(), "train".into()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![
            OutputSpec::new("metrics", "json"),
            OutputSpec::new("report", "html"),
            OutputSpec::new("predictions", "parquet"),
            OutputSpec::new("confusion", "svg"),
            OutputSpec::new("roc", "svg"),
            OutputSpec::new("pr", "svg"),
            OutputSpec::new("effects", "svg"),
            OutputSpec::new("reliability", "svg"),
            OutputSpec::new("inference", "json"),
            OutputSpec::new("calibration", "json"),
        ]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let model_path = ctx.input("model")?.path.clone();
        let model = Model::from_json(&ctx.read_bytes("model")?)
            .map_err(|e| StageError::msg(format!("input `model` ({}): {e}", model_path.display())))?;
        let (schema, batches) = ctx.read_table("test")?.into_parts();
        let (_, train) = ctx.read_table("train")?.into_parts();
        ctx.progress().set_message("scoring the test split, fitting the inference model");
        // The predictions are encoded as Parquet (what `write_table` writes) while the bootstrap
        // runs.
        let (out, predictions) = evaluate_model_with(&model, &schema, &batches, Some(&train), &self.params, |p| {
            esteira_core::table::write_parquet(Vec::new(), &p.schema(), std::slice::from_ref(p))
        })?;
        let s = &out.evaluation.scores;
        ctx.metric("rows", s.rows);
        ctx.metric("accuracy", s.model.accuracy);
        ctx.metric("balanced_accuracy", s.model.balanced_accuracy);
        ctx.metric("roc_auc", s.model.roc_auc);
        ctx.metric("average_precision", s.model.average_precision);
        ctx.metric("log_loss", s.model.log_loss);
        ctx.metric("brier_score", s.model.brier_score);
        ctx.metric("f1_macro", s.model.classes.macro_avg.f1);
        ctx.metric("baseline_accuracy", s.baseline.metrics.accuracy);
        ctx.metric("baseline_balanced_accuracy", s.baseline.metrics.balanced_accuracy);
        if let Some(i) = s.intervals.roc_auc {
            ctx.metric("roc_auc_lower", i.lower);
            ctx.metric("roc_auc_upper", i.upper);
        }
        if let Some(i) = s.intervals.balanced_accuracy {
            ctx.metric("balanced_accuracy_lower", i.lower);
            ctx.metric("balanced_accuracy_upper", i.upper);
        }
        let c = &out.evaluation.calibration;
        ctx.metric("ece", c.model.ece);
        if let Some(cal) = &c.calibrated {
            ctx.metric("ece_calibrated", cal.ece);
            ctx.metric("brier_score_calibrated", cal.brier_score);
        }
        if let Some(fx) = &out.evaluation.effects {
            ctx.metric("effects_excluding_one", fx.distinguishable().count());
            ctx.metric("inference_converged", fx.converged);
        }
        ctx.write_json("metrics", &out.evaluation)?;
        ctx.write_json("inference", &out.evaluation.effects)?;
        ctx.write_json("calibration", &out.calibrator)?;
        ctx.write_bytes("report", out.report_html.as_bytes())?;
        ctx.write_bytes("predictions", &predictions?)?;
        ctx.write_bytes("confusion", out.charts.confusion.as_bytes())?;
        ctx.write_bytes("roc", out.charts.roc.as_bytes())?;
        ctx.write_bytes("pr", out.charts.pr.as_bytes())?;
        ctx.write_bytes("effects", out.charts.effects.as_bytes())?;
        ctx.write_bytes("reliability", out.charts.reliability.as_bytes())?;
        Ok(())
    }
}

/// Registers the `evaluate` kind.
pub fn register(registry: &mut Registry) -> Result<(), esteira_core::CoreError> {
    registry.register(StageFactory {
        kind: KIND,
        summary: "metrics (sklearn-exact) with bootstrap intervals and a majority baseline, odds ratios with \
                  clustered intervals (inference model on the training split), calibration (reliability, ECE, \
                  Platt), permutation importance, SVG charts and an HTML report",
        build: |params| Ok(Box::new(EvaluateStage::from_params(params)?)),
    })?;
    Ok(())
}
