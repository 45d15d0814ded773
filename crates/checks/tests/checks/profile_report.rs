//! The profiler proposes a tolerant suite; the report is self-contained.

use super::common;

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use esteira_checks::{Chart, ProfileOptions, Suite, profile, profile_columns, render_html, validate_table};

#[test]
fn profiled_suite_passes_on_similar_data_and_fails_on_shifted_data() {
    let (schema, batches) = common::students(3000, 1000, 1);
    let suite = profile(&schema, &batches, &ProfileOptions::default()).unwrap();
    // The suite round-trips through GE's JSON and passes on the data it came from …
    let suite = Suite::from_json(&suite.to_json()).unwrap();
    assert!(validate_table(&schema, &batches, &suite).success);
    // … and on another sample of the same population (GE's pinned values would fail here).
    let (schema2, other) = common::students(2500, 700, 99);
    let r = validate_table(&schema2, &other, &suite);
    assert!(r.success, "{}", esteira_checks::cli::summary(&r));
    let types: Vec<&str> = suite.expectations.iter().map(|e| e.expectation_type.as_str()).collect();
    assert!(types.contains(&"expect_column_quantile_values_to_be_between"));
    assert!(types.contains(&"expect_column_values_to_be_in_set"));
    assert!(types.contains(&"expect_column_value_lengths_to_be_between"), "cidade_origem has 300 values");
    // A table with incomes ten times higher fails the renda ranges.
    let shifted: Vec<RecordBatch> = other
        .iter()
        .map(|b| {
            let renda = b.column(5).as_any().downcast_ref::<Int64Array>().unwrap();
            let renda: Int64Array = renda.iter().map(|v| v.map(|x| x * 10)).collect();
            let mut cols = b.columns().to_vec();
            cols[5] = Arc::new(renda);
            RecordBatch::try_new(b.schema(), cols).unwrap()
        })
        .collect();
    let r = validate_table(&schema2, &shifted, &suite);
    let failed: Vec<String> = r.failed().map(|(_, x)| x.expectation_config.column().unwrap_or("").to_owned()).collect();
    assert!(!failed.is_empty() && failed.iter().all(|c| c == "renda"), "{failed:?}");
}

#[test]
fn profiler_options_are_checked_and_nulls_get_mostly() {
    let schema =
        Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true), Field::new("id", DataType::Utf8, false)]));
    let x: Float64Array = (0..100).map(|i| (i % 10 != 0).then_some(f64::from(i) * 0.5)).collect();
    let id: StringArray = (0..100).map(|i| Some(format!("id{i}"))).collect();
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(x), Arc::new(id)]).unwrap();
    let suite = profile(&schema, std::slice::from_ref(&batch), &ProfileOptions::default()).unwrap();
    let not_null = suite
        .expectations
        .iter()
        .find(|e| e.expectation_type == "expect_column_values_to_not_be_null" && e.column() == Some("x"))
        .unwrap();
    // 90 % present, minus the 5 % null tolerance.
    assert_eq!(not_null.kwargs["mostly"], serde_json::json!(0.85));
    assert!(suite.expectations.iter().any(|e| e.expectation_type == "expect_column_values_to_be_unique"));
    assert!(validate_table(&schema, std::slice::from_ref(&batch), &suite).success);
    let bad = ProfileOptions { tolerance: -1.0, ..ProfileOptions::default() };
    assert!(profile(&schema, &[batch], &bad).unwrap_err().to_string().contains("tolerance"));
}

#[test]
fn report_is_self_contained_and_escaped() {
    let schema =
        Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true), Field::new("n", DataType::Int64, false)]));
    let names = StringArray::from(vec![Some("<script>"), Some("a&b"), None, Some("a&b")]);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(names), Arc::new(Int64Array::from((0..4).collect::<Vec<i64>>()))],
    )
    .unwrap();
    let suite = Suite::from_json(
        r#"{"expectation_suite_name": "r<1>", "expectations": [
            {"expectation_type": "expect_column_values_to_be_in_set", "kwargs": {"column": "name", "value_set": ["a&b"]}},
            {"expectation_type": "expect_column_max_to_be_between", "kwargs": {"column": "n", "max_value": 3}}]}"#,
    )
    .unwrap();
    let batches = [batch];
    let result = validate_table(&schema, &batches, &suite);
    let columns = profile_columns(&schema, &batches, None);
    assert_eq!(columns.len(), 2);
    assert_eq!(columns[0].missing, 1);
    assert_eq!(columns[0].distinct, Some(2));
    assert!(matches!(&columns[0].chart, Chart::Bars { values, other: 0 } if values[0] == ("a&b".to_owned(), 2)));
    let html = render_html(&result, &columns);
    assert!(html.contains("FAILED — r&lt;1&gt;"));
    assert!(html.contains("&lt;script&gt; ×1"), "unexpected samples are shown, escaped");
    assert!(!html.contains("<script>"));
    assert_eq!(html.matches("<tr class=\"bad\">").count(), 1);
    assert_eq!(html.matches("<svg").count(), 2);
    // No network: the only URL is the SVG namespace.
    let urls = html.matches("http").count();
    assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count());
    assert!(!html.contains("<link") && !html.contains("src="));
    assert_eq!(html, render_html(&result, &columns), "deterministic");
    // A numeric column with many values gets a histogram whose bins hold every value.
    let (s2, b2) = common::students(500, 500, 5);
    let cols = profile_columns(&s2, &b2, Some(&["renda".to_owned()]));
    match &cols[0].chart {
        Chart::Histogram { counts, .. } => assert_eq!(counts.iter().sum::<u64>(), 500),
        other => panic!("{other:?}"),
    }
}
