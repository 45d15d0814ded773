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
