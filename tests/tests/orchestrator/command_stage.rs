//! The `command` stage end to end: caching, early cutoff, failures (missing output, non-zero
//! exit, timeout), the environment, directory outputs, the tool version, `reproduce`, and a
//! Python + pyarrow stage between shipped stages.

use std::collections::BTreeMap;

use super::common::{Bed, statuses_in};

fn statuses(b: &Bed) -> BTreeMap<String, String> {
    b.statuses("latest").into_iter().collect()
}

/// src (test.source) -> shout (command: upper-cases) -> both (test.concat of shout and src).
const SHOUT: &str = r#"
[stages.src]
kind = "test.source"
params = { text = "abc", note = "n1" }

[stages.shout]
kind = "command"
inputs = { text = "src.out" }
[stages.shout.params]
run = ["sh", "-c", "echo shouting; tr a-z A-Z < \"$1\" > \"$2\"", "sh", "{inputs.text}", "{outputs.loud}"]
outputs = { loud = "txt" }

[stages.both]
kind = "test.concat"
inputs = { a = "shout.loud", b = "src.out" }
"#;

#[test]
fn a_command_stage_runs_once_then_hits_the_cache() {
    let b = Bed::new();
    b.write("esteira.toml", SHOUT);
    let out = b.esteira(&["run"]).ok();
    assert!(out.stdout.contains("3 ran, 0 cached"), "{}", out.stdout);
    assert_eq!(b.latest("shout", "loud.txt"), "ABC");
    assert_eq!(b.latest("shout", "log.txt"), "==> stdout <==\nshouting\n==> stderr <==\n");
    assert_eq!(b.latest("both", "out.txt"), "ABC\nabc");
    let first = b.record("latest");
    let again = b.run(&[]);
    assert!(statuses_in(&again).iter().all(|(_, s)| s == "cached"), "{again}");
    assert_eq!(again["stages"]["shout"]["outputs"], first["stages"]["shout"]["outputs"]);
    // A change to the program is a change of the key.
    b.write("esteira.toml", &SHOUT.replace("echo shouting", "echo SHOUTING"));
    b.esteira(&["run"]).ok();
    let st = statuses(&b);
    assert_eq!((st["src"].as_str(), st["shout"].as_str()), ("cached", "ran"));
    assert_eq!(st["both"], "cached", "same loud.txt bytes: early cutoff");
}

#[test]
fn early_cutoff_through_a_command_stage() {
    let b = Bed::new();
    // `head -c 3` keeps only the first three characters: a new suffix changes its input, not
    // its output.
    let p = SHOUT.replace("tr a-z A-Z < \\\"$1\\\"", "head -c 3 \\\"$1\\\" | tr a-z A-Z");
    b.write("esteira.toml", &p);
    b.esteira(&["run"]).ok();
    assert_eq!(b.latest("shout", "loud.txt"), "ABC");
    b.write("esteira.toml", &p.replace("text = \"abc\"", "text = \"abcdef\""));
    b.esteira(&["run"]).ok();
    let st = statuses(&b);
    assert_eq!(st["src"], "ran");
    assert_eq!(st["shout"], "ran", "its input changed");
    assert_eq!(st["both"], "ran", "it reads src.out too");
    // Now only the command stage is upstream: the downstream stage is cut off.
    let only = format!("{p}\n[stages.after]\nkind = \"test.upper\"\ninputs = {{ in = \"shout.loud\" }}\n");
    b.write("esteira.toml", &only);
    b.esteira(&["run"]).ok();
    b.write("esteira.toml", &only.replace("text = \"abc\"", "text = \"abcxyz\""));
    b.esteira(&["run"]).ok();
    let st = statuses(&b);
    assert_eq!((st["src"].as_str(), st["shout"].as_str()), ("ran", "ran"));
    assert_eq!(st["after"], "cached", "shout wrote the same bytes");
}

