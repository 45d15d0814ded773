//! Following a run's jobs until they end: one poll ([`Slurm::poll`]) for all of them per
//! interval, the interval growing while nothing changes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{JobFiles, JobId, JobOutcome, JobScript, JobState, JobStatus, Resources, Slurm, SlurmError};

/// How often to ask Slurm, and how long to wait for what it cannot tell.
///
/// The default polls 2 s after a submission or a change of state and then every 1.5 times
/// longer while nothing changes, up to 10 s: at most one squeue call (and, as jobs end, one
/// sacct call) every 2 to 10 s for a whole run, however many jobs it has — a load a controller
/// does not notice (Slurm's guidance is to keep squeue well under one call a second per user).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    /// The interval after a submission or after any job changed state.
    pub first: Duration,
    /// The longest interval.
    pub max: Duration,
    /// The factor the interval grows by after each poll that saw no change (≥ 1).
    pub growth: f64,
    /// How long after Slurm reports a job ended to wait for its `exit_code` file before
    /// concluding there is none (a network file system can show it late).
    pub exit_file_grace: Duration,
    /// How long polls may keep failing (squeue unreachable: a restarting or overloaded
    /// slurmctld) before [`Tracker::poll`] gives up with the error.
    pub give_up_after: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(2),
            max: Duration::from_secs(10),
            growth: 1.5,
            exit_file_grace: Duration::from_secs(30),
            give_up_after: Duration::from_secs(300),
        }
    }
}

/// A job that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The job.
    pub job: JobId,
    /// Slurm's last word on it.
    pub status: JobStatus,
    /// How it went.
    pub outcome: JobOutcome,
}

#[derive(Debug)]
struct Tracked {
    files: JobFiles,
    resources: Resources,
    state: Option<JobState>,
    ended_at: Option<Instant>,
}

/// The jobs of one run, polled together.
///
/// ```no_run
/// use esteira_slurm::{JobOutcome, JobScript, PollPolicy, Resources, Slurm, Tracker};
/// let mut jobs = Tracker::new(Slurm::new(), PollPolicy::default());
/// for stage in ["a", "b"] {
///     let dir = format!("/shared/jobs/run-1/{stage}");
///     let script = JobScript::new(dir, "/shared/project", ["true"], Resources::default())?;
///     jobs.submit(&script, "esteira-run-1")?;
/// }
/// while !jobs.is_empty() {
///     for done in jobs.wait()? {
///         match done.outcome {
///             JobOutcome::Succeeded => println!("job {} succeeded", done.job),
///             JobOutcome::Failed(why) => println!("job {} failed: {why}", done.job),
///         }
///     }
/// }
/// # Ok::<(), esteira_slurm::SlurmError>(())
/// ```
#[derive(Debug)]
pub struct Tracker {
    slurm: Slurm,
    policy: PollPolicy,
    jobs: BTreeMap<JobId, Tracked>,
    interval: Duration,
    failing_since: Option<Instant>,
}

impl Tracker {
    /// No jobs yet.
    pub fn new(slurm: Slurm, policy: PollPolicy) -> Self {
        Self { slurm, interval: policy.first, policy, jobs: BTreeMap::new(), failing_since: None }
    }

    /// The client.
    pub fn slurm(&self) -> &Slurm {
        &self.slurm
    }

    /// Submits a job ([`Slurm::submit`]) and follows it.
    pub fn submit(&mut self, script: &JobScript, job_name: &str) -> Result<JobId, SlurmError> {
        let job = self.slurm.submit(script, job_name)?;
        self.track(job.clone(), script);
        Ok(job)
    }

    /// Follows a job submitted elsewhere with `script`.
    pub fn track(&mut self, job: JobId, script: &JobScript) {
        let tracked = Tracked {
            files: script.files().clone(),
            resources: script.resources().clone(),
            state: None,
            ended_at: None,
        };
        self.jobs.insert(job, tracked);
        self.interval = self.policy.first;
    }

    /// Stops following a job.
    pub fn forget(&mut self, job: &JobId) {
        self.jobs.remove(job);
    }

    /// The jobs followed (those that have not been reported finished).
    pub fn jobs(&self) -> impl Iterator<Item = &JobId> {
        self.jobs.keys()
    }

    /// How many jobs are followed.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether no job is followed.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The state the last poll saw for `job` (`None` before its first poll).
    pub fn state(&self, job: &JobId) -> Option<&JobState> {
        self.jobs.get(job).and_then(|t| t.state.as_ref())
    }

    /// How long to wait before the next [`Tracker::poll`].
    pub fn next_wait(&self) -> Duration {
        self.interval
    }

