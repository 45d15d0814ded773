//! Fuzz targets (proptest-driven) for the predict request parsers: the JSON body of
//! `POST /api/predict` (read, checked against the model, scored, answered) and the CSV reader
//! behind `POST /api/predict.csv` and `esteira predict`. Arbitrary bytes and structured but wrong
//! input must never panic, and must never reach the model unchecked (no 500 answer, no error
//! from the model).
//!
//! Each target runs `PROPTEST_CASES` inputs (proptest's default, 256, when unset) and prints how
//! many it ran: `PROPTEST_CASES=20000 cargo test -p esteira-serve --lib fuzz -- --nocapture`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use axum::http::StatusCode;
use esteira_core::{ArtifactStore, LocalStore};
use esteira_train::{TrainParams, train};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::load::LoadedModel;
use crate::state::AppState;
use crate::{ServeError, api, batch};

/// Rows per request in the targets: small, so the row limit is hit too.
const MAX_ROWS: usize = 20;

/// A server state with a small trained model (categorical `grupo` and `sexo`, numeric `renda`
/// and `ano_nascimento`), made once.
fn state() -> &'static AppState {
    static STATE: OnceLock<(tempfile::TempDir, AppState)> = OnceLock::new();
    &STATE
        .get_or_init(|| {
            let n = 240;
            let grupo: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
            let sexo: Vec<&str> = (0..n).map(|i| if i % 4 < 2 { "F" } else { "M" }).collect();
            let renda: Vec<f64> = (0..n).map(|i| ((i * 37) % 100) as f64).collect();
            let ano: Vec<f64> = (0..n).map(|i| 1970.0 + ((i * 13) % 30) as f64).collect();
            let descricao: Vec<&str> =
                (0..n).map(|i| if (i % 3 == 1 && i % 7 != 0) || i % 5 == 0 { "APROVADO" } else { "FALHOU" }).collect();
            let batch = RecordBatch::try_from_iter([
                ("grupo", Arc::new(StringArray::from(grupo)) as ArrayRef),
                ("sexo", Arc::new(StringArray::from(sexo)) as ArrayRef),
                ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
                ("ano_nascimento", Arc::new(Float64Array::from(ano)) as ArrayRef),
                ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
            ])
            .unwrap();
            let params = TrainParams {
                categorical: vec!["grupo".into(), "sexo".into()],
                numeric: vec!["renda".into(), "ano_nascimento".into()],
                derived: BTreeMap::default(),
                ..TrainParams::default()
            };
            let model = train(&params, &[batch], "fuzz").unwrap().model;
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(LocalStore::open(dir.path().join("artifacts")).unwrap());
            let hash = store.put_bytes(&model.to_json()).unwrap();
            let loaded = LoadedModel {
                model: Arc::new(model),
                hash,
                run_id: None,
                train_stage: None,
                evaluation: None,
                calibration: crate::Calibration::unavailable("fuzz"),
            };
            let state = AppState::new(store, loaded).with_max_rows(MAX_ROWS);
            (dir, state)
        })
        .1
}

