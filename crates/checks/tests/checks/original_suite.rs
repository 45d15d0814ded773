//! The original study's Great Expectations suite on a synthetic table of the study's shape.

use super::common;

use esteira_checks::{Suite, validate_table};
use serde_json::json;

const ORIGINAL: &str = include_str!("../data/students_expects.json");

#[test]
fn original_suite_runs_without_exceptions() {
    let suite = Suite::from_json(ORIGINAL).unwrap();
    let (schema, batches) = common::students(2000, 512, 7);
    let r = validate_table(&schema, &batches, &suite);
    assert_eq!(r.results.len(), 39);
    for (i, res) in r.results.iter().enumerate() {
        assert!(!res.exception_info.raised_exception, "#{i}: {:?}", res.exception_info);
    }
    let by_type = |t: &str, col: Option<&str>| {
        r.results
            .iter()
            .find(|x| x.expectation_config.expectation_type == t && x.expectation_config.column() == col)
            .unwrap()
    };
    // Schema, types, sets and nulls hold on the synthetic data …
    assert!(by_type("expect_table_columns_to_match_ordered_list", None).success);
    for col in ["sexo", "descricao", "ano_nascimento", "renda", "possui_auxilio_transporte"] {
        assert!(by_type("expect_column_values_to_be_in_type_list", Some(col)).success, "{col}");
        assert!(by_type("expect_column_values_to_not_be_null", Some(col)).success, "{col}");
    }
    assert!(by_type("expect_column_values_to_be_in_set", Some("sexo")).success);
    assert!(by_type("expect_column_values_to_be_in_set", Some("descricao")).success);
    assert!(by_type("expect_column_values_to_be_in_set", Some("ano_nascimento")).success);
    // … while the statistics GE pinned to the original data do not.
    let rows = by_type("expect_table_row_count_to_be_between", None);
    assert!(!rows.success);
    assert_eq!(rows.observed_value(), Some(&json!(2000)));
    let sexo = by_type("expect_column_proportion_of_unique_values_to_be_between", Some("sexo"));
    assert_eq!(sexo.observed_value(), Some(&json!(2.0 / 2000.0)));
    let q = by_type("expect_column_quantile_values_to_be_between", Some("ano_nascimento"));
    assert_eq!(q.observed_value().unwrap()["values"].as_array().unwrap().len(), 5);
    assert!(!r.success);
    assert!(r.statistics.successful_expectations >= 20, "{:?}", r.statistics);
}

#[test]
fn the_original_suite_passes_on_a_table_made_to_fit_it() {
    // Only the schema part of the suite: it must pass on the synthetic table.
    let mut suite = Suite::from_json(ORIGINAL).unwrap();
    suite.expectations.retain(|e| {
        matches!(
            e.expectation_type.as_str(),
            "expect_table_columns_to_match_ordered_list"
                | "expect_column_values_to_not_be_null"
                | "expect_column_values_to_be_in_type_list"
                | "expect_column_values_to_be_in_set"
        )
    });
    let (schema, batches) = common::students(1000, 1000, 3);
    let r = validate_table(&schema, &batches, &suite);
    assert!(r.success, "{}", esteira_checks::cli::summary(&r));
}
