//! The Slurm client: `sbatch`, `squeue`, `sacct` and `scancel`, each run as a program with a
//! timeout, counted, and asked about many jobs at once.
//!
//! A poll of N jobs costs one `squeue` call, plus one `sacct` call for those of them squeue no
//! longer lists (jobs leave squeue `MinJobAge`, 300 s by default, after they end). Jobs squeue
//! lists are never asked of sacct, so a slow or disabled accounting database (the cause of
//! Snakemake's hangs and controller floods) only matters for jobs that ended long ago; when
//! sacct fails or knows nothing the job is [`JobState::Unknown`] and its `exit_code` file
//! decides ([`crate::JobOutcome`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{JobScript, SlurmError};

/// The default time a Slurm command may take before it is killed and the call fails.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A Slurm job id as `sbatch --parsable` prints it: `123`, or `123;cluster` on a multi-cluster
/// set-up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId {
    id: u64,
    cluster: Option<String>,
}

impl JobId {
    /// Reads `123` or `123;cluster`.
    ///
    /// ```
    /// use esteira_slurm::JobId;
    /// assert_eq!(JobId::parse("123").unwrap().id(), 123);
    /// let j = JobId::parse("77;west").unwrap();
    /// assert_eq!((j.id(), j.cluster()), (77, Some("west")));
    /// assert_eq!(j.to_string(), "77;west");
    /// assert!(JobId::parse("Submitted batch job 5").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (id, cluster) = s.split_once(';').map_or((s, None), |(i, c)| (i, Some(c)));
        let bad = || format!("{:?} is not a job id", esteira_core::excerpt(s, 60));
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let id = id.parse().map_err(|_| bad())?;
        let cluster = match cluster {
            Some(c) if c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) => {
                return Err(bad());
            }
            c => c.map(str::to_owned),
        };
        Ok(Self { id, cluster })
    }

    /// The number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The cluster, when sbatch named one.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cluster {
            Some(c) => write!(f, "{};{c}", self.id),
            None => write!(f, "{}", self.id),
        }
    }
}

impl Serialize for JobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        JobId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A job's state as squeue (`%T`) or sacct (`State`) names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for resources or priority.
    Pending,
    /// Nodes are being readied.
    Configuring,
    /// Running.
    Running,
    /// Ended; Slurm is cleaning up (its final state comes next).
    Completing,
    /// Suspended or stopped; it may resume.
    Suspended,
    /// Put back in the queue (node failure, preemption with requeue): it will run again.
    Requeued,
    /// Ended with exit code 0.
    Completed,
    /// Ended with a non-zero exit code (or the batch script failed).
    Failed,
    /// Killed at its time limit.
    Timeout,
    /// Killed for using more memory than it asked for.
    OutOfMemory,
    /// Its node failed.
    NodeFail,
    /// Cancelled (`scancel`, or an administrator).
    Cancelled,
    /// Preempted by another job and not requeued.
    Preempted,
    /// Its node failed to boot.
    BootFail,
    /// Not started before its deadline.
    Deadline,
    /// Neither squeue nor sacct knows the job: it ended long ago and accounting is off (or
    /// sacct failed). Only its `exit_code` file can tell how.
    Unknown,
    /// Any other state Slurm reports (treated as not ended).
    Other(String),
}

