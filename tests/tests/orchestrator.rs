//! End-to-end tests of the orchestrator against the real CLI and a temp store.

#[path = "orchestrator/bundle.rs"]
mod bundle;
#[path = "orchestrator/command_stage.rs"]
mod command_stage;
mod common;
#[path = "orchestrator/experiments.rs"]
mod experiments;
#[path = "orchestrator/failed_outputs.rs"]
mod failed_outputs;
#[path = "orchestrator/hardening.rs"]
mod hardening;
#[path = "orchestrator/remote.rs"]
mod remote;
#[path = "orchestrator/slurm.rs"]
mod slurm;
#[path = "orchestrator/store_faults.rs"]
mod store_faults;
#[path = "orchestrator/tidy.rs"]
mod tidy;
#[path = "orchestrator/ufrn.rs"]
mod ufrn;

use common::{Bed, statuses_in};

const PIPELINE: &str = r#"
[pipeline]
name = "demo"

[stages.src]
kind = "test.source"
params = { text = "abc", note = "n1" }

[stages.up]
kind = "test.upper"
inputs = { in = "file:data/in.txt" }
params = { suffix = "!" }

[stages.slow_a]
kind = "test.sleep"
inputs = { in = "up.out" }
params = { ms = 400 }

[stages.slow_b]
kind = "test.sleep"
inputs = { in = "src.out" }
params = { ms = 400 }

[stages.join]
kind = "test.concat"
inputs = { a = "slow_a.out", b = "slow_b.out" }
"#;

fn bed() -> Bed {
    let b = Bed::new();
    b.write("esteira.toml", PIPELINE);
    b.write("data/in.txt", "hello world");
    b
}

fn all(statuses: &[(String, String)], s: &str) -> bool {
    statuses.iter().all(|(_, st)| st == s)
}

#[test]
fn second_run_is_fully_cached_with_identical_outputs() {
    let b = bed();
    let first = b.esteira(&["run", "-j", "2"]).ok();
    assert!(first.stdout.contains("5 ran, 0 cached"), "{}", first.stdout);
    let out1 = b.latest("join", "out.txt");
    assert_eq!(out1, "HELLO WORLD!\nabc");
    let r1 = b.record("latest");
    let r2 = b.run(&[]);
    assert!(all(&statuses_in(&r2), "cached"));
    assert_eq!(r1["stages"]["join"]["outputs"], r2["stages"]["join"]["outputs"]);
    assert_eq!(b.latest("join", "out.txt"), out1);
    // Nothing ran and every key and output is the first run's: this run is that one again, and
    // adds no record.
    assert_eq!(r2["id"], r1["id"]);
    assert_eq!(b.record("latest"), r1);
}

/// Every entry under `dir` (directories too) with its size, mtime, ctime and inode: any write,
/// link, rename or `chmod` under it changes this.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, (u64, i64, i64, i64, i64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            if md.is_dir() {
                todo.push(e.path());
            }
            let stamp = (md.len(), md.mtime(), md.mtime_nsec(), md.ctime(), md.ctime_nsec(), md.ino());
            out.insert(e.path().strip_prefix(dir).unwrap().to_path_buf(), stamp);
        }
    }
    out
}

