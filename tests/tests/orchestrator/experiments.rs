//! Experiments: `-S/--set` overrides (the key, the record, `runs show`) and runs referred to by
//! name (`run --name`, `runs tag`).

use super::common::statuses_in;
use super::{PIPELINE, bed};

/// `-S/--set` overrides a param without editing the file: it changes exactly that stage's key and
/// what depends on it, equals editing the file, is recorded in the run's command line, and a bad
/// one names the override.
#[test]
fn a_set_override_is_a_param_change_without_editing_the_file() {
    let b = bed();
    let base = b.run(&[]);
    let over = b.run(&["-S", "src.text=\"xyz\""]);
    let st: std::collections::BTreeMap<String, String> = statuses_in(&over).into_iter().collect();
    assert_eq!(st["src"], "ran");
    assert_eq!(st["slow_b"], "ran");
    assert_eq!(st["join"], "ran");
    assert_eq!(st["up"], "cached");
    assert_eq!(st["slow_a"], "cached");
    assert_ne!(over["stages"]["src"]["key"], base["stages"]["src"]["key"]);
    assert_eq!(b.latest("join", "out.txt"), "HELLO WORLD!\nxyz");
    assert!(b.record("latest")["command"].as_str().unwrap().contains("src.text="), "{}", b.record("latest"));
    // The record keeps the overrides, and `runs show` prints them.
    assert_eq!(b.record("latest")["overrides"], serde_json::json!(["src.text=\"xyz\""]));
    assert!(base.get("overrides").is_none(), "{base}");
    let shown = b.esteira(&["runs", "show", "latest"]).ok();
    assert!(shown.stdout.contains("overrides -S src.text=\"xyz\"\n"), "{}", shown.stdout);
    // `status` and `dag` see it too; the same override again is all cached.
    let status = b.esteira(&["status", "--set", "src.text=\"new\""]).ok();
    let src = status.stdout.lines().find(|l| l.starts_with("src ")).unwrap_or_default();
    assert!(!src.contains("cached") && src.contains("text"), "{}", status.stdout);
    assert!(status.stdout.contains("3 stage(s) would run"), "{}", status.stdout);
    assert!(statuses_in(&b.run(&["-S", "src.text=\"xyz\""])).iter().all(|(_, s)| s == "cached"));
    // Editing the file to the same value gives the same key.
    b.write("esteira.toml", &PIPELINE.replace("text = \"abc\"", "text = \"xyz\""));
    let edited = b.run(&[]);
    assert_eq!(edited["stages"]["src"]["key"], over["stages"]["src"]["key"]);

    for (bad, says) in [
        ("nope.text=1", "no stage `nope`"),
        ("src=1", "expected STAGE.KEY=VALUE"),
        ("src.text=[1,", "not TOML"),
        ("src.text.deeper=1", "`src.text` is not a table"),
    ] {
        let out = b.esteira(&["run", "-S", bad]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{bad}: {}", out.stderr);
    }
    // On a command that reads no params it is refused, not ignored.
    let out = b.esteira(&["gc", "--keep", "1", "-S", "src.text=1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--set applies to run, status, dag and sweep only"), "{}", out.stderr);
    // A value of the wrong type is refused by the stage, naming the key.
    let out = b.esteira(&["run", "-S", "slow_a.ms=\"soon\""]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("ms"), "{}", out.stderr);
}

/// `run --name` and `runs tag`: people refer to runs by name wherever a run id is taken.
#[test]
fn runs_are_referred_to_by_name() {
    let b = bed();
    let base = b.run(&["--name", "baseline"]);
    let other = b.run(&["-S", "src.text=\"xyz\""]);
    assert_eq!(b.record("baseline")["id"], base["id"]);
    let tagged = b.esteira(&["runs", "tag", "latest", "variant-1"]).ok();
    assert!(tagged.stdout.contains(other["id"].as_str().unwrap()), "{}", tagged.stdout);
    assert_eq!(b.record("variant-1")["id"], other["id"]);
    let shown = b.esteira(&["runs", "show", "baseline"]).ok();
    assert!(shown.stdout.starts_with("name baseline\n"), "{}", shown.stdout);
    let list = b.esteira(&["runs", "list"]).ok();
    assert!(list.stdout.contains("NAME") && list.stdout.contains("variant-1"), "{}", list.stdout);
    let diff = b.esteira(&["runs", "diff", "baseline", "variant-1"]).ok();
    assert!(diff.stdout.contains("text"), "{}", diff.stdout);
    // A name given again moves; a run that matched the latest record names that record.
    b.esteira(&["runs", "tag", "baseline", "variant-1"]).ok();
    assert_eq!(b.record("variant-1")["id"], base["id"]);
    let again = b.run(&["-S", "src.text=\"xyz\"", "--name", "again"]);
    assert_eq!(again["id"], other["id"], "nothing ran: no new record");
    assert_eq!(b.record("again")["id"], other["id"]);
    // Names are plain names, and `latest` is taken.
    for bad in ["../x", "latest", ""] {
        let out = b.esteira(&["runs", "tag", "latest", bad]);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
        let out = b.esteira(&["run", "--name", bad]);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
    }
    assert!(b.esteira(&["runs", "show", "nope"]).stderr.contains("no such run or run name"));
}

/// `esteira sweep`: a 3 × 5 grid runs as one DAG in which what the variants share executes once,
/// each variant gets its own run record under the ordinary stage names, and `runs compare`
/// holds every variant (table, JSON, HTML); a second sweep is all cached.
#[test]
fn a_sweep_runs_shared_stages_once_and_records_every_variant() {
    let b = bed();
    let out = b
        .esteira(&["sweep", "-S", "src.text=\"a\",\"b\",\"c\"", "-S", "slow_a.ms=1..5", "--name", "grid", "--json"])
        .ok();
    let cmp: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let runs = cmp["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 15, "{}", out.stdout);
    assert_eq!(cmp["params"], serde_json::json!(["slow_a.ms", "src.text"]));
    assert!(runs.iter().all(|r| r["status"] == "succeeded"));
    // The sweep's own run: `up` once, 3 forms of src and slow_b, 5 of slow_a, 15 joins.
    let list: serde_json::Value = serde_json::from_str(&b.esteira(&["runs", "list", "--json"]).ok().stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 16, "the sweep's run and one per variant");
    let all = list.iter().find(|r| r["sweep"]["name"] == "grid" && r["sweep"].get("variant").is_none()).unwrap();
    let stages = all["stages"].as_object().unwrap();
    assert_eq!(stages.len(), 1 + 3 + 3 + 5 + 15, "{:?}", stages.keys().collect::<Vec<_>>());
    assert_eq!(stages["up"]["status"], "ran");
    // slow_a's `ms` changes when it writes, not what: the 15 joins have 3 distinct keys, and a
    // join whose key is already in the cache is served from it (early cutoff), within the one run,
    // and one whose key another join is executing waits for it: each key executes once.
    let ran = |prefix: &str, status: &str| {
        stages.iter().filter(|(n, s)| n.starts_with(prefix) && s["status"] == status).count()
    };
    assert_eq!((ran("slow_a", "ran"), ran("src", "ran"), ran("slow_b", "ran")), (5, 3, 3));
    assert_eq!((ran("join", "ran"), ran("join", "cached")), (3, 12), "{all}");
    let keys: std::collections::BTreeSet<&str> =
        stages.iter().filter(|(n, _)| n.starts_with("join")).map(|(_, s)| s["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 3);
    // A variant's record: its five stages under their own names, its overrides, its tag.
    let v = list.iter().find(|r| r["sweep"]["variant"] == 7).unwrap();
    assert_eq!(v["overrides"], serde_json::json!(["src.text=\"b\"", "slow_a.ms=3"]));
    assert_eq!(v["sweep"]["params"], serde_json::json!({"slow_a.ms": 3, "src.text": "b"}));
    let names: Vec<&String> = v["stages"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["join", "slow_a", "slow_b", "src", "up"]);
    assert_eq!(v["stages"]["join"]["input_sources"]["a"], "slow_a.out");
    assert_eq!(v["stages"]["slow_a"]["params"]["ms"], 3);
    // The same variant as a plain run is all cached, with the variant's keys.
    let plain = b.run(&["-S", "src.text=\"b\"", "-S", "slow_a.ms=3"]);
    assert!(statuses_in(&plain).iter().all(|(_, s)| s == "cached"), "{plain}");
    assert_eq!(plain["stages"]["join"]["key"], v["stages"]["join"]["key"]);
    // Every variant reproduces like any run.
    let id = v["id"].as_str().unwrap();
    b.esteira(&["reproduce", id]).ok();
    // Compare: the table, the JSON and the page hold every variant.
    let text = b.esteira(&["runs", "compare", "--sweep", "grid"]).ok().stdout;
    assert_eq!(text.lines().count(), 16, "{text}");
    let page = b.path().join("grid.html");
    let json = b.esteira(&["runs", "compare", "--sweep", "grid", "--json", "--html", page.to_str().unwrap()]).ok();
    let j: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(j["comparison"]["runs"].as_array().unwrap().len(), 15);
    let html = std::fs::read_to_string(&page).unwrap();
    for r in runs {
        assert!(html.contains(r["run"].as_str().unwrap()), "{}", r["run"]);
    }
    // The same sweep again executes nothing, and compare takes its newest runs.
    let again =
        b.esteira(&["sweep", "-S", "src.text=\"a\",\"b\",\"c\"", "-S", "slow_a.ms=1..5", "--name", "grid"]).ok();
    assert!(again.stdout.contains("0 ran, 27 cached"), "{}", again.stdout);
    let j: serde_json::Value =
        serde_json::from_str(&b.esteira(&["runs", "compare", "--sweep", "grid", "--json"]).ok().stdout).unwrap();
    let newest: Vec<&str> =
        j["comparison"]["runs"].as_array().unwrap().iter().map(|r| r["run"].as_str().unwrap()).collect();
    assert!(newest.iter().all(|id| !runs.iter().any(|r| r["run"] == *id)), "the second sweep's runs");
    // Bad grids are refused before anything runs.
    for (bad, says) in [
        (vec!["sweep"], "give the params to sweep"),
        (vec!["sweep", "-S", "src.text=1,1"], "given twice"),
        (vec!["sweep", "-S", "slow_a.ms=1,2", "-S", "src.text=\"a\",\"b\",\"c\"", "--zip"], "as many values"),
        (vec!["sweep", "-S", "slow_a.ms=1,\"soon\""], "variant 2"),
    ] {
        let out = b.esteira(&bad);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{bad:?}: {}", out.stderr);
    }
}

/// A variant that fails is reported, and the variants that do not depend on its failure finish.
#[test]
fn a_failed_variant_does_not_stop_the_others() {
    let b = bed();
    let out = b.esteira(&["sweep", "-S", "slow_b.fail=false,true", "-S", "src.text=\"a\",\"b\"", "--name", "f"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("4 variants (2 succeeded, 2 failed)"), "{}", out.stdout);
    assert!(out.stdout.contains("asked to fail"), "{}", out.stdout);
    let j: serde_json::Value =
        serde_json::from_str(&b.esteira(&["runs", "compare", "--sweep", "f", "--json"]).ok().stdout).unwrap();
    let by: Vec<(bool, String)> = j["comparison"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["params"]["slow_b.fail"].as_bool().unwrap(), r["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(by.iter().filter(|(f, s)| !f && s == "succeeded").count(), 2, "{by:?}");
    assert_eq!(by.iter().filter(|(f, s)| *f && s == "failed").count(), 2, "{by:?}");
}

/// A `command` stage's `metrics` output is its record's metrics, and `runs compare --against`
/// gives the paired difference to another stage's metric of the same name, run by run: the
/// split-sweep of scripts/split_sweep.py, here with two shell programs.
#[test]
fn a_sweep_compares_one_stages_metrics_against_anothers() {
    const TWO: &str = r#"
[stages.src]
kind = "test.source"
params = { text = "abc", note = "n" }

[stages.mine]
kind = "command"
inputs = { text = "src.out" }
[stages.mine.params]
run = ["sh", "-c", "printf '{{\"score\": %d, \"fit\": {{\"n\": 2, \"ok\": true}}, \"tag\": \"x\"}}' $(wc -c < \"$1\") > \"$2\"", "sh", "{inputs.text}", "{outputs.m}"]
outputs = { m = "json" }
metrics = "m"
media = { m = "scores" }

[stages.theirs]
kind = "command"
inputs = { text = "src.out" }
[stages.theirs.params]
run = ["sh", "-c", "test -s \"$1\" && echo '{{\"score\": 1}}' > \"$2\"", "sh", "{inputs.text}", "{outputs.m}"]
outputs = { m = "json" }
metrics = "m"
"#;
    let b = super::common::Bed::new();
    b.write("esteira.toml", TWO);
    let rec = b.run(&[]);
    // Numbers and booleans, nested objects flattened; strings are not metrics.
    assert_eq!(rec["stages"]["mine"]["metrics"], serde_json::json!({"score": 3, "fit.n": 2, "fit.ok": true}));
    // A declared media kind is in the record (what `serve` looks a model up by); none, no field.
    assert_eq!(rec["stages"]["mine"]["output_media"], serde_json::json!({"m": "scores"}));
    assert!(rec["stages"]["theirs"].get("output_media").is_none(), "{rec}");
    b.esteira(&["sweep", "-S", "src.text=\"a\",\"bb\",\"ccc\"", "--name", "vs"]).ok();
    let out = b
        .esteira(&["runs", "compare", "--sweep", "vs", "--against", "theirs", "--metric", "mine.score", "--json"])
        .ok();
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let d = &j["against"][0];
    assert_eq!((d["metric"].as_str(), d["against"].as_str()), (Some("mine.score"), Some("theirs.score")), "{j}");
    // Differences 0, 1, 2: mean 1, sd 1, t(2) = 4.303 → 1 ± 2.4841.
    assert_eq!((d["pairs"].as_u64(), d["mean"].as_f64(), d["at_least"].as_u64()), (Some(3), Some(1.0), Some(3)));
    assert!((d["lower"].as_f64().unwrap() + 1.4841).abs() < 1e-4, "{d}");
    assert!((d["upper"].as_f64().unwrap() - 3.4841).abs() < 1e-4, "{d}");
    let text = b.esteira(&["runs", "compare", "--sweep", "vs", "--against", "theirs", "--metric", "mine.score"]).ok();
    assert!(
        text.stdout.contains("mine.score - theirs.score  3      +1.0000  [-1.4841, +3.4841]  3/3"),
        "{}",
        text.stdout
    );
    let out = b.esteira(&["runs", "compare", "--sweep", "vs", "--against", "nobody"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no compared run has metrics of a stage named `nobody`"), "{}", out.stderr);
    // A metrics output that is not a JSON object fails the stage, naming it.
    b.write("esteira.toml", &TWO.replace("echo '{{\\\"score\\\": 1}}'", "echo '[1]'"));
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("must be a JSON object"), "{}\n{}", out.stdout, out.stderr);
}