    /// Asks Slurm about every followed job at once and returns those that ended (they are no
    /// longer followed). A failed poll returns no jobs and is retried at the next one, until
    /// polls have failed for [`PollPolicy::give_up_after`]: then it is an error.
    pub fn poll(&mut self) -> Result<Vec<Finished>, SlurmError> {
        if self.jobs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<JobId> = self.jobs.keys().cloned().collect();
        let statuses = match self.slurm.poll(&ids) {
            Ok(s) => {
                self.failing_since = None;
                s
            }
            Err(e) => {
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.policy.give_up_after {
                    return Err(e);
                }
                tracing::warn!("slurm: cannot poll {} jobs (will retry): {e}", ids.len());
                self.grow();
                return Ok(Vec::new());
            }
        };
        let now = Instant::now();
        let mut changed = false;
        let mut finished = Vec::new();
        for (job, status) in statuses {
            let Some(t) = self.jobs.get_mut(&job) else { continue };
            if t.state.as_ref() != Some(&status.state) {
                changed = true;
                t.state = Some(status.state.clone());
            }
            if status.state.has_ended() && t.ended_at.is_none() {
                t.ended_at = Some(now);
            }
            let waited = t.ended_at.is_some_and(|at| now.duration_since(at) >= self.policy.exit_file_grace);
            if let Some(outcome) = JobOutcome::of(&t.files, &status, &t.resources, waited) {
                finished.push(Finished { job, status, outcome });
            }
        }
        for f in &finished {
            self.jobs.remove(&f.job);
        }
        if changed {
            self.interval = self.policy.first;
        } else {
            self.grow();
        }
        Ok(finished)
    }

    /// Sleeps and polls until at least one job ends (nothing, at once, when no job is
    /// followed).
    pub fn wait(&mut self) -> Result<Vec<Finished>, SlurmError> {
        while !self.jobs.is_empty() {
            std::thread::sleep(self.interval);
            let done = self.poll()?;
            if !done.is_empty() {
                return Ok(done);
            }
        }
        Ok(Vec::new())
    }

    /// Cancels every followed job with one `scancel` (they stay followed: polls report them
    /// `CANCELLED`, or however they ended first). Returns the jobs cancelled.
    pub fn cancel_all(&mut self) -> Result<Vec<JobId>, SlurmError> {
        let ids: Vec<JobId> = self.jobs.keys().cloned().collect();
        if !ids.is_empty() {
            self.slurm.cancel(&ids)?;
            self.interval = self.policy.first;
        }
        Ok(ids)
    }

    fn grow(&mut self) {
        let next = self.interval.mul_f64(self.policy.growth.max(1.0));
        self.interval = next.min(self.policy.max).max(self.policy.first.min(self.policy.max));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_grows_to_the_maximum_and_resets_on_a_submission() {
        let slurm = Slurm::new().with_program(crate::SlurmCommand::Squeue, "/nonexistent/squeue");
        let mut t = Tracker::new(slurm, PollPolicy::default());
        assert!(t.poll().unwrap().is_empty(), "no jobs: no call");
        assert_eq!(t.slurm().calls().squeue, 0);
        let tmp = tempfile::tempdir().unwrap();
        let script = JobScript::new(tmp.path(), tmp.path(), ["true"], Resources::default()).unwrap();
        t.track(JobId::parse("1").unwrap(), &script);
        let mut seen = vec![t.next_wait().as_millis()];
        for _ in 0..6 {
            // squeue cannot be run: a failed poll, retried later.
            assert!(t.poll().unwrap().is_empty());
            seen.push(t.next_wait().as_millis());
        }
        assert_eq!(seen, [2000, 3000, 4500, 6750, 10_000, 10_000, 10_000]);
        t.track(JobId::parse("2").unwrap(), &script);
        assert_eq!(t.next_wait(), Duration::from_secs(2));
        assert_eq!(t.slurm().calls().squeue, 6);
    }

    #[test]
    fn polls_that_keep_failing_give_up() {
        let slurm = Slurm::new().with_program(crate::SlurmCommand::Squeue, "/nonexistent/squeue");
        let policy = PollPolicy { give_up_after: Duration::ZERO, ..PollPolicy::default() };
        let mut t = Tracker::new(slurm, policy);
        let tmp = tempfile::tempdir().unwrap();
        let script = JobScript::new(tmp.path(), tmp.path(), ["true"], Resources::default()).unwrap();
        t.track(JobId::parse("1").unwrap(), &script);
        let e = t.poll().unwrap_err();
        assert!(matches!(e, SlurmError::Spawn { .. }), "{e}");
    }
}