impl JobState {
    /// Reads a state name; sacct's `CANCELLED by 1000` and a trailing `+` are accepted.
    pub fn from_slurm(s: &str) -> Self {
        let word = s.split_whitespace().next().unwrap_or("").trim_end_matches('+');
        match word {
            "PENDING" | "PD" => Self::Pending,
            "CONFIGURING" | "CF" => Self::Configuring,
            "RUNNING" | "R" => Self::Running,
            "COMPLETING" | "CG" => Self::Completing,
            "SUSPENDED" | "S" | "STOPPED" | "ST" => Self::Suspended,
            "REQUEUED" | "RQ" | "REQUEUE_HOLD" | "REQUEUE_FED" => Self::Requeued,
            "COMPLETED" | "CD" => Self::Completed,
            "FAILED" | "F" => Self::Failed,
            "TIMEOUT" | "TO" => Self::Timeout,
            "OUT_OF_MEMORY" | "OOM" => Self::OutOfMemory,
            "NODE_FAIL" | "NF" => Self::NodeFail,
            "CANCELLED" | "CA" => Self::Cancelled,
            "PREEMPTED" | "PR" => Self::Preempted,
            "BOOT_FAIL" | "BF" => Self::BootFail,
            "DEADLINE" | "DL" => Self::Deadline,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether the job has ended for good: a final Slurm state, or [`JobState::Unknown`].
    pub fn has_ended(&self) -> bool {
        matches!(
            self,
            Self::Completed
                | Self::Failed
                | Self::Timeout
                | Self::OutOfMemory
                | Self::NodeFail
                | Self::Cancelled
                | Self::Preempted
                | Self::BootFail
                | Self::Deadline
                | Self::Unknown
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Pending => "PENDING",
            Self::Configuring => "CONFIGURING",
            Self::Running => "RUNNING",
            Self::Completing => "COMPLETING",
            Self::Suspended => "SUSPENDED",
            Self::Requeued => "REQUEUED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Timeout => "TIMEOUT",
            Self::OutOfMemory => "OUT_OF_MEMORY",
            Self::NodeFail => "NODE_FAIL",
            Self::Cancelled => "CANCELLED",
            Self::Preempted => "PREEMPTED",
            Self::BootFail => "BOOT_FAIL",
            Self::Deadline => "DEADLINE",
            Self::Unknown => "UNKNOWN",
            Self::Other(s) => s,
        };
        f.write_str(s)
    }
}

/// Where a [`JobStatus`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusSource {
    /// squeue listed the job.
    Squeue,
    /// squeue did not, sacct did.
    Sacct,
    /// Neither did; `accounting` is sacct's error when it failed, `None` when it answered
    /// without the job.
    Neither {
        /// What went wrong asking sacct, if it failed.
        accounting: Option<String>,
    },
}

/// What one poll found out about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The state.
    pub state: JobState,
    /// Slurm's reason (squeue `%r`, sacct `Reason`), e.g. `Priority`, `TimeLimit`; `None` when
    /// Slurm says `None`.
    pub reason: Option<String>,
    /// sacct's `ExitCode`, `(code, signal)`; squeue does not report it.
    pub exit_code: Option<(i32, i32)>,
    /// Which command reported it.
    pub source: StatusSource,
}

impl JobStatus {
    fn unknown(accounting: Option<String>) -> Self {
        Self { state: JobState::Unknown, reason: None, exit_code: None, source: StatusSource::Neither { accounting } }
    }
}

/// One of the four Slurm commands the client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlurmCommand {
    /// `sbatch`: submits.
    Sbatch,
    /// `squeue`: the controller's view of current (and recently ended) jobs.
    Squeue,
    /// `sacct`: the accounting database's view of ended jobs.
    Sacct,
    /// `scancel`: cancels.
    Scancel,
}

impl SlurmCommand {
    const ALL: [Self; 4] = [Self::Sbatch, Self::Squeue, Self::Sacct, Self::Scancel];

    /// The program's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sbatch => "sbatch",
            Self::Squeue => "squeue",
            Self::Sacct => "sacct",
            Self::Scancel => "scancel",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How many times each command has been run by a client (and its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// `sbatch` calls.
    pub sbatch: u64,
    /// `squeue` calls.
    pub squeue: u64,
    /// `sacct` calls.
    pub sacct: u64,
    /// `scancel` calls.
    pub scancel: u64,
}

/// A Slurm client: where the four commands are, how long each call may take, and a count of
/// the calls made. Cloning shares the count.
///
/// ```no_run
/// use esteira_slurm::{JobScript, Resources, Slurm};
/// let slurm = Slurm::new();
/// let script = JobScript::new("/shared/jobs/1", "/shared/project", ["true"], Resources::default())?;
/// let job = slurm.submit(&script, "esteira-20260101T000000Z-0001")?;
/// let states = slurm.poll(std::slice::from_ref(&job))?;
/// println!("{job}: {}", states[&job].state);
/// # Ok::<(), esteira_slurm::SlurmError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Slurm {
    programs: [PathBuf; 4],
    timeout: Duration,
    calls: Arc<[AtomicU64; 4]>,
}

impl Default for Slurm {
    fn default() -> Self {
        Self::new()
    }
}

