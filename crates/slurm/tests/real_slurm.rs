//! esteira-slurm against a real Slurm: jobs are submitted, polled and cancelled through the
//! real `sbatch`, `squeue`, `sacct` and `scancel`.
//!
//! Opt-in: the tests run when `ESTEIRA_TEST_SLURM=1` (or `ESTEIRA_REQUIRE_SLURM=1`) says there is
//! a Slurm whose nodes see this host's temp directory (the one-node Slurm of `.ci/slurm-up.sh`;
//! `ESTEIRA_SLURM_TEST_DIR` overrides the directory) and it answers `sinfo`; otherwise each
//! prints `SKIPPED: no Slurm` and passes — unless `ESTEIRA_REQUIRE_SLURM=1`, in CI, where that
//! is a failure. Test jobs write only under their test's temp directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use esteira_slurm::{
    FailureReason, Finished, JobId, JobOutcome, JobScript, JobState, PollPolicy, Resources, Slurm, SlurmCommand,
    StatusSource, TimeLimit, Tracker,
};

/// The longest any test waits for its jobs before cancelling them and failing (a guard against
/// a hang, not a timed assertion).
const DEADLINE: Duration = Duration::from_secs(300);

fn slurm_or_skip() -> Option<Fixture> {
    esteira_testkit::slurm::available().then(Fixture::new)
}

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let base = std::env::var_os("ESTEIRA_SLURM_TEST_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        Self { tmp: tempfile::Builder::new().prefix("esteira-slurm-test-").tempdir_in(base).unwrap() }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn script(&self, name: &str, argv: &[&str], resources: Resources) -> JobScript {
        JobScript::new(self.dir().join("jobs").join(name), self.dir(), argv.iter().copied(), resources).unwrap()
    }

    /// `sh -c SCRIPT sh ARGS…` as a job.
    fn sh(&self, name: &str, script: &str, args: &[&str]) -> JobScript {
        let mut argv = vec!["/bin/sh", "-c", script, "sh"];
        argv.extend_from_slice(args);
        self.script(name, &argv, Resources::default())
    }

    fn path(&self, name: &str) -> String {
        self.dir().join(name).display().to_string()
    }
}

/// A policy for tests: quick polls, a short grace for exit code files.
fn quick() -> PollPolicy {
    PollPolicy {
        first: Duration::from_millis(200),
        max: Duration::from_secs(1),
        growth: 1.5,
        exit_file_grace: Duration::from_secs(2),
        give_up_after: Duration::from_secs(60),
    }
}

fn job_name() -> String {
    format!("esteira-test-{}", std::process::id())
}

/// Polls until every followed job has ended; past [`DEADLINE`], cancels them and panics.
fn wait_all(t: &mut Tracker) -> BTreeMap<JobId, Finished> {
    let started = Instant::now();
    let mut done = BTreeMap::new();
    while !t.is_empty() {
        if started.elapsed() > DEADLINE {
            let left: Vec<String> = t.jobs().map(|j| format!("{j} ({:?})", t.state(j))).collect();
            let _ = t.cancel_all();
            panic!("jobs still not ended after {DEADLINE:?}: {left:?}");
        }
        std::thread::sleep(t.next_wait());
        for f in t.poll().unwrap() {
            done.insert(f.job.clone(), f);
        }
    }
    done
}

fn failure(f: &Finished) -> &esteira_slurm::JobFailure {
    match &f.outcome {
        JobOutcome::Failed(why) => why,
        JobOutcome::Succeeded => panic!("job {} succeeded: {f:?}", f.job),
    }
}

/// An executable shell script at `path`.
fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn a_job_that_exits_0_completes_and_its_exit_code_is_read_from_the_file() {
    let Some(fx) = slurm_or_skip() else { return };
    let mut t = Tracker::new(Slurm::new(), quick());
    let made = fx.path("made.txt");
    // Arguments that need quoting reach the program unchanged.
    let args = ["a b", "it's", "$HOME", "`id`", "\"q\"", "*", ""];
    let mut argv = vec!["/bin/sh", "-c", "echo made > \"$1\"; shift; printf '[%s]\\n' \"$@\"", "sh", &made];
    argv.extend_from_slice(&args);
    let script = fx.script("ok", &argv, Resources::default());
    let job = t.submit(&script, &job_name()).unwrap();
    let done = wait_all(&mut t);
    let f = &done[&job];
    assert_eq!(f.outcome, JobOutcome::Succeeded, "{f:?}");
    assert_eq!(f.status.state, JobState::Completed);
    assert_eq!(f.status.source, StatusSource::Squeue);
    assert_eq!(std::fs::read_to_string(&made).unwrap(), "made\n");
    assert_eq!(script.files().read_exit_code().unwrap(), Some(0));
    let printed = args.iter().map(|a| format!("[{a}]\n")).collect::<Vec<_>>().concat();
    assert_eq!(std::fs::read_to_string(script.files().stdout()).unwrap(), printed);
}

