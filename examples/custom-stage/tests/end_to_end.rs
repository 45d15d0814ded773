//! The example binary end to end: the custom stage and a shipped one run, a second run is all
//! cache hits, and the output bytes do not depend on the store or the run.

use std::path::Path;
use std::process::{Command, Output};

use arrow::array::StringArray;

fn example_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `custom-esteira ARGS` on the example's pipeline with the store at `store`.
fn custom_esteira(store: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_custom-esteira"))
        .args(args)
        .arg("-c")
        .arg(example_dir().join("pipeline.toml"))
        .arg("--store")
        .arg(store)
        .env("ESTEIRA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run_json(store: &Path) -> serde_json::Value {
    serde_json::from_slice(&custom_esteira(store, &["run", "--json"]).stdout).unwrap()
}

#[test]
fn the_custom_stage_runs_beside_a_shipped_one_then_hits_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("artifacts");
    let first = run_json(&store);
    for stage in ["count", "content_words"] {
        assert_eq!(first["stages"][stage]["status"], "ran", "{first}");
    }
    let counts = first["stages"]["count"]["outputs"]["counts"].clone();
    assert!(counts.is_string(), "{first}");

    let again = run_json(&store);
    for stage in ["count", "content_words"] {
        assert_eq!(again["stages"][stage]["status"], "cached", "{again}");
    }
    assert_eq!(again["stages"]["count"]["outputs"], first["stages"]["count"]["outputs"]);

    // Another store, another run: the same bytes, so the same hashes.
    let elsewhere = run_json(&dir.path().join("elsewhere"));
    assert_eq!(elsewhere["stages"]["count"]["outputs"]["counts"], counts);
    assert_eq!(elsewhere["stages"]["content_words"]["outputs"], first["stages"]["content_words"]["outputs"]);

    // The shipped stage dropped the filtered words from the custom stage's table.
    let words = |stage: &str, file: &str| -> Vec<String> {
        let (_, batches) = esteira::esteira_core::table::read_parquet(&store.join("latest").join(stage).join(file))
            .unwrap()
            .into_parts();
        batches
            .iter()
            .flat_map(|b| {
                let col = b.column_by_name("word").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
                col.iter().map(|w| w.unwrap().to_owned()).collect::<Vec<_>>()
            })
            .collect()
    };
    let all = words("count", "counts.parquet");
    let content = words("content_words", "table.parquet");
    assert_eq!(all.first().map(String::as_str), Some("its"), "most frequent first: {all:?}");
    assert!(all.contains(&"pipeline".to_owned()) && content.contains(&"pipeline".to_owned()), "{content:?}");
    assert!(all.contains(&"the".to_owned()) && !content.contains(&"the".to_owned()), "{content:?}");
    assert!(content.len() < all.len());
}

#[test]
fn the_kind_is_listed_with_the_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = custom_esteira(&dir.path().join("artifacts"), &["exec", "--list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("wordcount") && list.contains("preprocess"), "{list}");
}