#[test]
fn a_run_with_nothing_to_do_writes_nothing_and_adds_no_record() {
    let b = bed();
    // A volatile stage too: a `file:` fetch revalidates by size and mtime every run.
    let p = format!("{PIPELINE}\n[stages.fetched]\nkind = \"fetch\"\nparams = {{ url = \"file:data/f.txt\" }}\n");
    b.write("esteira.toml", &p);
    b.write("data/f.txt", "fetched");
    let first = b.esteira(&["run"]).ok();
    assert!(first.stdout.contains("6 ran, 0 cached"), "{}", first.stdout);
    let id = b.record("latest")["id"].as_str().unwrap().to_owned();
    let before = tree(&b.store());
    let out = b.esteira(&["run"]).ok();
    assert!(
        out.stdout
            .contains(&format!("nothing ran: 6 cached, the same keys and outputs as run {id} (no new run record)")),
        "{}",
        out.stdout
    );
    // Not a byte, link, mode or name under the store changed: no run or cache record, no memo,
    // no marker, nothing re-linked under latest/. (The lock file names its holder while a run
    // holds it and is emptied again: its contents are the same, its times are not compared.)
    let mut after = tree(&b.store());
    let mut before = before;
    for t in [&mut before, &mut after] {
        t.remove(std::path::Path::new("lock"));
    }
    assert_eq!(before, after);
    assert_eq!(std::fs::read_to_string(b.store().join("lock")).unwrap(), "");
    let listed = b.esteira(&["runs", "list", "--json"]).ok();
    assert_eq!(listed.stdout.matches("\"id\"").count(), 1, "{}", listed.stdout);
    assert_eq!(b.record("latest")["id"], id.as_str());

    // An input file written again with the same bytes is re-hashed (the memo is saved), and
    // there is still nothing to record.
    b.write("data/in.txt", "hello world");
    let r = b.run(&[]);
    assert!(all(&statuses_in(&r), "cached"), "{r}");
    assert_eq!(r["id"], id.as_str());
    // A fetched file written again is copied again (a fetch revalidates by size and mtime):
    // that run did something and is recorded, with everything downstream cached.
    b.write("data/f.txt", "fetched");
    let refetched = b.run(&[]);
    let st: std::collections::BTreeMap<_, _> = statuses_in(&refetched).into_iter().collect();
    assert_eq!(st["fetched"], "ran");
    assert_eq!(st.values().filter(|s| *s == "cached").count(), 5, "{st:?}");
    assert_eq!(b.record("latest")["id"], refetched["id"]);
    let id = refetched["id"].as_str().unwrap().to_owned();
    assert_eq!(b.run(&[])["id"], id.as_str());
    // A change is recorded, and so is going back to the first state (the latest run differs),
    // once.
    b.write("esteira.toml", &p.replace("suffix = \"!\"", "suffix = \"?\""));
    let changed = b.run(&[]);
    assert_eq!(statuses_in(&changed).iter().filter(|(_, s)| s == "ran").count(), 3, "{changed}");
    b.write("esteira.toml", &p);
    let back = b.run(&[]);
    assert!(all(&statuses_in(&back), "cached"), "{back}");
    assert_ne!(back["id"], id.as_str());
    assert_ne!(back["id"], changed["id"]);
    assert_eq!(b.record("latest"), back);
    assert_eq!(b.latest("join", "out.txt"), "HELLO WORLD!\nabc");
    let again = b.run(&[]);
    assert_eq!(again["id"], back["id"]);
    let listed = b.esteira(&["runs", "list", "--json"]).ok();
    assert_eq!(listed.stdout.matches("\"id\"").count(), 4, "{}", listed.stdout);
    // A forced stage ran: recorded.
    let forced = b.run(&["--force", "src"]);
    assert_ne!(forced["id"], back["id"]);
    assert_eq!(b.record("latest")["id"], forced["id"]);
}

#[test]
fn a_param_change_reruns_the_stage_and_descendants_only() {
    let b = bed();
    b.esteira(&["run"]).ok();
    b.write("esteira.toml", &PIPELINE.replace("suffix = \"!\"", "suffix = \"?\""));
    b.esteira(&["run"]).ok();
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st["up"], "ran");
    assert_eq!(st["slow_a"], "ran");
    assert_eq!(st["join"], "ran");
    assert_eq!(st["src"], "cached");
    assert_eq!(st["slow_b"], "cached");
    assert_eq!(b.latest("join", "out.txt"), "HELLO WORLD?\nabc");
}