#[test]
fn a_job_that_exits_3_fails_with_the_tail_of_its_stderr() {
    let Some(fx) = slurm_or_skip() else { return };
    let mut t = Tracker::new(Slurm::new(), quick());
    let script = fx.sh("fail", "i=1; while [ $i -le 30 ]; do echo \"err $i\" >&2; i=$((i+1)); done; exit 3", &[]);
    let job = t.submit(&script, &job_name()).unwrap();
    let done = wait_all(&mut t);
    let f = &done[&job];
    assert_eq!(f.status.state, JobState::Failed);
    let why = failure(f);
    assert_eq!(why.reason, FailureReason::ExitCode(3));
    assert_eq!(why.output_tail.len(), 20);
    assert_eq!((why.output_tail[0].as_str(), why.output_tail[19].as_str()), ("err 11", "err 30"));
    let message = why.to_string();
    assert!(
        message.starts_with("the job's command exited with code 3; last lines of its stderr:\n  | err 11\n"),
        "{message}"
    );
}

#[test]
fn independent_jobs_overlap() {
    let Some(fx) = slurm_or_skip() else { return };
    let mut t = Tracker::new(Slurm::new(), quick());
    // Each job records when it started, waits until the other has started too (at most 240 s: a
    // loaded runner can be slow to start a job), and records when it ended: if Slurm ran them
    // one after the other, the first ends before the second starts. The start time is written
    // aside and renamed into place: a redirection creates the file before `date` runs, and the
    // other job seeing it then could end before this one's clock is read (seen once in CI).
    let body = "date +%s%N > \"$1.start.tmp\"; mv \"$1.start.tmp\" \"$1.start\"; i=0; while [ ! -e \"$2.start\" ] && [ $i -lt 2400 ]; do sleep 0.1; i=$((i+1)); done; date +%s%N > \"$1.end\"";
    let (a, b) = (fx.path("a"), fx.path("b"));
    let ja = t.submit(&fx.sh("a", body, &[&a, &b]), &job_name()).unwrap();
    let jb = t.submit(&fx.sh("b", body, &[&b, &a]), &job_name()).unwrap();
    let done = wait_all(&mut t);
    assert_eq!(done[&ja].outcome, JobOutcome::Succeeded);
    assert_eq!(done[&jb].outcome, JobOutcome::Succeeded);
    let at = |p: String| -> u128 { std::fs::read_to_string(&p).unwrap().trim().parse().unwrap() };
    let (sa, ea, sb, eb) =
        (at(format!("{a}.start")), at(format!("{a}.end")), at(format!("{b}.start")), at(format!("{b}.end")));
    assert!(sa < eb && sb < ea, "the jobs ran one after the other: a {sa}..{ea}, b {sb}..{eb}");
}

#[test]
fn a_job_past_its_time_limit_is_reported_as_a_timeout() {
    let Some(fx) = slurm_or_skip() else { return };
    // Slurm's smallest limit is one minute, checked every 30 s: this takes 60-90 s.
    let mut t = Tracker::new(Slurm::new(), PollPolicy { max: Duration::from_secs(5), ..quick() });
    let resources = Resources { time: Some(TimeLimit::from_minutes(1).unwrap()), ..Resources::default() };
    let script = fx.script("slow", &["/bin/sh", "-c", "echo started >&2; exec sleep 300"], resources);
    let started = Instant::now();
    let job = t.submit(&script, &job_name()).unwrap();
    let done = wait_all(&mut t);
    println!("time-limit job {job} reported after {:.0?}", started.elapsed());
    let f = &done[&job];
    assert_eq!(f.status.state, JobState::Timeout, "{f:?}");
    let why = failure(f);
    assert_eq!(why.reason, FailureReason::TimeLimit(Some(TimeLimit::from_minutes(1).unwrap())));
    let message = why.to_string();
    assert!(
        message.starts_with("killed by Slurm: time limit reached (TIMEOUT; it asked for --time=00:01:00)"),
        "{message}"
    );
    assert!(message.contains("\n  | started"), "{message}");
    assert!(why.slurm_tail.iter().any(|l| l.contains("DUE TO TIME LIMIT")), "{:?}", why.slurm_tail);
    // Slurm's SIGTERM may kill the job script too, or only its command (the script then writes
    // 143): either way Slurm's state decides.
    assert_ne!(script.files().read_exit_code().unwrap(), Some(0));
}

