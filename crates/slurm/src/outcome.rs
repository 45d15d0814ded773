//! How an ended job went: its `exit_code` file and Slurm's final state, read together.
//!
//! | Slurm's state | `exit_code` | outcome |
//! | --- | --- | --- |
//! | `TIMEOUT`, `OUT_OF_MEMORY`, `NODE_FAIL`, `CANCELLED`, `PREEMPTED`, `BOOT_FAIL`, `DEADLINE` | any | failed, Slurm's reason named |
//! | `COMPLETED`, `FAILED`, or unknown to squeue and sacct | `0` | succeeded |
//! | same | `N ≠ 0` | failed: exit code `N`, the end of its stderr |
//! | `COMPLETED` | none | failed: no exit code file (a job directory the nodes do not share?) |
//! | `FAILED` | none | failed: the job script failed before writing it |
//! | unknown | none | failed: "job ended without an exit code (killed by Slurm? accounting is off, so the reason is unknown)" |
//!
//! "None" is only concluded after a grace period ([`crate::PollPolicy::exit_file_grace`]): on a
//! network file system the file can appear on the submitting host a little after Slurm reports
//! the job done.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::{JobFiles, JobState, JobStatus, Memory, Resources, StatusSource, TimeLimit};

/// How many lines of a job's stderr a failure quotes.
pub const TAIL_LINES: usize = 20;
const TAIL_BYTES: u64 = 16 * 1024;

/// How an ended job went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The command exited 0 and Slurm did not kill the job.
    Succeeded,
    /// Anything else; its `Display` is the stage's error message.
    Failed(JobFailure),
}

impl JobOutcome {
    /// The outcome of a job whose last status is `status`, or `None` while it has not ended
    /// (or has, but its exit code file may still be on its way and `waited` is false).
    /// `resources` are what the job asked for, named in time and memory failures.
    pub fn of(files: &JobFiles, status: &JobStatus, resources: &Resources, waited: bool) -> Option<Self> {
        if !status.state.has_ended() {
            return None;
        }
        let killed = match status.state {
            JobState::Timeout => Some(FailureReason::TimeLimit(resources.time)),
            JobState::OutOfMemory => Some(FailureReason::OutOfMemory(resources.memory)),
            JobState::NodeFail => Some(FailureReason::NodeFail),
            JobState::Cancelled => Some(FailureReason::Cancelled),
            JobState::Preempted => Some(FailureReason::Preempted),
            JobState::BootFail => Some(FailureReason::BootFail),
            JobState::Deadline => Some(FailureReason::Deadline),
            _ => None,
        };
        let reason = match (killed, files.read_exit_code()) {
            (Some(reason), _) => reason,
            (None, Ok(Some(0))) => return Some(Self::Succeeded),
            (None, Ok(Some(code))) => FailureReason::ExitCode(code),
            (None, Ok(None)) if !waited => return None,
            (None, Ok(None)) => match (&status.state, &status.source) {
                (JobState::Completed, _) => FailureReason::NoExitCodeFile(files.exit_code()),
                (_, StatusSource::Neither { accounting }) => {
                    FailureReason::NoExitCode { accounting: accounting.clone() }
                }
                _ => FailureReason::ScriptFailed { exit_code: status.exit_code },
            },
            (None, Err(e)) => FailureReason::BadExitCode(e.to_string()),
        };
        Some(Self::Failed(JobFailure::new(reason, files)))
    }
}

/// Why a job failed, with the end of what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// Why.
    pub reason: FailureReason,
    /// The last lines ([`TAIL_LINES`]) of the command's stderr (of its stdout when stderr is
    /// empty), each cut to an excerpt.
    pub output_tail: Vec<String>,
    /// Which of the two `output_tail` is from: `"stderr"` or `"stdout"`.
    pub output_name: &'static str,
    /// The last lines of `slurm.out`: the script's and Slurm's own messages (`*** JOB 12 …
    /// CANCELLED … DUE TO TIME LIMIT ***`).
    pub slurm_tail: Vec<String>,
}

