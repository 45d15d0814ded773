//! Fuzzing the suite reader with proptest: arbitrary bytes, JSON-ish text, and near-valid
//! suites in Great Expectations' format (known expectation types with kwargs drawn from the
//! names GE uses and values of every JSON kind, then random edits of the text). Errors are
//! fine; a panic is a failure. A suite that reads must write back to itself and validate the
//! test table (and an empty one) without panicking.
//!
//! Each target runs 256 cases, or `PROPTEST_CASES`, and prints how many inputs it ran.

use std::sync::atomic::{AtomicU64, Ordering};

use esteira_checks::{EXPECTATION_TYPES, Suite, render_html, validate};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRunner};
use serde_json::{Map, Value, json};

/// Runs `test` on `strategy` and prints how many inputs passed.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let ran = AtomicU64::new(0);
    // `Config::default()` reads PROPTEST_CASES; without it, 256 cases. XorShift: an unoptimised
    // ChaCha would take most of the time.
    let config = Config { failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        test(value)?;
        ran.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!("fuzz {name}: {} inputs, no panic", ran.load(Ordering::Relaxed));
}

/// Reads `text` as a suite; one that reads must round-trip and validate without panicking.
/// Each expectation is also read alone, so that one bad expectation does not keep the others
/// from being evaluated.
fn check(text: &str) -> Result<(), TestCaseError> {
    if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text)
        && let Some(Value::Array(items)) = obj.get("expectations")
    {
        for item in items {
            let one = json!({"expectation_suite_name": "one", "expectations": [item]});
            check_suite(&one.to_string())?;
        }
    }
    check_suite(text)
}

fn check_suite(text: &str) -> Result<(), TestCaseError> {
    let Ok(suite) = Suite::from_json_named(text, "fuzz.json") else { return Ok(()) };
    let written = suite.to_json();
    let again = Suite::from_json(&written).map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
    prop_assert_eq!(again.to_json(), written);
    let result = validate(&super::table(), &suite);
    prop_assert_eq!(result.results.len(), suite.expectations.len());
    let _ = result.to_json();
    let _ = render_html(&result, &[]);
    let empty = validate(&[], &suite);
    prop_assert_eq!(empty.results.len(), suite.expectations.len());
    Ok(())
}

#[test]
fn arbitrary_bytes_never_panic() {
    fuzz("suite arbitrary bytes", prop::collection::vec(any::<u8>(), 0..1024), |bytes| {
        check(&String::from_utf8_lossy(&bytes))
    });
}

#[test]
fn json_like_text_never_panics() {
    // Mostly JSON punctuation, digits and the words of a suite: deep into serde_json and past it.
    let token = prop_oneof![
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just(":"),
        Just(","),
        Just("\""),
        Just(" "),
        Just("\n"),
        Just("0"),
        Just("-1.5e3"),
        Just("true"),
        Just("null"),
        Just("\\u00e7"),
        Just("\\"),
        Just("\"expectation_suite_name\""),
        Just("\"expectations\""),
        Just("\"expectation_type\""),
        Just("\"kwargs\""),
        Just("\"column\""),
        Just("\"expect_column_values_to_be_between\""),
    ];
    fuzz("suite JSON-like text", prop::collection::vec(token, 0..200), |tokens| check(&tokens.concat()));
}