#[test]
fn cancelling_a_run_cancels_its_jobs_with_one_scancel() {
    let Some(fx) = slurm_or_skip() else { return };
    let mut t = Tracker::new(Slurm::new(), quick());
    let (a, b) = (fx.path("a.running"), fx.path("b.running"));
    let body = "touch \"$1\"; sleep 300";
    let ja = t.submit(&fx.sh("a", body, &[&a]), &job_name()).unwrap();
    let jb = t.submit(&fx.sh("b", body, &[&b]), &job_name()).unwrap();
    // Cancel once both are running (one pending and one running job would do as well).
    let started = Instant::now();
    while !(Path::new(&a).exists() && Path::new(&b).exists()) {
        assert!(started.elapsed() < DEADLINE, "the jobs never started");
        assert!(t.poll().unwrap().is_empty());
        std::thread::sleep(Duration::from_millis(100));
    }
    let cancelled = t.cancel_all().unwrap();
    assert_eq!(cancelled, [ja.clone(), jb.clone()]);
    assert_eq!(t.slurm().calls().scancel, 1);
    let done = wait_all(&mut t);
    for j in [&ja, &jb] {
        assert_eq!(done[j].status.state, JobState::Cancelled, "{:?}", done[j]);
        assert_eq!(failure(&done[j]).reason, FailureReason::Cancelled);
    }
    // Cancelling jobs that have ended is not an error.
    Slurm::new().cancel(&[ja, jb]).unwrap();
}

#[test]
fn one_poll_of_many_jobs_is_one_squeue_call() {
    let Some(fx) = slurm_or_skip() else { return };
    // A wrapper around the real squeue logs each invocation's arguments.
    let real =
        String::from_utf8(Command::new("sh").args(["-c", "command -v squeue"]).output().unwrap().stdout).unwrap();
    let log = fx.path("squeue.log");
    let wrapper = fx.dir().join("squeue");
    executable(&wrapper, &format!("#!/bin/sh\necho \"$*\" >> '{log}'\nexec '{}' \"$@\"\n", real.trim()));
    let slurm = Slurm::new().with_program(SlurmCommand::Squeue, &wrapper);
    let mut t = Tracker::new(slurm, quick());
    let jobs: Vec<JobId> =
        (0..6).map(|i| t.submit(&fx.sh(&format!("j{i}"), "sleep 1", &[]), &job_name()).unwrap()).collect();
    let states = t.slurm().poll(&jobs).unwrap();
    assert_eq!(states.len(), 6);
    let calls = t.slurm().calls();
    assert_eq!((calls.sbatch, calls.squeue, calls.sacct), (6, 1, 0));
    let lines = std::fs::read_to_string(&log).unwrap();
    let want: Vec<String> = jobs.iter().map(ToString::to_string).collect();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains(&format!("--jobs={}", want.join(","))), "{lines}");
    // Following them to the end: one squeue call per poll, and no sacct call (squeue still
    // lists ended jobs for MinJobAge).
    let done = wait_all(&mut t);
    assert!(done.values().all(|f| f.outcome == JobOutcome::Succeeded), "{done:?}");
    let calls = t.slurm().calls();
    assert_eq!(calls.sacct, 0);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count() as u64, calls.squeue);
    println!("6 jobs followed to the end with {} squeue calls", calls.squeue);
}