#[test]
fn a_missing_output_fails_the_stage_and_names_it() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.cmd]
kind = "command"
[stages.cmd.params]
run = ["sh", "-c", "echo 1 > \"$1\"; echo '{{}}' > out/sumary.json; echo 'wrote the table' >&2", "sh", "{outputs.table}"]
outputs = { table = "csv", summary = "json" }
"#,
    );
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "`sh` exited 0 but did not write `summary` (out/summary.json); out/ holds instead: out/sumary.json"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("| wrote the table"), "the log tail: {}", out.stderr);
    let r = b.record("latest");
    assert_eq!(r["stages"]["cmd"]["status"], "failed");
    // What was written completely is kept for reading, with the log; nothing is cached.
    assert_eq!(b.latest("cmd", "table.csv"), "1\n");
    assert!(b.latest("cmd", "log.txt").contains("wrote the table"));
    assert!(std::fs::read_dir(b.store().join("cache")).map_or(0, Iterator::count) == 0);
}

#[test]
fn an_output_of_the_wrong_type_is_refused() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.cmd]
kind = "command"
[stages.cmd.params]
run = ["sh", "-c", "echo 'not parquet' > \"$1\"", "sh", "{outputs.table}"]
outputs = { table = "parquet" }
"#,
    );
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("output `table`: out/table.parquet is not a Parquet file"), "{}", out.stderr);
}

#[test]
fn a_non_zero_exit_fails_with_the_tail_of_the_log_and_is_never_cached() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.cmd]
kind = "command"
[stages.cmd.params]
run = ["sh", "-c", "echo reading; echo 'ValueError: bad row 7' >&2; echo partial > \"$1\"; exit 3", "sh", "{outputs.t}"]
outputs = { t = "txt" }

[stages.next]
kind = "test.upper"
inputs = { in = "cmd.t" }
"#,
    );
    for _ in 0..2 {
        let out = b.esteira(&["run"]);
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("`sh` exited with status 3; last lines of its stderr:"), "{}", out.stderr);
        assert!(out.stderr.contains("| ValueError: bad row 7"), "{}", out.stderr);
        let st = statuses(&b);
        assert_eq!((st["cmd"].as_str(), st["next"].as_str()), ("failed", "skipped"));
    }
    assert_eq!(b.latest("cmd", "log.txt"), "==> stdout <==\nreading\n==> stderr <==\nValueError: bad row 7\n");
    // A program that failed may have left its outputs half written: they are not kept.
    assert!(!b.store().join("latest/cmd/t.txt").exists());
}

#[test]
fn a_timeout_kills_the_program_and_fails_the_stage() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.cmd]
kind = "command"
[stages.cmd.params]
run = ["sh", "-c", "echo started; sleep 600 & wait"]
timeout = "500ms"
"#,
    );
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("`sh` timed out after 500ms and was killed"), "{}", out.stderr);
    assert!(out.stderr.contains("| started"), "{}", out.stderr);
    assert_eq!(b.status_of("latest", "cmd"), "failed");
}

#[test]
fn the_program_sees_only_the_declared_environment_in_a_removed_scratch_directory() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.cmd]
kind = "command"
inputs = { data = "file:data.txt" }
[stages.cmd.params]
run = ["env"]
env = { PYTHONHASHSEED = "0", DATA = "{inputs.data}" }
"#,
    );
    b.write("data.txt", "x");
    let out = b.cmd(&["run"]).env("ESTEIRA_SECRET_TOKEN", "leak").env("PYTHONPATH", "/elsewhere").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = b.latest("cmd", "log.txt");
    let stdout = log.strip_prefix("==> stdout <==\n").unwrap().split("==> stderr <==").next().unwrap();
    let env: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(
        env.keys().copied().collect::<Vec<_>>(),
        ["DATA", "HOME", "LANG", "PATH", "PYTHONHASHSEED", "TMPDIR", "TZ"],
        "{log}"
    );
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin:/bin");
    assert_eq!((env["LANG"], env["TZ"], env["DATA"]), ("C.UTF-8", "UTC", "in/data"));
    let home = std::path::Path::new(env["HOME"]);
    assert!(home.file_name().unwrap().to_string_lossy().starts_with("esteira-command-"), "{log}");
    assert_eq!(env["TMPDIR"], format!("{}/tmp", env["HOME"]));
    assert!(!home.exists(), "the scratch directory is removed");
}

