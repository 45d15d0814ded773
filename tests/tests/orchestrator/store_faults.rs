//! Faults in the store, each reproducing an item of the store-hardening issue against the real
//! CLI: damaged, forged or symlinked records, objects, `latest/` directories, memo and lock.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::PIPELINE;
use crate::common::{Bed, Out, statuses_in};

/// The demo pipeline with quick sleeps.
fn quick() -> Bed {
    let b = Bed::new();
    b.write("esteira.toml", &PIPELINE.replace("ms = 400", "ms = 1"));
    b.write("data/in.txt", "hello world");
    b
}

fn output_hash(b: &Bed, stage: &str) -> String {
    b.record("latest")["stages"][stage]["outputs"]["out"].as_str().unwrap().to_owned()
}

fn object_file(b: &Bed, hash: &str) -> PathBuf {
    b.store().join("objects").join(&hash[..2]).join(hash)
}

fn cache_file(b: &Bed, stage: &str) -> PathBuf {
    let key = b.record("latest")["stages"][stage]["key"].as_str().unwrap().to_owned();
    b.store().join("cache").join(format!("{key}.json"))
}

fn writable(p: &Path) {
    let mut perms = std::fs::metadata(p).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false, reason = "the test tampers on purpose")]
    perms.set_readonly(false);
    std::fs::set_permissions(p, perms).unwrap();
}

/// A store file's name, as messages show it (the store path itself is relative).
fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn truncate(p: &Path) {
    let bytes = std::fs::read(p).unwrap();
    std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[track_caller]
fn fails(out: &Out, code: i32, needle: &str) {
    assert_eq!(out.code, code, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(needle) || out.stderr.contains(needle),
        "{needle:?} in:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

/// Item 1: materialising never follows a symlinked `latest/` or stage directory out of the
/// store (it used to delete the files there it did not expect and link outputs into it).
#[test]
fn symlinked_latest_directories_are_never_followed() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let victim = b.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "precious").unwrap();
    let stage_dir = b.store().join("latest").join("src");
    std::fs::remove_dir_all(&stage_dir).unwrap();
    std::os::unix::fs::symlink(&victim, &stage_dir).unwrap();
    let out = b.esteira(&["run"]).ok();
    assert_eq!(listing(&victim), vec!["keep.txt"]);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    // The whole of latest/ as a symlink.
    std::fs::remove_file(&stage_dir).unwrap();
    std::fs::remove_dir_all(b.store().join("latest")).unwrap();
    std::os::unix::fs::symlink(&victim, b.store().join("latest")).unwrap();
    std::fs::create_dir_all(victim.join("up")).unwrap();
    std::fs::write(victim.join("up").join("keep.txt"), "precious").unwrap();
    b.esteira(&["run", "--force", "up"]).ok();
    assert_eq!(listing(&victim), vec!["keep.txt", "up"]);
    assert_eq!(listing(&victim.join("up")), vec!["keep.txt"]);
}

/// Item 3: a truncated cache record is a miss with a warning for `run`, `run --force` and
/// `--force-all`, is reported by `verify`, dropped by `--repair`, and does not break `gc`.
#[test]
fn a_truncated_cache_record_is_a_miss_reported_and_repaired() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let rec = cache_file(&b, "up");
    truncate(&rec);
    let v = b.esteira(&["verify"]);
    fails(&v, 1, "BAD CACHE RECORD");
    assert!(v.stdout.contains(&name_of(&rec)), "{}", v.stdout);
    b.esteira(&["gc"]).ok();
    let rep = b.esteira(&["verify", "--repair"]);
    fails(&rep, 1, "dropped 1 cache entr");
    assert!(!rec.exists());
    b.esteira(&["verify"]).ok();
    b.esteira(&["run"]).ok();
    assert_eq!(b.status_of("latest", "up"), "ran");
    assert_eq!(b.status_of("latest", "join"), "cached");
    truncate(&rec);
    let out = b.esteira(&["run"]).ok();
    assert!(out.stderr.contains(&name_of(&rec)), "{}", out.stderr);
    assert_eq!(b.status_of("latest", "up"), "ran");
    b.esteira(&["verify"]).ok();
    // Forced stages do not read their record: they replace it.
    for args in [&["run", "--force", "up"][..], &["run", "--force-all"]] {
        truncate(&rec);
        b.esteira(args).ok();
        assert_eq!(b.status_of("latest", "up"), "ran", "{args:?}");
        b.esteira(&["verify"]).ok();
    }
    assert_eq!(b.latest("join", "out.txt"), "HELLO WORLD!\nabc");
}

