//! A Parquet table is read for the columns a suite needs, text as dictionaries, and checked on
//! several threads: the result and the report are byte for byte those of checking the whole
//! table as plain arrays.

use super::common;

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use esteira_checks::{Suite, read_table_file, render_html, validate_and_profile};

/// 150 000 rows: `id` has a value per ~1.5 rows, 32 characters long (too many for one
/// dictionary page: the writer falls back to plain pages), `turma` a few hundred values,
/// `sexo` three and some nulls, `nota` integers with nulls, `sobra` a column no expectation names.
fn table(dir: &std::path::Path) -> std::path::PathBuf {
    let rows = 150_000;
    let mut rng = common::Lcg::new(7);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("turma", DataType::Utf8, true),
        Field::new("sexo", DataType::Utf8, true),
        Field::new("nota", DataType::Int64, true),
        Field::new("sobra", DataType::Utf8, true),
    ]));
    let id: StringArray = (0..rows)
        .map(|i| if i % 997 == 0 { None } else { Some(format!("{:032x}", rng.below(100_000) * 7_919)) })
        .collect();
    let turma: StringArray =
        (0..rows).map(|i| if i % 4_001 == 0 { None } else { Some(format!("T{}", rng.below(400))) }).collect();
    let sexo: StringArray = (0..rows)
        .map(|i| match (i % 101, rng.below(3)) {
            (0, _) => None,
            (_, 0) => Some("F"),
            (_, 1) => Some("M"),
            _ => Some("false"),
        })
        .collect();
    let nota: Int64Array = (0..rows).map(|i| (i % 13 != 0).then(|| rng.below(11) as i64)).collect();
    let sobra: StringArray = (0..rows).map(|i| Some(format!("s{}", i % 5))).collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(id), Arc::new(turma), Arc::new(sexo), Arc::new(nota), Arc::new(sobra)];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    let path = dir.join("t.parquet");
    let file = std::fs::File::create(&path).unwrap();
    esteira_core::table::write_parquet(file, &schema, &[batch]).unwrap();
    path
}

const SUITE: &str = r#"{
  "expectation_suite_name": "dictionaries",
  "expectations": [
    {"expectation_type": "expect_table_columns_to_match_set",
     "kwargs": {"column_set": ["id", "turma", "sexo", "nota", "sobra"], "exact_match": true}},
    {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
    {"expectation_type": "expect_column_values_to_match_regex", "kwargs": {"column": "id", "regex": "^[0-9a-f]{32}$"}},
    {"expectation_type": "expect_column_value_lengths_to_be_between",
     "kwargs": {"column": "id", "min_value": 32, "max_value": 32}},
    {"expectation_type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"expectation_type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["turma", "id"]}},
    {"expectation_type": "expect_compound_columns_to_be_unique",
     "kwargs": {"column_list": ["sexo", "nota"], "ignore_row_if": "any_value_is_missing"}},
    {"expectation_type": "expect_column_values_to_be_in_set", "kwargs": {"column": "sexo", "value_set": ["F", "M"]}},
    {"expectation_type": "expect_column_distinct_values_to_be_in_set",
     "kwargs": {"column": "sexo", "value_set": ["F", "M", "false"]}},
    {"expectation_type": "expect_column_most_common_value_to_be_in_set",
     "kwargs": {"column": "turma", "value_set": ["T1"]}},
    {"expectation_type": "expect_column_proportion_of_unique_values_to_be_between",
     "kwargs": {"column": "turma", "min_value": 0, "max_value": 0.5}},
    {"expectation_type": "expect_column_values_to_be_of_type", "kwargs": {"column": "turma", "type_": "object"}},
    {"expectation_type": "expect_column_median_to_be_between", "kwargs": {"column": "nota", "min_value": 0, "max_value": 10}},
    {"expectation_type": "expect_column_values_to_be_null", "kwargs": {"column": "sexo"}}
  ]
}"#;

#[test]
fn checking_the_needed_columns_as_dictionaries_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = table(dir.path());
    let suite_path = dir.path().join("suite.json");
    std::fs::write(&suite_path, SUITE).unwrap();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let result = esteira_checks::cli::run_validate(&path, &suite_path, Some(&json), Some(&html)).unwrap();
    // The same checks on the whole table, read as plain arrays.
    let (schema, batches) = read_table_file(&path).unwrap().into_parts();
    assert!(batches.iter().all(|b| b.column(0).data_type() == &DataType::Utf8));
    let suite = Suite::from_json(SUITE).unwrap();
    let (plain, columns) = validate_and_profile(&schema, &batches, &suite);
    assert_eq!(std::fs::read_to_string(&json).unwrap(), plain.to_json());
    assert_eq!(std::fs::read_to_string(&html).unwrap(), render_html(&plain, &columns));
    // Things that could go wrong did not: repeated ids were found, with their rows.
    assert_eq!(result.results.len(), 14);
    let unique = &result.results[4].result;
    assert!(unique["unexpected_count"].as_u64().unwrap() > 10_000, "{unique:?}");
    let compound = &result.results[5].result;
    assert!(compound["partial_unexpected_list"].as_array().is_some_and(|l| l.len() == 20), "{compound:?}");
    assert_eq!(result.results[1].result["unexpected_count"], 151);
    assert!(result.results[11].success);
}
