//! The `check` stage run through a real local store, and the CLI helpers on real files.

use super::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use esteira_checks::{CheckError, EXIT_BAD_INPUT, ValidationResult, cli, register};
use esteira_core::{ArtifactStore, InputArtifact, LocalStore, Registry, StageContext};
use serde_json::json;

const ORIGINAL: &str = include_str!("../data/students_expects.json");

fn schema_suite() -> String {
    json!({"expectation_suite_name": "raw", "expectations": [
        {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "sexo"}},
        {"expectation_type": "expect_column_values_to_be_in_set", "kwargs": {"column": "sexo", "value_set": ["F", "M"]}},
        {"expectation_type": "expect_column_values_to_be_of_type", "kwargs": {"column": "renda", "type_": "int64"}}
    ]})
    .to_string()
}

fn parquet_bytes(rows: usize) -> Vec<u8> {
    let (schema, batches) = common::students(rows, 256, 11);
    esteira_core::table::write_parquet(Vec::new(), &schema, &batches).unwrap()
}

struct Run {
    result: Result<esteira_core::StageOutcome, String>,
    /// What the stage had committed when it returned (kept by the orchestrator on failure).
    committed: BTreeMap<String, esteira_core::ContentHash>,
    store: Arc<LocalStore>,
    _dir: tempfile::TempDir,
}

fn run_stage(params: serde_json::Value, table: &[u8], suite: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("store")).unwrap());
    let mut registry = Registry::new();
    register(&mut registry).unwrap();
    let stage = registry.build("check", params).unwrap();
    let mut inputs = BTreeMap::new();
    for (name, bytes) in [("table", table), ("suite", suite.as_bytes())] {
        let hash = store.put_bytes(bytes).unwrap();
        inputs.insert(name.to_owned(), InputArtifact { hash, path: store.object_path(&hash).unwrap() });
    }
    let mut ctx = StageContext::new("check_raw", inputs, stage.outputs(), store.clone());
    let outcome = stage.run(&mut ctx);
    let committed = ctx.committed_outputs();
    let result = match outcome {
        Ok(()) => ctx.finish().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Run { result, committed, store, _dir: dir }
}

fn output(run: &Run, name: &str) -> Vec<u8> {
    let out = run.result.as_ref().unwrap();
    std::fs::read(run.store.object_path(&out.outputs[name]).unwrap()).unwrap()
}

#[test]
fn passing_suite_passes_the_table_through_byte_for_byte() {
    let table = parquet_bytes(600);
    let run = run_stage(json!({}), &table, &schema_suite());
    let outcome = run.result.as_ref().unwrap();
    assert_eq!(output(&run, "table"), table);
    let result = ValidationResult::from_json(std::str::from_utf8(&output(&run, "result")).unwrap()).unwrap();
    assert!(result.success);
    assert_eq!(outcome.metrics["evaluated"], json!(3));
    assert_eq!(outcome.metrics["successful"], json!(3));
    assert_eq!(outcome.metrics["unsuccessful"], json!(0));
    assert_eq!(outcome.metrics["success_percent"], json!(100.0));
    let html = String::from_utf8(output(&run, "report")).unwrap();
    assert!(html.contains("PASSED") && html.contains("<svg"));
    // Deterministic: a second run writes the same objects.
    let again = run_stage(json!({}), &table, &schema_suite());
    assert_eq!(again.result.unwrap().outputs, outcome.outputs);
}

#[test]
fn severity_error_fails_naming_the_expectations_and_warn_continues() {
    let table = parquet_bytes(300);
    let failed = run_stage(json!({"severity": "error"}), &table, ORIGINAL);
    let err = failed.result.as_ref().unwrap_err();
    assert!(err.contains("stage `check_raw`") && err.contains("students_expects"), "{err}");
    assert!(err.contains("#1 expect_table_row_count_to_be_between: observed 300, expected 11543;"), "{err}");
    assert!(err.contains("expect_column_mean_to_be_between(renda)"), "{err}");
    // Every output is written before the stage fails, so the failed check's report is kept.
    assert_eq!(failed.committed.keys().collect::<Vec<_>>(), ["report", "result", "table"]);
    let report = std::fs::read_to_string(failed.store.object_path(&failed.committed["report"]).unwrap()).unwrap();
    assert!(report.contains("FAILED — students_expects"), "{report}");

    let run = run_stage(json!({"severity": "warn"}), &table, ORIGINAL);
    let outcome = run.result.as_ref().unwrap();
    assert_eq!(outcome.metrics["evaluated"], json!(39));
    assert!(outcome.metrics["unsuccessful"].as_u64().unwrap() > 0);
    let html = String::from_utf8(output(&run, "report")).unwrap();
    assert!(html.contains("FAILED — students_expects"));
}

