//! Every expectation type, a passing and a failing case, on a small table.
//!
//! Oracle: the observed values below were computed independently with pandas 3.1.1 / numpy 2.4
//! (GE 0.14's pandas backend calls the same pandas methods), on the same data:
//! ```python
//! i = pd.Series([5, 3, 8, 3, 10, 1, 7, 3, 2, 9])
//! f = pd.Series([1.5, 2.25, None, -0.5, 3.0, np.nan, 2.25, 10.0, 0.1, 4.4])
//! s = pd.Series(["a", "bb", "a", None, "ccc", "a", "dd", "bb", "e", "a"], dtype=object)
//! b = pd.Series([True, False, True, True, False, True, True, False, True, True])
//! i.min(), i.max(), i.mean(), i.median(), i.std(), i.sum(), i.nunique() / i.count()
//!   -> 1, 10, 5.1, 4.0, 3.178049716414141, 51, 0.8
//! i.quantile([0.1, 0.25, 0.5, 0.9], interpolation=m) for m in lower/higher/linear/midpoint/nearest
//!   -> [1,3,3,9] [2,3,5,10] [1.9,3.0,4.0,9.1] [1.5,3.0,4.0,9.5] [2,3,3,9]
//! f.mean(), f.median(), f.std(), f.sum(), f.nunique() / f.count(), f.isna().sum()
//!   -> 2.875, 2.25, 3.2704302906061593, 23.0, 0.875, 2
//! f.quantile([0.1, 0.25, 0.5, 0.9], interpolation="linear") -> [-0.07999999999999996, 1.15, 2.25, 6.079999999999999]
//! s.nunique() / s.count() -> 0.5555555555555556 ; s.mode() -> ["a"] ; b.std() -> 0.4830458915396479
//! [x for x in s.dropna() if not re.search("^[ab]", x)] -> ["ccc", "dd", "e"]
//! ```

#![allow(clippy::needless_pass_by_value, reason = "the helpers take json! literals")]

#[path = "expectations/fuzz.rs"]
mod fuzz;

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use esteira_checks::{ExpectationResult, Suite, validate};
use serde_json::{Value, json};

fn table() -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, false),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, false),
        Field::new("k", DataType::Int64, false),
        Field::new("g", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![5, 3, 8, 3, 10, 1, 7, 3, 2, 9])),
        Arc::new(Float64Array::from(vec![
            Some(1.5),
            Some(2.25),
            None,
            Some(-0.5),
            Some(3.0),
            Some(f64::NAN),
            Some(2.25),
            Some(10.0),
            Some(0.1),
            Some(4.4),
        ])),
        Arc::new(StringArray::from(vec![
            Some("a"),
            Some("bb"),
            Some("a"),
            None,
            Some("ccc"),
            Some("a"),
            Some("dd"),
            Some("bb"),
            Some("e"),
            Some("a"),
        ])),
        Arc::new(BooleanArray::from(vec![true, false, true, true, false, true, true, false, true, true])),
        Arc::new(Int64Array::from((1..=10).collect::<Vec<i64>>())),
        Arc::new(StringArray::from(vec![
            Some("x"),
            Some("y"),
            Some("x"),
            Some("y"),
            Some("x"),
            Some("x"),
            Some("y"),
            Some("y"),
            None,
            Some("x"),
        ])),
    ];
    let batch = RecordBatch::try_new(schema, cols).unwrap();
    // Two batches, so statistics that combine batches are exercised.
    vec![batch.slice(0, 4), batch.slice(4, 6)]
}

fn run(etype: &str, kwargs: Value) -> ExpectationResult {
    let suite = Suite::from_json(
        &json!({"expectation_suite_name": "t", "expectations": [{"expectation_type": etype, "kwargs": kwargs}]})
            .to_string(),
    )
    .unwrap();
    let mut r = validate(&table(), &suite);
    assert_eq!(r.results.len(), 1);
    r.results.remove(0)
}

