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
    assert!(out.stderr.contains("--set applies to run, status and dag only"), "{}", out.stderr);
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