#[test]
fn unchanged_output_bytes_let_descendants_hit_the_cache() {
    let b = bed();
    b.esteira(&["run"]).ok();
    // `note` changes src's key but not its output bytes.
    b.write("esteira.toml", &PIPELINE.replace("note = \"n1\"", "note = \"n2\""));
    b.esteira(&["run"]).ok();
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st["src"], "ran");
    assert_eq!(st["slow_b"], "cached", "early cutoff");
    assert_eq!(st["join"], "cached");
}

#[test]
fn independent_branches_overlap_in_time() {
    let b = bed();
    b.esteira(&["run", "-j", "2"]).ok();
    let r = b.record("latest");
    let span = |s: &str| (r["stages"][s]["start_ms"].as_f64().unwrap(), r["stages"][s]["end_ms"].as_f64().unwrap());
    let (a0, a1) = span("slow_a");
    let (b0, b1) = span("slow_b");
    assert!(a0 < b1 && b0 < a1, "slow_a {a0}..{a1} and slow_b {b0}..{b1} did not overlap");
    // And with one job they must not.
    b.esteira(&["run", "-j", "1", "--force", "slow_a", "--force", "slow_b"]).ok();
    let r = b.record("latest");
    let span = |s: &str| (r["stages"][s]["start_ms"].as_f64().unwrap(), r["stages"][s]["end_ms"].as_f64().unwrap());
    let (a0, a1) = span("slow_a");
    let (b0, b1) = span("slow_b");
    assert!(a1 <= b0 || b1 <= a0, "with -j 1 they overlapped: {a0}..{a1} {b0}..{b1}");
}