/// Runs `test` on `cases` inputs of `strategy` (panics are caught and shrunk by proptest) and
/// prints how many ran and how they were answered (`test` names the outcome).
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<&'static str, TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    // Config::default reads PROPTEST_CASES; no regression files are written into the tree.
    let config = Config { failure_persistence: None, ..Config::default() };
    let ran = AtomicUsize::new(0);
    let outcomes = Mutex::new(BTreeMap::<&str, usize>::new());
    let result = TestRunner::new(config.clone()).run(&strategy, |v| {
        ran.fetch_add(1, Ordering::Relaxed);
        let outcome = test(v)?;
        if let Ok(mut o) = outcomes.lock() {
            *o.entry(outcome).or_default() += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let outcomes = outcomes.into_inner().unwrap_or_default();
    eprintln!(
        "{name}: {} inputs (PROPTEST_CASES {}) without a panic; {outcomes:?}",
        ran.load(Ordering::Relaxed),
        config.cases
    );
}

/// `POST /api/predict` on these bytes: any answer but 500 (which would mean a value reached the
/// model unchecked).
fn check_json(bytes: &[u8]) -> Result<&'static str, TestCaseError> {
    let st = state();
    let res = api::predict_body(st, bytes);
    let status = res.status();
    prop_assert!(
        [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::PAYLOAD_TOO_LARGE, StatusCode::UNPROCESSABLE_ENTITY]
            .contains(&status),
        "status {status}"
    );
    // The form path reads the same rows with blanks required.
    if let Ok(rows) = crate::rows::rows_from_json(bytes, MAX_ROWS) {
        let _ = st.inner.inputs.parse(&rows, crate::rows::Blank::Required);
    }
    Ok(status.canonical_reason().unwrap_or("?"))
}

/// The CSV reader on these bytes, scoring and check-only: a result or an input error, never a
/// model or I/O error.
fn check_csv(bytes: &[u8]) -> Result<&'static str, TestCaseError> {
    let model = &state().inner.loaded.model;
    let mut out = Vec::new();
    let scored = batch::predict_csv_named(model, None, bytes, &mut out, "fuzz", Some(MAX_ROWS));
    let checked = batch::check_csv_named(model, bytes, "fuzz");
    for r in [&scored, &checked] {
        match r {
            Ok(_)
            | Err(
                ServeError::Csv { .. }
                | ServeError::CsvColumns { .. }
                | ServeError::CsvValues { .. }
                | ServeError::TooManyRows { .. },
            ) => {}
            Err(e) => prop_assert!(false, "not an input error: {e}"),
        }
    }
    // A file that passes the check is scored whole (the row limit aside).
    if let (Ok(n), Ok(m)) = (&scored, &checked) {
        prop_assert_eq!(n, m);
    }
    if checked.is_ok() && !matches!(scored, Err(ServeError::TooManyRows { .. })) {
        prop_assert!(scored.is_ok(), "checked but not scored: {:?}", scored.as_ref().err().map(ToString::to_string));
    }
    Ok(match scored {
        Ok(_) => "scored",
        Err(ServeError::Csv { .. }) => "malformed",
        Err(ServeError::CsvColumns { .. }) => "missing columns",
        Err(ServeError::CsvValues { .. }) => "invalid values",
        Err(_) => "too many rows",
    })
}

const COLUMNS: [&str; 5] = ["grupo", "sexo", "renda", "ano_nascimento", "extra"];

/// Text that is often almost right: categories, numbers in both notations, and their near misses.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "a",
            "b",
            "c",
            "A",
            " a ",
            "F",
            "M",
            "Zzz",
            "",
            " ",
            "1",
            "1.5",
            "1,5",
            "-0",
            "1e308",
            "-1e308",
            "1e400",
            "NaN",
            "inf",
            "-inf",
            "0x10",
            "1_000",
            "\u{0}",
            "ç",
            "\u{feff}a",
            "\"",
            ";",
            ",",
            "\n",
            "\r\n",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
        any::<f64>().prop_map(|f| f.to_string()),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(COLUMNS.to_vec()).prop_map(str::to_owned), 1 => ".{0,6}"]
}

/// A valid value of a column (as JSON).
fn valid_json(column: &str) -> BoxedStrategy<Value> {
    match column {
        "grupo" => prop::sample::select(vec!["a", "b", "c"]).prop_map(Value::from).boxed(),
        "sexo" => prop::sample::select(vec!["F", "M", " M "]).prop_map(Value::from).boxed(),
        "renda" | "ano_nascimento" => prop_oneof![
            (-1e6f64..1e6).prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            Just(Value::Null),
            Just(Value::from("12,5")),
        ]
        .boxed(),
        _ => json_leaf().boxed(),
    }
}

/// A row: usually every model column with a valid value, then a value replaced by any JSON
/// value, a column removed, other keys added (each sometimes).
fn json_row() -> impl Strategy<Value = Value> {
    let valid: Vec<BoxedStrategy<(String, Value)>> =
        COLUMNS[..4].iter().map(|c| valid_json(c).prop_map(move |v| ((*c).to_owned(), v)).boxed()).collect();
    (
        valid,
        prop::option::weighted(0.3, (key(), json_value())),
        prop::option::weighted(0.2, key()),
        prop::collection::btree_map(key(), json_leaf(), 0..3),
    )
        .prop_map(|(valid, replace, remove, extra)| {
            let mut m: serde_json::Map<String, Value> = extra.into_iter().collect();
            m.extend(valid);
            if let Some((k, v)) = replace {
                m.insert(k, v);
            }
            if let Some(k) = remove {
                m.remove(&k);
            }
            Value::Object(m)
        })
}