#[test]
fn a_program_writing_to_its_input_changes_only_its_copy() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.cmd]
kind = "command"
inputs = { data = "file:data.txt" }
[stages.cmd.params]
run = ["sh", "-c", "chmod u+w \"$1\" 2>/dev/null; echo tampered >> \"$1\" 2>/dev/null; cat \"$1\" > \"$2\"", "sh", "{inputs.data}", "{outputs.copy}"]
outputs = { copy = "txt" }
"#,
    );
    b.write("data.txt", "original\n");
    b.esteira(&["run"]).ok();
    b.esteira(&["verify"]).ok();
    let objects: Vec<String> = b.objects().iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
    assert!(objects.iter().any(|o| o == "original\n"), "the input object is intact: {objects:?}");
    assert_eq!(b.run(&[])["stages"]["cmd"]["status"], "cached");
}

#[test]
fn directory_outputs_are_one_deterministic_object_and_inputs_again() {
    let b = Bed::new();
    let p = r#"
[stages.src]
kind = "test.source"
params = { text = "abc", note = "n1" }

[stages.plots]
kind = "command"
inputs = { text = "src.out" }
[stages.plots.params]
run = ["sh", "-c", "mkdir -p \"$2/sub\" && cp \"$1\" \"$2/sub/a.txt\" && echo z > \"$2/z.txt\" && printf '#!/bin/sh\\n' > \"$2/run.sh\" && chmod +x \"$2/run.sh\"", "sh", "{inputs.text}", "{outputs.plots}"]
outputs = { plots = "dir" }

[stages.list]
kind = "command"
inputs = { plots = "plots.plots" }
[stages.list.params]
run = ["sh", "-c", "cd \"$1\" && find . | sort && cat sub/a.txt && test -x run.sh && ! test -w z.txt -a $(id -u) != 0 && echo ok", "sh", "{inputs.plots}"]
"#;
    b.write("esteira.toml", p);
    b.esteira(&["run"]).ok();
    let list = b.latest("list", "log.txt");
    assert_eq!(list, "==> stdout <==\n.\n./run.sh\n./sub\n./sub/a.txt\n./z.txt\nabcok\n==> stderr <==\n");
    let tar = b.store().join("latest/plots/plots.tar");
    let listing = std::process::Command::new("tar").arg("-tvf").arg(&tar).output();
    if let Ok(o) = listing
        && o.status.success()
    {
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.contains("sub/a.txt") && s.contains("rwxr-xr-x") && s.contains("1970-01-01"), "{s}");
    }
    // The same tree from another execution: the same object, so `list` is cut off.
    b.write("esteira.toml", &p.replace("note = \"n1\"", "note = \"n2\"").replace("mkdir -p", "mkdir  -p"));
    b.esteira(&["run"]).ok();
    let st = statuses(&b);
    assert_eq!((st["src"].as_str(), st["plots"].as_str(), st["list"].as_str()), ("ran", "ran", "cached"));
}

#[test]
fn bad_params_are_pipeline_errors_with_file_and_line() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        "[stages.cmd]\nkind = \"command\"\n[stages.cmd.params]\noutputs = { t = \"txt\" }\nrun = [\"sh\", \"{input.t}\"]\n",
    );
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("esteira.toml:5"), "{}", out.stderr);
    assert!(out.stderr.contains("param `run[1]`: unknown placeholder `{input.t}`"), "{}", out.stderr);
    // An input the pipeline binds but the program never names.
    b.write(
        "esteira.toml",
        "[stages.cmd]\nkind = \"command\"\ninputs = { t = \"file:x\" }\n[stages.cmd.params]\nrun = [\"true\"]\n",
    );
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("has no input `t`"), "{}", out.stderr);
}

