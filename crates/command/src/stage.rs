//! The `command` stage: the program run in a scratch directory, its outputs and log committed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use esteira_core::{
    CoreError, MAX_EXCERPT_CHARS, OutputSpec, Params, Registry, Stage, StageContext, StageError, StageFactory, excerpt,
    parse_params,
};

use crate::CommandError;
use crate::archive::{self, set_mode};
use crate::params::{
    CommandParams, LOG_OUTPUT, MAX_METRICS, MAX_METRICS_BYTES, OutputKind, Spec, input_path, output_path, tool_version,
};
use crate::process::{self, Ended};

/// The stage kind in pipeline files.
pub const KIND: &str = "command";

/// How many lines of the program's output an error quotes.
const TAIL_LINES: usize = 20;
/// How many bytes from the end of a stream are searched for those lines.
const TAIL_BYTES: u64 = 16 * 1024;

/// A program with declared inputs and outputs; params = [`CommandParams`].
#[derive(Debug, Clone)]
pub struct CommandStage {
    params: Params<CommandParams>,
    spec: Spec,
}

impl CommandStage {
    /// Checks the params and runs `version_cmd` (its output goes into the params: the cache
    /// key). Nothing else runs until [`Stage::run`].
    pub fn new(mut params: CommandParams) -> Result<Self, CommandError> {
        let spec = Spec::check(&params)?;
        params.tool_version = tool_version(&params)?;
        Ok(Self { params: Params::new(KIND, params)?, spec })
    }

    /// Builds the stage from pipeline-file params; errors name the offending key.
    pub fn from_params(params: serde_json::Value) -> Result<Self, CoreError> {
        let p: CommandParams = parse_params(KIND, params)?;
        Self::new(p).map_err(|e| match e {
            CommandError::Param { key, message } => CoreError::Param { kind: KIND.to_owned(), key, message },
            CommandError::Version { .. } => {
                CoreError::Param { kind: KIND.to_owned(), key: "version_cmd".into(), message: e.to_string() }
            }
            other => CoreError::Run(other.to_string()),
        })
    }

    /// The params, `tool_version` filled in.
    pub fn params(&self) -> &CommandParams {
        &self.params
    }

    /// The declared outputs and their kinds (without the log).
    pub fn declared_outputs(&self) -> &[(String, OutputKind)] {
        &self.spec.outputs
    }

    fn program(&self) -> String {
        excerpt(&self.spec.render(&self.spec.run[0]), MAX_EXCERPT_CHARS).into_owned()
    }

