//! `run --executor slurm` end to end against a real one-node Slurm (`.ci/slurm-up.sh`): the same
//! output hashes as a local run with every executed stage's job id recorded, independent stages
//! as concurrent jobs, a failing stage's error, a job killed at its time limit, and Ctrl-C
//! cancelling the run's jobs; jobs with node-local stores handing objects over through a real
//! S3 server (Ceph RGW, as in `remote.rs`). Opt-in (`esteira_testkit::slurm::available`): without a Slurm each
//! test prints `SKIPPED: no Slurm` and passes, unless `ESTEIRA_REQUIRE_SLURM=1`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::PIPELINE;
use super::common::{Bed, statuses_in};
use super::remote::S3;

/// The longest a test waits for something Slurm should do soon (a guard against a hang, not a
/// timed assertion).
const PATIENCE: Duration = Duration::from_secs(240);

fn outputs(r: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    r["stages"].as_object().unwrap().iter().map(|(n, s)| (n.clone(), s["outputs"].clone())).collect()
}

fn slurm_run(b: &Bed, args: &[&str]) -> super::common::Out {
    let mut all = vec!["run", "--executor", "slurm"];
    all.extend_from_slice(args);
    b.esteira(&all)
}

#[test]
fn a_pipeline_under_slurm_writes_what_a_local_run_writes_and_names_its_jobs() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let (local, remote) = (demo(), demo());
    let here = local.run(&[]);
    let out = slurm_run(&remote, &["--json"]).ok();
    let there: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs(&there), outputs(&here), "the same objects, whoever executed the stages");
    assert!(statuses_in(&there).iter().all(|(_, s)| s == "ran"), "{there}");
    let mut jobs = Vec::new();
    for (name, s) in there["stages"].as_object().unwrap() {
        let job = s["job"].as_str().unwrap_or_else(|| panic!("stage {name} has no job id: {s}"));
        let id = job.strip_prefix("slurm:").unwrap_or_else(|| panic!("{job}"));
        assert!(id.parse::<u64>().is_ok(), "{job}");
        // The job directory holds its script, spec and result.
        let dir = remote.store().join("jobs").join(there["id"].as_str().unwrap()).join(name);
        for f in ["job.sh", "spec.json", "result.json", "exit_code"] {
            assert!(dir.join(f).is_file(), "{}", dir.join(f).display());
        }
        jobs.push(job.to_owned());
    }
    jobs.sort();
    jobs.dedup();
    assert_eq!(jobs.len(), 5, "one job per stage: {jobs:?}");
    let shown = remote.esteira(&["runs", "show", "latest"]).ok();
    assert!(
        shown.stdout.contains(&format!("job {}", there["stages"]["join"]["job"].as_str().unwrap())),
        "{}",
        shown.stdout
    );
    // Cached stages submit nothing.
    let again = slurm_run(&remote, &["--json"]).ok();
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert!(statuses_in(&again).iter().all(|(_, s)| s == "cached"), "{again}");
    assert!(again["stages"]["join"].get("job").is_none(), "{again}");
    // A local run of the same store agrees: every key is a hit.
    let local_again = remote.run(&[]);
    assert!(statuses_in(&local_again).iter().all(|(_, s)| s == "cached"), "{local_again}");
    // The job directories go with their run.
    let jobs = remote.store().join("jobs").join(there["id"].as_str().unwrap());
    assert!(jobs.is_dir());
    remote.esteira(&["gc", "--keep", "0"]).ok();
    assert!(!jobs.exists(), "{}", jobs.display());
}

#[test]
fn jobs_with_their_own_stores_hand_objects_over_through_the_remote() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let Some(s3) = S3::new("slurm") else { return };
    let (local, b) = (demo(), demo());
    let here = local.run(&[]);
    let node = b.path().join("node-store");
    let jobs = b.path().join("shared-jobs");
    let (node_s, jobs_s) = (node.display().to_string(), jobs.display().to_string());
    let url = s3.url("team");
    let args =
        ["run", "--json", "--executor", "slurm", "--remote", &url, "--job-store", &node_s, "--jobs-dir", &jobs_s];
    let mut c = b.cmd(&args);
    s3.env(&mut c);
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let there: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(outputs(&there), outputs(&here));
    let id = there["id"].as_str().unwrap();
    for (name, s) in there["stages"].as_object().unwrap() {
        assert!(jobs.join(id).join(name).join("result.json").is_file(), "{name}: job directory under --jobs-dir");
        // The job wrote each output into its own store; this store got it from the remote.
        for hash in s["outputs"].as_object().unwrap().values() {
            let hex = hash.as_str().unwrap();
            assert!(node.join("objects").join(&hex[..2]).join(hex).is_file(), "{name}: {hex} not in the job store");
        }
    }
    assert!(!b.store().join("jobs").exists(), "no job directory in the store");
    // Without a writable remote the job store is refused up front.
    let refused = b.esteira(&["run", "--executor", "slurm", "--job-store", &node_s]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("needs a writable --remote"), "{}", refused.stderr);
}

fn demo() -> Bed {
    let b = Bed::new();
    b.write("esteira.toml", PIPELINE);
    b.write("data/in.txt", "hello world");
    b
}

