//! The portal CSV reader against the `csv` crate's `ByteRecord` reader, on esteira-synth's
//! UFRN-format tables: is a hand-written reader worth keeping? (issue #15)
//!
//! `cargo bench -p esteira-download --bench csv_readers` (release). Scales from
//! `ESTEIRA_BENCH_SCALES` (default `10,100`). Both readers produce the same table — every column
//! `Utf8`, empty fields null, UTF-8 checked, batches of 65 536 rows — from the same files in the
//! page cache, one core each; the tables are compared cell for cell before anything is printed.
//! Each reader runs three times per table; the best wall time counts. What the `csv` side lacks
//! (Windows-1252, `auto`, errors naming the byte offset, line and column of bad UTF-8) is not
//! charged to it: the figure is the floor of what replacing the reader would cost.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use esteira_download::{CsvOptions, Table, read_csv_file};
use esteira_synth::{SynthConfig, TABLE_FILES, generate};

const BATCH_ROWS: usize = 65_536;

/// The same table through `csv::Reader::read_byte_record`.
fn read_with_csv_crate(path: &Path) -> Result<Table, Box<dyn std::error::Error>> {
    let mut reader =
        csv::ReaderBuilder::new().delimiter(b';').has_headers(true).from_reader(BufReader::new(File::open(path)?));
    let headers = reader.byte_headers()?.clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| std::str::from_utf8(h.strip_prefix(b"\xef\xbb\xbf").unwrap_or(h)).map(str::to_owned))
        .collect::<Result<_, _>>()?;
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));
    let new_builders = || names.iter().map(|_| StringBuilder::new()).collect::<Vec<_>>();
    let mut builders = new_builders();
    let mut batches = Vec::new();
    let mut rows = 0usize;
    let mut record = csv::ByteRecord::new();
    let flush =
        |builders: &mut Vec<StringBuilder>, batches: &mut Vec<RecordBatch>| -> Result<(), arrow::error::ArrowError> {
            let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
            batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
            Ok(())
        };
    while reader.read_byte_record(&mut record)? {
        for (b, field) in builders.iter_mut().zip(record.iter()) {
            if field.is_empty() {
                b.append_null();
            } else {
                b.append_value(std::str::from_utf8(field)?);
            }
        }
        rows += 1;
        if rows.is_multiple_of(BATCH_ROWS) {
            flush(&mut builders, &mut batches)?;
        }
    }
    if !rows.is_multiple_of(BATCH_ROWS) || batches.is_empty() {
        flush(&mut builders, &mut batches)?;
    }
    Ok(Table::new(schema, batches))
}

fn best_of_three(
    mut f: impl FnMut() -> Result<Table, Box<dyn std::error::Error>>,
) -> Result<(f64, Table), Box<dyn std::error::Error>> {
    let mut best = f64::INFINITY;
    let mut table = None;
    for _ in 0..3 {
        let t0 = Instant::now();
        let t = f()?;
        best = best.min(t0.elapsed().as_secs_f64());
        table = Some(t);
    }
    Ok((best, table.expect("three runs")))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scales: Vec<f64> = std::env::var("ESTEIRA_BENCH_SCALES")
        .unwrap_or_else(|_| "10,100".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    println!(
        "{:>6} {:<48} {:>8} {:>10} {:>10} {:>8} {:>8} {:>6}",
        "scale", "table", "MB", "rows", "", "portal_s", "csv_s", "ratio"
    );
    for scale in scales {
        let dir = tempfile::tempdir()?;
        generate(&SynthConfig { scale, seed: 2020 }, dir.path())?;
        let (mut portal_total, mut csv_total, mut mb_total) = (0.0, 0.0, 0.0);
        for file in TABLE_FILES {
            let path = dir.path().join(file);
            let mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
            let (portal_s, portal) = best_of_three(|| Ok(read_csv_file(&path, &CsvOptions::default())?.table))?;
            let (csv_s, other) = best_of_three(|| read_with_csv_crate(&path))?;
            if portal.concat()? != other.concat()? {
                return Err(format!("{file}: the two readers disagree").into());
            }
            println!(
                "{scale:>6} {file:<48} {mb:>8.1} {:>10} {:>10} {portal_s:>8.3} {csv_s:>8.3} {:>6.2}",
                portal.num_rows(),
                "",
                csv_s / portal_s
            );
            (portal_total, csv_total, mb_total) = (portal_total + portal_s, csv_total + csv_s, mb_total + mb);
        }
        println!(
            "{scale:>6} {:<48} {mb_total:>8.1} {:>10} {:>10} {portal_total:>8.3} {csv_total:>8.3} {:>6.2}   portal {:.0} MB/s, csv crate {:.0} MB/s",
            "all four",
            "",
            "",
            csv_total / portal_total,
            mb_total / portal_total,
            mb_total / csv_total
        );
    }
    Ok(())
}