fn pass(etype: &str, kwargs: Value) -> ExpectationResult {
    let r = run(etype, kwargs.clone());
    assert!(r.success, "{etype} {kwargs} should pass: {:?}", r.result);
    assert!(!r.exception_info.raised_exception);
    r
}

fn fail(etype: &str, kwargs: Value) -> ExpectationResult {
    let r = run(etype, kwargs.clone());
    assert!(!r.success, "{etype} {kwargs} should fail: {:?}", r.result);
    r
}

fn observed(r: &ExpectationResult) -> &Value {
    r.observed_value().unwrap()
}

#[test]
fn table_columns_to_match_ordered_list() {
    let e = "expect_table_columns_to_match_ordered_list";
    let r = pass(e, json!({"column_list": ["i", "f", "s", "b", "k", "g"]}));
    assert_eq!(observed(&r), &json!(["i", "f", "s", "b", "k", "g"]));
    let r = fail(e, json!({"column_list": ["i", "s", "f", "b", "k", "g"]}));
    assert_eq!(
        r.result["details"]["mismatched"][0],
        json!({"Expected Column Position": 1, "Expected": "s", "Found": "f"})
    );
}

#[test]
fn table_columns_to_match_set() {
    let e = "expect_table_columns_to_match_set";
    pass(e, json!({"column_set": ["k", "i", "f", "s", "b", "g"]}));
    pass(e, json!({"column_set": ["k", "i"], "exact_match": false}));
    let r = fail(e, json!({"column_set": ["k", "i", "zz"]}));
    assert_eq!(r.result["details"]["mismatched"]["missing"], json!(["zz"]));
    assert_eq!(r.result["details"]["mismatched"]["unexpected"], json!(["b", "f", "g", "s"]));
}

#[test]
fn table_row_count_to_be_between() {
    let e = "expect_table_row_count_to_be_between";
    let r = pass(e, json!({"min_value": 10, "max_value": 10}));
    assert_eq!(observed(&r), &json!(10));
    pass(e, json!({"min_value": 5, "max_value": null}));
    fail(e, json!({"min_value": 11, "max_value": null}));
    fail(e, json!({"max_value": 10, "strict_max": true}));
}

#[test]
fn column_to_exist() {
    let e = "expect_column_to_exist";
    pass(e, json!({"column": "s"}));
    pass(e, json!({"column": "s", "column_index": 2}));
    fail(e, json!({"column": "s", "column_index": 0}));
    let r = fail(e, json!({"column": "nope"}));
    assert!(!r.exception_info.raised_exception, "a missing column is a plain failure here");
}

#[test]
fn column_values_to_not_be_null() {
    let e = "expect_column_values_to_not_be_null";
    let r = pass(e, json!({"column": "i"}));
    assert_eq!(r.result["element_count"], 10);
    assert_eq!(r.result["unexpected_count"], 0);
    // f has one null and one NaN: pandas counts both as missing.
    let r = fail(e, json!({"column": "f"}));
    assert_eq!(r.result["unexpected_count"], 2);
    assert_eq!(r.result["unexpected_percent"], 20.0);
    assert_eq!(r.result["partial_unexpected_list"], json!([null, null]));
    // mostly counts every row here: 8/10 = 0.8.
    pass(e, json!({"column": "f", "mostly": 0.8}));
    fail(e, json!({"column": "f", "mostly": 0.81}));
}

#[test]
fn column_values_to_be_null() {
    let e = "expect_column_values_to_be_null";
    let r = fail(e, json!({"column": "s"}));
    assert_eq!(r.result["unexpected_count"], 9);
    assert_eq!(r.result["partial_unexpected_list"], json!(["a", "bb", "a", "ccc", "a", "dd", "bb", "e", "a"]));
    pass(e, json!({"column": "s", "mostly": 0.1}));
}

