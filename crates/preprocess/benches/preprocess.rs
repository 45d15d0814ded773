//! Wall time and peak memory of a typical UFRN recipe over a large raw table (12 text columns,
//! as the merge stage produces them).
//!
//! `cargo bench -p esteira-preprocess --bench preprocess` runs 10 million rows (`ROWS=n` to
//! change); run without `--bench` (e.g. by `cargo test --benches`) it does a 100k-row smoke run.

use esteira_testkit::procstat::memory;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_preprocess::{Spec, apply};
use esteira_testkit::{Phase, XorShift, bench_rows, mb, used_bytes};

const BATCH: usize = 8192;

const COLUMNS: [&str; 12] = [
    "id_discente",
    "sexo",
    "ano_nascimento",
    "raca",
    "estado_origem",
    "renda",
    "area_conhecimento",
    "possui_auxilio_alimentacao",
    "possui_auxilio_transporte",
    "possui_auxilio_residencia_moradia",
    "grau_academico",
    "descricao",
];

fn table(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(COLUMNS.map(|c| Field::new(c, DataType::Utf8, true)).to_vec()));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let raca = ["Pardo", "Branco", "Negro", "Não Informado", "Amarelo (de origem oriental)", "Indígena", ""];
    let estados =
        ["Rio Grande do Norte", "Rio Grande do Norte", "Rio Grande do Norte", "Paraíba", "São Paulo", "Ceará"];
    let areas = ["Ciências da Saúde", "Engenharias", "Ciências Humanas", "Ciências Exatas e da Terra", "Outra", ""];
    let graus = ["BACHARELADO", "LICENCIATURA", "TECNOLÓGICO", ""];
    let outcomes = [
        "APROVADO",
        "APROVADO",
        "APROVADO",
        "APROVADO POR NOTA",
        "INDEFERIDO",
        "INDEFERIDO",
        "REPROVADO",
        "REPROVADO POR MÉDIA E POR FALTAS",
        "CANCELADO",
    ];
    let bools = ["false", "false", "false", "true"];
    let mut batches = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = BATCH.min(rows - done);
        let mut cols: Vec<StringBuilder> =
            (0..COLUMNS.len()).map(|_| StringBuilder::with_capacity(n, n * 12)).collect();
        for _ in 0..n {
            let r = rng.next_u64();
            cols[0].append_value(format!("{}", 20_150_000_000 + r % 2_500_000));
            cols[1].append_value(if r & 1 == 0 { "F" } else { "M" });
            cols[2].append_value(format!("{}", 1980 + (r >> 8) % 25));
            let opt = |b: &mut StringBuilder, v: &str| if v.is_empty() { b.append_null() } else { b.append_value(v) };
            opt(&mut cols[3], rng.pick(&raca));
            opt(&mut cols[4], rng.pick(&estados));
            match (r >> 16) % 10 {
                0 => cols[5].append_null(),
                1..=4 => cols[5].append_value(format!("{},{:02}", (r >> 20) % 9000, (r >> 40) % 100)),
                _ => cols[5].append_value(format!("{}", (r >> 20) % 9000)),
            }
            opt(&mut cols[6], rng.pick(&areas));
            for flag in &mut cols[7..10] {
                flag.append_value(rng.pick(&bools));
            }
            opt(&mut cols[10], rng.pick(&graus));
            cols[11].append_value(rng.pick(&outcomes));
        }
        let arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        batches.push(RecordBatch::try_new(schema.clone(), arrays).expect("bench table"));
        done += n;
    }
    (schema, batches)
}

fn recipe() -> Spec {
    serde_json::from_value(serde_json::json!({ "steps": [
        { "select": COLUMNS },
        { "cast": {
            "ano_nascimento": "int64",
            "renda": { "type": "float64", "on_error": "null" },
            "possui_auxilio_alimentacao": "bool",
            "possui_auxilio_transporte": "bool",
            "possui_auxilio_residencia_moradia": "bool",
        } },
        { "filter": { "column": "descricao", "not_in": ["INDEFERIDO"] } },
        { "map": { "column": "descricao", "values": {
            "APROVADO": "APROVADO", "APROVADO POR NOTA": "APROVADO", "REPROVADO": "FALHOU",
            "REPROVADO POR MÉDIA E POR FALTAS": "FALHOU", "REPROVADO POR NOTA E FALTA": "FALHOU",
            "CANCELADO": "FALHOU", "EXCLUIDA": "FALHOU" } } },
        { "fill": { "raca": "Não Informado", "area_conhecimento": "Outra", "grau_academico": "OUTRO" } },
    ]}))
    .expect("recipe")
}

/// Times each step alone on the raw table (`BREAKDOWN=1`), to see where the time goes.
fn breakdown(spec: &Spec, schema: &SchemaRef, batches: &[RecordBatch]) {
    for step in &spec.steps {
        let mut step = step.clone();
        // Alone, the map sees INDEFERIDO too.
        if let esteira_preprocess::Step::Map(m) = &mut step {
            m.unmapped = esteira_preprocess::Unmapped::Keep;
        }
        let kind = step.kind();
        let one = Spec { steps: vec![step] };
        let start = Instant::now();
        apply(&one, schema, batches.to_vec()).expect("step runs");
        println!("  {kind:<8} alone   {:.3} s", start.elapsed().as_secs_f64());
    }
}

fn main() {
    let rows = bench_rows(10_000_000);
    let (baseline, _) = memory();
    let (schema, batches) = table(rows);
    let table_bytes = used_bytes(&batches);
    let spec = recipe();
    if std::env::var_os("BREAKDOWN").is_some() {
        breakdown(&spec, &schema, &batches);
    }
    let phase = Phase::start(baseline);
    let out = apply(&spec, &schema, batches).expect("recipe runs");
    let report = phase.finish();
    println!("preprocess: {rows} rows x {} columns, 5 steps (select, cast x5, filter, map, fill x3)", COLUMNS.len());
    report.print_time(rows);
    println!("  input table     {:.1} MB (bytes in use by its Arrow buffers)", mb(table_bytes));
    println!("  output table    {:.1} MB, {} rows", mb(used_bytes(&out.batches)), out.report.rows_out);
    report.print_memory(table_bytes);
}
