//! Hostile or unlucky input at the pipeline file and the command line: names that are paths,
//! files outside the project, closed pipes, exit codes, reproducing a failed run.

use super::common::Bed;

fn one_stage(name: &str) -> String {
    format!("[stages.{name}]\nkind = \"test.source\"\nparams = {{ text = \"abc\" }}\n")
}

#[test]
fn a_stage_name_that_is_a_path_is_refused_and_nothing_outside_the_store_is_touched() {
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("precious.txt"), "keep me").unwrap();
    let b = Bed::new();
    let quoted = format!("\"{}\"", victim.path().display());
    for (name, shown) in [
        (quoted.as_str(), "contains '/'"),
        ("\"..\"", "contains '.'"),
        ("\"a\\nb\"", "contains '\\n'"),
        ("\"-rf\"", "must not start with `-`"),
        (&format!("\"{}\"", "x".repeat(65)), "at most 64"),
    ] {
        b.write(
            "esteira.toml",
            &format!("[stages.ok]\nkind = \"test.source\"\nparams = {{ text = \"x\" }}\n\n{}", one_stage(name)),
        );
        let out = b.esteira(&["run"]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains("esteira.toml:5:"), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(shown), "{name}: {}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(victim.path().join("precious.txt")).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 1);
}

#[test]
fn file_inputs_outside_the_project_need_an_explicit_opt_in() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "s3cret").unwrap();
    let b = Bed::new();
    let pipeline = |src: &str, meta: &str| {
        format!(
            "[pipeline]\nname = \"p\"\n{meta}\n[stages.up]\nkind = \"test.upper\"\ninputs = {{ in = \"file:{src}\" }}\n"
        )
    };
    let abs = outside.path().join("secret.txt").display().to_string();
    let rel = format!("../{}/secret.txt", outside.path().file_name().unwrap().to_string_lossy());
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), b.path().join("innocent.txt")).unwrap();
    for src in [abs.as_str(), rel.as_str(), "innocent.txt"] {
        b.write("esteira.toml", &pipeline(src, ""));
        let out = b.esteira(&["run"]);
        assert_eq!(out.code, 2, "{src}: {}", out.stderr);
        assert!(out.stderr.contains("esteira.toml:6:"), "{src}: {}", out.stderr);
        assert!(out.stderr.contains("external_paths"), "{src}: {}", out.stderr);
        // Nothing was imported: no object holds the secret.
        assert!(b.store().join("objects").read_dir().map_or(true, |mut d| d.next().is_none()), "{src}");
    }
    // A directory symlink leading out is caught like a file symlink.
    std::os::unix::fs::symlink(outside.path(), b.path().join("data")).unwrap();
    b.write("esteira.toml", &pipeline("data/secret.txt", ""));
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("resolves to"), "{}", out.stderr);
    // Listed directories are allowed.
    let meta = format!("external_paths = [\"{}\"]", outside.path().display());
    b.write("esteira.toml", &pipeline(&abs, &meta));
    b.esteira(&["run"]).ok();
    assert_eq!(b.latest("up", "out.txt"), "S3CRET");
}