impl Slurm {
    /// The commands looked up on `PATH`, each call limited to [`DEFAULT_COMMAND_TIMEOUT`].
    pub fn new() -> Self {
        Self {
            programs: SlurmCommand::ALL.map(|c| PathBuf::from(c.name())),
            timeout: DEFAULT_COMMAND_TIMEOUT,
            calls: Arc::new([const { AtomicU64::new(0) }; 4]),
        }
    }

    /// Runs `program` for `command` (a path, or a name looked up on `PATH`).
    #[must_use]
    pub fn with_program(mut self, command: SlurmCommand, program: impl Into<PathBuf>) -> Self {
        self.programs[command.index()] = program.into();
        self
    }

    /// Limits each call to `timeout` (the program is killed and the call fails after it).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The calls made so far.
    pub fn calls(&self) -> Calls {
        let n = |c: SlurmCommand| self.calls[c.index()].load(Ordering::Relaxed);
        Calls {
            sbatch: n(SlurmCommand::Sbatch),
            squeue: n(SlurmCommand::Squeue),
            sacct: n(SlurmCommand::Sacct),
            scancel: n(SlurmCommand::Scancel),
        }
    }

    /// Writes the script into its job directory ([`JobScript::write`]) and submits it as
    /// `sbatch --parsable --job-name=<job_name> <jobdir>/job.sh`. `job_name` (the run's id, so
    /// `squeue --name` finds a run's jobs) is 1 to 200 of `[A-Za-z0-9_.-]`.
    pub fn submit(&self, script: &JobScript, job_name: &str) -> Result<JobId, SlurmError> {
        if job_name.is_empty()
            || job_name.len() > 200
            || !job_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(SlurmError::Script(format!(
                "job name {:?}: use 1 to 200 of A-Z a-z 0-9 _ . -",
                esteira_core::excerpt(job_name, 60)
            )));
        }
        let path = script.write()?;
        let args = ["--parsable".to_owned(), format!("--job-name={job_name}"), path.display().to_string()];
        let out = self.run(SlurmCommand::Sbatch, &args)?;
        let out = out.success(self.program(SlurmCommand::Sbatch))?;
        // Warnings go to stderr; the id is the last line of stdout.
        let line = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        JobId::parse(line).map_err(|message| SlurmError::Output {
            program: self.program(SlurmCommand::Sbatch),
            output: esteira_core::excerpt(&out, 200).into_owned(),
            message,
        })
    }

    /// The status of every job in `jobs`: one `squeue --noheader --format=%i|%T|%r
    /// --states=all --jobs=…` call (per cluster), then one `sacct --noheader --parsable2
    /// --allocations --format=JobIDRaw,State,ExitCode,Reason --jobs=…` call for the jobs squeue
    /// did not list. A job neither lists (or all of them, when sacct fails) is
    /// [`JobState::Unknown`]. A failing squeue is an error (the caller retries later).
    pub fn poll(&self, jobs: &[JobId]) -> Result<BTreeMap<JobId, JobStatus>, SlurmError> {
        let mut found = BTreeMap::new();
        for (cluster, ids) in by_cluster(jobs) {
            let mut args = vec![
                "--noheader".to_owned(),
                "--format=%i|%T|%r".to_owned(),
                "--states=all".to_owned(),
                format!("--jobs={}", join_ids(&ids)),
            ];
            if let Some(c) = &cluster {
                args.push(format!("--clusters={c}"));
            }
            let out = self.run(SlurmCommand::Squeue, &args)?;
            // squeue fails when it knows none of the ids (they all ended long ago).
            let text = if !out.ok && out.stderr.contains("Invalid job id") {
                String::new()
            } else {
                out.success(self.program(SlurmCommand::Squeue))?
            };
            for (id, status) in parse_squeue(&text) {
                if ids.contains(&id) {
                    found.insert(JobId { id, cluster: cluster.clone() }, status);
                }
            }
            let gone: Vec<u64> =
                ids.iter().copied().filter(|id| !found.contains_key(&job(*id, cluster.as_deref()))).collect();
            if gone.is_empty() {
                continue;
            }
            let mut args = vec![
                "--noheader".to_owned(),
                "--parsable2".to_owned(),
                "--allocations".to_owned(),
                "--format=JobIDRaw,State,ExitCode,Reason".to_owned(),
                format!("--jobs={}", join_ids(&gone)),
            ];
            if let Some(c) = &cluster {
                args.push(format!("--clusters={c}"));
            }
            let accounted = self
                .run(SlurmCommand::Sacct, &args)
                .and_then(|out| out.success(self.program(SlurmCommand::Sacct)))
                .map(|text| parse_sacct(&text));
            for id in gone {
                let status = match &accounted {
                    Ok(known) => known.get(&id).cloned().unwrap_or_else(|| JobStatus::unknown(None)),
                    Err(e) => JobStatus::unknown(Some(e.to_string())),
                };
                found.insert(job(id, cluster.as_deref()), status);
            }
        }
        Ok(found)
    }

    /// Cancels `jobs` with one `scancel` call (per cluster). Jobs that already ended are not
    /// an error.
    pub fn cancel(&self, jobs: &[JobId]) -> Result<(), SlurmError> {
        for (cluster, ids) in by_cluster(jobs) {
            let mut args: Vec<String> = cluster.iter().map(|c| format!("--clusters={c}")).collect();
            args.extend(ids.iter().map(u64::to_string));
            let out = self.run(SlurmCommand::Scancel, &args)?;
            let benign = |l: &str| l.contains("Invalid job id") || l.contains("already completing or completed");
            if !out.ok && !out.stderr.lines().filter(|l| !l.trim().is_empty()).all(benign) {
                out.success(self.program(SlurmCommand::Scancel))?;
            }
        }
        Ok(())
    }

    fn program(&self, c: SlurmCommand) -> String {
        self.programs[c.index()].display().to_string()
    }

    /// Runs one command with the timeout; stdout and stderr are read while it runs.
    fn run(&self, c: SlurmCommand, args: &[String]) -> Result<Output, SlurmError> {
        self.calls[c.index()].fetch_add(1, Ordering::Relaxed);
        let program = self.program(c);
        tracing::debug!("slurm: {program} {}", args.join(" "));
        let mut child = Command::new(&self.programs[c.index()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SlurmError::Spawn { program: program.clone(), source })?;
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The readers end when the pipes close; a grandchild holding one open must
                    // not hold this call, so they are not joined.
                    return Err(SlurmError::Timeout { program, after: self.timeout });
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(source) => return Err(SlurmError::Spawn { program, source }),
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        Ok(Output { ok: status.success(), status: status.to_string(), stdout, stderr })
    }
}