impl JobFailure {
    fn new(reason: FailureReason, files: &JobFiles) -> Self {
        let err = last_lines(&files.stderr());
        let (output_name, output_tail) =
            if err.is_empty() { ("stdout", last_lines(&files.stdout())) } else { ("stderr", err) };
        Self { reason, output_tail, output_name, slurm_tail: last_lines(&files.slurm_output()) }
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if !self.output_tail.is_empty() {
            write!(f, "; last lines of its {}:", self.output_name)?;
            for l in &self.output_tail {
                write!(f, "\n  | {l}")?;
            }
        }
        if !self.slurm_tail.is_empty() {
            f.write_str("\nSlurm's messages (slurm.out):")?;
            for l in &self.slurm_tail {
                write!(f, "\n  | {l}")?;
            }
        }
        Ok(())
    }
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// The command exited with this non-zero code.
    ExitCode(i32),
    /// Slurm killed the job at its time limit (the one it asked for, when known).
    TimeLimit(Option<TimeLimit>),
    /// Slurm killed the job for its memory use (the memory it asked for, when known).
    OutOfMemory(Option<Memory>),
    /// The job's node failed.
    NodeFail,
    /// The job was cancelled.
    Cancelled,
    /// Another job preempted it.
    Preempted,
    /// Its node failed to boot.
    BootFail,
    /// It did not start before its deadline.
    Deadline,
    /// Slurm says the job completed, but there is no exit code file (at this path).
    NoExitCodeFile(PathBuf),
    /// Slurm says the job failed and it wrote no exit code: the script itself failed.
    ScriptFailed {
        /// sacct's `(code, signal)`, when sacct was asked.
        exit_code: Option<(i32, i32)>,
    },
    /// Neither squeue nor sacct knows the job and it wrote no exit code.
    NoExitCode {
        /// sacct's error, when it failed.
        accounting: Option<String>,
    },
    /// The exit code file could not be read.
    BadExitCode(String),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExitCode(code) => {
                write!(f, "the job's command exited with code {code}")?;
                if (129..=192).contains(code) {
                    write!(f, " (killed by signal {})", code - 128)?;
                }
                Ok(())
            }
            Self::TimeLimit(Some(t)) => {
                write!(f, "killed by Slurm: time limit reached (TIMEOUT; it asked for --time={t})")
            }
            Self::TimeLimit(None) => {
                f.write_str("killed by Slurm: time limit reached (TIMEOUT; the partition's limit)")
            }
            Self::OutOfMemory(Some(m)) => {
                write!(f, "killed by Slurm: out of memory (OUT_OF_MEMORY; it asked for --mem={m})")
            }
            Self::OutOfMemory(None) => f.write_str("killed by Slurm: out of memory (OUT_OF_MEMORY)"),
            Self::NodeFail => f.write_str("killed by Slurm: the job's node failed (NODE_FAIL)"),
            Self::Cancelled => f.write_str("cancelled (CANCELLED: by scancel, esteira or an administrator)"),
            Self::Preempted => f.write_str("killed by Slurm: preempted by another job (PREEMPTED)"),
            Self::BootFail => f.write_str("killed by Slurm: the job's node failed to boot (BOOT_FAIL)"),
            Self::Deadline => f.write_str("cancelled by Slurm: not started before its deadline (DEADLINE)"),
            Self::NoExitCodeFile(p) => write!(
                f,
                "Slurm says the job completed, but it wrote no exit code to {} (is the job directory on a file \
                 system this host and the compute nodes share?)",
                p.display()
            ),
            Self::ScriptFailed { exit_code } => {
                f.write_str("the job script failed before it wrote an exit code (FAILED")?;
                if let Some((code, signal)) = exit_code {
                    write!(f, ", exit code {code}:{signal}")?;
                }
                f.write_str(")")
            }
            Self::NoExitCode { accounting } => {
                f.write_str(
                    "job ended without an exit code (killed by Slurm? accounting is off, so the reason is unknown)",
                )?;
                if let Some(e) = accounting {
                    write!(f, "; sacct: {e}")?;
                }
                Ok(())
            }
            Self::BadExitCode(e) => write!(f, "the job's exit code cannot be read: {e}"),
        }
    }
}

