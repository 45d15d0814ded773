//! Fuzz targets (proptest-driven) for the pipeline-file parser and the DAG builder behind it:
//! arbitrary text, and the real UFRN pipeline file with bytes flipped, dropped, inserted or lines
//! swapped, must give a pipeline or an error naming the file — never a panic.
//!
//! Each target runs `PROPTEST_CASES` inputs (256 when unset) and prints how many it ran:
//! `PROPTEST_CASES=20000 cargo test -p esteira --lib pipeline_fuzz -- --nocapture`. Here, not in
//! esteira-engine, because it builds the DAG with the shipped stage kinds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use esteira_engine::EngineError;
use esteira_engine::dag::Dag;
use esteira_engine::pipeline::Pipeline;

const UFRN: &str = include_str!("../../esteira.toml");

/// Parses and builds; names the outcome. An error must name the pipeline file.
fn outcome(text: &str) -> Result<&'static str, TestCaseError> {
    let registry = crate::registry::builtin();
    let file = Path::new("fuzz/esteira.toml");
    let result = Pipeline::parse(file, text.to_owned()).and_then(|p| Dag::build(p, &registry));
    match result {
        Ok(_) => Ok("built"),
        Err(e @ (EngineError::Pipeline { .. } | EngineError::Cycle { .. })) => {
            prop_assert!(e.to_string().starts_with("fuzz/esteira.toml"), "{e}");
            Ok("error")
        }
        Err(e) => Err(TestCaseError::fail(format!("an error that names no file: {e}"))),
    }
}

fn fuzz<S: Strategy>(name: &str, strategy: S, to_text: impl Fn(S::Value) -> String) {
    // Config::default reads PROPTEST_CASES; no regression files are written into the tree.
    let config = Config { failure_persistence: None, ..Config::default() };
    let seen = Mutex::new(BTreeMap::<&str, usize>::new());
    let result = TestRunner::new(config.clone()).run(&strategy, |v| {
        let o = outcome(&to_text(v))?;
        *seen.lock().unwrap().entry(o).or_default() += 1;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let seen = seen.into_inner().unwrap();
    eprintln!("{name}: {} inputs without a panic; {seen:?}", seen.values().sum::<usize>());
}

/// One edit of the file's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Drop(usize, usize),
    Insert(usize, String),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just("\"".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("=".to_owned()),
        Just("1e400".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\n[stages.x]\nkind = \"merge\"\n".to_owned()),
        Just("inputs = { a = \"file:../../etc/passwd\" }\n".to_owned()),
        Just("after = [\"train\"]\n".to_owned()),
        "[a-z_.\"=\\[\\]{}, \n0-9]{1,12}",
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Drop(i, n)),
        (any::<usize>(), snippet).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(edits: Vec<Edit>) -> String {
    let mut bytes = UFRN.as_bytes().to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match e {
            Edit::Flip(i, b) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] = b;
            }
            Edit::Drop(i, n) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes.drain(i..(i + n).min(bytes.len()));
            }
            Edit::Insert(i, s) => {
                let i = at(i, bytes.len() + 1);
                bytes.splice(i..i, s.into_bytes());
            }
            Edit::SwapLines(a, b) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let (a, b) = (at(a, lines.len()), at(b, lines.len()));
                    lines.swap(a, b);
                }
                bytes = lines.join("\n").into_bytes();
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn the_real_pipeline_file_builds() {
    assert_eq!(outcome(UFRN).unwrap(), "built");
}

#[test]
fn arbitrary_text_never_panics() {
    fuzz("pipeline: arbitrary text", proptest::collection::vec(any::<u8>(), 0..600), |b| {
        String::from_utf8_lossy(&b).into_owned()
    });
}

#[test]
fn a_damaged_ufrn_pipeline_never_panics() {
    fuzz("pipeline: damaged esteira.toml", proptest::collection::vec(edit(), 1..6), apply);
}