    fn execute(&self, ctx: &mut StageContext) -> Result<(), CommandError> {
        let stage = ctx.stage_name().to_owned();
        let scratch = Scratch::new(&stage)?;
        let work = scratch.path().to_path_buf();
        let sc = |path: &Path, e: &dyn std::fmt::Display| CommandError::Scratch {
            stage: stage.clone(),
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let in_dir = work.join("in");
        for dir in ["in", "out", "tmp"] {
            std::fs::create_dir(work.join(dir)).map_err(|e| sc(&work.join(dir), &e))?;
        }
        for name in &self.spec.inputs {
            let input = ctx.input(name)?;
            let dest = work.join(input_path(name));
            place_input(&input.path, &dest).map_err(|message| CommandError::Scratch {
                stage: stage.clone(),
                path: dest.clone(),
                message: format!("input `{name}`: {message}"),
            })?;
        }
        set_mode(&in_dir, 0o555).map_err(|e| sc(&in_dir, &e))?;

        let argv: Vec<String> = self.spec.run.iter().map(|t| self.spec.render(t)).collect();
        let env = self.spec.environment(&work);
        let program = self.program();
        let (stdout, stderr) = (log_file(&stage)?, log_file(&stage)?);
        let clone = |f: &File| f.try_clone().map_err(|e| sc(&work, &e));
        ctx.progress().set_message(&format!("running {program}"));
        tracing::debug!(stage = %stage, argv = ?argv, scratch = %work.display(), "starting the program");
        let ended = process::run(&argv, &env, &work, clone(&stdout)?, clone(&stderr)?, self.spec.timeout).map_err(
            |source| CommandError::Spawn {
                stage: stage.clone(),
                program: program.clone(),
                path_var: env.get("PATH").cloned().unwrap_or_default(),
                source,
            },
        )?;
        let (mut stdout, mut stderr) = (stdout, stderr);
        if self.params.log {
            write_log(ctx, &mut stdout, &mut stderr).map_err(|e| sc(&work, &e))?;
        }
        let mut tail = || tail_of(&mut stdout, &mut stderr);
        match ended {
            Ended::TimedOut => {
                let timeout = self.params.timeout.clone().unwrap_or_default();
                return Err(CommandError::Timeout { stage, program, timeout, tail: tail() });
            }
            Ended::Exited(status) if !status.success() => {
                return Err(CommandError::Failed { stage, program, how: process::describe(status), tail: tail() });
            }
            Ended::Exited(_) => {}
        }
        tracing::info!(stage = %stage, program = %program, "the program finished");

        let mut missing = Vec::new();
        let mut metrics = Vec::new();
        for (name, kind) in &self.spec.outputs {
            let rel = output_path(name, kind);
            let path = work.join(&rel);
            let bad = |message: String| CommandError::Output { stage: stage.clone(), name: name.clone(), message };
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    missing.push(format!("`{name}` ({rel})"));
                    continue;
                }
                Err(e) => return Err(bad(format!("{rel}: {e}"))),
            };
            match kind {
                OutputKind::Dir if meta.is_dir() => {
                    let mut w = ctx.create_output(name)?;
                    let summary = archive::write_dir(&path, &mut w).map_err(|m| bad(format!("{rel}/{m}")))?;
                    ctx.commit_output(w)?;
                    tracing::debug!(stage = %stage, output = %name, files = summary.files, bytes = summary.bytes, "directory output");
                }
                OutputKind::File(_) if meta.is_file() && self.params.metrics.as_ref() == Some(name) => {
                    // Read once, bounded: checked as JSON and as metrics, then stored.
                    let mut bytes = Vec::new();
                    File::open(&path)
                        .and_then(|f| f.take(MAX_METRICS_BYTES + 1).read_to_end(&mut bytes))
                        .map_err(|e| bad(format!("{rel}: {e}")))?;
                    if bytes.len() as u64 > MAX_METRICS_BYTES {
                        return Err(bad(format!(
                            "{rel} (the `metrics` output) is larger than {MAX_METRICS_BYTES} bytes"
                        )));
                    }
                    let doc: serde_json::Value =
                        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{rel} is not valid JSON: {e}")))?;
                    metrics = metrics_of(&doc).map_err(|m| bad(format!("{rel} (the `metrics` output) {m}")))?;
                    let mut w = ctx.create_output(name)?;
                    w.write_all(&bytes).map_err(|e| bad(format!("{rel}: {e}")))?;
                    ctx.commit_output(w)?;
                }
                OutputKind::File(ext) if meta.is_file() => {
                    check_format(&path, ext).map_err(|m| bad(format!("{rel} {m}")))?;
                    let mut w = ctx.create_output(name)?;
                    let mut f = File::open(&path).map_err(|e| bad(format!("{rel}: {e}")))?;
                    std::io::copy(&mut f, &mut w).map_err(|e| bad(format!("{rel}: {e}")))?;
                    ctx.commit_output(w)?;
                }
                _ => {
                    let what = if meta.file_type().is_symlink() {
                        "a symbolic link"
                    } else if meta.is_dir() {
                        "a directory"
                    } else if meta.is_file() {
                        "a file"
                    } else {
                        "not a regular file"
                    };
                    let fix = match kind {
                        OutputKind::Dir => "directory outputs (kind \"dir\") must be directories",
                        OutputKind::File(_) => {
                            "file outputs must be regular files (declare kind \"dir\" for a directory)"
                        }
                    };
                    return Err(bad(format!("{rel} is {what}; {fix}")));
                }
            }
        }
        let undeclared = undeclared(&work.join("out"), &self.spec.outputs);
        if !missing.is_empty() {
            let found = if undeclared.is_empty() {
                "; out/ holds nothing else".to_owned()
            } else {
                format!("; out/ holds instead: {}", undeclared.join(", "))
            };
            return Err(CommandError::MissingOutputs {
                stage,
                program,
                missing: missing.join(", "),
                found,
                tail: tail(),
            });
        }
        if !undeclared.is_empty() {
            tracing::warn!(
                "stage `{stage}`: the program also wrote {} in out/, not kept (not declared in `outputs`)",
                undeclared.join(", ")
            );
        }
        for (k, v) in metrics {
            ctx.metric(&k, v);
        }
        Ok(())
    }
}

