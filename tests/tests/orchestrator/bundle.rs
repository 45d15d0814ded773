//! `export`, `reproduce HASH`, `reproduce --bundle` and `show HASH`'s lineage tree on the test
//! stages (whose outputs, and so hashes, never change).

use crate::common::Bed;

const PIPELINE: &str = r#"
[pipeline]
name = "lineage"

[stages.src]
kind = "test.source"
params = { text = "abc" }

[stages.up]
kind = "test.upper"
inputs = { in = "src.out" }

[stages.join]
kind = "test.concat"
inputs = { a = "up.out", b = "file:data/b.txt" }

[stages.other]
kind = "test.upper"
inputs = { in = "file:data/b.txt" }
"#;

fn bed() -> Bed {
    let b = Bed::new();
    b.write("esteira.toml", PIPELINE);
    b.write("data/b.txt", "from a file");
    b.run(&[]);
    b
}

fn output(b: &Bed, stage: &str) -> String {
    b.record("latest")["stages"][stage]["outputs"]["out"].as_str().unwrap().to_owned()
}

#[test]
fn show_prints_the_lineage_closure_as_a_tree() {
    let b = bed();
    let out = b.esteira(&["show", &output(&b, "join")[..10]]).ok();
    let tree: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("lineage"))
        .take_while(|l| !l.starts_with("used as input"))
        .collect();
    let tree = tree.join("\n") + "\n";
    insta::assert_snapshot!("show_lineage_tree", tree);
}

#[test]
fn an_object_reproduces_from_its_hash_alone_with_its_lineage_and_nothing_else() {
    let b = bed();
    let rep = b.esteira(&["reproduce", &output(&b, "join")[..8]]);
    assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
    for stage in ["src", "up", "join"] {
        assert!(rep.stdout.lines().any(|l| l.starts_with(stage) && l.contains("identical")), "{}", rep.stdout);
    }
    // `other` is not in join's lineage.
    assert!(!rep.stdout.lines().any(|l| l.starts_with("other")), "{}", rep.stdout);
    assert!(rep.stdout.contains("reproduced"), "{}", rep.stdout);

    // An input file's hash is not something a stage produced.
    let input = b.record("latest")["stages"]["join"]["inputs"]["b"].as_str().unwrap().to_owned();
    let rep = b.esteira(&["reproduce", &input]);
    assert_eq!(rep.code, 2, "{}", rep.stderr);
    assert!(rep.stderr.contains("not produced by a recorded stage"), "{}", rep.stderr);
}

#[test]
fn the_run_record_says_which_binary_ran_it_and_runs_diff_shows_versions() {
    let b = bed();
    let first = b.record("latest");
    let build = &first["build"];
    assert!(["debug", "release"].contains(&build["profile"].as_str().unwrap()), "{build}");
    assert!(build["target"].as_str().unwrap().contains('-'), "{build}");
    let second = b.cmd(&["run", "--json"]).env("ESTEIRA_TEST_UPPER_VERSION", "2").output().unwrap();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let diff = b.esteira(&["runs", "diff", first["id"].as_str().unwrap(), "latest"]).ok();
    assert!(
        diff.stdout.lines().any(|l| l.starts_with("up ") && l.contains("version") && l.contains(" 1 ")),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.lines().any(|l| l.starts_with("other ") && l.contains("version")), "{}", diff.stdout);
}

#[test]
fn a_bundle_reproduces_in_an_empty_directory_and_names_a_changed_stage_version() {
    let b = bed();
    let bundle = b.path().join("run.tar");
    let out = b.esteira(&["export", "latest", "-o", bundle.to_str().unwrap()]).ok();
    let bytes = std::fs::read(&bundle).unwrap();
    let hash = esteira_core::ContentHash::of_bytes(&bytes).to_hex();
    assert!(out.stdout.contains(&format!("blake3 {hash}")), "{}", out.stdout);

    let reviewer = Bed::new();
    let fresh = reviewer.path().join("store");
    let args = ["reproduce", "--bundle", bundle.to_str().unwrap(), "--store", fresh.to_str().unwrap()];
    let rep = reviewer.esteira(&args);
    assert_eq!(rep.code, 0, "{}\n{}", rep.stdout, rep.stderr);
    assert!(rep.stdout.contains(&hash), "{}", rep.stdout);
    assert_eq!(rep.stdout.lines().filter(|l| l.contains(" identical ")).count(), 4, "{}", rep.stdout);
    // The reproduction is recorded in the reviewer's store like the original run.
    let join = output(&b, "join");
    let show = reviewer.esteira(&["--store", fresh.to_str().unwrap(), "show", &join]).ok();
    assert!(show.stdout.contains("produced by stage `join`"), "{}", show.stdout);
    // Nothing but the store was written in the reviewer's directory.
    let entries: Vec<_> = std::fs::read_dir(reviewer.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("store")]);

    // A newer `test.upper` that writes the same bytes: said up front, compared, identical.
    let fresh2 = reviewer.path().join("store2");
    let args2 = ["reproduce", "--bundle", bundle.to_str().unwrap(), "--store", fresh2.to_str().unwrap()];
    let rep = reviewer.cmd(&args2).env("ESTEIRA_TEST_UPPER_VERSION", "2").output().unwrap();
    let stdout = String::from_utf8_lossy(&rep.stdout);
    assert!(rep.status.success(), "{stdout}");
    let note = stdout.lines().position(|l| l.contains("stage `up` (kind `test.upper`) is version 2")).unwrap();
    let table = stdout.lines().position(|l| l.starts_with("STAGE")).unwrap();
    assert!(note < table, "{stdout}");

    // One that writes other bytes: the difference names the version change.
    let fresh3 = reviewer.path().join("store3");
    let args3 = ["reproduce", "--bundle", bundle.to_str().unwrap(), "--store", fresh3.to_str().unwrap()];
    let rep = reviewer
        .cmd(&args3)
        .env("ESTEIRA_TEST_UPPER_VERSION", "2")
        .env("ESTEIRA_TEST_UPPER_BANG", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&rep.stdout);
    let stderr = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(1), "{stdout}\n{stderr}");
    let up = stdout.lines().find(|l| l.starts_with("up ")).unwrap();
    assert!(up.contains("different") && up.contains("likely cause: stage version is now 2 (recorded 1)"), "{up}");
    let join = stdout.lines().find(|l| l.starts_with("join ")).unwrap();
    assert!(join.contains("different") && join.contains("an upstream stage differs"), "{join}");
    assert!(stderr.contains("did not reproduce: ") && stderr.contains("up, "), "{stderr}");
}