#[test]
fn the_tool_version_is_part_of_the_key_and_checked_by_reproduce() {
    let b = Bed::new();
    let version = b.write("tool-version.txt", "tool 1.0\n");
    let p = format!(
        r#"
[stages.cmd]
kind = "command"
[stages.cmd.params]
run = ["sh", "-c", "echo same > \"$1\"", "sh", "{{outputs.t}}"]
outputs = {{ t = "txt" }}
version_cmd = ["cat", "{}"]
"#,
        version.display()
    );
    b.write("esteira.toml", &p);
    b.esteira(&["run"]).ok();
    let params = &b.record("latest")["stages"]["cmd"]["params"];
    assert_eq!(params["tool_version"], "tool 1.0");
    assert_eq!(b.run(&[])["stages"]["cmd"]["status"], "cached");
    b.esteira(&["reproduce", "latest"]).ok();
    std::fs::write(&version, "tool 2.0\n").unwrap();
    let out = b.esteira(&["status"]).ok();
    assert!(out.stdout.contains("param `tool_version` changed: \"tool 1.0\" -> \"tool 2.0\""), "{}", out.stdout);
    // The recorded run was made with tool 1.0: reproducing it with 2.0 says so.
    let out = b.esteira(&["reproduce", "latest"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("printed \"tool 2.0\", but tool_version is \"tool 1.0\""), "{}", out.stdout);
    b.esteira(&["run"]).ok();
    assert_eq!(b.status_of("latest", "cmd"), "ran");
    // A failing version_cmd is an error when the pipeline is loaded.
    b.write("esteira.toml", &p.replace("\"cat\"", "\"false\""));
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("version_cmd `false") && out.stderr.contains("exited with status 1"), "{}", out.stderr);
}