/// Item 4: one corrupt run record is skipped with a warning naming it by `runs list`,
/// `runs show`, `show`, `gc` and `serve`, and reported by `verify`.
#[test]
fn a_corrupt_run_record_is_skipped_everywhere_and_reported() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let first = b.record("latest")["id"].as_str().unwrap().to_owned();
    let hash = output_hash(&b, "join");
    // A run that executes something, so that it is recorded.
    b.esteira(&["run", "--force", "src"]).ok();
    let second = b.record("latest")["id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let bad = b.store().join("runs").join(format!("{second}.json"));
    std::fs::write(&bad, "{\"id\": \"2026").unwrap();
    let named = name_of(&bad);

    let list = b.esteira(&["runs", "list"]).ok();
    assert!(list.stdout.contains(&first) && !list.stdout.contains(&second), "{}", list.stdout);
    assert!(list.stderr.contains(&named), "{}", list.stderr);
    let show = b.esteira(&["runs", "show", "latest"]).ok();
    assert!(show.stdout.contains(&first), "{}", show.stdout);
    assert!(show.stderr.contains(&named), "{}", show.stderr);
    let lineage = b.esteira(&["show", &hash]).ok();
    assert!(lineage.stdout.contains("produced by stage `join`"), "{}", lineage.stdout);
    b.esteira(&["gc"]).ok();

    // serve gets past the run records (this pipeline trains no model, so it stops there).
    let mut child = b.spawn(&["serve", "--addr", "127.0.0.1:0"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve kept running without a model");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let served = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&served.stderr);
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(!error.contains(&named) && !error.contains("invalid JSON"), "{stderr}");
    assert!(error.contains("model"), "{stderr}");
    assert!(stderr.contains(&named), "{stderr}");

    let v = b.esteira(&["verify"]);
    fails(&v, 1, "BAD RUN RECORD");
    assert!(v.stdout.contains(&named), "{}", v.stdout);
    let rep = b.esteira(&["verify", "--repair"]);
    fails(&rep, 1, "moved 1 run record");
    assert!(!bad.exists());
    b.esteira(&["verify"]).ok();
    b.esteira(&["run"]).ok();
}

/// Item 7: a fully cached run over a corrupt (same size) or symlinked object fails and names
/// it, instead of succeeding and linking the bad bytes (or the symlink) into `latest/`.
#[test]
fn a_cached_run_refuses_corrupt_and_symlinked_objects() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let up = output_hash(&b, "up");
    let path = object_file(&b, &up);
    writable(&path);
    std::fs::write(&path, "EVIL WORLD!!").unwrap();
    let out = b.esteira(&["run"]);
    fails(&out, 1, "corrupt");
    assert!(out.stderr.contains(&up), "{}", out.stderr);
    assert_eq!(b.status_of("latest", "up"), "failed");
    // Forcing the stage that wrote it replaces the damaged object with the bytes it writes.
    b.esteira(&["run", "--force", "up"]).ok();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "HELLO WORLD!");
    b.esteira(&["verify"]).ok();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "EVIL WORLD!!").unwrap();
    fails(&b.esteira(&["run"]), 1, "corrupt");
    fails(&b.esteira(&["verify", "--repair"]), 1, "moved 1 object");
    b.esteira(&["run"]).ok();
    assert_eq!(b.status_of("latest", "up"), "ran");
    assert_eq!(b.latest("up", "out.txt"), "HELLO WORLD!");

    let join = output_hash(&b, "join");
    let secret = b.write("secret.txt", "root:x:0:0");
    let path = object_file(&b, &join);
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();
    let out = b.esteira(&["run"]);
    fails(&out, 1, "symbolic link");
    // The stage failed: `latest/join/` shows nothing (no symlink, and no earlier output that
    // could pass for this run's).
    let dest = b.store().join("latest").join("join").join("out.txt");
    assert!(std::fs::symlink_metadata(&dest).is_err(), "{dest:?} is left");
    let cat = b.esteira(&["cat", &join]);
    fails(&cat, 1, "not a regular file");
    assert!(!cat.stdout.contains("root:x"), "{}", cat.stdout);
    fails(&b.esteira(&["verify"]), 1, &format!("CORRUPT {join}"));
    fails(&b.esteira(&["verify", "--repair"]), 1, "moved 1 object");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root:x:0:0");
    b.esteira(&["run"]).ok();
    assert_eq!(b.latest("join", "out.txt"), "HELLO WORLD!\nabc");
    b.esteira(&["verify"]).ok();
}