/// The longest metric name (after flattening) a metrics output may use.
const MAX_METRIC_NAME_CHARS: usize = 200;

/// The numbers and booleans of a metrics document, nested objects flattened to `a.b`; other
/// values (strings, arrays, null) are not metrics and are left out.
fn metrics_of(doc: &serde_json::Value) -> Result<Vec<(String, serde_json::Value)>, String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) -> Result<(), String> {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out)?;
                }
            }
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                if out.len() == MAX_METRICS {
                    return Err(format!("holds more than {MAX_METRICS} metrics"));
                }
                // Names go into every run record and table header: short, and each once.
                // (No control characters: names are printed to terminals.)
                if prefix.is_empty()
                    || prefix.chars().count() > MAX_METRIC_NAME_CHARS
                    || prefix.chars().any(char::is_control)
                {
                    let shown = excerpt(prefix, MAX_EXCERPT_CHARS).escape_debug().to_string();
                    return Err(format!(
                        "metric name `{shown}` must be 1 to {MAX_METRIC_NAME_CHARS} characters, none a control character"
                    ));
                }
                if out.iter().any(|(k, _)| k == prefix) {
                    let shown = excerpt(prefix, MAX_EXCERPT_CHARS);
                    return Err(format!("metric `{shown}` is given twice (a dotted name and a nested object)"));
                }
                out.push((prefix.to_owned(), v.clone()));
            }
            _ => {}
        }
        Ok(())
    }
    if !doc.is_object() {
        return Err("must be a JSON object of metric names to numbers".to_owned());
    }
    let mut out = Vec::new();
    walk("", doc, &mut out)?;
    Ok(out)
}

impl Stage for CommandStage {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn inputs(&self) -> Vec<String> {
        self.spec.inputs.iter().cloned().collect()
    }

    fn outputs(&self) -> Vec<OutputSpec> {
        let mut v: Vec<OutputSpec> = self
            .spec
            .outputs
            .iter()
            .map(|(n, k)| {
                let o = OutputSpec::new(n, k.ext());
                match self.params.media.get(n) {
                    Some(m) => o.with_media(m.clone()),
                    None => o,
                }
            })
            .collect();
        if self.params.log {
            v.push(OutputSpec::new(LOG_OUTPUT, "txt"));
        }
        v
    }

    fn params(&self) -> serde_json::Value {
        self.params.json()
    }

    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        Ok(self.execute(ctx)?)
    }
}

/// Registers the `command` kind.
pub fn register(registry: &mut Registry) -> Result<(), CoreError> {
    registry.register(StageFactory {
        kind: KIND,
        summary: "runs a program on its inputs in a scratch directory; keeps its declared outputs and log",
        build: |params| Ok(Box::new(CommandStage::from_params(params)?)),
    })?;
    Ok(())
}

/// A fresh directory for one execution, removed (read-only parts included) when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(stage: &str) -> Result<Self, CommandError> {
        let err = |e: std::io::Error| CommandError::Scratch {
            stage: stage.to_owned(),
            path: std::env::temp_dir(),
            message: e.to_string(),
        };
        let dir = tempfile::Builder::new().prefix("esteira-command-").tempdir().map_err(err)?;
        Ok(Self(dir.keep()))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.0).is_ok() {
            return;
        }
        // Read-only directories (in/, unpacked inputs, whatever the program made) keep their
        // entries from being removed by anyone but root.
        make_dirs_writable(&self.0);
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("cannot remove the scratch directory {}: {e}", self.0.display());
        }
    }
}

