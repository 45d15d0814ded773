//! Parse + merge benchmark on esteira-synth's UFRN-format tables at growing scales.
//!
//! `cargo bench -p esteira-download --bench parse_merge` (release). Scales come from the
//! `ESTEIRA_BENCH_SCALES` variable (comma-separated, default `1,10,100`). For each scale the four
//! tables are generated as files (not timed), parsed (timed: MB/s of CSV, one core), merged
//! as the UFRN pipeline does (timed), and the peak resident memory so far (VmHWM) is printed
//! beside the raw CSV size. CPU time of each phase is printed beside its wall time (the machine
//! may be shared, so wall time alone overstates the cost): it is this thread's on-CPU time from
//! `/proc/thread-self/schedstat`, the figure `getrusage(RUSAGE_THREAD)` gives, read without
//! `unsafe`. With `ESTEIRA_BENCH_HASH=1` the merged table is also written as Parquet (not timed)
//! and its BLAKE3 printed, to check that an optimisation left the output bytes unchanged. The
//! merge collapses the socio-economic table to one row per student (`aggregate`) and declares
//! each join's cardinality; `agg_s` times that aggregation alone (it is also part of `joins_s`).
//! `ESTEIRA_BENCH_NAIVE=1` merges as the original study did instead (no aggregation, nothing
//! validated), for comparison with older figures.

#[path = "../tests/download/common/ufrn_merge.rs"]
mod ufrn_merge;

use std::collections::BTreeMap;
use std::time::Instant;

use esteira_download::{CsvOptions, MergeParams, aggregate, drop_duplicates, merge_tables, read_csv_file, select};
use esteira_synth::{SynthConfig, TABLE_FILES, generate};

fn vm_hwm_mib() -> f64 {
    esteira_testkit::procstat::peak_rss() as f64 / (1024.0 * 1024.0)
}

/// This thread's CPU time in seconds.
fn cpu_s() -> f64 {
    esteira_testkit::procstat::thread_cpu_ns() as f64 / 1e9
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let scales: Vec<f64> = std::env::var("ESTEIRA_BENCH_SCALES")
        .unwrap_or_else(|_| "1,10,100".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    // Duplicates are dropped separately to time the two phases apart.
    let mut params: MergeParams = serde_json::from_value(ufrn_merge::ufrn_merge_params())?;
    params.drop_duplicates = false;
    if std::env::var_os("ESTEIRA_BENCH_NAIVE").is_some_and(|v| v == "1") {
        for join in &mut params.joins {
            join.aggregate = None;
            join.validate = None;
        }
    }
    let names = ["discentes", "socio", "cursos", "matriculas"];
    let hash_output = std::env::var_os("ESTEIRA_BENCH_HASH").is_some_and(|v| v == "1");
    println!(
        "{:>6} {:>8} {:>8} {:>7} {:>6} {:>7} {:>6} {:>6} {:>8} {:>9} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "scale",
        "csv_MB",
        "parse_s",
        "cpu_s",
        "MB/s",
        "cpuMB/s",
        "agg_s",
        "cpu_s",
        "joins_s",
        "cpu_s",
        "dedup_s",
        "cpu_s",
        "rows_in",
        "rows_out",
        "expected",
        "peak_prs",
        "peak_MiB",
        "prs/csv",
        "peak/csv"
    );
    for scale in scales {
        let dir = tempfile::tempdir()?;
        let summary = generate(&SynthConfig { scale, seed: 2020 }, dir.path())?;
        let csv_bytes = summary.total_bytes() as f64;

        let (started, cpu0) = (Instant::now(), cpu_s());
        let mut tables = BTreeMap::new();
        for (name, file) in names.iter().zip(TABLE_FILES) {
            let parsed = read_csv_file(&dir.path().join(file), &CsvOptions::default())?;
            tables.insert((*name).to_owned(), parsed.table);
        }
        let (parse_s, parse_cpu) = (started.elapsed().as_secs_f64(), cpu_s() - cpu0);
        let rows_in: usize = tables.values().map(esteira_download::Table::num_rows).sum();
        let peak_parse = vm_hwm_mib();

        // The socio-economic join's aggregation alone, on a copy (the merge does it again).
        let socio = &params.joins[0];
        let (mut agg_s, mut agg_cpu) = (0.0, 0.0);
        if let Some(agg) = &socio.aggregate {
            let selected = select(&tables[&socio.input], &socio.input, socio.columns.as_deref(), &socio.rename)?;
            let (started, cpu0) = (Instant::now(), cpu_s());
            drop(aggregate(selected, &socio.input, &socio.on, agg)?);
            (agg_s, agg_cpu) = (started.elapsed().as_secs_f64(), cpu_s() - cpu0);
        }
        let (started, cpu0) = (Instant::now(), cpu_s());
        let (joined, _report) = merge_tables(&params, tables)?;
        let (joins_s, joins_cpu) = (started.elapsed().as_secs_f64(), cpu_s() - cpu0);
        let (started, cpu0) = (Instant::now(), cpu_s());
        let (merged, _dropped) = drop_duplicates(joined)?;
        let (dedup_s, dedup_cpu) = (started.elapsed().as_secs_f64(), cpu_s() - cpu0);
        let peak = vm_hwm_mib();
        let mib = 1024.0 * 1024.0;
        println!(
            "{scale:>6} {:>8.1} {parse_s:>8.3} {parse_cpu:>7.3} {:>6.0} {:>7.0} {agg_s:>6.3} {agg_cpu:>6.3} \
             {joins_s:>8.3} {joins_cpu:>9.3} \
             {dedup_s:>7.3} {dedup_cpu:>7.3} {rows_in:>8} {:>9} {:>9} {peak_parse:>9.0} {peak:>9.0} {:>8.2} {:>8.2}",
            csv_bytes / 1e6,
            csv_bytes / 1e6 / parse_s,
            csv_bytes / 1e6 / parse_cpu,
            merged.num_rows(),
            summary.joined_enrolments,
            peak_parse * mib / csv_bytes,
            peak * mib / csv_bytes,
        );
        if hash_output {
            let parquet = esteira_core::table::write_parquet(Vec::new(), &merged.schema, &merged.batches)?;
            println!("{scale:>6} output blake3 {}", blake3::hash(&parquet).to_hex());
        }
        drop(merged);
    }
    Ok(())
}