#[test]
fn column_values_to_be_in_set() {
    let e = "expect_column_values_to_be_in_set";
    let r = pass(e, json!({"column": "s", "value_set": ["a", "bb", "ccc", "dd", "e"]}));
    assert_eq!(r.result["missing_count"], 1);
    let r = fail(e, json!({"column": "s", "value_set": ["a", "bb"]}));
    assert_eq!(r.result["unexpected_count"], 3);
    assert_eq!(r.result["element_count"], 10);
    // unexpected_percent is of non-missing values (3 of 9), as in GE 0.14.
    assert_eq!(r.result["unexpected_percent"], json!(3.0 / 9.0 * 100.0));
    assert_eq!(r.result["unexpected_percent_total"], json!(30.0));
    assert_eq!(r.result["partial_unexpected_list"], json!(["ccc", "dd", "e"]));
    assert_eq!(
        r.result["partial_unexpected_counts"],
        json!([{"value": "ccc", "count": 1}, {"value": "dd", "count": 1}, {"value": "e", "count": 1}])
    );
    // mostly counts non-null rows: 6/9 = 0.667.
    pass(e, json!({"column": "s", "value_set": ["a", "bb"], "mostly": 0.66}));
    fail(e, json!({"column": "s", "value_set": ["a", "bb"], "mostly": 0.67}));
    pass(e, json!({"column": "i", "value_set": [1, 2, 3, 5, 7, 8, 9, 10]}));
    let r = fail(e, json!({"column": "i", "value_set": [1, 2, 5, 7, 8, 9, 10]}));
    assert_eq!(r.result["partial_unexpected_counts"], json!([{"value": 3, "count": 3}]));
    pass(e, json!({"column": "b", "value_set": [false, true]}));
    fail(e, json!({"column": "b", "value_set": [true]}));
}

#[test]
fn column_values_to_not_be_in_set() {
    let e = "expect_column_values_to_not_be_in_set";
    pass(e, json!({"column": "s", "value_set": ["zz"]}));
    let r = fail(e, json!({"column": "i", "value_set": [3, 10]}));
    assert_eq!(r.result["unexpected_count"], 4);
    assert_eq!(r.result["partial_unexpected_list"], json!([3, 3, 10, 3]));
    assert_eq!(r.result["partial_unexpected_counts"], json!([{"value": 3, "count": 3}, {"value": 10, "count": 1}]));
}

#[test]
fn column_values_to_be_between() {
    let e = "expect_column_values_to_be_between";
    pass(e, json!({"column": "i", "min_value": 1, "max_value": 10}));
    let r = fail(e, json!({"column": "i", "min_value": 1, "max_value": 10, "strict_min": true}));
    assert_eq!(r.result["partial_unexpected_list"], json!([1]));
    let r = fail(e, json!({"column": "f", "min_value": 0, "max_value": null}));
    assert_eq!(r.result["unexpected_count"], 1);
    assert_eq!(r.result["missing_count"], 2);
    assert_eq!(r.result["partial_unexpected_list"], json!([-0.5]));
    pass(e, json!({"column": "s", "min_value": "a", "max_value": "e"}));
    // Comparing strings with a number cannot be evaluated: an exception, not a crash.
    let r = fail(e, json!({"column": "s", "min_value": 1}));
    assert!(r.exception_info.raised_exception);
}

#[test]
fn column_values_to_be_unique() {
    let e = "expect_column_values_to_be_unique";
    pass(e, json!({"column": "k"}));
    // Every occurrence of a repeated value is unexpected (pandas duplicated(keep=False)).
    let r = fail(e, json!({"column": "i"}));
    assert_eq!(r.result["unexpected_count"], 3);
    assert_eq!(r.result["partial_unexpected_list"], json!([3, 3, 3]));
    pass(e, json!({"column": "i", "mostly": 0.7}));
}