#[test]
fn status_names_the_changed_param_with_old_and_new_values() {
    let b = bed();
    b.esteira(&["run"]).ok();
    b.write("esteira.toml", &PIPELINE.replace("suffix = \"!\"", "suffix = \"?\""));
    let out = b.esteira(&["status"]).ok();
    assert!(out.stdout.contains("param `suffix` changed: \"!\" -> \"?\""), "{}", out.stdout);
    assert!(out.stdout.contains("upstream `up` will run"), "{}", out.stdout);
    b.write("data/in.txt", "changed");
    let out = b.esteira(&["status", "--json"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let up = plan.as_array().unwrap().iter().find(|e| e["stage"] == "up").unwrap();
    let reasons = up["reasons"].to_string();
    assert!(reasons.contains("input `in` changed"), "{reasons}");
}

#[test]
fn reproduce_passes_on_deterministic_stages_and_names_the_nondeterministic_one() {
    let b = bed();
    b.esteira(&["run"]).ok();
    let out = b.esteira(&["reproduce", "latest"]).ok();
    assert!(out.stdout.contains("reproduced"), "{}", out.stdout);
    let mut p = PIPELINE.to_owned();
    p.push_str("\n[stages.clock]\nkind = \"test.nondet\"\ninputs = { in = \"src.out\" }\n");
    b.write("esteira.toml", &p);
    b.esteira(&["run"]).ok();
    let out = b.esteira(&["reproduce", "latest"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = out.stdout.lines().find(|l| l.starts_with("clock")).unwrap();
    assert!(line.contains("different"), "{line}");
    assert!(out.stdout.lines().filter(|l| l.contains("identical")).count() == 5, "{}", out.stdout);
    assert!(out.stderr.contains("clock"), "{}", out.stderr);
}

#[test]
fn a_failed_stage_stops_descendants_and_lets_other_branches_finish() {
    let b = bed();
    let p = PIPELINE.replace(
        "kind = \"test.sleep\"\ninputs = { in = \"up.out\" }\nparams = { ms = 400 }",
        "kind = \"test.fail\"\ninputs = { in = \"up.out\" }\nparams = { message = \"the disk is made of lava\" }",
    );
    b.write("esteira.toml", &p);
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("the disk is made of lava"), "{}", out.stderr);
    // The failure and the stages it kept from running are counted apart.
    assert!(out.stderr.contains("1 stage failed, 1 could not run: slow_a:"), "{}", out.stderr);
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st["slow_a"], "failed");
    assert_eq!(st["join"], "skipped");
    assert_eq!(st["slow_b"], "ran");
    assert_eq!(b.record("latest")["status"], "failed");
}

#[test]
fn pipeline_errors_name_file_line_and_key() {
    let b = Bed::new();
    let check = |toml: &str, expect: &[&str]| {
        b.write("esteira.toml", toml);
        let out = b.esteira(&["dag"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        for e in expect {
            assert!(out.stderr.contains(e), "expected {e:?} in: {}", out.stderr);
        }
    };
    check(
        "[stages.a]\nkind = \"test.upper\"\ninputs = { in = \"b.out\" }\n[stages.b]\nkind = \"test.upper\"\ninputs = { in = \"a.out\" }\n",
        &["cycle", "a -> b -> a"],
    );
    // A longer cycle, entered from the first stage by name, with a branch off it and an
    // `after` edge closing it: reported as the path the search walked.
    check(
        "[stages.a]\nkind = \"test.upper\"\ninputs = { in = \"s.out\" }\nafter = [\"c\"]\n\
         [stages.b]\nkind = \"test.upper\"\ninputs = { in = \"a.out\" }\n\
         [stages.c]\nkind = \"test.upper\"\ninputs = { in = \"b.out\" }\n\
         [stages.d]\nkind = \"test.upper\"\ninputs = { in = \"a.out\" }\n\
         [stages.s]\nkind = \"test.source\"\nparams = { text = \"x\" }\n",
        &["cycle", "a -> b -> c -> a"],
    );
    check(
        "[stages.a]\nkind = \"test.upper\"\ninputs = { in = \"nope.out\" }\n",
        &["esteira.toml:3:", "unknown stage `nope`"],
    );
    check(
        "[stages.s]\nkind = \"test.source\"\nparams = { text = \"x\" }\n[stages.a]\nkind = \"test.upper\"\ninputs = { in = \"s.missing\" }\n",
        &["esteira.toml:6:", "unknown output `s.missing`", "has: out"],
    );
    check("[stages.a]\nkind = \"test.upper\"\n[stages.a]\nkind = \"test.upper\"\n", &["esteira.toml:3:"]);
    check("[stages.a]\nkind = \"no.such\"\n", &["esteira.toml:1:", "unknown stage kind", "test.upper"]);
    check(
        "[stages.a]\nkind = \"test.sleep\"\ninputs = { in = \"file:x\" }\n[stages.a.params]\nms = \"soon\"\n",
        &["esteira.toml:5:1:", "param `ms`", "expected u64"],
    );
    // A key written twice (here `ms` of two stages) is located in its own stage's table, by
    // line and column.
    check(
        "[stages.b]\nkind = \"test.sleep\"\ninputs = { in = \"file:x\" }\nparams = { ms = 5 }\n[stages.a]\nkind = \"test.sleep\"\ninputs = { in = \"file:x\" }\nparams = { ms = \"soon\" }\n",
        &["esteira.toml:8:12:", "stage `a`", "param `ms`"],
    );
}

#[test]
fn a_second_writer_is_told_who_holds_the_lock() {
    let b = bed();
    b.write("esteira.toml", &PIPELINE.replace("ms = 400", "ms = 3000"));
    let mut first = b.spawn(&["run"]);
    // Wait until the first run holds the lock (its lock file names it).
    let lock = b.store().join("lock");
    for _ in 0..100 {
        if std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("pid {}", first.id())), "{}", out.stderr);
    assert!(first.wait().unwrap().success());
}

#[test]
fn kill_9_leaves_no_partial_object_and_the_next_run_redoes_only_the_rest() {
    let b = bed();
    b.write("esteira.toml", &PIPELINE.replace("ms = 400", "ms = 4000"));
    let mut child = b.spawn(&["run", "-j", "2"]);
    // Wait until the two quick stages have their cache records and both sleeping stages are
    // mid-write (their temp files exist), then kill. (Temp files of record writes come and go
    // too, so the cache records are what says the quick stages are done.)
    let (tmp, cache) = (b.store().join("tmp"), b.store().join("cache"));
    for _ in 0..400 {
        let count = |d: &std::path::Path| std::fs::read_dir(d).map(Iterator::count).unwrap_or(0);
        if count(&cache) >= 2 && count(&tmp) >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Every visible object is intact; no cache record names a missing object.
    let v = b.esteira(&["verify"]).ok();
    assert!(v.stdout.contains("0 corrupt"), "{}", v.stdout);
    // Visible: the imported input file and the outputs of the two finished stages; the
    // sleeping stages' half-written outputs are not.
    assert_eq!(b.objects().len(), 3, "{:?}", b.objects());
    let cache = std::fs::read_dir(b.store().join("cache")).unwrap().count();
    assert_eq!(cache, 2, "only the finished stages have cache records");
    b.esteira(&["run", "-j", "2"]).ok();
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st["src"], "cached");
    assert_eq!(st["up"], "cached");
    assert_eq!(st["slow_a"], "ran");
    assert_eq!(st["slow_b"], "ran");
    let runs = b.esteira(&["runs", "list"]).ok();
    assert!(runs.stdout.contains("interrupted"), "{}", runs.stdout);
}

#[test]
fn a_tampered_object_is_found_and_never_silently_used() {
    let b = bed();
    b.esteira(&["run"]).ok();
    let r = b.record("latest");
    let hash = r["stages"]["up"]["outputs"]["out"].as_str().unwrap().to_owned();
    let path = b.store().join("objects").join(&hash[..2]).join(&hash);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false, reason = "the test tampers on purpose")]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    std::fs::write(&path, "EVIL").unwrap();
    let v = b.esteira(&["verify"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains(&format!("CORRUPT {hash}")), "{}", v.stdout);
    // A stage that would read it refuses.
    let out = b.esteira(&["run", "--force", "slow_a"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("corrupt"), "{}", out.stderr);
    let cat = b.esteira(&["cat", &hash]);
    assert_ne!(cat.code, 0);
    // Repair quarantines it; the next run recomputes it.
    let rep = b.esteira(&["verify", "--repair"]);
    assert!(rep.stdout.contains("moved 1 object"), "{}", rep.stdout);
    b.esteira(&["run"]).ok();
    assert_eq!(b.status_of("latest", "up"), "ran");
    b.esteira(&["verify"]).ok();
    assert_eq!(b.esteira(&["cat", &hash]).ok().stdout, "HELLO WORLD!");
}

#[test]
fn show_names_the_producing_stage_and_its_inputs() {
    let b = bed();
    b.esteira(&["run"]).ok();
    let r = b.record("latest");
    let hash = r["stages"]["join"]["outputs"]["out"].as_str().unwrap();
    let out = b.esteira(&["show", &hash[..10]]).ok();
    assert!(out.stdout.contains("produced by stage `join` (kind `test.concat`"), "{}", out.stdout);
    assert!(out.stdout.contains("a = "), "{}", out.stdout);
    assert!(out.stdout.contains("(slow_a.out)"), "{}", out.stdout);
}

#[test]
fn gc_keeps_what_the_last_runs_reference() {
    let b = bed();
    b.esteira(&["run"]).ok();
    b.write("esteira.toml", &PIPELINE.replace("suffix = \"!\"", "suffix = \"?\""));
    b.esteira(&["run"]).ok();
    let before = b.objects().len();
    let out = b.esteira(&["gc", "--keep", "1"]).ok();
    assert!(out.stdout.contains("removed"), "{}", out.stdout);
    assert!(b.objects().len() < before);
    // The kept run is still fully cached and verifiable.
    let r = b.run(&[]);
    assert!(all(&statuses_in(&r), "cached"));
    b.esteira(&["verify"]).ok();
    // That run found the kept run's keys and outputs: it adds no record.
    assert_eq!(b.esteira(&["runs", "list", "--json"]).ok().stdout.matches("\"id\"").count(), 1);
}

#[test]
fn until_and_only_select_stages() {
    let b = bed();
    b.esteira(&["run", "--until", "slow_a"]).ok();
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st["up"], "ran");
    assert_eq!(st["slow_a"], "ran");
    assert_eq!(st["slow_b"], "skipped");
    // --only join needs slow_b from the cache: it is not there.
    let out = b.esteira(&["run", "--only", "join"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("could not run: src: not selected for this run and not in the cache"),
        "{}",
        out.stderr
    );
    b.esteira(&["run"]).ok();
    b.esteira(&["run", "--only", "join", "--force", "join"]).ok();
    assert_eq!(b.status_of("latest", "join"), "ran");
}

#[test]
fn exec_runs_one_stage_kind_from_the_shell() {
    let b = Bed::new();
    b.write("in.txt", "shell");
    let out = b
        .esteira(&[
            "exec",
            "test.upper",
            "--param",
            "suffix=\"?\"",
            "--param",
            "times=2",
            "--input",
            "in=in.txt",
            "--out",
            "o",
        ])
        .ok();
    assert!(out.stdout.contains("out"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(b.path().join("o/out.txt")).unwrap(), "SHELL??");
    let bad = b.esteira(&["exec", "test.upper", "--param", "times=many"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("param `times`"), "{}", bad.stderr);
}

#[test]
fn dag_renders_in_three_formats() {
    let b = bed();
    insta::assert_snapshot!("dag_text", b.esteira(&["dag"]).ok().stdout);
    insta::assert_snapshot!("dag_dot", b.esteira(&["dag", "--format", "dot"]).ok().stdout);
    insta::assert_snapshot!("dag_mermaid", b.esteira(&["dag", "--format", "mermaid"]).ok().stdout);
}

#[test]
fn runs_diff_puts_params_and_metrics_side_by_side() {
    let b = bed();
    b.esteira(&["run"]).ok();
    let first = b.record("latest")["id"].as_str().unwrap().to_owned();
    b.write("esteira.toml", &PIPELINE.replace("text = \"abc\"", "text = \"abcdef\""));
    b.esteira(&["run"]).ok();
    let out = b.esteira(&["runs", "diff", &first, "latest"]).ok();
    let line = out.stdout.lines().find(|l| l.contains("param.text")).unwrap_or_default();
    assert!(line.starts_with("src") && line.contains("\"abc\"") && line.contains("\"abcdef\""), "{}", out.stdout);
    let metric = out.stdout.lines().find(|l| l.contains("metric.chars")).unwrap_or_default();
    assert!(metric.contains('3') && metric.contains('6'), "{}", out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&b.esteira(&["runs", "diff", &first, "--json"]).ok().stdout).unwrap();
    assert!(json.as_array().unwrap().iter().any(|c| c["what"] == "param.text"));
    let same = b.esteira(&["runs", "diff", "latest", "latest"]).ok();
    assert!(same.stdout.contains("same params, metrics and outputs"), "{}", same.stdout);
}

#[test]
fn status_output_is_stable() {
    let b = bed();
    b.esteira(&["run"]).ok();
    b.write("esteira.toml", &PIPELINE.replace("ms = 400 }\n\n[stages.join]", "ms = 500 }\n\n[stages.join]"));
    insta::assert_snapshot!("status_after_param_change", b.esteira(&["status"]).ok().stdout);
}

#[test]
fn bad_usage_exits_2_and_unknown_runs_say_so() {
    let b = bed();
    let out = b.esteira(&["run", "--force", "nope"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--force nope: no such stage"), "{}", out.stderr);
    let out = b.esteira(&["runs", "show", "1999"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no such run"), "{}", out.stderr);
    let out = b.esteira(&["cat", "zz"]);
    assert_eq!(out.code, 2);
    let missing = b.esteira(&["-c", "missing.toml", "run"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("missing.toml"), "{}", missing.stderr);
}
