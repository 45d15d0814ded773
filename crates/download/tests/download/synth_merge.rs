//! The UFRN merge on esteira-synth's sample tables: the row counts the generator knows to be
//! right (it tracks which enrolments belong to students with a socio-economic row, and how many
//! socio-economic rows each has).

use super::common::ufrn_merge;

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

    // The naive merge of the original study (no aggregation, nothing validated): every enrolment
    // of a student with k socio-economic rows comes out k times.
    let mut naive = ufrn_merge::ufrn_merge_params();
    for join in naive["joins"].as_array_mut().unwrap() {
        let join = join.as_object_mut().unwrap();
        join.remove("aggregate");
        join.remove("validate");
    }
    let naive: MergeParams = serde_json::from_value(naive).unwrap();
    let (naive_table, naive_report) = merge_tables(&naive, tables.clone()).unwrap();
    assert_eq!(
        naive_table.num_rows() as u64,
        summary.joined_enrolments + summary.naive_join_extra_rows,
        "{naive_report:#?}"
    );
    let socio_join = &naive_report.joins[0].stats;
    assert!(socio_join.multiplied, "{naive_report:#?}");
    let most = if summary.students_with_three_socio_rows > 0 { 3 } else { 2 };
    assert_eq!(
        (socio_join.right_keys_repeated as u64, socio_join.max_right_rows_per_key),
        (summary.students_with_two_socio_rows + summary.students_with_three_socio_rows, most),
        "{naive_report:#?}"
    );
    // Its bytes are those of the merge before aggregation, validation and fan-out counts existed
    // (stage version 2): params without the new keys give the same table.
    let parquet = esteira_core::table::write_parquet(Vec::new(), &naive_table.schema, &naive_table.batches).unwrap();
    assert_eq!(
        blake3::hash(&parquet).to_hex().as_str(),
        "63412876e9a91a5f9de0456ae2fec73adefcd3e1f35e32e57e44e0bc4320be1e"
    );

    let params: MergeParams = serde_json::from_value(ufrn_merge::ufrn_merge_params()).unwrap();
    let (table, report) = merge_tables(&params, tables).unwrap();
    assert_eq!(table.num_rows() as u64, summary.joined_enrolments, "{report:#?}");
    let socio = report.joins[0].aggregate.as_ref().unwrap();
    assert_eq!(socio.rows_in as u64, summary.socio_rows);
    assert_eq!(socio.keys_with_2_rows as u64, summary.students_with_two_socio_rows);
    assert_eq!(socio.keys_with_3_or_more_rows as u64, summary.students_with_three_socio_rows);
    assert_eq!(socio.rows_out, socio.keys);
    assert!(report.joins.iter().take(2).all(|j| !j.stats.multiplied), "{report:#?}");
    assert!(report.joins[2].stats.multiplied, "students have several enrolments: {report:#?}");
    assert_eq!(table.schema.fields().len(), 15 + 8 + 2 + 4);
    assert!(report.duplicates_dropped > 0, "the sample should exercise deduplication: {report:#?}");
    let area = table.concat().unwrap();
    let area = area.column_by_name("area_conhecimento").unwrap();
    assert_eq!(area.null_count() as u64, summary.joined_enrolments_without_course, "{report:#?}");

    // The output bytes are part of the contract (row order included): pinned so optimisations
    // of the aggregation, join and deduplication cannot change them. (Re-pinned when the
    // generator began writing one socio-economic row per aid programme and the merge collapsed
    // them; the naive merge above keeps the old join's bytes.)
    let parquet = esteira_core::table::write_parquet(Vec::new(), &table.schema, &table.batches).unwrap();
    assert_eq!(
        blake3::hash(&parquet).to_hex().as_str(),
        "7106bc3a4d0fd7f51de988fdea42836cbe2c7bdaad3fb9dfa23e049d48d4ab20"
    );
}