#[test]
fn column_values_to_match_regex() {
    let e = "expect_column_values_to_match_regex";
    pass(e, json!({"column": "s", "regex": "[a-e]"}));
    let r = fail(e, json!({"column": "s", "regex": "^[ab]"}));
    assert_eq!(r.result["partial_unexpected_list"], json!(["ccc", "dd", "e"]));
    // Numbers are matched on their text, as GE casts to str.
    pass(e, json!({"column": "i", "regex": "^[0-9]+$"}));
    fail(e, json!({"column": "i", "regex": "^[0-9]$"}));
}

#[test]
fn column_value_lengths_to_be_between() {
    let e = "expect_column_value_lengths_to_be_between";
    pass(e, json!({"column": "s", "min_value": 1, "max_value": 3}));
    let r = fail(e, json!({"column": "s", "min_value": 2}));
    assert_eq!(r.result["unexpected_count"], 5);
    let r = fail(e, json!({"column": "i", "min_value": 1}));
    assert!(r.exception_info.raised_exception, "lengths of a number column cannot be evaluated");
}

#[test]
fn column_values_to_be_in_type_list_and_of_type() {
    let e = "expect_column_values_to_be_in_type_list";
    let r = pass(e, json!({"column": "i", "type_list": ["INTEGER", "int64"]}));
    assert_eq!(observed(&r), &json!("int64"));
    let r = fail(e, json!({"column": "s", "type_list": ["int64", "float64"]}));
    assert_eq!(observed(&r), &json!("object"));
    pass(e, json!({"column": "b", "type_list": ["BOOLEAN", "bool"]}));
    pass(e, json!({"column": "s", "type_list": null}));
    let t = "expect_column_values_to_be_of_type";
    let r = pass(t, json!({"column": "f", "type_": "float64"}));
    assert_eq!(observed(&r), &json!("float64"));
    fail(t, json!({"column": "f", "type_": "int64"}));
}

#[test]
fn column_min_and_max_to_be_between() {
    let r = pass("expect_column_min_to_be_between", json!({"column": "i", "min_value": 1, "max_value": 1}));
    assert_eq!(observed(&r), &json!(1));
    fail("expect_column_min_to_be_between", json!({"column": "i", "min_value": 1, "strict_min": true}));
    let r = pass("expect_column_max_to_be_between", json!({"column": "f", "min_value": 10.0, "max_value": null}));
    assert_eq!(observed(&r), &json!(10.0));
    fail("expect_column_max_to_be_between", json!({"column": "f", "max_value": 9.99}));
    let r = fail("expect_column_min_to_be_between", json!({"column": "s", "min_value": 1}));
    assert!(r.exception_info.raised_exception);
}

#[test]
fn column_mean_to_be_between() {
    let e = "expect_column_mean_to_be_between";
    let r = pass(e, json!({"column": "i", "min_value": 5.1, "max_value": 5.1}));
    assert_eq!(observed(&r), &json!(5.1));
    let r = fail(e, json!({"column": "f", "min_value": 3}));
    assert_eq!(observed(&r), &json!(2.875));
    let r = pass(e, json!({"column": "b", "min_value": 0.7, "max_value": 0.7}));
    assert_eq!(observed(&r), &json!(0.7));
}

#[test]
fn column_median_to_be_between() {
    let e = "expect_column_median_to_be_between";
    // Even count: the mean of the two middle values (3 and 5).
    let r = pass(e, json!({"column": "i", "min_value": 4, "max_value": 4}));
    assert_eq!(observed(&r), &json!(4.0));
    let r = fail(e, json!({"column": "f", "max_value": 2}));
    assert_eq!(observed(&r), &json!(2.25));
}