fn make_dirs_writable(dir: &Path) {
    let _ = set_mode(dir, 0o755);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_dirs_writable(&e.path());
            }
        }
    }
}

/// Copies an input object to `dest` read-only, or unpacks it there when it is a directory
/// archive. A copy, never a link: a program (as root, even a read-only file is writable)
/// cannot change the store's object.
fn place_input(object: &Path, dest: &Path) -> Result<(), String> {
    if archive::is_dir_archive(object).map_err(|e| format!("{}: {e}", object.display()))? {
        archive::unpack_dir(object, dest)?;
        return Ok(());
    }
    std::fs::copy(object, dest).map_err(|e| format!("copying {}: {e}", object.display()))?;
    set_mode(dest, 0o444).map_err(|e| e.to_string())
}

/// An anonymous file for one of the program's streams.
fn log_file(stage: &str) -> Result<File, CommandError> {
    tempfile::tempfile().map_err(|e| CommandError::Scratch {
        stage: stage.to_owned(),
        path: std::env::temp_dir(),
        message: format!("cannot create a log file: {e}"),
    })
}

/// The `log` output: `==> stdout <==`, stdout, `==> stderr <==`, stderr (each section ending
/// with a newline). Concatenated, not interleaved: its bytes do not depend on how the two
/// streams' writes raced.
fn write_log(ctx: &mut StageContext, stdout: &mut File, stderr: &mut File) -> Result<(), CoreError> {
    let mut w = ctx.create_output(LOG_OUTPUT)?;
    let io = |e: std::io::Error| CoreError::io("log", e);
    for (title, f) in [("stdout", stdout), ("stderr", stderr)] {
        writeln!(w, "==> {title} <==").map_err(io)?;
        f.rewind().map_err(io)?;
        let n = std::io::copy(f, &mut w).map_err(io)?;
        if n > 0 && !ends_with_newline(f, n).map_err(io)? {
            w.write_all(b"\n").map_err(io)?;
        }
    }
    ctx.commit_output(w)?;
    Ok(())
}

