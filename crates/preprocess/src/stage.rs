//! The `preprocess` stage: a thin [`Stage`] over [`crate::apply_stream`].

use esteira_core::table::ParquetFile;
use esteira_core::{
    CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, parse_params,
};

use crate::{Spec, apply_stream, input_columns};

/// The stage kind in pipeline files.
pub const KIND: &str = "preprocess";

/// Input `table` (Parquet) -> output `table` (Parquet), params = a [`Spec`].
#[derive(Debug, Clone)]
pub struct PreprocessStage {
    spec: Params<Spec>,
}

impl PreprocessStage {
    /// A stage running `spec` (checked with [`Spec::validate`]).
    pub fn new(spec: Spec) -> Result<Self, crate::PreprocessError> {
        spec.validate()?;
        Ok(Self { spec: Params::new(KIND, spec)? })
    }

    /// Builds the stage from pipeline-file params; errors name the offending key.
    pub fn from_params(params: serde_json::Value) -> Result<Self, CoreError> {
        let spec: Spec = parse_params(KIND, params)?;
        Self::new(spec).map_err(|e| CoreError::Param {
            kind: KIND.to_owned(),
            key: e.step().map_or_else(|| "steps".to_owned(), |s| format!("steps[{}]", s - 1)),
            message: e.to_string(),
        })
    }

    /// The recipe.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}

impl Stage for PreprocessStage {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn version(&self) -> &'static str {
        // 2: casts read text with esteira_core::parse_number/parse_integer (one policy with
        //    train and serve): float64 rejects `1.234` (was 1.234) as ambiguous and reads
        //    `1.234,5`, `1,234.5`, `1.234.567` and `1,` (were errors); `-0` is 0; int64 reads
        //    `1.234.567`.
        "2"
    }

    fn inputs(&self) -> Vec<String> {
        vec!["table".to_owned()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("table", "parquet")]
    }

    fn params(&self) -> serde_json::Value {
        self.spec.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        // Streamed, and only the columns a leading `select` keeps: the merged table whole
        // (every column) was the stage's peak, 9.8 GB at `synth --scale 1000`.
        let file = ParquetFile::open(&ctx.input("table")?.path)?;
        let columns = input_columns(&self.spec, &file.schema())?;
        ctx.progress().set_message(&format!("{} steps over {} rows", self.spec.steps.len(), file.rows()));
        let batches = file.batches(columns.as_deref())?;
        let schema = batches.schema();
        let out = apply_stream(&self.spec, &schema, batches)?;
        for (name, value) in out.report.metrics() {
            ctx.metric(&name, value);
        }
        tracing::info!(
            stage = ctx.stage_name(),
            rows_in = out.report.rows_in,
            rows_out = out.report.rows_out,
            "preprocess done"
        );
        ctx.write_table("table", &out.schema, &out.batches)?;
        Ok(())
    }
}

/// Registers the `preprocess` kind.
pub fn register(registry: &mut Registry) -> Result<(), CoreError> {
    registry.register(StageFactory {
        kind: KIND,
        summary: "select, cast, filter, map and fill columns of a table, in declared steps",
        build: |params| Ok(Box::new(PreprocessStage::from_params(params)?)),
    })?;
    Ok(())
}