/// Item 8: deleting `artifacts/lock` during a run does not let a second writer in (which then
/// marked the live run interrupted), and a symlinked lock file is not followed and truncated.
#[test]
fn the_lock_survives_deletion_of_its_file_and_is_never_followed() {
    let b = quick();
    b.write("esteira.toml", &PIPELINE.replace("ms = 400", "ms = 3000"));
    let mut first = b.spawn(&["run"]);
    let lock = b.store().join("lock");
    for _ in 0..100 {
        if std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_file(&lock).unwrap();
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(first.wait().unwrap().success());
    let runs = b.esteira(&["runs", "list"]).ok();
    assert!(!runs.stdout.contains("interrupted"), "{}", runs.stdout);

    let b = quick();
    let victim = b.write("victim.txt", "precious");
    std::fs::create_dir_all(b.store()).unwrap();
    std::os::unix::fs::symlink(&victim, b.store().join("lock")).unwrap();
    b.esteira(&["run"]).ok();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// Item 9: editing the hash `memo.json` stores for one file does not make the next run use
/// another file's hash.
#[test]
fn an_edited_memo_is_not_trusted() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        "[stages.a]\nkind = \"test.upper\"\ninputs = { in = \"file:a.txt\" }\n\
         [stages.b]\nkind = \"test.upper\"\ninputs = { in = \"file:b.txt\" }\n",
    );
    b.write("a.txt", "first file");
    b.write("b.txt", "second file, longer");
    b.esteira(&["run"]).ok();
    let r = b.record("latest");
    let (ha, hb) =
        (r["stages"]["a"]["inputs"]["in"].as_str().unwrap(), r["stages"]["b"]["inputs"]["in"].as_str().unwrap());
    let memo = b.store().join("memo.json");
    let text = std::fs::read_to_string(&memo).unwrap();
    assert!(text.contains(ha), "{text}");
    std::fs::write(&memo, text.replace(ha, hb)).unwrap();
    let r = b.run(&[]);
    assert_eq!(b.latest("a", "out.txt"), "FIRST FILE");
    assert_eq!(r["stages"]["a"]["inputs"]["in"], ha);
    assert_eq!(r["stages"]["a"]["status"], "cached");
}

/// Item 10: `verify` reports objects that records name but the store does not have.
#[test]
fn verify_reports_missing_objects() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let join = output_hash(&b, "join");
    std::fs::remove_file(object_file(&b, &join)).unwrap();
    let v = b.esteira(&["verify"]);
    fails(&v, 1, &format!("MISSING {join}"));
    assert!(v.stdout.contains("1 object(s) missing"), "{}", v.stdout);
    fails(&b.esteira(&["verify", "--repair"]), 1, "dropped 1 cache entr");
    b.esteira(&["run"]).ok();
    assert_eq!(b.status_of("latest", "join"), "ran");
    b.esteira(&["verify"]).ok();
}

/// Item 11: a cache record whose output was pointed at another object (or recorded with another
/// extension) is a miss with a warning, not a hit that breaks a later stage.
#[test]
fn a_forged_cache_record_is_a_miss() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let rec = cache_file(&b, "up");
    let src = output_hash(&b, "src");
    let mut forged: serde_json::Value = serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
    let original = forged.clone();
    forged["outputs"]["out"] = serde_json::Value::String(src);
    std::fs::write(&rec, serde_json::to_vec(&forged).unwrap()).unwrap();
    let out = b.esteira(&["run"]).ok();
    assert!(out.stderr.contains(&name_of(&rec)), "{}", out.stderr);
    assert_eq!(b.status_of("latest", "up"), "ran");
    assert_eq!(b.latest("up", "out.txt"), "HELLO WORLD!");
    assert_eq!(b.latest("join", "out.txt"), "HELLO WORLD!\nabc");
    // Another extension than the stage declares.
    let mut forged = original.clone();
    forged["output_meta"]["out"]["ext"] = serde_json::Value::String("json".into());
    std::fs::write(&rec, serde_json::to_vec(&forged).unwrap()).unwrap();
    let out = b.esteira(&["run"]).ok();
    assert!(out.stderr.contains("`.json`"), "{}", out.stderr);
    assert_eq!(b.status_of("latest", "up"), "ran");
}

/// Cache records written before they carried output sizes still hit, and gain them.
#[test]
fn old_cache_records_still_hit_and_are_upgraded() {
    let b = quick();
    b.esteira(&["run"]).ok();
    let dir = b.store().join("cache");
    for name in listing(&dir) {
        let p = dir.join(name);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert!(v.as_object_mut().unwrap().remove("output_meta").is_some());
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let out = b.esteira(&["run", "--json"]).ok();
    assert!(!out.stderr.contains("WARN"), "{}", out.stderr);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(statuses_in(&r).iter().all(|(_, s)| s == "cached"), "{r}");
    for name in listing(&dir) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        assert_eq!(v["output_meta"]["out"]["ext"], "txt");
    }
}
