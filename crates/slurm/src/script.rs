//! The job script: one `#!/bin/sh` file per job, a pure function of its job directory, working
//! directory, command and resources (no dates, hosts or ids), so the same stage gives the same
//! script and a failed job can be resubmitted by hand with `sbatch <jobdir>/job.sh`.
//!
//! What the job does (Nextflow's `.exitcode` approach):
//! 1. removes an `exit_code` left by an earlier attempt (Slurm may requeue a job);
//! 2. enters the working directory and runs the command with stdin from `/dev/null`, its stdout
//!    in `<jobdir>/stdout` and its stderr in `<jobdir>/stderr` (a failed `cd` is reported there
//!    too, with its status as the exit code);
//! 3. writes the exit code to `<jobdir>/exit_code.tmp` and renames it to `<jobdir>/exit_code`,
//!    so a reader sees either no file or the whole number;
//! 4. exits with that code.
//!
//! A job that Slurm kills (time limit, memory, node failure, `scancel`) mostly dies before
//! step 3 and leaves no `exit_code`; when Slurm's SIGTERM reaches the command before the script,
//! the script writes the command's 143. Either way Slurm's state decides ([`crate::JobOutcome`]).
//! Slurm's own messages (`*** JOB 12 CANCELLED DUE TO TIME LIMIT ***`) go to
//! `<jobdir>/slurm.out` (`--output`).

use std::path::{Path, PathBuf};

use crate::{Resources, SlurmError};

/// The files of one job directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFiles {
    dir: PathBuf,
}

impl JobFiles {
    /// The files of the job directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The job directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `job.sh`: the script submitted.
    pub fn script(&self) -> PathBuf {
        self.dir.join("job.sh")
    }

    /// `exit_code`: the command's exit status as a decimal number and a newline, written by
    /// rename once the command has ended.
    pub fn exit_code(&self) -> PathBuf {
        self.dir.join("exit_code")
    }

    /// `stdout`: the command's standard output.
    pub fn stdout(&self) -> PathBuf {
        self.dir.join("stdout")
    }

    /// `stderr`: the command's standard error.
    pub fn stderr(&self) -> PathBuf {
        self.dir.join("stderr")
    }

    /// `slurm.out`: the job's own output (`--output`): the script's and Slurm's messages.
    pub fn slurm_output(&self) -> PathBuf {
        self.dir.join("slurm.out")
    }

    /// The exit code the job wrote: `Ok(None)` when there is no file (yet); an unreadable or
    /// garbled file is an error.
    pub fn read_exit_code(&self) -> Result<Option<i32>, SlurmError> {
        let path = self.exit_code();
        match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i32>().map(Some).map_err(|_| {
                SlurmError::io(
                    &path,
                    std::io::Error::other(format!(
                        "holds {:?}, not an exit code",
                        esteira_core::excerpt(text.trim(), 40)
                    )),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SlurmError::io(path, e)),
        }
    }
}

/// A job script: what to run, where, with which resources.
///
/// ```
/// use esteira_slurm::{JobScript, Resources};
/// let argv = ["esteira", "stage-exec", "--stage", "train", "-c", "my pipeline.toml"];
/// let script = JobScript::new("/shared/jobs/run-1/train", "/shared/project", argv, Resources::default()).unwrap();
/// let text = script.render();
/// assert!(text.starts_with("#!/bin/sh\n"));
/// assert!(text.contains("#SBATCH --output=/shared/jobs/run-1/train/slurm.out\n"));
/// assert!(text.contains("esteira stage-exec --stage train -c 'my pipeline.toml' </dev/null"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobScript {
    files: JobFiles,
    workdir: PathBuf,
    argv: Vec<String>,
    resources: Resources,
}

impl JobScript {
    /// A script that runs `argv` in `workdir`, with its files in `job_dir`. Both directories
    /// must be absolute (the job runs on another host, in another directory) and free of
    /// control characters; `job_dir` also of `%` (a Slurm file name pattern), `"` and `\`
    /// (it is written on an `#SBATCH` line). `argv` must not be empty, and no argument may hold
    /// a line break or a NUL; anything else (spaces, quotes, `$`) is quoted for the shell.
    pub fn new<S: Into<String>>(
        job_dir: impl Into<PathBuf>,
        workdir: impl Into<PathBuf>,
        argv: impl IntoIterator<Item = S>,
        resources: Resources,
    ) -> Result<Self, SlurmError> {
        let (job_dir, workdir) = (job_dir.into(), workdir.into());
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        check_dir("job directory", &job_dir, &['%', '"', '\\'])?;
        check_dir("working directory", &workdir, &[])?;
        if argv.is_empty() {
            return Err(SlurmError::Script("the command is empty".into()));
        }
        for (i, a) in argv.iter().enumerate() {
            if a.contains(['\n', '\r', '\0']) {
                return Err(SlurmError::Script(format!(
                    "argument {i} ({:?}) holds a line break or NUL",
                    esteira_core::excerpt(a, 60)
                )));
            }
        }
        Ok(Self { files: JobFiles::new(job_dir), workdir, argv, resources })
    }