#[test]
fn reproduce_passes_for_deterministic_programs_and_names_the_others() {
    let b = Bed::new();
    let p = format!(
        "{SHOUT}{}",
        r#"
[stages.chatty]
kind = "command"
inputs = { text = "src.out" }
[stages.chatty.params]
run = ["sh", "-c", "echo \"took $(date +%N) ns\"; cat \"$1\" > \"$2\"", "sh", "{inputs.text}", "{outputs.same}"]
outputs = { same = "txt" }

[stages.clock]
kind = "command"
[stages.clock.params]
run = ["sh", "-c", "date +%N > \"$1\"", "sh", "{outputs.now}"]
outputs = { now = "txt" }
log = false
"#
    );
    b.write("esteira.toml", &p);
    b.esteira(&["run"]).ok();
    let out = b.esteira(&["reproduce", "latest", "--stage", "src", "--stage", "shout", "--stage", "both"]).ok();
    assert!(out.stdout.contains("reproduced"), "{}", out.stdout);
    let out = b.esteira(&["reproduce", "latest"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let line = |stage: &str| out.stdout.lines().find(|l| l.starts_with(stage)).unwrap_or_default().to_owned();
    assert!(line("shout").contains("identical"), "{}", out.stdout);
    // The log is compared like any output: printing timings is reported, and only the log
    // differs.
    let chatty = line("chatty");
    assert!(chatty.contains("different") && chatty.contains("log: recorded") && !chatty.contains("same:"), "{chatty}");
    let clock = line("clock");
    assert!(clock.contains("different") && clock.contains("now: recorded"), "{clock}");
    assert!(out.stderr.contains("chatty") && out.stderr.contains("clock"), "{}", out.stderr);
}

/// A Python interpreter that has pyarrow, or `None` (the test is then skipped unless
/// `ESTEIRA_REQUIRE_PYARROW=1`).
fn python_with_pyarrow() -> Option<String> {
    let found = std::process::Command::new("python3")
        .args(["-c", "import sys, pyarrow.parquet; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty());
    if found.is_none() {
        assert!(
            std::env::var("ESTEIRA_REQUIRE_PYARROW").as_deref() != Ok("1"),
            "ESTEIRA_REQUIRE_PYARROW=1 but `python3 -c 'import pyarrow'` fails: pip install pyarrow"
        );
        println!("SKIPPED: python3 with pyarrow not found (set ESTEIRA_REQUIRE_PYARROW=1 to require it)");
    }
    found
}

const FEATURES_PY: &str = r#"
import sys
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

table = pq.read_table(sys.argv[1])
score = table.column("score")
outcome = pc.if_else(pc.greater_equal(score, 50), "pass", "fail")
table = table.append_column("outcome", outcome)
table = table.append_column("score_sq", pc.multiply(score, score))
pq.write_table(table, sys.argv[2])
print("rows", table.num_rows)
"#;

#[test]
fn a_python_stage_with_pyarrow_between_shipped_stages() {
    let Some(python) = python_with_pyarrow() else { return };
    let b = Bed::new();
    let mut csv = String::from("id;score;group\n");
    for i in 0..24 {
        csv.push_str(&format!("s{i:02};{};{}\n", (i * 37) % 100, if i % 2 == 0 { "a" } else { "b" }));
    }
    b.write("data/scores.csv", &csv);
    b.write("scripts/features.py", FEATURES_PY);
    b.write(
        "esteira.toml",
        &format!(
            r#"
[stages.merge]
kind = "merge"
inputs = {{ scores = "file:data/scores.csv" }}
params = {{ base = "scores" }}

[stages.preprocess]
kind = "preprocess"
inputs = {{ table = "merge.table" }}
[[stages.preprocess.params.steps]]
cast = {{ score = "int64" }}

[stages.features]
kind = "command"
inputs = {{ table = "preprocess.table", script = "file:scripts/features.py" }}
[stages.features.params]
run = ["{python}", "{{inputs.script}}", "{{inputs.table}}", "{{outputs.features}}"]
outputs = {{ features = "parquet" }}
env = {{ PYTHONHASHSEED = "0" }}
version_cmd = ["{python}", "-c", "import sys, pyarrow; print(sys.version.split()[0], pyarrow.__version__)"]
timeout = "5m"

[stages.segregate]
kind = "segregate"
inputs = {{ table = "features.features" }}
params = {{ target = "outcome", test_fraction = 0.25, seed = 7 }}
"#
        ),
    );
    b.esteira(&["run"]).ok();
    let r = b.record("latest");
    let m = &r["stages"]["segregate"]["metrics"];
    let (train, test) = (m["train.rows"].as_u64().unwrap(), m["test.rows"].as_u64().unwrap());
    assert_eq!(train + test, 24, "{m}");
    let passes = (0..24).filter(|i| (i * 37) % 100 >= 50).count() as u64;
    assert_eq!(m["train.class.pass"].as_u64().unwrap() + m["test.class.pass"].as_u64().unwrap(), passes, "{m}");
    assert!(b.latest("features", "log.txt").contains("rows 24"));
    let tool = r["stages"]["features"]["params"]["tool_version"].as_str().unwrap().to_owned();
    assert!(tool.split_whitespace().count() == 2, "{tool}");
    // Cached, and bit-for-bit reproducible.
    let again = b.run(&[]);
    assert!(statuses_in(&again).iter().all(|(_, s)| s == "cached"), "{again}");
    let out = b.esteira(&["reproduce", "latest"]).ok();
    assert!(out.stdout.contains("reproduced"), "{}", out.stdout);
    // A change to the script reruns it; the same table lets segregate hit the cache.
    b.write("scripts/features.py", &FEATURES_PY.replace("print(\"rows\"", "print(\"row count\""));
    b.esteira(&["run"]).ok();
    let st = statuses(&b);
    assert_eq!((st["features"].as_str(), st["segregate"].as_str()), ("ran", "cached"));
}
