//! Starting the program with a clean environment, waiting for it with a timeout, and killing
//! its whole process tree when the time is up.
//!
//! The program stays in esteira's process group, so Ctrl-C at the terminal (or a signal sent
//! to the group) reaches it and its children like any foreground job: a program in a group of
//! its own would keep running after esteira is interrupted, and esteira installs no signal
//! handler to forward it. At a timeout, the tree is found through `/proc` (the program and
//! every process whose parent is in the tree), each one stopped with `SIGSTOP` from the top
//! down until no new child appears — a stopped process can neither fork nor reap, so the pids
//! stay valid — then all are killed with `SIGKILL`. Processes that left the tree (daemons that
//! re-parent themselves) are out of reach, as they are for a process-group kill after `setsid`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited (or was killed by a signal someone else sent).
    Exited(ExitStatus),
    /// The timeout passed; its process tree was killed.
    TimedOut,
}

/// Starts `argv` in `cwd` with exactly `env`, stdin from `/dev/null` and stdout/stderr into
/// the given files, and waits for it (at most `timeout`).
pub(crate) fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    cwd: &Path,
    stdout: File,
    stderr: File,
    timeout: Option<Duration>,
) -> std::io::Result<Ended> {
    let mut child = spawn(argv, env, cwd, stdout, stderr)?;
    wait(&mut child, timeout)
}

fn spawn(argv: &[String], env: &BTreeMap<String, String>, cwd: &Path, out: File, err: File) -> std::io::Result<Child> {
    let (program, args) = argv.split_first().ok_or_else(|| std::io::Error::other("empty command"))?;
    // A relative path with a `/` means the scratch directory's file, whatever the platform's
    // rule for relative programs with `current_dir`.
    let program = if program.contains('/') && Path::new(program).is_relative() {
        cwd.join(program).into_os_string()
    } else {
        program.into()
    };
    // With PATH in the child's environment, std looks the program up in that PATH.
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
}

fn wait(child: &mut Child, timeout: Option<Duration>) -> std::io::Result<Ended> {
    let Some(timeout) = timeout else { return child.wait().map(Ended::Exited) };
    // Polled in this thread, so the child is never reaped between the check and the kill.
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ended::Exited(status));
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            kill_tree(child);
            child.wait()?;
            return Ok(Ended::TimedOut);
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(elapsed)));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kills the child and every descendant still in its tree (see the module docs).
#[cfg(target_os = "linux")]
fn kill_tree(child: &mut Child) {
    use rustix::process::{Pid, Signal, kill_process};
    let root = Pid::from_child(child);
    let signal = |pid: i32, sig: Signal| Pid::from_raw(pid).map(|p| kill_process(p, sig));
    let root_raw = root.as_raw_nonzero().get();
    let _ = signal(root_raw, Signal::STOP);
    let mut tree = BTreeSet::from([root_raw]);
    // Each round stops the children of stopped processes; a few rounds reach any tree, the
    // bound only guards against a /proc that never settles.
    for _ in 0..64 {
        let parents = parents();
        let new: Vec<i32> =
            parents.iter().filter(|(pid, ppid)| tree.contains(ppid) && !tree.contains(pid)).map(|(p, _)| *p).collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            let _ = signal(pid, Signal::STOP);
            // Still a child of a stopped process (its parent cannot have reaped it and had the
            // pid reused): ours. Otherwise the pid went to someone else: let it go on.
            if parent_of(pid).is_some_and(|pp| tree.contains(&pp)) {
                tree.insert(pid);
            } else {
                let _ = signal(pid, Signal::CONT);
            }
        }
    }
    for &pid in tree.iter().rev() {
        let _ = signal(pid, Signal::KILL);
    }
    tracing::debug!(processes = tree.len(), "killed the timed-out program's process tree");
}

#[cfg(not(target_os = "linux"))]
fn kill_tree(child: &mut Child) {
    // Without /proc only the direct child is killed; its children may outlive it.
    let _ = child.kill();
}

/// `(pid, parent pid)` of every process in `/proc`.
#[cfg(target_os = "linux")]
fn parents() -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter_map(|pid| parent_of(pid).map(|pp| (pid, pp)))
        .collect()
}

/// The parent pid in `/proc/PID/stat` (`pid (comm) state ppid …`; comm may hold `)`).
#[cfg(target_os = "linux")]
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// How a finished program ended, in words: `exited with status 3`, `was killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("was killed by signal {sig}");
        }
    }
    format!("ended with {status}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<Duration>) -> (Ended, String) {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let f = File::create(&log).unwrap();
        let env = BTreeMap::from([("PATH".to_owned(), "/usr/bin:/bin".to_owned())]);
        let argv = ["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        let ended = run(&argv, &env, d.path(), f.try_clone().unwrap(), f, timeout).unwrap();
        (ended, std::fs::read_to_string(log).unwrap())
    }

    #[test]
    fn exit_statuses_and_a_clean_environment() {
        let (ended, out) = sh("env | sort; exit 3", None);
        let Ended::Exited(s) = ended else { panic!("{ended:?}") };
        assert_eq!(describe(s), "exited with status 3");
        // Only what was passed (sh itself may add PWD, SHLVL and `_`).
        for line in out.lines() {
            let name = line.split('=').next().unwrap();
            assert!(["PATH", "PWD", "SHLVL", "_", "OLDPWD"].contains(&name), "{out}");
        }
        let (ended, _) = sh("kill -9 $$", None);
        let Ended::Exited(s) = ended else { panic!("{ended:?}") };
        assert_eq!(describe(s), "was killed by signal 9");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_timeout_kills_the_whole_tree() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("pids");
        // A child and a grandchild that would outlive a kill of the shell alone.
        let script = format!(
            "sh -c 'sleep 300 & echo $! >> {p}; wait' & echo $! >> {p}; sleep 300 & echo $! >> {p}; wait",
            p = pidfile.display()
        );
        let (ended, _) = sh(&script, Some(Duration::from_millis(300)));
        assert_eq!(ended, Ended::TimedOut);
        let pids = std::fs::read_to_string(&pidfile).unwrap();
        assert_eq!(pids.lines().count(), 3, "{pids}");
        for pid in pids.lines() {
            let pid: i32 = pid.trim().parse().unwrap();
            // Killed (a zombie until its parent, also killed, is reaped by init) or gone.
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s[s.rfind(')').unwrap() + 1..].split_whitespace().next().map(str::to_owned));
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut state = state;
            while state.as_deref().is_some_and(|s| s != "Z" && s != "X") && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| s[s.rfind(')').unwrap() + 1..].split_whitespace().next().map(str::to_owned));
            }
            assert!(
                state.is_none() || state.as_deref() == Some("Z") || state.as_deref() == Some("X"),
                "{pid}: {state:?}"
            );
        }
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let d = tempfile::tempdir().unwrap();
        let f = File::create(d.path().join("log")).unwrap();
        let env = BTreeMap::from([("PATH".to_owned(), "/nonexistent".to_owned())]);
        let e = run(&["sh".to_owned()], &env, d.path(), f.try_clone().unwrap(), f, None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    }
}