#[test]
fn the_default_pipeline_under_slurm_gives_the_local_output_hashes() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let (local, remote) = (Bed::ufrn(), Bed::ufrn());
    let here = local.run(&[]);
    let out = slurm_run(&remote, &["--json"]).ok();
    let there: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs(&there), outputs(&here));
    for (name, s) in there["stages"].as_object().unwrap() {
        // fetch revalidates its source: it runs in the orchestrator, never as a job.
        let volatile = s["kind"] == "fetch";
        assert_eq!(s["job"].is_string(), !volatile, "{name}: {s}");
    }
}

/// Two command stages that each wait for the other's mark: they can only both finish when
/// their jobs run at the same time.
#[test]
fn independent_stages_run_as_concurrent_jobs() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let b = Bed::new();
    let meet = b.path().join("meet");
    std::fs::create_dir(&meet).unwrap();
    let stage = |me: &str, other: &str| {
        format!(
            r#"
[stages.{me}]
kind = "command"
[stages.{me}.params]
run = ["sh", "-c", "touch \"$1/{me}\"; while [ ! -e \"$1/{other}\" ]; do sleep 0.2; done; echo {me} > \"$2\"", "sh", "{dir}", "{{outputs.out}}"]
outputs = {{ out = "txt" }}
timeout = "150s"
"#,
            dir = meet.display()
        )
    };
    b.write("esteira.toml", &format!("{}{}", stage("a", "b"), stage("b", "a")));
    let out = slurm_run(&b, &["--json"]);
    assert_eq!(out.code, 0, "the two jobs did not overlap?\n{}\n{}", out.stdout, out.stderr);
    assert_eq!(b.latest("a", "out.txt"), "a\n");
    assert_eq!(b.latest("b", "out.txt"), "b\n");
}

#[test]
fn a_failing_stage_reports_its_error_and_its_job() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.src]
kind = "test.source"
params = { text = "abc", note = "n1" }

[stages.bad]
kind = "test.fail"
inputs = { in = "src.out" }
params = { message = "the model diverged on purpose" }
"#,
    );
    let out = slurm_run(&b, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the model diverged on purpose"), "{}", out.stderr);
    assert!(out.stderr.contains("(Slurm job "), "{}", out.stderr);
    let r = b.record("latest");
    assert_eq!(r["stages"]["bad"]["status"], "failed");
    assert!(r["stages"]["bad"]["job"].as_str().is_some_and(|j| j.starts_with("slurm:")), "{r}");
    // Nothing cached for it: the next run submits it again.
    let again = slurm_run(&b, &["--json"]);
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["stages"]["src"]["status"], "cached");
    assert_eq!(again["stages"]["bad"]["status"], "failed");
}

#[test]
fn a_job_killed_at_its_time_limit_is_reported_as_such() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let b = Bed::new();
    // Slurm's limits are whole minutes, checked every 30 s: killed 60-90 s after it starts.
    b.write(
        "esteira.toml",
        r#"
[stages.slow]
kind = "command"
[stages.slow.params]
run = ["sh", "-c", "exec sleep 600; echo never > \"$1\"", "sh", "{outputs.out}"]
outputs = { out = "txt" }
[stages.slow.resources]
time = "00:01:00"
"#,
    );
    let out = slurm_run(&b, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("time limit"), "{}", out.stderr);
    assert!(out.stderr.contains("1:00") || out.stderr.contains("00:01:00"), "{}", out.stderr);
}

#[test]
fn ctrl_c_cancels_the_runs_jobs() {
    if !esteira_testkit::slurm::available() {
        return;
    }
    let b = Bed::new();
    b.write(
        "esteira.toml",
        r#"
[stages.slow]
kind = "command"
[stages.slow.params]
run = ["sh", "-c", "exec sleep 600; echo never > \"$1\"", "sh", "{outputs.out}"]
outputs = { out = "txt" }

[stages.after]
kind = "test.upper"
inputs = { in = "slow.out" }
"#,
    );
    let child = b.spawn(&["run", "--executor", "slurm"]);
    // Wait until the job is submitted (its spec is written just before sbatch).
    let started = Instant::now();
    let runs = b.store().join("jobs");
    let spec = loop {
        let found = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|run| run.path().join("slow"))
            .filter(|dir| dir.join("spec.json").is_file());
        if let Some(dir) = found {
            break dir;
        }
        assert!(started.elapsed() < PATIENCE, "no job was submitted");
        std::thread::sleep(Duration::from_millis(100));
    };
    let run_id = spec.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    let name = format!("esteira-{run_id}");
    let queued = || {
        let o = std::process::Command::new("squeue")
            .args(["--noheader", "--name", &name, "--format=%i %T"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    while queued().is_empty() {
        assert!(started.elapsed() < PATIENCE, "the job never showed in squeue");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    let r = b.record(&run_id);
    assert_eq!(r["status"], "interrupted", "{r}");
    assert_eq!(r["stages"]["slow"]["status"], "failed", "{r}");
    assert_eq!(r["stages"]["after"]["status"], "skipped", "{r}");
    // Nothing of the run is left queued or running.
    loop {
        let q = queued();
        if q.is_empty() || q.lines().all(|l| !l.contains("RUNNING") && !l.contains("PENDING")) {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "still queued after the cancel: {q}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
