//! The original 39-expectation suite on 1 million rows × 12 columns.
//!
//! `cargo bench -p esteira-checks --bench validate` (release). Prints wall time per run and
//! the peak resident set size (VmHWM) before and after validating.

#[path = "../tests/checks/common.rs"]
mod common;

use std::time::Instant;

use esteira_checks::{ProfileOptions, Suite, profile, profile_columns, render_html, validate_table};

fn vm_hwm_kib() -> u64 {
    esteira_testkit::procstat::peak_rss() / 1024
}

fn main() {
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let suite =
        Suite::from_json(include_str!("../tests/data/students_expects.json")).expect("the original suite parses");
    let (schema, batches) = common::students(rows, 8192, 42);
    let table_bytes: usize = batches.iter().map(arrow::array::RecordBatch::get_array_memory_size).sum();
    let before = vm_hwm_kib();
    println!(
        "table: {rows} rows x {} columns, {:.1} MiB in Arrow",
        schema.fields().len(),
        table_bytes as f64 / 1_048_576.0
    );
    println!("peak RSS after building the table: {:.1} MiB", before as f64 / 1024.0);
    let mut best = f64::INFINITY;
    for run in 1..=5 {
        let t = Instant::now();
        let result = validate_table(&schema, &batches, &suite);
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "validate run {run}: {secs:.3} s ({} expectations, {} successful)",
            result.statistics.evaluated_expectations, result.statistics.successful_expectations
        );
    }
    let after = vm_hwm_kib();
    println!("validate best: {best:.3} s");
    println!(
        "peak RSS after validating: {:.1} MiB (+{:.1} MiB over the table)",
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0
    );
    let t = Instant::now();
    let result = validate_table(&schema, &batches, &suite);
    let names: Vec<String> = suite.expectations.iter().filter_map(|e| e.column().map(str::to_owned)).collect();
    let columns = profile_columns(&schema, &batches, Some(&names));
    let html = render_html(&result, &columns);
    println!("validate + report ({} KiB HTML): {:.3} s", html.len() / 1024, t.elapsed().as_secs_f64());
    let t = Instant::now();
    let proposed = profile(&schema, &batches, &ProfileOptions::default()).expect("default options are valid");
    println!("profile ({} expectations proposed): {:.3} s", proposed.expectations.len(), t.elapsed().as_secs_f64());
    println!("peak RSS at the end: {:.1} MiB", vm_hwm_kib() as f64 / 1024.0);
}
