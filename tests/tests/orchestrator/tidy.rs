//! Tidy: the invariants of ARCHITECTURE.md that a machine can check, checked on the source tree.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace root (this crate lives in `tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Every member directory: `crates/*`, `examples/*`, `orchestrator`, `tests`.
fn members() -> Vec<PathBuf> {
    let root = root();
    let mut dirs = vec![root.join("orchestrator"), root.join("tests")];
    for group in ["crates", "examples"] {
        let Ok(entries) = fs::read_dir(root.join(group)) else { continue };
        for e in entries.flatten() {
            if e.path().join("Cargo.toml").is_file() {
                dirs.push(e.path());
            }
        }
    }
    dirs.sort();
    dirs
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

fn manifest(dir: &Path) -> toml::Table {
    let text = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    text.parse().unwrap_or_else(|e| panic!("{}: {e}", rel(dir)))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_member_is_in_the_codemap() {
    let arch = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let missing: Vec<String> = members()
        .iter()
        .map(|d| rel(d))
        .filter(|r| !arch.contains(&format!("| `{r}` |")) && !arch.contains(&format!("| `{r}/` |")))
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's codemap has no row for {missing:?}");
}

#[test]
fn every_member_takes_the_workspace_lints() {
    for dir in members() {
        let m = manifest(&dir);
        let lints = m.get("lints").and_then(|l| l.get("workspace")).and_then(toml::Value::as_bool);
        assert_eq!(lints, Some(true), "{}/Cargo.toml: [lints] workspace = true is missing", rel(&dir));
    }
}

#[test]
fn every_allowed_lint_says_why() {
    let text = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for (i, line) in text.lines().enumerate() {
        if line.contains("\"allow\"") {
            assert!(line.contains('#'), "Cargo.toml:{}: an allowed lint without a reason: {line}", i + 1);
        }
    }
}

#[test]
fn every_crate_root_forbids_unsafe_but_core_has_exactly_one_block() {
    for dir in members() {
        let roots: Vec<PathBuf> =
            ["src/lib.rs", "src/main.rs"].iter().map(|r| dir.join(r)).filter(|p| p.is_file()).collect();
        assert!(!roots.is_empty(), "{}: no src/lib.rs or src/main.rs", rel(&dir));
        if rel(&dir) == "crates/core" {
            let mut files = Vec::new();
            rust_files(&dir.join("src"), &mut files);
            let blocks: usize = files.iter().map(|f| fs::read_to_string(f).unwrap().matches("unsafe {").count()).sum();
            assert_eq!(blocks, 1, "esteira-core: ARCHITECTURE.md allows one unsafe block");
            continue;
        }
        for r in roots {
            let text = fs::read_to_string(&r).unwrap();
            assert!(text.contains("#![forbid(unsafe_code)]"), "{}: no #![forbid(unsafe_code)]", rel(&r));
        }
    }
}

/// Stage and library crates depend on esteira-core, and on another esteira crate only where
/// ARCHITECTURE.md's invariant names the edge; never on the orchestrator.
#[test]
fn crates_depend_on_each_other_only_along_the_documented_edges() {
    let allowed = |from: &str, to: &str| {
        to == "esteira-core"
            || (to == "esteira-train" && ["esteira-evaluate", "esteira-serve", "esteira-inference"].contains(&from))
            || (to == "esteira-inference" && from == "esteira-evaluate")
    };
    for dir in members().into_iter().filter(|d| rel(d).starts_with("crates/")) {
        let m = manifest(&dir);
        let name = m["package"]["name"].as_str().unwrap().to_owned();
        let Some(deps) = m.get("dependencies").and_then(toml::Value::as_table) else { continue };
        for dep in deps.keys().filter(|d| d.starts_with("esteira")) {
            assert!(allowed(&name, dep), "{name} depends on {dep}: not an edge ARCHITECTURE.md allows");
        }
    }
}

#[test]
fn libraries_log_through_tracing_and_install_no_subscriber() {
    for dir in members().into_iter().filter(|d| rel(d).starts_with("crates/")) {
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            assert!(!text.contains("tracing_subscriber"), "{}: a library installs no subscriber", rel(&f));
        }
    }
}

/// Every member's `.rs` files (sources, tests, benches, examples; not build output).
fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in members() {
        for sub in ["src", "tests", "benches", "examples"] {
            rust_files(&dir.join(sub), &mut files);
        }
        if dir.join("build.rs").is_file() {
            files.push(dir.join("build.rs"));
        }
    }
    files.sort();
    files
}

#[test]
fn every_file_says_what_it_is_for() {
    for f in all_rust_files() {
        let text = fs::read_to_string(&f).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(first.starts_with("//!"), "{}: no `//!` doc at the top", rel(&f));
    }
}

