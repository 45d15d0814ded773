//! The `segregate` stage through a real `StageContext` and `LocalStore`, and table-level errors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use esteira_core::{ArtifactStore, InputArtifact, LocalStore, Registry, StageContext};
use esteira_segregate::{SegregateParams, split_table};
use serde_json::json;

/// 60 students with 1–3 enrolments each; about one enrolment in five fails.
fn enrolments() -> (SchemaRef, RecordBatch) {
    let mut ids = Vec::new();
    let mut outcome = Vec::new();
    for student in 0..60i64 {
        for k in 0..=(student % 3) {
            ids.push(1000 + student);
            outcome.push(if (student + k) % 5 == 0 { "FALHOU" } else { "APROVADO" });
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("id_discente", DataType::Int64, false),
        Field::new("descricao", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(outcome))],
    )
    .unwrap();
    (schema, batch)
}

#[test]
fn stage_writes_train_and_test_with_class_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    let (schema, batch) = enrolments();
    let total = batch.num_rows();
    let bytes = esteira_core::table::write_parquet(Vec::new(), &schema, &[batch]).unwrap();
    let hash = store.put_bytes(&bytes).unwrap();
    let inputs =
        BTreeMap::from([("table".to_owned(), InputArtifact { hash, path: store.object_path(&hash).unwrap() })]);

    let mut registry = Registry::new();
    esteira_segregate::register(&mut registry).unwrap();
    let stage =
        registry.build("segregate", json!({ "target": "descricao", "seed": 42, "group": "id_discente" })).unwrap();
    assert_eq!(
        stage.params(),
        json!({ "target": "descricao", "test_fraction": 0.3, "seed": 42, "stratify": true, "group": "id_discente" })
    );

    let run = || {
        let mut ctx = StageContext::new("segregate", inputs.clone(), stage.outputs(), store.clone());
        stage.run(&mut ctx).unwrap();
        ctx.finish().unwrap()
    };
    let outcome = run();
    let read = |name: &str| {
        let (s, b) = esteira_core::table::read_parquet(&store.object_path(&outcome.outputs[name]).unwrap())
            .unwrap()
            .into_parts();
        esteira_core::table::concat(&s, &b).unwrap()
    };
    let (train, test) = (read("train"), read("test"));
    assert_eq!(train.num_rows() + test.num_rows(), total);
    let ids = |b: &RecordBatch| -> BTreeSet<i64> {
        b.column(0).as_primitive::<Int64Type>().values().iter().copied().collect()
    };
    assert!(ids(&train).is_disjoint(&ids(&test)), "a student on both sides");
    let m = &outcome.metrics;
    assert_eq!(m["train.rows"], json!(train.num_rows()));
    assert_eq!(m["test.rows"], json!(test.num_rows()));
    let failed_test = test.column(1).as_string::<i32>().iter().filter(|v| *v == Some("FALHOU")).count();
    assert_eq!(m["test.class.FALHOU"], json!(failed_test));
    assert!(failed_test > 0);
    assert_eq!(m["train.groups"].as_u64().unwrap() + m["test.groups"].as_u64().unwrap(), 60);
    // Input order is kept on each side.
    let train_ids = train.column(0).as_primitive::<Int64Type>();
    assert!(train_ids.values().windows(2).all(|w| w[0] <= w[1]));

    let again = run();
    assert_eq!(again.outputs, outcome.outputs, "same seed, same bytes");
}

#[test]
fn bad_params_fail_when_the_stage_is_built() {
    let mut registry = Registry::new();
    esteira_segregate::register(&mut registry).unwrap();
    let err = registry.build("segregate", json!({ "target": "y", "test_fraction": 1.0 })).err().unwrap();
    assert_eq!(
        err.to_string(),
        "stage kind `segregate`: param `test_fraction`: test_fraction must be in (0, 1), got 1"
    );
    let err = registry.build("segregate", json!({ "target": "y", "fraction": 0.2 })).err().unwrap();
    assert!(err.to_string().contains("unknown field `fraction`"), "{err}");
}

#[test]
fn table_errors_name_columns_and_rows() {
    let (schema, batch) = enrolments();
    let err = split_table(&schema, vec![batch.clone()], &SegregateParams::new("outcome")).unwrap_err();
    assert_eq!(err.to_string(), "target column `outcome` does not exist (available: `id_discente`, `descricao`)");
    let params = SegregateParams { group: Some("student".into()), ..SegregateParams::new("descricao") };
    let err = split_table(&schema, vec![batch], &params).unwrap_err();
    assert_eq!(err.to_string(), "group column `student` does not exist (available: `id_discente`, `descricao`)");

    let y = StringArray::from(vec![Some("A"), Some("A"), None, Some("B"), Some("B"), Some("C")]);
    let schema = Arc::new(Schema::new(vec![Field::new("y", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(y)]).unwrap();
    let err = split_table(&schema, vec![batch.clone()], &SegregateParams::new("y")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "target column `y` has 1 null value (the first at row 3); fill or filter them before splitting, or set stratify = false"
    );
    let plain = SegregateParams { stratify: false, ..SegregateParams::new("y") };
    let out = split_table(&schema, vec![batch.clone()], &plain).unwrap();
    assert_eq!(out.report.classes["null"].train + out.report.classes["null"].test, 1);

    let no_nulls =
        arrow::compute::filter_record_batch(&batch, &arrow::compute::is_not_null(batch.column(0)).unwrap()).unwrap();
    let err = split_table(&schema, vec![no_nulls], &SegregateParams::new("y")).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"stratifying on `y` needs at least 2 rows per class; too few: "C" (1 row); drop or merge these classes, or set stratify = false"#
    );
}

#[test]
fn huge_class_names_are_cut_in_errors() {
    // Twenty single-row classes of 1 MB each used to make a 20 MB error line.
    let mut classes: Vec<String> = (0..20).map(|i| format!("{i}{}", "x".repeat(1 << 20))).collect();
    classes.extend(["A".to_owned(), "A".to_owned()]);
    let schema = Arc::new(Schema::new(vec![Field::new("y", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(classes))]).unwrap();
    let err = split_table(&schema, vec![batch], &SegregateParams::new("y")).unwrap_err().to_string();
    assert!(err.len() < 2_000, "{} bytes", err.len());
    assert!(err.starts_with("stratifying on `y` needs at least 2 rows per class; too few: \"0xxx"), "{}", &err[..200]);
    assert!(err.contains("chars]") && err.ends_with("or set stratify = false"), "{}", &err[..200]);
}
