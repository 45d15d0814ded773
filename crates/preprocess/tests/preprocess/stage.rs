//! The `preprocess` stage through a real `StageContext` and `LocalStore`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use esteira_core::{ArtifactStore, InputArtifact, LocalStore, Registry, StageContext};
use serde_json::json;

fn ufrn_params() -> serde_json::Value {
    json!({ "steps": [
        { "select": ["id_discente", "ano_nascimento", "raca", "renda", "descricao"] },
        { "cast": { "ano_nascimento": "int64", "renda": { "type": "float64", "on_error": "null" } } },
        { "filter": { "column": "descricao", "not_in": ["INDEFERIDO"] } },
        { "map": { "column": "descricao", "values": {
            "APROVADO": "APROVADO", "APROVADO POR NOTA": "APROVADO", "REPROVADO": "FALHOU",
            "REPROVADO POR MÉDIA E POR FALTAS": "FALHOU", "REPROVADO POR NOTA E FALTA": "FALHOU",
            "CANCELADO": "FALHOU", "EXCLUIDA": "FALHOU" } } },
        { "fill": { "raca": "Não Informado" } },
    ]})
}

fn input_table() -> (Arc<Schema>, RecordBatch) {
    let col = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let schema = Arc::new(Schema::new(
        ["id_discente", "sexo", "ano_nascimento", "raca", "renda", "descricao"]
            .map(|n| Field::new(n, DataType::Utf8, true))
            .to_vec(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            col(vec![Some("1"), Some("1"), Some("2"), Some("3")]),
            col(vec![Some("F"), Some("F"), Some("M"), Some("M")]),
            col(vec![Some("1998"), Some("1998"), Some("2001"), Some("1990")]),
            col(vec![Some("Pardo"), Some("Pardo"), None, Some("Branco")]),
            col(vec![Some("1725,50"), Some("1725,50"), Some("n/d"), Some("0")]),
            col(vec![Some("APROVADO POR NOTA"), Some("INDEFERIDO"), Some("CANCELADO"), Some("APROVADO")]),
        ],
    )
    .unwrap();
    (schema, batch)
}

#[test]
fn stage_runs_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    let (schema, batch) = input_table();
    let bytes = esteira_core::table::write_parquet(Vec::new(), &schema, &[batch]).unwrap();
    let hash = store.put_bytes(&bytes).unwrap();
    let inputs =
        BTreeMap::from([("table".to_owned(), InputArtifact { hash, path: store.object_path(&hash).unwrap() })]);

    let mut registry = Registry::new();
    esteira_preprocess::register(&mut registry).unwrap();
    let stage = registry.build("preprocess", ufrn_params()).unwrap();
    assert_eq!(stage.inputs(), ["table"]);
    // Canonical params: the short cast form is written out in full.
    assert_eq!(stage.params()["steps"][1]["cast"]["ano_nascimento"], json!({"type": "int64", "on_error": "error"}));

    let run = || {
        let mut ctx = StageContext::new("preprocess", inputs.clone(), stage.outputs(), store.clone());
        stage.run(&mut ctx).unwrap();
        ctx.finish().unwrap()
    };
    let outcome = run();
    assert_eq!(outcome.metrics["rows_in"], json!(4));
    assert_eq!(outcome.metrics["rows_out"], json!(3));
    assert_eq!(outcome.metrics["step02.cast.renda.set_null"], json!(1));
    assert_eq!(outcome.metrics["step05.fill.raca.filled"], json!(1));

    let (out_schema, batches) =
        esteira_core::table::read_parquet(&store.object_path(&outcome.outputs["table"]).unwrap()).unwrap().into_parts();
    assert_eq!(out_schema.fields().len(), 5);
    let b = esteira_core::table::concat(&out_schema, &batches).unwrap();
    let outcome_col: Vec<_> = b.column(4).as_string::<i32>().iter().flatten().collect();
    assert_eq!(outcome_col, ["APROVADO", "FALHOU", "APROVADO"]);
    assert_eq!(b.column(1).as_primitive::<Int64Type>().values().to_vec(), [1998, 2001, 1990]);

    // Same input and params: byte-identical output.
    assert_eq!(run().outputs["table"], outcome.outputs["table"]);
}

#[test]
fn bad_params_name_the_step() {
    let mut registry = Registry::new();
    esteira_preprocess::register(&mut registry).unwrap();
    let err = registry.build("preprocess", json!({ "steps": [{ "select": [] }] })).err().unwrap();
    assert_eq!(err.to_string(), "stage kind `preprocess`: param `steps[0]`: step 1 (select): selects no columns");
    let err = registry.build("preprocess", json!({ "steps": [{ "cast": { "x": "int" } }] })).err().unwrap();
    assert!(err.to_string().contains("steps[0].cast.x"), "{err}");
}

#[test]
fn an_input_that_is_not_parquet_or_lacks_a_selected_column_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    let mut registry = Registry::new();
    esteira_preprocess::register(&mut registry).unwrap();
    let stage = registry.build("preprocess", ufrn_params()).unwrap();
    let run = |bytes: &[u8]| {
        let hash = store.put_bytes(bytes).unwrap();
        let path = store.object_path(&hash).unwrap();
        let inputs = BTreeMap::from([("table".to_owned(), InputArtifact { hash, path: path.clone() })]);
        let mut ctx = StageContext::new("preprocess", inputs, stage.outputs(), store.clone());
        (stage.run(&mut ctx).expect_err("the stage fails").to_string(), path)
    };
    let (err, path) = run(b"id_discente;sexo\n1;F\n");
    assert!(err.contains(&path.display().to_string()), "{err}");

    // A table without `descricao`: the recipe's own error, listing what the table has.
    let (schema, batch) = input_table();
    let keep: Vec<usize> = (0..schema.fields().len() - 1).collect();
    let bytes = esteira_core::table::write_parquet(
        Vec::new(),
        &Arc::new(schema.project(&keep).unwrap()),
        &[batch.project(&keep).unwrap()],
    )
    .unwrap();
    let (err, _) = run(&bytes);
    assert!(err.contains("no column named `descricao`") && err.contains("`sexo`"), "{err}");
}