struct Output {
    ok: bool,
    status: String,
    stdout: String,
    stderr: String,
}

impl Output {
    fn success(self, program: String) -> Result<String, SlurmError> {
        if self.ok {
            return Ok(self.stdout);
        }
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" / ");
        Err(SlurmError::Command {
            program,
            status: self.status,
            stderr: esteira_core::excerpt(&tail, 2 * esteira_core::MAX_EXCERPT_CHARS).into_owned(),
        })
    }
}

fn job(id: u64, cluster: Option<&str>) -> JobId {
    JobId { id, cluster: cluster.map(str::to_owned) }
}

fn by_cluster(jobs: &[JobId]) -> BTreeMap<Option<String>, Vec<u64>> {
    let mut m: BTreeMap<Option<String>, Vec<u64>> = BTreeMap::new();
    for j in jobs {
        let ids = m.entry(j.cluster.clone()).or_default();
        if !ids.contains(&j.id) {
            ids.push(j.id);
        }
    }
    m
}

fn join_ids(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn reason(r: &str) -> Option<String> {
    let r = r.trim();
    (!matches!(r, "" | "None" | "(null)")).then(|| r.to_owned())
}

/// `id|STATE|reason` lines; `CLUSTER: name` headers, array tasks and step lines are skipped.
fn parse_squeue(text: &str) -> BTreeMap<u64, JobStatus> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.splitn(3, '|');
        let (Some(id), Some(state)) = (f.next(), f.next()) else { continue };
        let Ok(id) = id.trim().parse::<u64>() else { continue };
        let status = JobStatus {
            state: JobState::from_slurm(state.trim()),
            reason: f.next().and_then(reason),
            exit_code: None,
            source: StatusSource::Squeue,
        };
        m.insert(id, status);
    }
    m
}