/// Files with more than [`LONG_LINES`] lines before their `#[cfg(test)]` module, and why they
/// are kept whole (or that they are still to be split).
const LONG_FILES: &[(&str, &str)] = &[
    ("crates/bundle/src/lib.rs", "the bundle format: writer and the checked reader share the member rules"),
    ("crates/checks/src/column.rs", "the column expectations' kernels, one per GE expectation type"),
    ("crates/checks/src/validate.rs", "the validation engine: dispatch, batching and the result of each expectation"),
    ("crates/core/src/store/local.rs", "LocalStore: objects, records, memo and their checks behind one type"),
    ("crates/download/src/csv.rs", "the portal CSV parser: encodings, quoting and positions in one state machine"),
    ("crates/inference/src/compare_stage.rs", "the compare stage: pooling, interactions and the report of one study"),
    ("crates/inference/src/logit.rs", "Newton fit, naive and clustered covariances and their warnings"),
    ("crates/remote/src/remote.rs", "the S3 client: each operation with its verification and retries"),
    ("crates/train/src/params.rs", "every train param with its bounds and checks, in one place"),
    ("crates/train/tests/train.rs", "esteira-train's one integration-test binary"),
    ("crates/engine/src/runner.rs", "the run: resolution, scheduling, records and materialising"),
];

/// The length past which a file needs a reason in [`LONG_FILES`].
const LONG_LINES: usize = 600;

#[test]
fn no_file_is_long_without_a_listed_reason() {
    let mut long = Vec::new();
    for f in all_rust_files() {
        let text = fs::read_to_string(&f).unwrap();
        let code = text.lines().take_while(|l| !l.starts_with("#[cfg(test)]")).count();
        if code > LONG_LINES {
            long.push(rel(&f));
        }
    }
    let listed: Vec<&str> = LONG_FILES.iter().map(|(f, _)| *f).collect();
    let unlisted: Vec<&String> = long.iter().filter(|f| !listed.contains(&f.as_str())).collect();
    assert!(unlisted.is_empty(), "over {LONG_LINES} lines (before the tests) and not in LONG_FILES: {unlisted:?}");
    let stale: Vec<&&str> = listed.iter().filter(|f| !long.iter().any(|l| l == *f)).collect();
    assert!(stale.is_empty(), "in LONG_FILES but no longer long: {stale:?} (remove them)");
}

/// Modules of one crate that import each other (`crate::a` in `b.rs` and `crate::b` in `a.rs`):
/// the pairs still to untangle. No new pair may appear, and one that is gone must leave the list.
const KNOWN_CYCLES: &[&str] = &[
    "crates/checks/src: input <-> validate",
    "crates/checks/src: profile <-> validate",
    "crates/checks/src: result <-> validate",
];

/// The modules a file names through `crate::` (or, in `cli/`, through `super::`), doc
/// comments and strings included: a reference in a doc link is a dependency for a reader too.
fn module_refs(text: &str, prefix: &str) -> std::collections::BTreeSet<String> {
    let mut refs = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !name.is_empty() {
                    refs.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() {
                refs.insert(name);
            }
        }
    }
    refs
}

#[test]
fn modules_of_a_crate_do_not_import_each_other() {
    let mut dirs: Vec<(PathBuf, &str)> = members().into_iter().map(|d| (d.join("src"), "crate::")).collect();
    dirs.push((root().join("orchestrator/src/cli"), "super::"));
    let mut found = Vec::new();
    for (dir, prefix) in dirs {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let mut modules = std::collections::BTreeMap::new();
        for e in entries.flatten() {
            let p = e.path();
            if let (Some(stem), Some("rs")) =
                (p.file_stem().and_then(|s| s.to_str()), p.extension().and_then(|x| x.to_str()))
            {
                modules.insert(stem.to_owned(), module_refs(&fs::read_to_string(&p).unwrap(), prefix));
            }
        }
        for (a, refs) in &modules {
            for b in refs.iter().filter(|b| *b > a) {
                if modules.get(b).is_some_and(|r| r.contains(a)) {
                    found.push(format!("{}: {a} <-> {b}", rel(&dir)));
                }
            }
        }
    }
    let new: Vec<&String> = found.iter().filter(|c| !KNOWN_CYCLES.contains(&c.as_str())).collect();
    assert!(new.is_empty(), "modules that import each other: {new:?}");
    let gone: Vec<&&str> = KNOWN_CYCLES.iter().filter(|k| !found.iter().any(|f| f == *k)).collect();
    assert!(gone.is_empty(), "in KNOWN_CYCLES but untangled: {gone:?} (remove them)");
}