/// A body: one row, a list of rows and other values (up past the row limit), or any value;
/// serialised, then sometimes cut short or with a byte changed.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        3 => json_row(),
        4 => prop::collection::vec(prop_oneof![6 => json_row(), 1 => json_value()], 0..(MAX_ROWS + 4)).prop_map(Value::Array),
        1 => json_value(),
    ];
    (value, 0usize..4, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, damage, at, byte)| {
        let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            match damage {
                0 => bytes.truncate(i),
                1 => bytes[i] = byte,
                _ => {}
            }
        }
        bytes
    })
}

/// A CSV cell of a column: mostly a valid value, otherwise a near miss.
fn csv_cell(column: &str) -> BoxedStrategy<String> {
    let valid: Vec<&'static str> = match column {
        "grupo" => vec!["a", "b", "c", " b"],
        "sexo" => vec!["F", "M", ""],
        "renda" | "ano_nascimento" => vec!["10", "1990", "12,5", "-3.25e2", "", "0"],
        _ => vec!["x", "", "1"],
    };
    prop_oneof![12 => prop::sample::select(valid).prop_map(str::to_owned), 1 => text()].boxed()
}

/// A CSV file: a header of the model's columns (usually all, shuffled, sometimes one missing,
/// with other columns) and rows of mostly valid, sometimes near-miss cells, with either
/// separator, sometimes quoted, sometimes a ragged row.
fn csv_body() -> impl Strategy<Value = Vec<u8>> {
    let header = (
        Just(COLUMNS[..4].iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()).prop_shuffle(),
        prop::collection::vec(key(), 0..3),
        0usize..12,
    )
        .prop_map(|(mut h, extra, drop)| {
            h.extend(extra);
            if drop < h.len() && drop % 3 == 0 {
                h.remove(drop);
            }
            h
        });
    header.prop_flat_map(|header| {
        let row: Vec<BoxedStrategy<String>> = header.iter().map(|c| csv_cell(c)).collect();
        let row = prop_oneof![100 => row.prop_map(|r| r), 1 => prop::collection::vec(text(), 0..8)];
        (Just(header), prop::collection::vec(row, 0..(MAX_ROWS + 4)), any::<bool>(), any::<bool>()).prop_map(
            |(header, rows, semicolon, quote)| {
                let sep = if semicolon { ";" } else { "," };
                let cell = |s: &str| if quote { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() };
                let mut out = header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(sep);
                out.push('\n');
                for r in rows {
                    out.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(sep));
                    out.push('\n');
                }
                out.into_bytes()
            },
        )
    })
}

#[test]
fn fuzz_json_bytes() {
    fuzz("fuzz_json_bytes", prop::collection::vec(any::<u8>(), 0..2048), |b| check_json(&b));
}

#[test]
fn fuzz_json_structured() {
    fuzz("fuzz_json_structured", json_body(), |b| check_json(&b));
}

#[test]
fn fuzz_csv_bytes() {
    fuzz("fuzz_csv_bytes", prop::collection::vec(any::<u8>(), 0..2048), |b| check_csv(&b));
}

#[test]
fn fuzz_csv_structured() {
    fuzz("fuzz_csv_structured", csv_body(), |b| check_csv(&b));
}

/// Seeds the targets rarely find alone: valid rows, so the scoring path runs.
#[test]
fn valid_rows_are_scored() {
    let body = br#"[{"grupo": "a", "sexo": "F", "renda": 10, "ano_nascimento": 1990}, {"grupo": "b", "sexo": "M", "renda": null, "ano_nascimento": "1980,5"}]"#;
    assert_eq!(api::predict_body(state(), body).status(), StatusCode::OK);
    let csv = b"grupo;sexo;renda;ano_nascimento\na;F;10;1990\nc;;;\n";
    let mut out = Vec::new();
    assert_eq!(batch::predict_csv_named(&state().inner.loaded.model, None, &csv[..], &mut out, "t", None).unwrap(), 2);
    check_json(body).unwrap();
    check_csv(csv).unwrap();
}