#[test]
fn column_stdev_to_be_between() {
    let e = "expect_column_stdev_to_be_between";
    let r = pass(e, json!({"column": "i", "min_value": 3.17, "max_value": 3.18}));
    let got = observed(&r).as_f64().unwrap();
    assert!((got - 3.178_049_716_414_141).abs() < 1e-12, "{got}");
    let r = fail(e, json!({"column": "f", "max_value": 3}));
    assert!((observed(&r).as_f64().unwrap() - 3.270_430_290_606_159_3).abs() < 1e-12);
    let r = pass(e, json!({"column": "b", "min_value": 0.48}));
    assert!((observed(&r).as_f64().unwrap() - 0.483_045_891_539_647_9).abs() < 1e-12);
}

#[test]
fn column_sum_to_be_between() {
    let e = "expect_column_sum_to_be_between";
    let r = pass(e, json!({"column": "i", "min_value": 51, "max_value": 51}));
    assert_eq!(observed(&r), &json!(51));
    let r = fail(e, json!({"column": "f", "min_value": 23, "strict_min": true}));
    assert_eq!(observed(&r), &json!(23.0));
}

#[test]
fn column_quantile_values_to_be_between() {
    let e = "expect_column_quantile_values_to_be_between";
    let q = |interp: Value, ranges: Value| {
        json!({"column": "i", "allow_relative_error": interp,
               "quantile_ranges": {"quantiles": [0.1, 0.25, 0.5, 0.9], "value_ranges": ranges}})
    };
    let open = json!([[null, null], [null, null], [null, null], [null, null]]);
    for (interp, expected) in [
        (json!("lower"), json!([1, 3, 3, 9])),
        (json!("higher"), json!([2, 3, 5, 10])),
        (json!("linear"), json!([1.9, 3.0, 4.0, 9.1])),
        (json!("midpoint"), json!([1.5, 3.0, 4.0, 9.5])),
        (json!("nearest"), json!([2, 3, 3, 9])),
        (json!(false), json!([2, 3, 3, 9])),
    ] {
        let r = pass(e, q(interp.clone(), open.clone()));
        assert_eq!(observed(&r)["values"], expected, "{interp}");
    }
    let r = fail(e, q(json!("lower"), json!([[1, 1], [3, 3], [4, 5], [9, null]])));
    assert_eq!(r.result["details"]["success_details"], json!([true, true, false, true]));
    let r = pass(
        e,
        json!({"column": "f", "allow_relative_error": "linear",
               "quantile_ranges": {"quantiles": [0.1, 0.25, 0.5, 0.9], "value_ranges": [[null, null], [null, null], [null, null], [null, null]]}}),
    );
    assert_eq!(observed(&r)["values"], json!([-0.079_999_999_999_999_96, 1.15, 2.25, 6.079_999_999_999_999]));
}

#[test]
fn column_unique_value_count_to_be_between() {
    let e = "expect_column_unique_value_count_to_be_between";
    let r = pass(e, json!({"column": "i", "min_value": 8, "max_value": 8}));
    assert_eq!(observed(&r), &json!(8));
    let r = fail(e, json!({"column": "s", "max_value": 4}));
    assert_eq!(observed(&r), &json!(5));
}

#[test]
fn column_proportion_of_unique_values_to_be_between() {
    let e = "expect_column_proportion_of_unique_values_to_be_between";
    let r = pass(e, json!({"column": "i", "min_value": 0.8, "max_value": 0.8}));
    assert_eq!(observed(&r), &json!(0.8));
    // Distinct non-null over non-null: NaN and null are excluded from both.
    let r = fail(e, json!({"column": "f", "min_value": 0.9}));
    assert_eq!(observed(&r), &json!(0.875));
    let r = fail(e, json!({"column": "s", "min_value": 0.6}));
    assert_eq!(observed(&r), &json!(0.555_555_555_555_555_6));
}