    /// The job directory's files.
    pub fn files(&self) -> &JobFiles {
        &self.files
    }

    /// The resources asked for.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// The command.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The script's text.
    pub fn render(&self) -> String {
        let dir = self.files.dir().display().to_string();
        let d = shell_quote(&dir);
        let mut s = String::from(
            "#!/bin/sh\n# One esteira stage as one Slurm job (generated by esteira-slurm; resubmit with sbatch).\n",
        );
        s.push_str(&sbatch_line(&format!("--output={}", self.files.slurm_output().display())));
        for option in self.resources.options() {
            s.push_str(&sbatch_line(&option));
        }
        s.push_str("set -u\n");
        s.push_str(&format!("d={d}\n"));
        s.push_str("rm -f \"$d/exit_code\" \"$d/exit_code.tmp\"\n");
        let argv: Vec<String> = self.argv.iter().map(|a| shell_quote(a)).collect();
        s.push_str(&format!(
            "cd {} 2>\"$d/stderr\" && {} </dev/null >\"$d/stdout\" 2>\"$d/stderr\"\n",
            shell_quote(&self.workdir.display().to_string()),
            argv.join(" ")
        ));
        s.push_str("code=$?\n");
        s.push_str("printf '%s\\n' \"$code\" >\"$d/exit_code.tmp\" && mv -f \"$d/exit_code.tmp\" \"$d/exit_code\"\n");
        s.push_str("exit \"$code\"\n");
        s
    }

    /// Creates the job directory (and its parents), clears the files an earlier job left there
    /// and writes `job.sh` (through a temporary file and a rename). Returns the script's path.
    pub fn write(&self) -> Result<PathBuf, SlurmError> {
        let dir = self.files.dir();
        std::fs::create_dir_all(dir).map_err(|e| SlurmError::io(dir, e))?;
        for old in [self.files.exit_code(), self.files.stdout(), self.files.stderr(), self.files.slurm_output()] {
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SlurmError::io(old, e)),
                _ => {}
            }
        }
        let path = self.files.script();
        let tmp = dir.join("job.sh.tmp");
        std::fs::write(&tmp, self.render()).map_err(|e| SlurmError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| SlurmError::io(&path, e))?;
        Ok(path)
    }
}

fn check_dir(what: &str, p: &Path, forbidden: &[char]) -> Result<(), SlurmError> {
    let Some(s) = p.to_str() else {
        return Err(SlurmError::Script(format!("the {what} {} is not valid UTF-8", p.display())));
    };
    let shown = esteira_core::excerpt(s, 120);
    if !p.is_absolute() {
        return Err(SlurmError::Script(format!("the {what} {shown:?} is not an absolute path")));
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || forbidden.contains(c)) {
        return Err(SlurmError::Script(format!("the {what} {shown:?} holds {c:?}")));
    }
    Ok(())
}

/// One `#SBATCH` line: the option in double quotes unless it is one plain word (checked
/// options never hold `"`, `\` or control characters, the only things quotes cannot carry).
fn sbatch_line(option: &str) -> String {
    if option.bytes().all(plain) { format!("#SBATCH {option}\n") } else { format!("#SBATCH \"{option}\"\n") }
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)
}

