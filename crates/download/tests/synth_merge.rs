//! The UFRN merge on esteira-synth's sample tables: the row counts the generator knows to be
//! right (it tracks which enrolments belong to students with a socio-economic row).

#[path = "common/ufrn_merge.rs"]
mod ufrn_merge;

use std::collections::BTreeMap;

use esteira_download::{CsvOptions, MergeParams, merge_tables, read_csv};
use esteira_synth::{SynthConfig, TableWriters, generate_to_writers};

#[test]
fn ufrn_merge_on_synthetic_tables_matches_the_generator_counts() {
    let mut w = TableWriters::<Vec<u8>>::default();
    let summary = generate_to_writers(&SynthConfig { scale: 0.05, seed: 7 }, &mut w).unwrap();
    let opts = CsvOptions::default();
    let tables: BTreeMap<String, _> =
        [("discentes", &w.discentes), ("socio", &w.socio), ("cursos", &w.cursos), ("matriculas", &w.matriculas)]
            .into_iter()
            .map(|(name, bytes)| (name.to_owned(), read_csv(&bytes[..], name, &opts).unwrap().table))
            .collect();
    assert_eq!(tables["discentes"].num_rows() as u64, summary.discentes_rows);
    assert_eq!(tables["socio"].num_rows() as u64, summary.socio_rows);
    assert_eq!(tables["matriculas"].num_rows() as u64, summary.matricula_rows);

    let params: MergeParams = serde_json::from_value(ufrn_merge::ufrn_merge_params()).unwrap();
    let (table, report) = merge_tables(&params, tables).unwrap();
    assert_eq!(table.num_rows() as u64, summary.joined_enrolments, "{report:#?}");
    assert_eq!(table.schema.fields().len(), 15 + 8 + 2 + 4);
    assert!(report.duplicates_dropped > 0, "the sample should exercise deduplication: {report:#?}");
    let area = table.concat().unwrap();
    let area = area.column_by_name("area_conhecimento").unwrap();
    assert_eq!(area.null_count() as u64, summary.joined_enrolments_without_course, "{report:#?}");

    // The output bytes are part of the contract (row order included): pinned so optimisations
    // of the join and deduplication cannot change them.
    let parquet = esteira_core::table::write_parquet(Vec::new(), &table.schema, &table.batches).unwrap();
    assert_eq!(
        blake3::hash(&parquet).to_hex().as_str(),
        "386fb5c3754b0a67076a1ffede85ab6b4b3ac5e77cdf1cadb4a55a5b088d0cfb"
    );
}