/// `JobIDRaw|State|ExitCode|Reason` lines of `sacct --parsable2`; step lines (`12.batch`) are
/// skipped.
fn parse_sacct(text: &str) -> BTreeMap<u64, JobStatus> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [id, state, exit, rest @ ..] = f.as_slice() else { continue };
        let Ok(id) = id.trim().parse::<u64>() else { continue };
        let exit_code = exit.split_once(':').and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)));
        let status = JobStatus {
            state: JobState::from_slurm(state),
            reason: rest.first().and_then(|r| reason(r)),
            exit_code,
            source: StatusSource::Sacct,
        };
        m.insert(id, status);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_are_read() {
        let text = "CLUSTER: west\n12|RUNNING|None\n13|PENDING|Priority\n14|TIMEOUT|TimeLimit\n15_1|RUNNING|None\n";
        let m = parse_squeue(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[&12].state, JobState::Running);
        assert_eq!(m[&12].reason, None);
        assert_eq!(m[&13].reason.as_deref(), Some("Priority"));
        assert_eq!(m[&14].state, JobState::Timeout);
        assert!(m[&14].state.has_ended() && !m[&13].state.has_ended());
    }

    #[test]
    fn sacct_lines_are_read() {
        let text =
            "6|CANCELLED by 0|0:15|None\n6.batch|CANCELLED|0:15|\n7|FAILED|3:0|NonZeroExitCode\n8|OUT_OF_ME+|0:125|\n";
        let m = parse_sacct(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[&6].state, JobState::Cancelled);
        assert_eq!(m[&6].exit_code, Some((0, 15)));
        assert_eq!(m[&7].exit_code, Some((3, 0)));
        assert_eq!(m[&7].reason.as_deref(), Some("NonZeroExitCode"));
        assert_eq!(m[&8].state, JobState::Other("OUT_OF_ME".into()));
        assert_eq!(m[&7].source, StatusSource::Sacct);
    }

    #[test]
    fn states_read_back_from_their_names() {
        for s in [
            "PENDING",
            "RUNNING",
            "COMPLETING",
            "COMPLETED",
            "FAILED",
            "TIMEOUT",
            "OUT_OF_MEMORY",
            "NODE_FAIL",
            "CANCELLED",
            "PREEMPTED",
            "BOOT_FAIL",
            "DEADLINE",
            "REQUEUED",
            "SUSPENDED",
            "CONFIGURING",
            "RESIZING",
        ] {
            assert_eq!(JobState::from_slurm(s).to_string(), s);
        }
        assert_eq!(JobState::from_slurm("CANCELLED by 1000"), JobState::Cancelled);
        assert!(!JobState::from_slurm("RESIZING").has_ended());
    }

    #[test]
    fn job_ids() {
        assert_eq!(JobId::parse("42\n").unwrap(), JobId { id: 42, cluster: None });
        for bad in ["", ";c", "1;", "1;a b", "-1", "1.5", "12_3"] {
            assert!(JobId::parse(bad).is_err(), "{bad:?}");
        }
        let j: JobId = serde_json::from_str("\"9;c\"").unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), "\"9;c\"");
    }

    #[test]
    fn a_missing_program_is_named() {
        let slurm = Slurm::new().with_program(SlurmCommand::Squeue, "/nonexistent/squeue");
        let e = slurm.poll(&[JobId::parse("1").unwrap()]).unwrap_err().to_string();
        assert!(e.starts_with("cannot run `/nonexistent/squeue`"), "{e}");
        assert_eq!(slurm.calls(), Calls { squeue: 1, ..Calls::default() });
        // No jobs, no calls.
        assert!(slurm.poll(&[]).unwrap().is_empty());
        assert_eq!(slurm.calls().squeue, 1);
    }

    #[test]
    fn a_command_that_hangs_is_killed_at_the_timeout() {
        let tmp = tempfile::tempdir().unwrap();
        let fake = tmp.path().join("squeue");
        std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let slurm = Slurm::new().with_program(SlurmCommand::Squeue, &fake).with_timeout(Duration::from_millis(200));
        let e = slurm.poll(&[JobId::parse("1").unwrap()]).unwrap_err();
        assert!(matches!(e, SlurmError::Timeout { .. }), "{e}");
    }
}