/// `s` as one word for a POSIX shell: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a `'` inside written as `'\''`).
///
/// ```
/// use esteira_slurm::shell_quote;
/// assert_eq!(shell_quote("--stage=train"), "--stage=train");
/// assert_eq!(shell_quote("a b"), "'a b'");
/// assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(plain) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(text: &str) -> Resources {
        Resources::from_toml(toml::from_str::<toml::Value>(text).unwrap()).unwrap()
    }

    #[test]
    fn the_script_is_exactly_this() {
        let r = resources(
            r#"cpus = 2
memory = "4G"
time = "01:00:00"
partition = "short"
sbatch = ["--account=ml", "--comment=a b # c"]"#,
        );
        let s = JobScript::new("/shared/jobs/r1/train", "/shared/my project", ["/opt/esteira", "stage-exec"], r)
            .unwrap()
            .render();
        let want = r#"#!/bin/sh
# One esteira stage as one Slurm job (generated by esteira-slurm; resubmit with sbatch).
#SBATCH --output=/shared/jobs/r1/train/slurm.out
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=01:00:00
#SBATCH --partition=short
#SBATCH --account=ml
#SBATCH "--comment=a b # c"
set -u
d=/shared/jobs/r1/train
rm -f "$d/exit_code" "$d/exit_code.tmp"
cd '/shared/my project' 2>"$d/stderr" && /opt/esteira stage-exec </dev/null >"$d/stdout" 2>"$d/stderr"
code=$?
printf '%s\n' "$code" >"$d/exit_code.tmp" && mv -f "$d/exit_code.tmp" "$d/exit_code"
exit "$code"
"#;
        assert_eq!(s, want);
    }

    #[test]
    fn paths_and_arguments_are_checked() {
        let ok = |dir: &str, work: &str, argv: &[&str]| {
            JobScript::new(dir, work, argv.iter().copied(), Resources::default()).map_err(|e| e.to_string())
        };
        assert!(ok("/j", "/w", &["true"]).is_ok());
        let cases: [(&str, &str, &[&str], &str); 8] = [
            ("jobs/1", "/w", &["true"], "job directory \"jobs/1\" is not an absolute path"),
            ("/j", "w", &["true"], "working directory \"w\" is not an absolute path"),
            ("/j/%j", "/w", &["true"], "holds '%'"),
            ("/j/\"x", "/w", &["true"], "holds '\"'"),
            ("/j\nx", "/w", &["true"], "holds '\\n'"),
            ("/j", "/w\tx", &["true"], "holds '\\t'"),
            ("/j", "/w", &[], "the command is empty"),
            ("/j", "/w", &["echo", "a\nb"], "argument 1 (\"a\\nb\") holds a line break or NUL"),
        ];
        for (dir, work, argv, want) in cases {
            let e = ok(dir, work, argv).unwrap_err();
            assert!(e.contains(want), "{dir:?} {work:?} {argv:?}: {e}");
        }
    }

    #[test]
    fn quoting_survives_a_real_shell() {
        let args = ["a b", "it's", "$HOME", "`id`", "\"q\"", "\\", "*", "", "-n", "%s", "ação", "; rm -rf /", "a\tb"];
        let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("for a in {}; do printf '[%s]\\n' \"$a\"; done", quoted.join(" ")))
            .output()
            .unwrap();
        let want = args.iter().map(|a| format!("[{a}]\n")).collect::<Vec<_>>().concat();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    }

    #[test]
    fn write_replaces_what_an_earlier_job_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("jobs/run/stage");
        let script = JobScript::new(&dir, tmp.path(), ["true"], Resources::default()).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("exit_code"), "0\n").unwrap();
        std::fs::write(dir.join("stderr"), "old").unwrap();
        let path = script.write().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), script.render());
        assert!(!dir.join("exit_code").exists() && !dir.join("stderr").exists());
        assert_eq!(script.files().read_exit_code().unwrap(), None);
        std::fs::write(dir.join("exit_code"), "3\n").unwrap();
        assert_eq!(script.files().read_exit_code().unwrap(), Some(3));
        std::fs::write(dir.join("exit_code"), "x").unwrap();
        assert!(script.files().read_exit_code().unwrap_err().to_string().contains("not an exit code"));
    }

    #[test]
    fn the_script_runs_under_sh_and_writes_its_exit_code() {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work dir");
        std::fs::create_dir_all(&work).unwrap();
        let dir = tmp.path().join("job");
        let argv = ["/bin/sh", "-c", "pwd; echo \"$1\" >&2; exit 3", "sh", "it's $HOME"];
        let script = JobScript::new(&dir, &work, argv, Resources::default()).unwrap();
        let path = script.write().unwrap();
        let status = std::process::Command::new("/bin/sh").arg(&path).status().unwrap();
        assert_eq!(status.code(), Some(3));
        let files = script.files();
        assert_eq!(files.read_exit_code().unwrap(), Some(3));
        assert_eq!(std::fs::read_to_string(files.stdout()).unwrap(), format!("{}\n", work.display()));
        assert_eq!(std::fs::read_to_string(files.stderr()).unwrap(), "it's $HOME\n");
        assert!(!dir.join("exit_code.tmp").exists());
        // A working directory that is gone: cd's message in stderr, its status as the code.
        std::fs::remove_dir(&work).unwrap();
        let status = std::process::Command::new("/bin/sh").arg(&path).status().unwrap();
        assert_ne!(status.code(), Some(0));
        assert_eq!(files.read_exit_code().unwrap(), status.code());
        let err = std::fs::read_to_string(files.stderr()).unwrap();
        assert!(err.contains("work dir"), "{err}");
    }
}
