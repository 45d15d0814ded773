//! A failed stage's outputs that were written before the failure: kept in the run record and
//! `latest/`, named by `runs show`, never cached.

use super::common::Bed;

/// The hash of a file's bytes, as the store names objects.
fn hash_of(path: &std::path::Path) -> String {
    esteira_core::ContentHash::of_bytes(&std::fs::read(path).unwrap()).to_hex()
}

fn cache_records(b: &Bed) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(b.store().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const CHECK: &str = r#"
[stages.chk]
kind = "check"
inputs = { table = "file:data/t.csv", suite = "file:suite.json" }

[stages.after]
kind = "test.sleep"
inputs = { in = "chk.result" }
params = { ms = 0 }
"#;

const SUITE: &str = r#"{"expectation_suite_name": "ids", "expectations": [
  {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id_discente"}},
  {"expectation_type": "expect_column_values_to_match_regex",
   "kwargs": {"column": "id_discente", "regex": "^[0-9a-f]{8}$"}}
]}"#;

#[test]
fn a_failed_check_keeps_its_report_names_counts_and_values_and_is_never_cached() {
    let b = Bed::new();
    b.write("esteira.toml", CHECK);
    b.write("suite.json", SUITE);
    b.write("data/t.csv", "id_discente;renda\nid-1;10\nid-4;20\nid-4;30\n0123abcd;40\nid-5;50\n");
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "#1 expect_column_values_to_match_regex(id_discente): 4 unexpected of 5 (80 %), \
             e.g. \"id-1\", \"id-4\", \"id-5\""
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("report.html"), "the error says where the report is: {}", out.stderr);
    let r = b.record("latest");
    let chk = &r["stages"]["chk"];
    assert_eq!(chk["status"], "failed");
    assert_eq!(r["stages"]["after"]["status"], "skipped");
    let report = b.store().join("latest/chk/report.html");
    assert!(b.latest("chk", "report.html").contains("FAILED — ids"));
    let recorded = chk["outputs"]["report"].as_str().unwrap().to_owned();
    assert_eq!(hash_of(&report), recorded, "latest/ holds the object the run record names");
    assert_eq!(hash_of(&b.store().join("latest/chk/result.json")), chk["outputs"]["result"].as_str().unwrap());
    let key = chk["key"].as_str().unwrap().to_owned();
    assert!(!cache_records(&b).iter().any(|f| f.starts_with(&key)), "no cache record for a failed stage");

    let show = b.esteira(&["runs", "show", "latest"]).ok();
    let line = show.stdout.lines().find(|l| l.contains("out report")).unwrap_or_default();
    assert!(line.contains(&recorded) && line.ends_with(" artifacts/latest/chk/report.html"), "{}", show.stdout);
    assert!(show.stdout.contains("kept: outputs written before the stage failed"), "{}", show.stdout);
    // `show` knows who produced it; verify and gc count it as referenced.
    let producer = b.esteira(&["show", &recorded]).ok();
    assert!(producer.stdout.contains("produced by stage `chk`") && producer.stdout.contains("(failed)"));
    b.esteira(&["verify"]).ok();
    b.esteira(&["gc", "--keep", "1"]).ok();
    assert!(report.is_file());
    assert_eq!(hash_of(&report), recorded);

    // The failed stage executes again next run (it is not served from the cache).
    let again = b.esteira(&["run"]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(b.status_of("latest", "chk"), "failed");
    assert!(!cache_records(&b).iter().any(|f| f.starts_with(&key)));

    // Once the data is fixed, the successful run's outputs replace the failure's.
    b.write("data/t.csv", "id_discente;renda\n0123abcd;10\ndeadbeef;20\n");
    b.esteira(&["run"]).ok();
    let r = b.record("latest");
    assert_eq!(r["stages"]["chk"]["status"], "ran");
    assert_eq!(r["stages"]["after"]["status"], "ran");
    assert!(b.latest("chk", "report.html").contains("PASSED"));
    assert_eq!(hash_of(&report), r["stages"]["chk"]["outputs"]["report"].as_str().unwrap());
}

const TWO: &str = r#"
[stages.src]
kind = "test.source"
params = { text = "abc" }

[stages.mid]
kind = "test.upper"
inputs = { in = "src.out" }
"#;

fn failing(params: &str) -> String {
    TWO.replace("kind = \"test.upper\"", &format!("kind = \"test.fail\"\nparams = {params}"))
}

#[test]
fn a_failed_stage_never_leaves_an_earlier_runs_output_in_latest() {
    let b = Bed::new();
    b.write("esteira.toml", TWO);
    b.esteira(&["run"]).ok();
    assert_eq!(b.latest("mid", "out.txt"), "ABC");
    let records = cache_records(&b);

    // Failing without writing anything: the old success's file is not shown as this run's.
    b.write("esteira.toml", &failing("{ message = \"boom\" }"));
    assert_eq!(b.esteira(&["run"]).code, 1);
    assert!(!b.store().join("latest/mid/out.txt").exists());
    assert!(b.record("latest")["stages"]["mid"]["outputs"].as_object().unwrap().is_empty());

    // Failing after writing the output: it is kept, recorded, linked, and not cached.
    b.write("esteira.toml", &failing("{ message = \"boom\", write = \"partial\" }"));
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("boom (kept, written before the failure: out.txt in artifacts/latest/mid/)"),
        "{}",
        out.stderr
    );
    assert_eq!(b.latest("mid", "out.txt"), "partial");
    let kept = b.record("latest")["stages"]["mid"]["outputs"]["out"].as_str().unwrap().to_owned();
    assert_eq!(hash_of(&b.store().join("latest/mid/out.txt")), kept);
    assert_eq!(cache_records(&b), records, "a failed stage writes no cache record");

    // Back to the working stage: its cached output replaces the failure's.
    b.write("esteira.toml", TWO);
    b.esteira(&["run"]).ok();
    assert_eq!(b.status_of("latest", "mid"), "cached");
    assert_eq!(b.latest("mid", "out.txt"), "ABC");
}
