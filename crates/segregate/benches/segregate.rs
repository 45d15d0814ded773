//! Wall time and peak memory of the UFRN split (stratified on the outcome, grouped by student)
//! over a large clean table of 12 typed columns.
//!
//! `cargo bench -p esteira-segregate --bench segregate` runs 10 million rows (`ROWS=n` to
//! change); run without `--bench` (e.g. by `cargo test --benches`) it does a 100k-row smoke run.

use esteira_testkit::procstat::memory;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_segregate::{SegregateParams, split_table};
use esteira_testkit::{Phase, XorShift, bench_rows, mb, used_bytes};

const BATCH: usize = 8192;

fn table(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id_discente", DataType::Int64, false),
        text("sexo"),
        Field::new("ano_nascimento", DataType::Int64, true),
        text("raca"),
        text("estado_origem"),
        Field::new("renda", DataType::Float64, true),
        text("area_conhecimento"),
        Field::new("possui_auxilio_alimentacao", DataType::Boolean, true),
        Field::new("possui_auxilio_transporte", DataType::Boolean, true),
        Field::new("possui_auxilio_residencia_moradia", DataType::Boolean, true),
        text("grau_academico"),
        text("descricao"),
    ]));
    let raca = ["Pardo", "Branco", "Negro", "Não Informado"];
    let estados = ["Rio Grande do Norte", "Rio Grande do Norte", "Paraíba", "São Paulo"];
    let areas = ["Ciências da Saúde", "Engenharias", "Ciências Humanas", "Outra"];
    let graus = ["BACHARELADO", "LICENCIATURA", "TECNOLÓGICO", "OUTRO"];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Enrolments of one student are contiguous, 1–7 of them (about 4 on average).
    let mut student = 20_150_000_000i64;
    let mut left_for_student = 0u64;
    let mut batches = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = BATCH.min(rows - done);
        let mut ids = Vec::with_capacity(n);
        let mut draws = Vec::with_capacity(n);
        for _ in 0..n {
            if left_for_student == 0 {
                student += 1;
                left_for_student = 1 + rng.next_u64() % 7;
            }
            left_for_student -= 1;
            ids.push(student);
            draws.push(rng.next_u64());
        }
        let pick = |items: &[&'static str; 4], shift: u32| -> ArrayRef {
            Arc::new(StringArray::from(draws.iter().map(|r| items[((r >> shift) % 4) as usize]).collect::<Vec<_>>()))
        };
        let flag = |shift: u32| -> ArrayRef {
            Arc::new(BooleanArray::from(draws.iter().map(|r| (r >> shift).is_multiple_of(8)).collect::<Vec<_>>()))
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(draws.iter().map(|r| if r & 1 == 0 { "F" } else { "M" }).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(draws.iter().map(|r| 1980 + ((r >> 3) % 25) as i64).collect::<Vec<_>>())),
            pick(&raca, 8),
            pick(&estados, 10),
            Arc::new(Float64Array::from(
                draws.iter().map(|r| ((r >> 12) % 900_000) as f64 / 100.0).collect::<Vec<_>>(),
            )),
            pick(&areas, 32),
            flag(34),
            flag(37),
            flag(40),
            pick(&graus, 43),
            Arc::new(StringArray::from(
                draws.iter().map(|r| if (r >> 50) % 100 < 81 { "APROVADO" } else { "FALHOU" }).collect::<Vec<_>>(),
            )),
        ];
        batches.push(RecordBatch::try_new(schema.clone(), cols).expect("bench table"));
        done += n;
    }
    (schema, batches)
}

fn main() {
    let cases = [("stratified, grouped by id_discente", Some("id_discente")), ("stratified, no groups", None)];
    // Each case runs in a fresh process so one case's freed memory does not hide the next's peak.
    let Some(case) = std::env::var("SEGREGATE_BENCH_CASE").ok().and_then(|c| c.parse::<usize>().ok()) else {
        let exe = std::env::current_exe().expect("bench binary path");
        for i in 0..cases.len() {
            let status = std::process::Command::new(&exe)
                .args(std::env::args().skip(1))
                .env("SEGREGATE_BENCH_CASE", i.to_string())
                .status()
                .expect("bench case runs");
            assert!(status.success(), "bench case {i} failed");
        }
        return;
    };
    let (name, group) = cases[case];
    let rows = bench_rows(10_000_000);
    let (baseline, _) = memory();
    let (schema, batches) = table(rows);
    let table_bytes = used_bytes(&batches);
    let params = SegregateParams { seed: 42, group: group.map(str::to_owned), ..SegregateParams::new("descricao") };
    let phase = Phase::start(baseline);
    let out = split_table(&schema, batches, &params).expect("split runs");
    let report = phase.finish();
    println!("segregate ({name}): {rows} rows x 12 columns, test_fraction 0.3");
    report.print_time(rows);
    println!("  input table     {:.1} MB (bytes in use by its Arrow buffers)", mb(table_bytes));
    println!(
        "  sides           train {} / test {} rows, groups {:?}",
        out.report.rows.train, out.report.rows.test, out.report.groups
    );
    report.print_memory(table_bytes);
}