#[test]
fn column_distinct_values_to_be_in_set() {
    let e = "expect_column_distinct_values_to_be_in_set";
    let r = pass(e, json!({"column": "s", "value_set": ["a", "bb", "ccc", "dd", "e", "f"]}));
    assert_eq!(observed(&r), &json!(["a", "bb", "ccc", "dd", "e"]));
    assert_eq!(r.result["details"]["value_counts"][0], json!({"value": "a", "count": 4}));
    fail(e, json!({"column": "s", "value_set": ["a", "bb"]}));
    pass(e, json!({"column": "b", "value_set": null}));
}

#[test]
fn column_most_common_value_to_be_in_set() {
    let e = "expect_column_most_common_value_to_be_in_set";
    let r = pass(e, json!({"column": "s", "value_set": ["a"]}));
    assert_eq!(observed(&r), &json!(["a"]));
    fail(e, json!({"column": "s", "value_set": ["bb"]}));
    // g has a tie (x: 5, y: 4 -> no tie); i has a single mode 3.
    let r = pass(e, json!({"column": "i", "value_set": [3, 4]}));
    assert_eq!(observed(&r), &json!([3]));
    let r = pass(e, json!({"column": "g", "value_set": ["x"], "ties_okay": true}));
    assert_eq!(observed(&r), &json!(["x"]));
}

#[test]
fn most_common_value_ties() {
    // k: every value once, so all ten are modes; without ties_okay that fails.
    let e = "expect_column_most_common_value_to_be_in_set";
    fail(e, json!({"column": "k", "value_set": [1]}));
    pass(e, json!({"column": "k", "value_set": [1], "ties_okay": true}));
}

#[test]
fn compound_columns_to_be_unique() {
    let e = "expect_compound_columns_to_be_unique";
    pass(e, json!({"column_list": ["i", "k"]}));
    // (i, g) pairs: (3, "y") occurs three times (rows 1, 3, 7).
    let r = fail(e, json!({"column_list": ["i", "g"]}));
    assert_eq!(r.result["unexpected_count"], 3);
    assert_eq!(r.result["partial_unexpected_list"][0], json!({"i": 3, "g": "y"}));
    assert_eq!(r.result["partial_unexpected_counts"], json!([{"value": {"i": 3, "g": "y"}, "count": 3}]));
    pass(e, json!({"column_list": ["i", "g"], "mostly": 0.7}));
}

#[test]
fn missing_column_is_a_failed_result_with_exception_info() {
    let r = fail("expect_column_mean_to_be_between", json!({"column": "nope", "min_value": 0}));
    assert!(r.exception_info.raised_exception);
    let msg = r.exception_info.exception_message.unwrap();
    assert!(msg.contains("\"nope\"") && msg.contains("table columns: i, f, s, b, k, g"), "{msg}");
}

#[test]
fn statistics_and_overall_success() {
    let suite = Suite::from_json(
        &json!({"expectation_suite_name": "t", "expectations": [
            {"expectation_type": "expect_column_to_exist", "kwargs": {"column": "i"}},
            {"expectation_type": "expect_column_to_exist", "kwargs": {"column": "zz"}},
            {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "i"}},
            {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "s"}}
        ]})
        .to_string(),
    )
    .unwrap();
    let r = validate(&table(), &suite);
    assert!(!r.success);
    assert_eq!(r.statistics.evaluated_expectations, 4);
    assert_eq!(r.statistics.successful_expectations, 2);
    assert_eq!(r.statistics.unsuccessful_expectations, 2);
    assert_eq!(r.statistics.success_percent, Some(50.0));
    let json: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["statistics"]["evaluated_expectations"], json!(4), "counts are integers");
    assert_eq!(json["results"][1]["exception_info"]["raised_exception"], json!(false));
    assert_eq!(r.exit_code(), 1);
    // Same input, same bytes.
    assert_eq!(r.to_json(), validate(&table(), &suite).to_json());
    let failed: Vec<String> = r.failed().map(|(i, x)| x.label(i)).collect();
    assert_eq!(failed, ["#1 expect_column_to_exist(zz)", "#3 expect_column_values_to_not_be_null(s)"]);
}