#[test]
fn jobs_squeue_no_longer_lists_are_asked_of_sacct_once_and_without_accounting_the_exit_code_file_decides() {
    let Some(fx) = slurm_or_skip() else { return };
    let mut t = Tracker::new(Slurm::new(), quick());
    let ok = fx.sh("ok", "exit 0", &[]);
    let fails = fx.sh("fails", "echo broken >&2; exit 4", &[]);
    let running = fx.path("cancelled.running");
    let cancelled = fx.sh("cancelled", "touch \"$1\"; sleep 300", &[&running]);
    // The job script itself is killed (as by the OOM killer): it writes no exit code.
    let killed = fx.sh("killed", "kill -KILL $PPID; sleep 300", &[]);
    let jok = t.submit(&ok, &job_name()).unwrap();
    let jfails = t.submit(&fails, &job_name()).unwrap();
    let jcancelled = t.submit(&cancelled, &job_name()).unwrap();
    let jkilled = t.submit(&killed, &job_name()).unwrap();
    let started = Instant::now();
    while !Path::new(&running).exists() {
        assert!(started.elapsed() < DEADLINE, "the job never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    Slurm::new().cancel(std::slice::from_ref(&jcancelled)).unwrap();
    let real = wait_all(&mut t);
    assert_eq!(real[&jcancelled].status.state, JobState::Cancelled);
    assert_eq!(real[&jkilled].status.state, JobState::Failed);
    assert_eq!(killed.files().read_exit_code().unwrap(), None);

    // squeue as it answers once the jobs have left the controller (after MinJobAge).
    let gone = fx.dir().join("squeue-gone");
    executable(&gone, "#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n");
    let scripts = [(&jok, &ok), (&jfails, &fails), (&jcancelled, &cancelled), (&jkilled, &killed)];
    let follow = |slurm: Slurm| {
        let mut t = Tracker::new(slurm, PollPolicy { exit_file_grace: Duration::ZERO, ..quick() });
        for (j, s) in scripts {
            t.track(j.clone(), s);
        }
        t
    };

    // With accounting: one sacct call for the four, Slurm's states.
    let with_sacct = Slurm::new().with_program(SlurmCommand::Squeue, &gone);
    let started = Instant::now();
    let done = loop {
        // slurmdbd hears of a job's end shortly after slurmctld; retry until it has.
        let mut t = follow(with_sacct.clone());
        let before = with_sacct.calls().sacct;
        let done: BTreeMap<JobId, Finished> = t.poll().unwrap().into_iter().map(|f| (f.job.clone(), f)).collect();
        assert_eq!(with_sacct.calls().sacct - before, 1);
        if done.len() == 4 {
            break done;
        }
        assert!(started.elapsed() < DEADLINE, "sacct never reported the jobs ended: {done:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(done.values().all(|f| f.status.source == StatusSource::Sacct), "{done:?}");
    assert_eq!(done[&jok].outcome, JobOutcome::Succeeded);
    assert_eq!(done[&jfails].status.exit_code, Some((4, 0)));
    assert_eq!(failure(&done[&jfails]).reason, FailureReason::ExitCode(4));
    assert_eq!(done[&jcancelled].status.state, JobState::Cancelled);
    assert_eq!(failure(&done[&jcancelled]).reason, FailureReason::Cancelled);
    assert_eq!(done[&jkilled].status.exit_code, Some((0, 9)));
    assert_eq!(
        failure(&done[&jkilled]).to_string(),
        "the job script failed before it wrote an exit code (FAILED, exit code 0:9)"
    );

    // Without accounting (sacct missing, or answering nothing): the exit code files decide.
    let no_sacct = fx.dir().join("sacct-empty");
    executable(&no_sacct, "#!/bin/sh\nexit 0\n");
    for sacct in [fx.dir().join("no/such/sacct"), no_sacct] {
        let slurm = Slurm::new().with_program(SlurmCommand::Squeue, &gone).with_program(SlurmCommand::Sacct, &sacct);
        let mut t = follow(slurm);
        let done: BTreeMap<JobId, Finished> = t.poll().unwrap().into_iter().map(|f| (f.job.clone(), f)).collect();
        assert!(t.is_empty());
        assert_eq!(t.slurm().calls().sacct, 1);
        assert_eq!(done[&jok].outcome, JobOutcome::Succeeded);
        assert_eq!(done[&jok].status.state, JobState::Unknown);
        let why = failure(&done[&jfails]);
        assert_eq!(why.reason, FailureReason::ExitCode(4));
        assert!(why.to_string().ends_with("code 4; last lines of its stderr:\n  | broken"), "{why}");
        // Cancelled: no exit code, or the one of its command killed by SIGTERM.
        assert!(matches!(
            failure(&done[&jcancelled]).reason,
            FailureReason::NoExitCode { .. } | FailureReason::ExitCode(143)
        ));
        let message = failure(&done[&jkilled]).to_string();
        assert!(
            message.starts_with(
                "job ended without an exit code (killed by Slurm? accounting is off, so the reason is unknown)"
            ),
            "{message}"
        );
        if sacct.ends_with("no/such/sacct") {
            assert!(message.contains("; sacct: cannot run"), "{message}");
        }
    }
}

/// Not a check: prints how long a trivial job takes from submission to running and to
/// completed, as seen by polls every 50 ms.
#[test]
fn overhead_of_a_trivial_job() {
    let Some(fx) = slurm_or_skip() else { return };
    let slurm = Slurm::new();
    let mut rows = Vec::new();
    for i in 0..5 {
        let script = fx.sh(&format!("t{i}"), "true", &[]);
        let t0 = Instant::now();
        let job = slurm.submit(&script, &job_name()).unwrap();
        let submitted = t0.elapsed();
        let (mut running, mut ended) = (None, None);
        while ended.is_none() {
            assert!(t0.elapsed() < DEADLINE);
            let s = &slurm.poll(std::slice::from_ref(&job)).unwrap()[&job];
            if running.is_none() && !matches!(s.state, JobState::Pending) {
                running = Some(t0.elapsed());
            }
            if s.state.has_ended() && script.files().read_exit_code().unwrap().is_some() {
                ended = Some(t0.elapsed());
                assert_eq!(s.state, JobState::Completed);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        rows.push((submitted, running.unwrap(), ended.unwrap()));
    }
    for (s, r, e) in rows {
        println!("trivial job: sbatch returned after {s:.2?}, running after {r:.2?}, completed after {e:.2?}");
    }
}
