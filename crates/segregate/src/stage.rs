//! The `segregate` stage: a thin [`Stage`] over [`crate::split_table`].

use esteira_core::{
    CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, parse_params,
};

use crate::{SegregateParams, split_table};

/// The stage kind in pipeline files.
pub const KIND: &str = "segregate";

/// Input `table` (Parquet) -> outputs `train` and `test` (Parquet), params = [`SegregateParams`].
#[derive(Debug, Clone)]
pub struct SegregateStage {
    params: Params<SegregateParams>,
}

impl SegregateStage {
    /// A stage with these params (the fraction is checked now, columns when it runs).
    pub fn new(params: SegregateParams) -> Result<Self, crate::SegregateError> {
        params.options().validate()?;
        Ok(Self { params: Params::new(KIND, params)? })
    }

    /// Builds the stage from pipeline-file params; errors name the offending key.
    pub fn from_params(params: serde_json::Value) -> Result<Self, CoreError> {
        let p: SegregateParams = parse_params(KIND, params)?;
        Self::new(p).map_err(|e| CoreError::Param {
            kind: KIND.to_owned(),
            key: "test_fraction".into(),
            message: e.to_string(),
        })
    }

    /// The params.
    pub fn params(&self) -> &SegregateParams {
        &self.params
    }
}

impl Stage for SegregateStage {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn inputs(&self) -> Vec<String> {
        vec!["table".to_owned()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("train", "parquet"), OutputSpec::new("test", "parquet")]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let (schema, batches) = ctx.read_table("table")?.into_parts();
        ctx.progress().set_message("splitting");
        let out = split_table(&schema, batches, &self.params)?;
        for (name, value) in out.report.metrics() {
            ctx.metric(&name, value);
        }
        tracing::info!(
            stage = ctx.stage_name(),
            train = out.report.rows.train,
            test = out.report.rows.test,
            "split done"
        );
        ctx.write_table("train", &out.schema, &out.train)?;
        ctx.write_table("test", &out.schema, &out.test)?;
        Ok(())
    }
}

/// Registers the `segregate` kind.
pub fn register(registry: &mut Registry) -> Result<(), CoreError> {
    registry.register(StageFactory {
        kind: KIND,
        summary: "seeded, stratified (optionally grouped) train/test split of a table",
        build: |params| Ok(Box::new(SegregateStage::from_params(params)?)),
    })?;
    Ok(())
}
