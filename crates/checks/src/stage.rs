//! The `check` stage: validates a table against a suite inside a pipeline.

use esteira_core::{
    CoreError, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, parse_params,
};
use serde::{Deserialize, Serialize};

use crate::validate::validate_parquet;
use crate::{CheckError, Suite, input, render_html, validate_and_profile};

/// What a failing suite does to the pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The stage fails with an error naming the failed expectations (counts, percentages,
    /// examples); descendants do not run. Its result and report are written first, and the
    /// orchestrator keeps them (`latest/<stage>/report.html`).
    #[default]
    Error,
    /// The failure is recorded (result, report, metrics, a warning) and the pipeline continues.
    Warn,
}

/// Params of the `check` stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    /// `"error"` (default) or `"warn"`.
    #[serde(default)]
    pub severity: Severity,
}

/// The `check` stage. Inputs `table` (Parquet, or CSV detected by content) and `suite` (GE
/// legacy JSON); outputs `table` (the input's exact bytes, so descendants consume the validated
/// table), `result` (GE result JSON) and `report` (HTML). Metrics: `evaluated`, `successful`,
/// `unsuccessful`, `success_percent`.
#[derive(Debug, Clone)]
pub struct CheckStage {
    params: Params<CheckParams>,
}

/// The stage kind.
pub const CHECK_KIND: &str = "check";

/// How many failed expectations a failing check's error describes in full (count, percentage,
/// examples); the others are named only.
const DETAILED_FAILURES: usize = 5;

impl CheckStage {
    /// A stage with these params.
    pub fn new(params: CheckParams) -> Result<Self, CoreError> {
        Ok(Self { params: Params::new(CHECK_KIND, params)? })
    }

    /// Builds the stage from pipeline-file params (errors name the offending key).
    pub fn from_params(params: serde_json::Value) -> Result<Self, CoreError> {
        Self::new(parse_params(CHECK_KIND, params)?)
    }
}

impl Stage for CheckStage {
    fn kind(&self) -> &'static str {
        CHECK_KIND
    }

    fn version(&self) -> &'static str {
        // 2: a CSV input leaves as the Parquet table that was validated (was: the CSV bytes).
        "2"
    }

    fn inputs(&self) -> Vec<String> {
        vec!["table".into(), "suite".into()]
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("table", "parquet"), OutputSpec::new("result", "json"), OutputSpec::new("report", "html")]
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let stage = ctx.stage_name().to_owned();
        let bytes = ctx.read_bytes("table")?;
        let parquet = input::is_parquet(&bytes);
        let csv =
            if parquet { None } else { Some(input::read_csv(&bytes, &format!("stage `{stage}` input `table`"))?) };
        let suite_bytes = ctx.read_bytes("suite")?;
        let suite_name = format!("stage `{stage}` input `suite`");
        let text = std::str::from_utf8(&suite_bytes).map_err(|e| CheckError::SuiteFormat {
            source_name: suite_name.clone(),
            message: format!("not UTF-8: {e}"),
        })?;
        let suite = Suite::from_json_named(text, &suite_name)?;
        ctx.progress().set_message("validating");
        // A Parquet table is read for the columns the suite needs only.
        let (result, columns) = match &csv {
            Some(t) => validate_and_profile(&t.schema, &t.batches, &suite),
            None => validate_parquet(&ctx.input("table")?.path.clone(), &suite)?,
        };
        // Downstream stages read Parquet: a Parquet input passes through byte for byte, a CSV
        // one leaves as the typed table that was validated.
        match &csv {
            None => ctx.write_bytes("table", &bytes)?,
            Some(t) => ctx.write_table("table", &t.schema, &t.batches)?,
        };
        ctx.write_bytes("result", result.to_json().as_bytes())?;
        ctx.write_bytes("report", render_html(&result, &columns).as_bytes())?;
        let st = &result.statistics;
        ctx.metric("evaluated", st.evaluated_expectations);
        ctx.metric("successful", st.successful_expectations);
        ctx.metric("unsuccessful", st.unsuccessful_expectations);
        ctx.metric("success_percent", st.success_percent);
        if !result.success {
            // The outputs above are written first: the orchestrator keeps them when the stage
            // fails, so the report of a failed check can be opened.
            let failed = result.failure_summary(DETAILED_FAILURES);
            match self.params.severity {
                Severity::Error => {
                    return Err(CheckError::SuiteFailed {
                        stage,
                        suite: suite.expectation_suite_name.clone(),
                        failed_count: result.failed().count(),
                        evaluated: result.results.len(),
                        failed,
                    }
                    .into());
                }
                Severity::Warn => {
                    tracing::warn!(stage = %stage, suite = %suite.expectation_suite_name, failed = %failed, "suite failed (severity warn)");
                }
            }
        }
        Ok(())
    }
}

/// Registers the `check` stage kind.
pub fn register(registry: &mut Registry) -> Result<(), CoreError> {
    registry.register(StageFactory {
        kind: CHECK_KIND,
        summary: "validate a table against a Great Expectations suite (result JSON + HTML report)",
        build: |params| Ok(Box::new(CheckStage::from_params(params)?)),
    })?;
    Ok(())
}