#[test]
fn csv_input_is_detected_typed_and_leaves_as_parquet() {
    let csv = b"sexo;renda;bolsa\nF;1200;True\nM;800;False\nF;;True\n";
    let suite = json!({"expectation_suite_name": "csv", "expectations": [
        {"expectation_type": "expect_column_values_to_be_of_type", "kwargs": {"column": "renda", "type_": "float64"}},
        {"expectation_type": "expect_column_values_to_be_of_type", "kwargs": {"column": "bolsa", "type_": "bool"}},
        {"expectation_type": "expect_column_sum_to_be_between", "kwargs": {"column": "renda", "min_value": 2000, "max_value": 2000}}
    ]})
    .to_string();
    let run = run_stage(json!({}), csv, &suite);
    assert!(run.result.is_ok(), "{:?}", run.result.as_ref().err());
    // The output is the typed table as Parquet, whatever the input format.
    let table = output(&run, "table");
    assert_eq!(&table[..4], b"PAR1");
    let path = run.store.object_path(&run.result.as_ref().unwrap().outputs["table"]).unwrap();
    let (schema, batches) = esteira_core::table::read_parquet(&path).unwrap().into_parts();
    let types: Vec<String> = schema.fields().iter().map(|f| format!("{}:{}", f.name(), f.data_type())).collect();
    assert_eq!(types, ["sexo:Utf8", "renda:Float64", "bolsa:Boolean"]);
    assert_eq!(batches.iter().map(arrow::array::RecordBatch::num_rows).sum::<usize>(), 3);
}

#[test]
fn bad_inputs_and_params_are_clear_errors() {
    let err = run_stage(json!({}), &parquet_bytes(10), "{\"expectations\": 3}").result.unwrap_err();
    assert!(err.contains("input `suite`") && err.contains("expectation_suite_name"), "{err}");
    let mut registry = Registry::new();
    register(&mut registry).unwrap();
    let err = registry.build("check", json!({"severity": "loud"})).err().unwrap().to_string();
    assert!(err.contains("severity"), "{err}");
    let err = registry.build("check", json!({"sevrity": "warn"})).err().unwrap().to_string();
    assert!(err.contains("sevrity"), "{err}");
    let stage = registry.build("check", json!(null)).unwrap();
    assert_eq!(stage.params(), json!({"severity": "error"}), "defaults are filled in");
}

#[test]
fn cli_validate_writes_outputs_and_maps_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.parquet");
    std::fs::write(&table, parquet_bytes(200)).unwrap();
    let suite = dir.path().join("s.json");
    std::fs::write(&suite, schema_suite()).unwrap();
    let (json_out, html_out) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let outcome = cli::run_validate(&table, &suite, Some(&json_out), Some(&html_out));
    assert_eq!(cli::exit_code(&outcome), 0);
    assert!(std::fs::read_to_string(&html_out).unwrap().contains("PASSED"));
    assert!(ValidationResult::from_json(&std::fs::read_to_string(&json_out).unwrap()).unwrap().success);

    std::fs::write(&suite, ORIGINAL).unwrap();
    let outcome = cli::run_validate(&table, &suite, None, None);
    assert_eq!(cli::exit_code(&outcome), 1);
    assert!(cli::summary(outcome.as_ref().unwrap()).starts_with("FAILED students_expects"));

    let missing = dir.path().join("missing.csv");
    let outcome = cli::run_validate(&missing, &suite, None, None);
    assert_eq!(cli::exit_code(&outcome), EXIT_BAD_INPUT);
    assert!(matches!(outcome, Err(CheckError::Io { .. })));
    std::fs::write(&suite, "{\"expectation_suite_name\": \"s\", \"expectations\": [{\"expectation_type\": \"nope\"}]}")
        .unwrap();
    let err = cli::run_validate(&table, &suite, None, None).unwrap_err().to_string();
    assert!(err.contains("s.json") && err.contains("expectation 0"), "{err}");

    // profile -> a suite the same table passes.
    let profiled = dir.path().join("p.json");
    cli::run_profile(&table, &profiled, &esteira_checks::ProfileOptions::default()).unwrap();
    let outcome = cli::run_validate(&table, &profiled, None, None);
    assert_eq!(cli::exit_code(&outcome), 0, "{}", cli::summary(outcome.as_ref().unwrap()));
}