/// Values GE kwargs hold, of every JSON kind, biased to the ones that mean something.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..12).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (0.0f64..=1.0).prop_map(Value::from),
        prop::sample::select(vec![
            "i",
            "f",
            "s",
            "b",
            "k",
            "g",
            "missing",
            "",
            "a",
            "bb",
            "x",
            "int64",
            "float64",
            "object",
            "bool",
            "int",
            "str",
            "lower",
            "higher",
            "linear",
            "midpoint",
            "nearest",
            "never",
            "any_value_is_missing",
            "all_values_are_missing",
            "^[ab]",
            "(",
            "[",
            ".*",
            "\\d+",
            "(?i)A",
            "ç",
            "SUMMARY",
            "COMPLETE",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((kwarg_name(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn kwarg_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "column",
        "column_list",
        "column_set",
        "column_index",
        "exact_match",
        "min_value",
        "max_value",
        "strict_min",
        "strict_max",
        "mostly",
        "value_set",
        "regex",
        "type_list",
        "type_",
        "quantile_ranges",
        "quantiles",
        "value_ranges",
        "allow_relative_error",
        "ties_okay",
        "ignore_row_if",
        "parse_strings_as_datetimes",
        "row_condition",
        "result_format",
        "allow_cross_type_comparisons",
        "output_strftime_format",
        "catch_exceptions",
        "include_config",
        "meta",
        "bogus",
    ])
}

/// The kwargs each expectation type takes: (name, required).
fn kwargs_of(kind: &str) -> Vec<(&'static str, bool)> {
    let strict = [("strict_min", false), ("strict_max", false)];
    let column = ("column", true);
    let mostly = ("mostly", false);
    let mut v: Vec<(&'static str, bool)> = match kind {
        "expect_table_columns_to_match_ordered_list" => vec![("column_list", true)],
        "expect_table_columns_to_match_set" => vec![("column_set", true), ("exact_match", false)],
        "expect_table_row_count_to_be_between" => vec![("min_value", false), ("max_value", false)],
        "expect_column_to_exist" => vec![column, ("column_index", false)],
        "expect_column_values_to_be_in_set" | "expect_column_values_to_not_be_in_set" => {
            vec![column, ("value_set", true), mostly]
        }
        "expect_column_values_to_be_between" | "expect_column_value_lengths_to_be_between" => {
            vec![column, ("min_value", true), ("max_value", false), mostly]
        }
        "expect_column_values_to_match_regex" => vec![column, ("regex", true), mostly],
        "expect_column_values_to_be_in_type_list" => vec![column, ("type_list", true), mostly],
        "expect_column_values_to_be_of_type" => vec![column, ("type_", true), mostly],
        "expect_column_quantile_values_to_be_between" => {
            vec![column, ("quantile_ranges", true), ("allow_relative_error", false)]
        }
        "expect_column_distinct_values_to_be_in_set" => vec![column, ("value_set", false)],
        "expect_column_most_common_value_to_be_in_set" => vec![column, ("value_set", true), ("ties_okay", false)],
        "expect_compound_columns_to_be_unique" => vec![("column_list", true), mostly, ("ignore_row_if", false)],
        t if t.starts_with("expect_column_values_to") => vec![column, mostly],
        t if t.ends_with("_to_be_between") => vec![column, ("min_value", false), ("max_value", false)],
        _ => vec![column],
    };
    if kind.ends_with("_to_be_between") && kind != "expect_column_quantile_values_to_be_between" {
        v.extend(strict);
    }
    v
}

const COLUMNS: [&str; 7] = ["i", "f", "s", "b", "k", "g", "missing"];

/// A well-typed value for the kwarg `name`, most of the time.
fn typed(name: &str) -> BoxedStrategy<Value> {
    let column = || prop::sample::select(COLUMNS.to_vec()).prop_map(Value::from);
    let bound = || {
        prop_oneof![
            Just(Value::Null),
            (-5i64..15).prop_map(Value::from),
            (-5.0f64..15.0).prop_map(Value::from),
            prop::sample::select(vec!["a", "bb", "e"]).prop_map(Value::from),
        ]
    };
    let small = || {
        prop_oneof![
            prop::sample::select(vec!["a", "bb", "x", "y", "ccc", ""]).prop_map(Value::from),
            (0i64..11).prop_map(Value::from),
            Just(json!(1.5)),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ]
    };
    match name {
        "column" => column().boxed(),
        "column_list" | "column_set" => prop::collection::vec(column(), 0..4).prop_map(Value::Array).boxed(),
        "column_index" => (0u64..8).prop_map(Value::from).boxed(),
        "exact_match" | "strict_min" | "strict_max" | "ties_okay" => any::<bool>().prop_map(Value::from).boxed(),
        "min_value" | "max_value" => bound().boxed(),
        "mostly" => (0.0f64..=1.0).prop_map(Value::from).boxed(),
        "value_set" => prop::collection::vec(small(), 0..5).prop_map(Value::Array).boxed(),
        "regex" => {
            prop::sample::select(vec!["^[ab]", ".*", "\\d+", "(?i)A", "^$", "b+$", "ç"]).prop_map(Value::from).boxed()
        }
        "type_list" => prop::collection::vec(type_name(), 0..3).prop_map(Value::Array).boxed(),
        "type_" => type_name().boxed(),
        "quantile_ranges" => (0usize..4)
            .prop_flat_map(move |n| {
                let range = (bound(), bound()).prop_map(|(a, b)| json!([a, b]));
                (prop::collection::vec((0.0f64..=1.0).prop_map(Value::from), n), prop::collection::vec(range, n))
            })
            .prop_map(|(q, r)| json!({"quantiles": q, "value_ranges": r}))
            .boxed(),
        "allow_relative_error" => prop::sample::select(vec![
            json!(false),
            json!("lower"),
            json!("higher"),
            json!("linear"),
            json!("midpoint"),
            json!("nearest"),
        ])
        .boxed(),
        "ignore_row_if" => prop::sample::select(vec!["never", "any_value_is_missing", "all_values_are_missing"])
            .prop_map(Value::from)
            .boxed(),
        _ => value().boxed(),
    }
}

fn type_name() -> impl Strategy<Value = Value> {
    prop::sample::select(vec!["int64", "float64", "object", "bool", "int", "str", "float", "INTEGER"])
        .prop_map(Value::from)
}

/// Kwargs of `kind`: the required ones, some optional ones, well typed; then, one time in
/// four, a value of any kind in place of one or an unknown key.
fn kwargs(kind: &str) -> BoxedStrategy<Map<String, Value>> {
    let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = kwargs_of(kind)
        .into_iter()
        .map(|(name, required)| {
            let pair = typed(name).prop_map(move |v| (name.to_owned(), v));
            if required { pair.prop_map(Some).boxed() } else { prop::option::of(pair).boxed() }
        })
        .collect();
    let noise = prop_oneof![
        3 => Just(None),
        1 => (kwarg_name(), value()).prop_map(|(k, v)| Some((k.to_owned(), v))),
    ];
    (parts, noise)
        .prop_map(|(parts, noise)| parts.into_iter().flatten().chain(noise).collect::<Map<String, Value>>())
        .boxed()
}

fn expectation() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        9 => prop::sample::select(EXPECTATION_TYPES.to_vec()).prop_map(str::to_owned),
        1 => ".{0,40}",
    ];
    kind.prop_flat_map(|kind| {
        let kwargs = prop_oneof![12 => kwargs(&kind).prop_map(Value::Object), 1 => value()];
        (Just(kind), kwargs, prop::option::of(value()))
    })
    .prop_map(|(kind, kwargs, meta)| {
        let mut e = json!({"expectation_type": kind, "kwargs": kwargs});
        if let Some(meta) = meta {
            e["meta"] = meta;
        }
        e
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Truncate(usize),
}

/// A suite as GE writes it, then 0-2 edits of its text (at character boundaries).
fn near_valid() -> impl Strategy<Value = String> {
    let name = prop_oneof![8 => Just(json!("students")), 1 => value()];
    let edit = prop_oneof![
        (any::<usize>(), prop::sample::select(vec!['{', '}', '[', ']', '"', ',', ':', '0', 'x', '\\']))
            .prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    let edits = prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(edit, 1..3)];
    (name, prop::collection::vec(expectation(), 0..6), any::<bool>(), edits).prop_map(
        |(name, expectations, pretty, edits)| {
            let suite = json!({"expectation_suite_name": name, "expectations": expectations, "meta": {}});
            let text = if pretty { serde_json::to_string_pretty(&suite) } else { serde_json::to_string(&suite) };
            let mut chars: Vec<char> = text.unwrap_or_default().chars().collect();
            for e in edits {
                let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
                match e {
                    Edit::Insert(i, c) => {
                        let i = at(i, chars.len() + 1);
                        chars.insert(i, c);
                    }
                    Edit::Delete(i) if !chars.is_empty() => {
                        let i = at(i, chars.len());
                        chars.remove(i);
                    }
                    Edit::Truncate(i) => chars.truncate(at(i, chars.len() + 1)),
                    Edit::Delete(_) => {}
                }
            }
            chars.into_iter().collect()
        },
    )
}

#[test]
fn near_valid_suites_never_panic() {
    fuzz("suite near-valid", near_valid(), |text| check(&text));
}
