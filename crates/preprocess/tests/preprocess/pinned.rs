//! Pins the exact output (Parquet bytes and metrics) of several recipes on a generated fixture.
//! Cache keys assume a recipe's output never changes for the same input: a faster kernel must
//! produce the same bytes. If a change is meant to alter output, bump the stage version and
//! update these hashes deliberately.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_core::ContentHash;
use esteira_preprocess::{Spec, apply};
use esteira_testkit::XorShift;
use serde_json::json;

/// Three batches of uneven sizes (one empty) with nulls, blanks, bad numbers and every outcome.
fn fixture() -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("sexo", DataType::Utf8, true),
        Field::new("ano", DataType::Utf8, true),
        Field::new("raca", DataType::Utf8, true),
        Field::new("renda", DataType::Utf8, true),
        Field::new("flag", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("large", DataType::LargeUtf8, true),
        Field::new("descricao", DataType::Utf8, true),
    ]));
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let mut batches = Vec::new();
    for rows in [700usize, 0, 1500, 37] {
        let mut cols: [Vec<Option<String>>; 9] = Default::default();
        let mut ints = Vec::new();
        for _ in 0..rows {
            let r = rng.next_u64();
            cols[0].push(Some(format!("{}", 1000 + r % 300)));
            cols[1].push(rng.pick(&[Some("F"), Some("M"), None]).map(str::to_owned));
            cols[2].push(
                rng.pick(&[Some("1990"), Some(" 2001 "), Some(""), None, Some("19x0"), Some("1985")]).map(Into::into),
            );
            cols[3].push(rng.pick(&[Some("Pardo"), Some("Branco"), None, Some("Indígena")]).map(str::to_owned));
            cols[4].push(match r % 9 {
                0 => None,
                1 => Some("abc".to_owned()),
                2 => Some("1,234".to_owned()),
                3 => Some(String::new()),
                4 | 5 => Some(format!("{},{:02}", (r >> 8) % 9000, (r >> 30) % 100)),
                _ => Some(format!("{}", (r >> 8) % 9000)),
            });
            cols[5]
                .push(rng.pick(&[Some("true"), Some("f"), Some("False"), Some("x"), None, Some("t")]).map(Into::into));
            ints.push((!(r >> 20).is_multiple_of(7)).then_some(((r >> 24) % 5) as i64));
            cols[7].push(rng.pick(&[Some("1"), Some("2.0"), None, Some("q")]).map(str::to_owned));
            cols[8].push(
                rng.pick(&[
                    Some("APROVADO"),
                    Some("APROVADO POR NOTA"),
                    Some("INDEFERIDO"),
                    Some("REPROVADO"),
                    Some("CANCELADO"),
                    Some("TRANCADO"),
                    None,
                ])
                .map(str::to_owned),
            );
        }
        let text = |v: &Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(v.clone())) };
        let arrays: Vec<ArrayRef> = vec![
            text(&cols[0]),
            text(&cols[1]),
            text(&cols[2]),
            text(&cols[3]),
            text(&cols[4]),
            text(&cols[5]),
            Arc::new(Int64Array::from(ints)),
            Arc::new(LargeStringArray::from(cols[7].clone())),
            text(&cols[8]),
        ];
        batches.push(RecordBatch::try_new(schema.clone(), arrays).unwrap());
    }
    (schema, batches)
}

fn recipes() -> Vec<serde_json::Value> {
    let outcomes = json!({ "APROVADO": "APROVADO", "APROVADO POR NOTA": "APROVADO", "REPROVADO": "FALHOU",
                           "CANCELADO": "FALHOU" });
    vec![
        // The UFRN shape.
        json!([
            { "select": ["id", "sexo", "ano", "raca", "renda", "flag", "descricao"] },
            { "cast": { "ano": { "type": "int64", "on_error": "null" }, "renda": { "type": "float64", "on_error": "null" },
                        "flag": { "type": "bool", "on_error": "null" } } },
            { "filter": { "column": "descricao", "not_in": ["INDEFERIDO"] } },
            { "map": { "column": "descricao", "values": outcomes, "unmapped": "keep" } },
            { "fill": { "raca": "Não Informado", "sexo": "?" } },
        ]),
        // Drops in the cast and the map, filters on typed columns, fills of typed columns.
        json!([
            { "cast": { "ano": { "type": "int64", "on_error": "drop" }, "renda": { "type": "float64", "on_error": "drop" },
                        "n": "float64", "large": { "type": "int64", "on_error": "drop" } } },
            { "filter": { "column": "descricao", "ne": "INDEFERIDO" } },
            { "map": { "column": "descricao", "values": outcomes, "unmapped": "drop" } },
            { "filter": { "column": "n", "in": [1, 2, 3] } },
            { "fill": { "ano": 1900, "renda": -1.5, "large": 0 } },
            { "select": ["descricao", "ano", "renda", "large", "id"] },
        ]),
        // Null tests, bool fills and a utf8 cast.
        json!([
            { "filter": { "column": "raca", "is_not_null": true } },
            { "cast": { "flag": { "type": "bool", "on_error": "null" }, "n": "utf8", "id": "int64" } },
            { "filter": { "column": "sexo", "is_null": true } },
            { "fill": { "flag": false, "n": "none", "descricao": "?" } },
            { "filter": { "column": "id", "eq": 1100 } },
        ]),
        json!([
            { "filter": { "column": "descricao", "in": ["APROVADO", "REPROVADO"] } },
            { "cast": { "n": { "type": "bool", "on_error": "drop" } } },
            { "map": { "column": "descricao", "values": outcomes } },
            { "filter": { "column": "n", "ne": true } },
        ]),
    ]
}

fn digest(steps: &serde_json::Value) -> String {
    let spec: Spec = serde_json::from_value(json!({ "steps": steps })).unwrap();
    let (schema, batches) = fixture();
    match apply(&spec, &schema, batches) {
        Ok(out) => {
            assert!(out.report.rows_out > 0, "the fixture should leave rows: {:?}", out.report);
            let bytes = esteira_core::table::write_parquet(Vec::new(), &out.schema, &out.batches).unwrap();
            let metrics = serde_json::to_string(&out.report.metrics()).unwrap();
            let mut all = bytes;
            all.extend_from_slice(metrics.as_bytes());
            ContentHash::of_bytes(&all).short()
        }
        Err(e) => panic!("fixture recipe failed: {e}"),
    }
}

#[test]
fn outputs_are_pinned() {
    let got: Vec<String> = recipes().iter().map(digest).collect();
    let want = ["a5ebab85f9b1", "84b2c4051001", "6f393b681b4e", "869cdae16a86"];
    assert_eq!(got, want);
}

/// Error texts over several batches are pinned too (row numbers, counts, examples).
#[test]
fn errors_are_pinned() {
    let (schema, batches) = fixture();
    let errors: Vec<String> = [
        json!([{ "cast": { "renda": "float64" } }]),
        json!([{ "filter": { "column": "descricao", "ne": "INDEFERIDO" } }, { "cast": { "ano": "int64", "flag": "bool" } }]),
        json!([{ "map": { "column": "descricao", "values": { "APROVADO": "A" } } }]),
    ]
    .iter()
    .map(|steps| {
        let spec: Spec = serde_json::from_value(json!({ "steps": steps })).unwrap();
        apply(&spec, &schema, batches.clone()).unwrap_err().to_string()
    })
    .collect();
    let got = ContentHash::of_bytes(errors.join("\n").as_bytes()).short();
    assert_eq!(got, "827fe8179b3c", "{errors:#?}");
}