#[test]
fn writing_to_a_closed_pipe_is_a_quiet_exit() {
    let b = Bed::new();
    b.write("esteira.toml", &one_stage("src"));
    b.esteira(&["run"]).ok();
    for args in [
        &["runs", "show", "latest", "--json"][..],
        &["run", "--json"],
        &["runs", "list"],
        &["dag"],
        &["status", "--json"],
        &["exec", "--list"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = b.cmd(args).stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn exit_codes_follow_the_readme() {
    let b = Bed::new();
    // A store path that is a file is bad input, not an internal error.
    b.write("esteira.toml", &format!("[pipeline]\nstore = \"esteira.toml\"\n{}", one_stage("src")));
    let out = b.esteira(&["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);

    // A corrupt object is a found failure (1).
    b.write("esteira.toml", &one_stage("src"));
    b.esteira(&["run"]).ok();
    let obj = b.objects().pop().unwrap();
    let mut perms = std::fs::metadata(&obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false, reason = "the test tampers on purpose")]
    perms.set_readonly(false);
    std::fs::set_permissions(&obj, perms).unwrap();
    std::fs::write(&obj, "tampered").unwrap();
    let hash = obj.file_name().unwrap().to_string_lossy().into_owned();
    let out = b.esteira(&["cat", &hash]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("corrupt"), "{}", out.stderr);

    // synth cannot write its output: an I/O error (4), not bad input.
    b.write("blocker", "a file where the output directory should go");
    let out = b.esteira(&["synth", "--scale", "0.01", "--out", "blocker/sub"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    // A scale out of range is bad input (2).
    let out = b.esteira(&["synth", "--scale", "-1", "--out", "x"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn reproducing_a_failed_run_says_what_was_not_compared() {
    let b = Bed::new();
    b.write(
        "esteira.toml",
        "[stages.src]\nkind = \"test.source\"\nparams = { text = \"abc\" }\n\n\
         [stages.boom]\nkind = \"test.fail\"\ninputs = { in = \"src.out\" }\nparams = { message = \"lava\" }\n\n\
         [stages.after]\nkind = \"test.upper\"\ninputs = { in = \"boom.out\" }\n",
    );
    assert_eq!(b.esteira(&["run"]).code, 1);
    let out = b.esteira(&["reproduce", "latest"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("was failed, so it cannot be reproduced whole"), "{}", out.stderr);
    assert!(out.stderr.contains("1 stage re-executed and identical"), "{}", out.stderr);
    assert!(out.stderr.contains("not compared"), "{}", out.stderr);
    assert!(out.stderr.contains("boom, after") || out.stderr.contains("after, boom"), "{}", out.stderr);
    assert!(!out.stdout.contains("every re-executed output is identical"), "{}", out.stdout);
    // The stage that did complete can still be reproduced on its own.
    let out = b.esteira(&["reproduce", "latest", "--stage", "src"]).ok();
    assert!(out.stdout.contains("1 stage re-executed and identical"), "{}", out.stdout);
    assert!(out.stdout.contains("only the stages asked for"), "{}", out.stdout);
}

#[test]
fn a_symlink_planted_at_the_run_marker_is_never_followed() {
    let victim = tempfile::tempdir().unwrap();
    let target = victim.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let b = Bed::new();
    b.write("esteira.toml", &one_stage("src"));
    b.esteira(&["run"]).ok();
    std::os::unix::fs::symlink(&target, b.store().join("current-run")).unwrap();
    b.esteira(&["run"]).ok();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(!b.store().join("current-run").exists());
}

#[test]
fn status_agrees_with_run_about_a_record_whose_object_does_not_fit() {
    let b = Bed::new();
    b.write("esteira.toml", &one_stage("src"));
    b.esteira(&["run"]).ok();
    // Overwrite the output object with other bytes of another size: a run refuses the hit.
    let obj = b.objects().pop().unwrap();
    let mut perms = std::fs::metadata(&obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false, reason = "the test tampers on purpose")]
    perms.set_readonly(false);
    std::fs::set_permissions(&obj, perms).unwrap();
    std::fs::write(&obj, "other bytes, longer than abc").unwrap();
    let status = b.esteira(&["status", "--json"]).ok();
    assert!(!status.stdout.contains("\"cached\""), "{}", status.stdout);
}

#[test]
fn only_a_stage_whose_inputs_were_never_made_fails_and_records_every_stage() {
    // src -> a -> b -> c -> d: with nothing cached, `--only d` skips the four above it, one
    // dooming the next; the run must still record `d` and fail, not stop early and succeed.
    let b = Bed::new();
    let mut toml = one_stage("src");
    for (name, from) in [("a", "src"), ("b", "a"), ("c", "b"), ("d", "c")] {
        toml.push_str(&format!("[stages.{name}]\nkind = \"test.upper\"\ninputs = {{ in = \"{from}.out\" }}\n"));
    }
    b.write("esteira.toml", &toml);
    let out = b.esteira(&["run", "--only", "d"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("5 skipped"), "{}", out.stdout);
    let st: std::collections::BTreeMap<_, _> = b.statuses("latest").into_iter().collect();
    assert_eq!(st.len(), 5, "{st:?}");
    assert!(st.values().all(|s| s == "skipped"), "{st:?}");
    assert_eq!(b.record("latest")["status"], "failed");
}
