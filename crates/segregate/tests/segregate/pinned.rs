//! Pins the exact train and test tables (Parquet bytes) and metrics of several splits of a
//! generated fixture. Cache keys assume a split never changes for the same input and params:
//! a faster kernel must produce the same bytes. If a change is meant to alter output, bump the
//! stage version and update these hashes deliberately.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_core::ContentHash;
use esteira_segregate::{SegregateParams, split_table};
use esteira_testkit::XorShift;

/// Batches of uneven sizes (one empty) with nulls in most columns and students spanning batches.
fn fixture() -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("sid", DataType::Utf8, true),
        Field::new("renda", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("raca", DataType::Utf8, true),
        Field::new("descricao", DataType::Utf8, false),
    ]));
    let mut rng = XorShift(0x0fed_cba9_8765_4321);
    let mut student = 500i64;
    let mut left = 0u64;
    let mut batches = Vec::new();
    for rows in [900usize, 0, 1300, 3, 811] {
        let mut id = Vec::new();
        let mut sid = Vec::new();
        let mut renda = Vec::new();
        let mut flag = Vec::new();
        let mut raca = Vec::new();
        let mut descricao = Vec::new();
        for _ in 0..rows {
            let r = rng.next_u64();
            if left == 0 {
                student += 1;
                left = 1 + r % 5;
            }
            left -= 1;
            let missing = r.is_multiple_of(97);
            id.push((!missing).then_some(student));
            sid.push((!missing).then(|| format!("s{student}")));
            renda.push((!(r >> 8).is_multiple_of(6)).then_some(((r >> 12) % 100_000) as f64 / 100.0));
            flag.push((!(r >> 30).is_multiple_of(5)).then_some((r >> 33).is_multiple_of(3)));
            raca.push(match (r >> 40) % 4 {
                0 => None,
                1 => Some("Pardo"),
                2 => Some("Branco"),
                _ => Some("Não Informado"),
            });
            descricao.push(match (r >> 50) % 10 {
                0..=6 => "APROVADO",
                7 | 8 => "FALHOU",
                _ => "OUTRO",
            });
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(id)),
            Arc::new(StringArray::from(sid)),
            Arc::new(Float64Array::from(renda)),
            Arc::new(BooleanArray::from(flag)),
            Arc::new(StringArray::from(raca)),
            Arc::new(StringArray::from(descricao)),
        ];
        batches.push(RecordBatch::try_new(schema.clone(), arrays).unwrap());
    }
    (schema, batches)
}

fn digest(params: &SegregateParams) -> String {
    let (schema, batches) = fixture();
    let out = split_table(&schema, batches, params).unwrap();
    let mut all = esteira_core::table::write_parquet(Vec::new(), &out.schema, &out.train).unwrap();
    all.extend(esteira_core::table::write_parquet(Vec::new(), &out.schema, &out.test).unwrap());
    all.extend(serde_json::to_string(&out.report.metrics()).unwrap().into_bytes());
    ContentHash::of_bytes(&all).short()
}

#[test]
fn outputs_are_pinned() {
    let base = SegregateParams { seed: 7, ..SegregateParams::new("descricao") };
    let cases = [
        base.clone(),
        SegregateParams { group: Some("id".into()), ..base.clone() },
        SegregateParams { group: Some("sid".into()), test_fraction: 0.25, ..base.clone() },
        SegregateParams { stratify: false, test_fraction: 0.5, seed: 3, ..base.clone() },
        SegregateParams { stratify: false, group: Some("id".into()), ..base.clone() },
        SegregateParams { target: "raca".into(), stratify: false, ..base },
    ];
    let got: Vec<String> = cases.iter().map(digest).collect();
    let want = ["554a53003773", "1ae2e6995dc6", "8d980f16ec4b", "23286161ffae", "45e213884cab", "1df73899e19e"];
    assert_eq!(got, want);
}
