//! A temp directory with a pipeline file, and the real CLI run against it.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Copies a directory tree (fixtures into a scratch project).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A scratch project directory.
pub struct Bed {
    pub dir: tempfile::TempDir,
}

/// What a command printed and returned.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8(o.stdout).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            stderr: String::from_utf8(o.stderr).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

pub fn testbed() -> &'static str {
    env!("CARGO_BIN_EXE_esteira-testbed")
}

impl Bed {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    /// A project with the repository's default pipeline (`esteira.toml`), suites and sample.
    pub fn ufrn() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let b = Self::new();
        std::fs::copy(root.join("esteira.toml"), b.path().join("esteira.toml")).unwrap();
        copy_dir(&root.join("suites"), &b.path().join("suites"));
        copy_dir(&root.join("data/sample"), &b.path().join("data/sample"));
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(testbed());
        c.args(args).current_dir(self.path()).env("ESTEIRA_LOG", "warn").env_remove("ESTEIRA_STORE");
        c
    }

    pub fn esteira(&self, args: &[&str]) -> Out {
        Out::from(self.cmd(args).output().unwrap())
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("artifacts")
    }

    /// The run record `id` (or `latest`) as JSON.
    pub fn record(&self, id: &str) -> serde_json::Value {
        let out = self.esteira(&["runs", "show", id, "--json"]).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// `esteira run --json ARGS`, which must succeed: the record the run printed. That is what
    /// this run found, also for a run that wrote no record because it matched the latest one.
    pub fn run(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["run", "--json"];
        all.extend_from_slice(args);
        let out = self.esteira(&all).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// Stage name -> status of the recorded run `id` (or `latest`), in order.
    pub fn statuses(&self, id: &str) -> Vec<(String, String)> {
        statuses_in(&self.record(id))
    }

    pub fn status_of(&self, id: &str, stage: &str) -> String {
        self.record(id)["stages"][stage]["status"].as_str().unwrap().to_owned()
    }

    pub fn latest(&self, stage: &str, file: &str) -> String {
        std::fs::read_to_string(self.store().join("latest").join(stage).join(file)).unwrap()
    }

    pub fn objects(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for shard in std::fs::read_dir(self.store().join("objects")).unwrap().flatten() {
            for e in std::fs::read_dir(shard.path()).unwrap().flatten() {
                v.push(e.path());
            }
        }
        v.sort();
        v
    }
}

/// Stage name -> status in a run record, in order.
pub fn statuses_in(r: &serde_json::Value) -> Vec<(String, String)> {
    r["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let n = n.as_str().unwrap();
            (n.to_owned(), r["stages"][n]["status"].as_str().unwrap().to_owned())
        })
        .collect()
}