fn ends_with_newline(f: &mut File, len: u64) -> std::io::Result<bool> {
    f.seek(SeekFrom::Start(len - 1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

/// The last lines the program printed, for an error: stderr's, or stdout's when stderr is
/// empty; each line cut to an excerpt.
fn tail_of(stdout: &mut File, stderr: &mut File) -> String {
    let (err, out) = (last_lines(stderr), last_lines(stdout));
    let (which, lines) = if err.is_empty() { ("stdout", out) } else { ("stderr", err) };
    if lines.is_empty() {
        return "; it printed nothing".to_owned();
    }
    let mut s = format!("; last lines of its {which}:");
    for l in lines {
        s.push_str("\n  | ");
        s.push_str(&excerpt(&l, 2 * MAX_EXCERPT_CHARS));
    }
    s
}

fn last_lines(f: &mut File) -> Vec<String> {
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
    lines[lines.len().saturating_sub(TAIL_LINES)..].iter().map(|l| (*l).to_owned()).collect()
}

/// A cheap check that a file is of its declared format, where that is cheap to tell: Parquet
/// (`PAR1` at both ends) and JSON (parses). Other extensions are not checked.
fn check_format(path: &Path, ext: &str) -> Result<(), String> {
    match ext {
        "parquet" => {
            let mut f = File::open(path).map_err(|e| format!(": {e}"))?;
            let len = f.metadata().map_err(|e| format!(": {e}"))?.len();
            let mut head = [0u8; 4];
            let mut foot = [0u8; 4];
            let ok = len >= 12
                && f.read_exact(&mut head).is_ok()
                && f.seek(SeekFrom::End(-4)).is_ok()
                && f.read_exact(&mut foot).is_ok()
                && &head == b"PAR1"
                && &foot == b"PAR1";
            if ok { Ok(()) } else { Err(format!("is not a Parquet file ({len} bytes, no PAR1 magic at both ends)")) }
        }
        "json" => {
            let f = File::open(path).map_err(|e| format!(": {e}"))?;
            serde_json::from_reader::<_, serde::de::IgnoredAny>(std::io::BufReader::new(f))
                .map(|_| ())
                .map_err(|e| format!("is not valid JSON: {e}"))
        }
        _ => Ok(()),
    }
}

/// What the program left in `out/` besides the declared outputs (at most 10 names).
fn undeclared(out: &Path, declared: &[(String, OutputKind)]) -> Vec<String> {
    let expected: Vec<String> = declared.iter().map(|(n, k)| output_path(n, k)).collect();
    let mut names: Vec<String> = std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .map(|e| format!("out/{}", e.file_name().to_string_lossy()))
                .filter(|p| !expected.contains(p))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let more = names.len().saturating_sub(10);
    names.truncate(10);
    let mut names: Vec<String> = names.iter().map(|n| excerpt(n, MAX_EXCERPT_CHARS).into_owned()).collect();
    if more > 0 {
        names.push(format!("and {more} more"));
    }
    names
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use esteira_core::{ArtifactStore, ContentHash, InputArtifact, LocalStore};

    use super::*;

    struct Ran {
        result: Result<BTreeMap<String, ContentHash>, String>,
        metrics: BTreeMap<String, serde_json::Value>,
        committed: BTreeMap<String, ContentHash>,
        store: Arc<LocalStore>,
        _dir: tempfile::TempDir,
    }

    impl Ran {
        fn text(&self, output: &str) -> String {
            let hash = self.committed[output];
            std::fs::read_to_string(self.store.object_path(&hash).unwrap()).unwrap()
        }
    }

    fn run_with(params: serde_json::Value, inputs: &[(&str, &[u8])], objects: &[(&str, &Path)]) -> Ran {
        let stage = CommandStage::from_params(params).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::open(dir.path()).unwrap());
        let mut artifacts = BTreeMap::new();
        for (name, bytes) in inputs {
            let hash = store.put_bytes(bytes).unwrap();
            artifacts.insert((*name).to_owned(), InputArtifact { hash, path: store.object_path(&hash).unwrap() });
        }
        for (name, path) in objects {
            let hash = store.put_bytes(&std::fs::read(path).unwrap()).unwrap();
            artifacts.insert((*name).to_owned(), InputArtifact { hash, path: store.object_path(&hash).unwrap() });
        }
        let mut ctx = StageContext::new("t", artifacts, stage.outputs(), store.clone());
        let run = stage.run(&mut ctx).map_err(|e| e.to_string());
        let committed = ctx.committed_outputs();
        let mut metrics = BTreeMap::new();
        let result = run.and_then(|()| {
            let o = ctx.finish().map_err(|e| e.to_string())?;
            metrics = o.metrics;
            Ok(o.outputs)
        });
        Ran { result, metrics, committed, store, _dir: dir }
    }

    fn run(params: serde_json::Value, inputs: &[(&str, &[u8])]) -> Ran {
        run_with(params, inputs, &[])
    }

    #[test]
    fn the_log_is_stdout_then_stderr_each_ending_a_line() {
        let r = run(serde_json::json!({"run": ["sh", "-c", "printf a; printf b >&2; printf c"]}), &[]);
        assert!(r.result.is_ok(), "{:?}", r.result);
        assert_eq!(r.text("log"), "==> stdout <==\nac\n==> stderr <==\nb\n");
        let r = run(serde_json::json!({"run": ["true"]}), &[]);
        assert_eq!(r.text("log"), "==> stdout <==\n==> stderr <==\n");
    }

    #[test]
    fn a_failure_keeps_only_the_log_and_quotes_the_last_lines() {
        let script = "for i in $(seq 1 30); do echo line $i >&2; done; echo partial > \"$1\"; exit 2";
        let r =
            run(serde_json::json!({"run": ["sh", "-c", script, "sh", "{outputs.t}"], "outputs": {"t": "txt"}}), &[]);
        let e = r.result.unwrap_err();
        assert!(e.starts_with("stage `t`: `sh` exited with status 2; last lines of its stderr:\n  | line 11\n"), "{e}");
        assert!(e.ends_with("  | line 30"), "{e}");
        assert!(!e.contains("line 10\n"), "{e}");
        assert_eq!(r.committed.keys().collect::<Vec<_>>(), ["log"]);
        // Without the log, the error still quotes it.
        let r = run(
            serde_json::json!({"run": ["sh", "-c", "echo oops; exit 1"], "outputs": {"t": "txt"}, "log": false}),
            &[],
        );
        let e = r.result.unwrap_err();
        assert!(e.ends_with("last lines of its stdout:\n  | oops"), "{e}");
        assert!(r.committed.is_empty());
        let r = run(serde_json::json!({"run": ["sh", "-c", "exit 1"]}), &[]);
        assert!(r.result.unwrap_err().ends_with("`sh` exited with status 1; it printed nothing"));
    }

    #[test]
    fn outputs_that_are_missing_or_mistyped_are_named() {
        let p = serde_json::json!({
            "run": ["sh", "-c", "echo x > \"$1\"; echo stray > out/other.txt", "sh", "{outputs.a}"],
            "outputs": {"a": "txt", "b": "csv", "c": "dir"}
        });
        let r = run(p, &[]);
        let e = r.result.unwrap_err();
        assert!(
            e.contains(
                "`sh` exited 0 but did not write `b` (out/b.csv), `c` (out/c); out/ holds instead: out/other.txt"
            ),
            "{e}"
        );
        assert_eq!(r.committed.keys().collect::<Vec<_>>(), ["a", "log"], "complete outputs are kept");
        let p = serde_json::json!({"run": ["sh", "-c", "mkdir out/a.json"], "outputs": {"a": "json"}});
        let e = run(p, &[]).result.unwrap_err();
        assert!(e.contains("output `a`: out/a.json is a directory; file outputs must be regular files"), "{e}");
        let p = serde_json::json!({"run": ["sh", "-c", "echo '{{' > out/a.json"], "outputs": {"a": "json"}});
        let e = run(p, &[]).result.unwrap_err();
        assert!(e.contains("output `a`: out/a.json is not valid JSON"), "{e}");
        let p = serde_json::json!({"run": ["sh", "-c", "ln -s /etc/hostname out/a.txt"], "outputs": {"a": "txt"}});
        let e = run(p, &[]).result.unwrap_err();
        assert!(e.contains("out/a.txt is a symbolic link"), "{e}");
        let p = serde_json::json!({"run": ["sh", "-c", "echo > out/d"], "outputs": {"d": "dir"}});
        let e = run(p, &[]).result.unwrap_err();
        assert!(e.contains("out/d is a file; directory outputs (kind \"dir\") must be directories"), "{e}");
    }

    #[test]
    fn a_metrics_output_becomes_the_stages_metrics() {
        let write = |doc: &str| {
            let doc = doc.replace('{', "{{").replace('}', "}}");
            serde_json::json!({
                "run": ["sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", doc, "{outputs.m}"],
                "outputs": {"m": "json"}, "metrics": "m"
            })
        };
        let r = run(write(r#"{"auc": 0.61, "ok": true, "name": "x", "cv": {"folds": 5, "list": [1]}}"#), &[]);
        assert!(r.result.is_ok(), "{:?}", r.result);
        let got: Vec<(&str, String)> = r.metrics.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
        assert_eq!(got, [("auc", "0.61".to_owned()), ("cv.folds", "5".to_owned()), ("ok", "true".to_owned())]);
        let e = run(write("[1, 2]"), &[]).result.unwrap_err();
        assert!(e.contains("output `m`: out/m.json (the `metrics` output) must be a JSON object"), "{e}");
        let many: String = (0..=MAX_METRICS).map(|i| format!("\"m{i}\": {i}")).collect::<Vec<_>>().join(",");
        let e = run(write(&format!("{{{many}}}")), &[]).result.unwrap_err();
        assert!(e.contains("holds more than 1000 metrics"), "{e}");
        let e = run(write(&format!("{{\"{}\": 1}}", "k".repeat(201))), &[]).result.unwrap_err();
        assert!(e.contains("must be 1 to 200 characters"), "{e}");
        let e = run(write(r#"{"": 1}"#), &[]).result.unwrap_err();
        assert!(e.contains("metric name `` must be 1 to 200"), "{e}");
        let e = run(write(r#"{"a\u001b[31m": 1}"#), &[]).result.unwrap_err();
        assert!(e.contains("metric name `a\\u{1b}[31m` must be"), "{e}");
        let e = run(write(r#"{"a.b": 1, "a": {"b": 2}}"#), &[]).result.unwrap_err();
        assert!(e.contains("metric `a.b` is given twice"), "{e}");
        let e = run(write(r#"{"auc": 0.6"#), &[]).result.unwrap_err();
        assert!(e.contains("out/m.json is not valid JSON"), "{e}");
        // A huge document is refused without reading it whole.
        let huge = serde_json::json!({
            "run": ["sh", "-c", "( printf '{{\"pad\": \"'; head -c 17000000 /dev/zero | tr '\\0' a; printf '\"}}') > \"$1\"", "sh", "{outputs.m}"],
            "outputs": {"m": "json"}, "metrics": "m"
        });
        let e = run(huge, &[]).result.unwrap_err();
        assert!(e.contains("(the `metrics` output) is larger than 16777216 bytes"), "{e}");
        // The metrics output must be a declared json output.
        for (outputs, want) in [
            (serde_json::json!({"m": "txt"}), "param `metrics`: output `m` must be of kind \"json\""),
            (serde_json::json!({"n": "json"}), "param `metrics`: `m` is not a declared output (outputs: n)"),
        ] {
            let p = serde_json::json!({"run": ["true"], "outputs": outputs, "metrics": "m"});
            let e = CommandStage::from_params(p).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn a_directory_output_is_an_input_directory_downstream() {
        let write = serde_json::json!({
            "run": ["sh", "-c", "mkdir -p \"$1/x\" && echo 1 > \"$1/x/one\" && echo 2 > \"$1/two\"", "sh", "{outputs.d}"],
            "outputs": {"d": "dir"}
        });
        let a = run(write.clone(), &[]);
        assert!(a.result.is_ok(), "{:?}", a.result);
        assert_eq!(a.committed["d"], run(write, &[]).committed["d"], "same tree, same object");
        let tar = a.store.object_path(&a.committed["d"]).unwrap();
        let read = serde_json::json!({
            "run": ["sh", "-c", "cat \"$1/x/one\" \"$1/two\"; touch \"$1/new\" 2>/dev/null || echo read-only", "sh", "{inputs.d}"],
        });
        let b = run_with(read, &[], &[("d", &tar)]);
        assert!(b.result.is_ok(), "{:?}", b.result);
        let log = b.text("log");
        assert!(log.starts_with("==> stdout <==\n1\n2\n"), "{log}");
        // Root may write anywhere; anyone else is refused.
        assert!(log.contains("read-only") || is_root(), "{log}");
    }

    fn is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    }

    #[test]
    fn inputs_are_copies_and_the_scratch_directory_is_removed() {
        let p = serde_json::json!({
            "run": ["sh", "-c", "pwd > \"$2\"; chmod u+w \"$1\"; echo changed > \"$1\"", "sh", "{inputs.a}", "{outputs.cwd}"],
            "outputs": {"cwd": "txt"}
        });
        let r = run(p, &[("a", b"original")]);
        assert!(r.result.is_ok(), "{:?}", r.result);
        let cwd = r.text("cwd");
        assert!(!Path::new(cwd.trim()).exists(), "{cwd}");
        let hash = ContentHash::of_bytes(b"original");
        assert_eq!(std::fs::read(r.store.object_path(&hash).unwrap()).unwrap(), b"original");
    }
}