/// The last [`TAIL_LINES`] non-blank-ended lines of a file (of its last 16 KiB), each cut to
/// an excerpt; nothing when the file is missing or empty.
fn last_lines(path: &Path) -> Vec<String> {
    let Ok(mut f) = File::open(path) else { return Vec::new() };
    let Ok(len) = f.seek(SeekFrom::End(0)) else { return Vec::new() };
    let start = len.saturating_sub(TAIL_BYTES);
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.take(TAIL_BYTES).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // probably cut
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines[lines.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|l| esteira_core::excerpt(l, 2 * esteira_core::MAX_EXCERPT_CHARS).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: JobState, source: StatusSource) -> JobStatus {
        JobStatus { state, reason: None, exit_code: None, source }
    }

    struct Job {
        _tmp: tempfile::TempDir,
        files: JobFiles,
    }

    fn job(exit: Option<&str>, stderr: &str) -> Job {
        let tmp = tempfile::tempdir().unwrap();
        let files = JobFiles::new(tmp.path());
        if let Some(e) = exit {
            std::fs::write(files.exit_code(), e).unwrap();
        }
        std::fs::write(files.stderr(), stderr).unwrap();
        Job { _tmp: tmp, files }
    }

    fn failure(o: Option<JobOutcome>) -> JobFailure {
        match o {
            Some(JobOutcome::Failed(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_table_of_outcomes() {
        let r = Resources::from_toml(toml::from_str::<toml::Value>("time = 1\nmemory = \"1G\"").unwrap()).unwrap();
        let sq = StatusSource::Squeue;
        let j = job(Some("0\n"), "");
        assert_eq!(JobOutcome::of(&j.files, &status(JobState::Running, sq.clone()), &r, true), None);
        assert_eq!(JobOutcome::of(&j.files, &status(JobState::Completing, sq.clone()), &r, true), None);
        assert_eq!(
            JobOutcome::of(&j.files, &status(JobState::Completed, sq.clone()), &r, false),
            Some(JobOutcome::Succeeded)
        );
        let gone = StatusSource::Neither { accounting: Some("no sacct".into()) };
        assert_eq!(
            JobOutcome::of(&j.files, &status(JobState::Unknown, gone.clone()), &r, false),
            Some(JobOutcome::Succeeded)
        );
        // Slurm's kill wins over the file.
        let f = failure(JobOutcome::of(&j.files, &status(JobState::Timeout, sq.clone()), &r, false));
        assert_eq!(f.reason, FailureReason::TimeLimit(r.time));
        assert!(
            f.to_string().starts_with("killed by Slurm: time limit reached (TIMEOUT; it asked for --time=00:01:00)")
        );
        let f = failure(JobOutcome::of(&j.files, &status(JobState::OutOfMemory, sq.clone()), &r, false));
        assert!(f.to_string().contains("out of memory (OUT_OF_MEMORY; it asked for --mem=1G)"), "{f}");
        for (state, words) in [
            (JobState::NodeFail, "NODE_FAIL"),
            (JobState::Cancelled, "CANCELLED"),
            (JobState::Preempted, "PREEMPTED"),
            (JobState::BootFail, "BOOT_FAIL"),
            (JobState::Deadline, "DEADLINE"),
        ] {
            let f = failure(JobOutcome::of(&j.files, &status(state, sq.clone()), &r, false));
            assert!(f.to_string().contains(words), "{f}");
        }

        let j = job(Some("3\n"), "warming up\nboom: bad input\n\n");
        let f = failure(JobOutcome::of(&j.files, &status(JobState::Failed, sq.clone()), &r, false));
        assert_eq!(f.reason, FailureReason::ExitCode(3));
        assert_eq!(
            f.to_string(),
            "the job's command exited with code 3; last lines of its stderr:\n  | warming up\n  | boom: bad input"
        );

        let j = job(Some("137\n"), "");
        let f = failure(JobOutcome::of(&j.files, &status(JobState::Failed, sq.clone()), &r, false));
        assert_eq!(f.to_string(), "the job's command exited with code 137 (killed by signal 9)");

        // No file: wait, then say why it is missing.
        let j = job(None, "");
        assert_eq!(JobOutcome::of(&j.files, &status(JobState::Completed, sq.clone()), &r, false), None);
        let f = failure(JobOutcome::of(&j.files, &status(JobState::Completed, sq.clone()), &r, true));
        assert!(f.to_string().contains("wrote no exit code to"), "{f}");
        let mut failed = status(JobState::Failed, StatusSource::Sacct);
        failed.exit_code = Some((1, 0));
        let f = failure(JobOutcome::of(&j.files, &failed, &r, true));
        assert_eq!(f.to_string(), "the job script failed before it wrote an exit code (FAILED, exit code 1:0)");
        let f = failure(JobOutcome::of(&j.files, &status(JobState::Unknown, gone), &r, true));
        assert_eq!(
            f.to_string(),
            "job ended without an exit code (killed by Slurm? accounting is off, so the reason is unknown); sacct: no sacct"
        );

        let j = job(Some("three"), "");
        let f = failure(JobOutcome::of(&j.files, &status(JobState::Completed, sq), &r, false));
        assert!(matches!(f.reason, FailureReason::BadExitCode(_)), "{f}");
    }

    #[test]
    fn the_tail_is_the_last_twenty_lines_each_cut() {
        let long = "x".repeat(10_000);
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect::<Vec<_>>().concat() + &long + "\n";
        let j = job(Some("1"), &text);
        std::fs::write(j.files.slurm_output(), "*** JOB 5 ON vm CANCELLED AT now DUE TO TIME LIMIT ***\n").unwrap();
        let f = failure(JobOutcome::of(
            &j.files,
            &status(JobState::Failed, StatusSource::Squeue),
            &Resources::default(),
            true,
        ));
        assert_eq!(f.output_tail.len(), TAIL_LINES);
        assert_eq!(f.output_tail[0], "line 81");
        assert!(f.output_tail[19].ends_with("…[+9600 chars]"), "{}", f.output_tail[19]);
        assert!(
            f.to_string().ends_with(
                "\nSlurm's messages (slurm.out):\n  | *** JOB 5 ON vm CANCELLED AT now DUE TO TIME LIMIT ***"
            )
        );
        // stdout when stderr is empty.
        let j = job(Some("1"), "");
        std::fs::write(j.files.stdout(), "only on stdout\n").unwrap();
        let f = failure(JobOutcome::of(
            &j.files,
            &status(JobState::Failed, StatusSource::Squeue),
            &Resources::default(),
            true,
        ));
        assert_eq!((f.output_name, f.output_tail.as_slice()), ("stdout", ["only on stdout".to_owned()].as_slice()));
    }
}
