//! The `train` stage: the [`train`](crate::train) function behind the Stage contract.

use esteira_core::{OutputSpec, Params, Stage, StageContext, StageError, StageFactory, parse_params};

use crate::TrainError;
use crate::params::TrainParams;

/// Stage kind `train`: input `train` (Parquet), outputs `model` (JSON artifact) and `cv`
/// (JSON: cross-validation scores per grid point).
#[derive(Debug, Clone)]
pub struct TrainStage {
    params: Params<TrainParams>,
}

impl TrainStage {
    /// Builds the stage from pipeline-file params (defaults filled, then checked).
    pub fn from_params(value: serde_json::Value) -> Result<Self, esteira_core::CoreError> {
        let params: TrainParams = parse_params("train", value)?;
        params.validate().map_err(|e| match e {
            TrainError::Param { key, message } => esteira_core::CoreError::Param { kind: "train".into(), key, message },
            other => {
                esteira_core::CoreError::Param { kind: "train".into(), key: ".".into(), message: other.to_string() }
            }
        })?;
        Self::new(params)
    }

    /// A stage with these params.
    pub fn new(params: TrainParams) -> Result<Self, esteira_core::CoreError> {
        Ok(Self { params: Params::new("train", params)? })
    }
}

impl Stage for TrainStage {
    fn kind(&self) -> &'static str {
        "train"
    }

    fn version(&self) -> &'static str {
        // 2: logistic regression defaults to our L-BFGS (`logistic.solver`); artifact format 2.
        // 3: `balance = "weight"` (class weights in the L-BFGS objective); the `balance` metric.
        // 4: LOF is fitted on each CV fold's training rows and folds are scored on all their
        //    rows (held-out rows are never filtered); `lof.enabled = "cv"`.
        // 5: the `cv_folds` metric in the artifact.
        // 6: a numeric feature whose scaling statistics overflow (values near f64::MAX) is an
        //    error naming the column and row (its scaled values were NaN or all zero).
        // 7: numeric text is read by esteira_core::parse_number, as preprocess and serve read it:
        //    `1.500`/`1,500` (read as 1.5) are rejected as ambiguous, `1.500,50` (an error) is
        //    1500.5, `1.234.567` is 1234567, `-0` is 0.
        // 8: faster fits, the same model up to the solver's tolerance (the bits differ): our
        //    L-BFGS sums the loss once per distinct feature row with its rows' weights (a
        //    different summation order; `ln` with a rounding correction instead of `ln_1p`);
        //    CV fits of consecutive logistic regressions start from the previous alpha's
        //    solution (warm start along the alpha path); LOF neighbours tied at the k-th
        //    distance are the lower rows (was the k-d tree's visiting order).
        "8"
    }

    fn inputs(&self) -> Vec<String> {
        vec!["train".into()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("model", "json").with_media(esteira_core::media::MODEL), OutputSpec::new("cv", "json")]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let hash = ctx.input("train")?.hash.to_hex();
        let (_, batches) = ctx.read_table("train")?.into_parts();
        ctx.progress().set_message("fitting features, outliers, cross-validation");
        let trained = crate::train(&self.params, &batches, &hash)?;
        ctx.write_bytes("model", &trained.model.to_json())?;
        ctx.write_json("cv", &trained.cv)?;
        for (k, v) in &trained.metrics {
            ctx.metric(k, v);
        }
        ctx.metric("algorithm", trained.model.algorithm());
        let balance = self.params.balance.effective(&trained.model.training().selected, self.params.logistic.solver);
        ctx.metric("balance", balance.as_str());
        if let Some(solver) = trained.model.solver() {
            ctx.metric("solver", solver.as_str());
        }
        Ok(())
    }
}

/// Registers kind `train`.
pub fn register(registry: &mut esteira_core::Registry) -> Result<(), esteira_core::CoreError> {
    registry.register(StageFactory {
        kind: "train",
        summary: "fit the feature pipeline, remove LOF outliers, choose a model by CV, write the model artifact",
        build: |params| Ok(Box::new(TrainStage::from_params(params)?)),
    })?;
    Ok(())
}
