//! The command stage's params, checked into a [`Spec`] when the stage is built.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use esteira_core::{MAX_EXCERPT_CHARS, excerpt, name_problem};
use serde::{Deserialize, Serialize};

use crate::CommandError;
use crate::template::{Piece, Template};

/// The PATH a program gets unless `env` sets one.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The output kind that means a directory, stored as one archive ([`crate::archive`]).
pub const DIR_KIND: &str = "dir";

/// The extension a directory output is materialised with (`latest/<stage>/<name>.tar`).
pub const DIR_EXT: &str = "tar";

/// The name of the output holding the program's stdout and stderr (unless `log = false`).
pub const LOG_OUTPUT: &str = "log";

/// The longest `tool_version` kept (longer `version_cmd` output is an error).
pub const MAX_TOOL_VERSION_BYTES: usize = 4096;

/// How long `version_cmd` may take.
pub const VERSION_CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// Params of a `command` stage (the `[stages.NAME.params]` table).
///
/// ```toml
/// [stages.features]
/// kind = "command"
/// inputs = { table = "preprocess.table", script = "file:scripts/features.py" }
/// [stages.features.params]
/// run = ["python3", "{inputs.script}", "{inputs.table}", "{outputs.features}"]
/// outputs = { features = "parquet", summary = "json" }
/// env = { PYTHONHASHSEED = "0" }
/// version_cmd = ["python3", "--version"]
/// timeout = "10m"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandParams {
    /// The program and its arguments (no shell: use `["sh", "-c", "…"]` for one). May hold
    /// `{inputs.NAME}` and `{outputs.NAME}`; the inputs the stage takes are exactly the ones
    /// named here and in `env`.
    pub run: Vec<String>,
    /// Output name -> kind: a file extension (`parquet`, `json`, `csv`, `txt`, `html` …, 1 to
    /// 16 of `[a-z0-9]`) or `dir` for a directory.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// Variables passed besides PATH, HOME, LANG, TMPDIR and TZ (which they may override).
    /// Values may hold placeholders too.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A command printing the tool's version (`["python3", "--version"]`), run when the stage
    /// is built; its output becomes `tool_version`, part of the cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_cmd: Option<Vec<String>>,
    /// What `version_cmd` printed (trimmed). Filled in when the stage is built; when written in
    /// the pipeline file (or recorded in a run that is reproduced), it is a pin: a different
    /// output is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// Kill the program after this long (`"90s"`, `"10m"`, `"2h"`); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Keep stdout and stderr as the `log` output (default true). With `false` they are only
    /// quoted in the error when the program fails.
    #[serde(default = "yes")]
    pub log: bool,
    /// A declared `json` output whose numbers (and booleans) become the stage's metrics: in the
    /// run record, `runs show` and `runs compare`. A JSON object; nested objects are flattened
    /// to `outer.inner`. At most [`MAX_METRICS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// Output name -> what it is, for consumers that look for one (`{ model = "model" }`: a
    /// model in esteira-train's format, which `esteira serve` then serves like train's). Names
    /// declared outputs; kinds are 1 to 32 of `[a-z0-9._-]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<String, String>,
}

/// The most metrics a `metrics` output may hold (they are copied into every run record).
pub const MAX_METRICS: usize = 1000;

/// The largest `metrics` output, in bytes (it is parsed whole in memory).
pub const MAX_METRICS_BYTES: u64 = 16 << 20;

fn yes() -> bool {
    true
}

/// What a declared output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    /// A regular file with this extension.
    File(String),
    /// A directory, stored as one archive.
    Dir,
}

impl OutputKind {
    /// The extension of the stored object.
    pub fn ext(&self) -> &str {
        match self {
            Self::File(e) => e,
            Self::Dir => DIR_EXT,
        }
    }
}

/// Checked params: parsed placeholders, inputs, outputs and the timeout.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) run: Vec<Template>,
    pub(crate) env: BTreeMap<String, Template>,
    pub(crate) inputs: BTreeSet<String>,
    pub(crate) outputs: Vec<(String, OutputKind)>,
    pub(crate) timeout: Option<Duration>,
}

/// Where input `name` is in the scratch directory (relative to the program's working
/// directory): `in/NAME`.
pub fn input_path(name: &str) -> String {
    format!("in/{name}")
}

/// Where output `name` must be written: `out/NAME.EXT`, or `out/NAME` for a directory.
pub fn output_path(name: &str, kind: &OutputKind) -> String {
    match kind {
        OutputKind::File(ext) => format!("out/{name}.{ext}"),
        OutputKind::Dir => format!("out/{name}"),
    }
}

fn param(key: impl Into<String>, message: impl Into<String>) -> CommandError {
    CommandError::Param { key: key.into(), message: message.into() }
}

impl Spec {
    pub(crate) fn check(p: &CommandParams) -> Result<Self, CommandError> {
        if p.run.is_empty() || p.run[0].is_empty() {
            return Err(param("run", "must name a program: run = [\"program\", \"arg\", …]"));
        }
        let mut outputs = Vec::new();
        for (name, kind) in &p.outputs {
            let key = format!("outputs.{}", excerpt(name, MAX_EXCERPT_CHARS));
            if let Some(problem) = name_problem(name) {
                return Err(param(key, format!("the output name {problem}")));
            }
            if p.log && name == LOG_OUTPUT {
                return Err(param(key, "`log` is the program's log output; rename this one or set log = false"));
            }
            let kind = if kind == DIR_KIND {
                OutputKind::Dir
            } else if (1..=16).contains(&kind.len())
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                OutputKind::File(kind.clone())
            } else {
                return Err(param(
                    key,
                    format!(
                        "kind {:?}: expected a file extension of 1 to 16 characters [a-z0-9] (parquet, json, csv, \
                         txt, html …) or \"dir\"",
                        excerpt(kind, MAX_EXCERPT_CHARS)
                    ),
                ));
            };
            outputs.push((name.clone(), kind));
        }
        if outputs.is_empty() && !p.log {
            return Err(param("outputs", "declares no output (and log = false): the stage would keep nothing"));
        }
        let declared: BTreeSet<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
        if let Some(m) = &p.metrics {
            match outputs.iter().find(|(n, _)| n == m) {
                Some((_, OutputKind::File(ext))) if ext == "json" => {}
                Some(_) => return Err(param("metrics", format!("output `{m}` must be of kind \"json\""))),
                None => {
                    let known = declared.iter().copied().collect::<Vec<_>>().join(", ");
                    return Err(param(
                        "metrics",
                        format!("`{}` is not a declared output (outputs: {known})", excerpt(m, MAX_EXCERPT_CHARS)),
                    ));
                }
            }
        }
        for (name, kind) in &p.media {
            if !declared.contains(name.as_str()) {
                let known = declared.iter().copied().collect::<Vec<_>>().join(", ");
                return Err(param(
                    format!("media.{}", excerpt(name, MAX_EXCERPT_CHARS)),
                    format!("not a declared output (outputs: {known})"),
                ));
            }
            let ok = (1..=32).contains(&kind.len())
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
            if !ok {
                return Err(param(
                    format!("media.{name}"),
                    format!("`{}` is not a media kind (1 to 32 of [a-z0-9._-])", excerpt(kind, MAX_EXCERPT_CHARS)),
                ));
            }
        }
        let mut inputs = BTreeSet::new();
        let mut check_template = |key: String, s: &str| -> Result<Template, CommandError> {
            let t = Template::parse(s).map_err(|m| param(key.clone(), m))?;
            for piece in t.pieces() {
                match piece {
                    Piece::Input(n) => {
                        inputs.insert(n.clone());
                    }
                    Piece::Output(n) if !declared.contains(n.as_str()) => {
                        let known = declared.iter().copied().collect::<Vec<_>>().join(", ");
                        return Err(param(
                            key,
                            format!(
                                "`{{outputs.{n}}}` is not a declared output (outputs: {known}); add it to `outputs`"
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            Ok(t)
        };
        let run =
            p.run.iter().enumerate().map(|(i, a)| check_template(format!("run[{i}]"), a)).collect::<Result<_, _>>()?;
        let mut env = BTreeMap::new();
        for (k, v) in &p.env {
            let key = format!("env.{}", excerpt(k, MAX_EXCERPT_CHARS));
            if !valid_env_name(k) {
                return Err(param(key, "a variable name is a letter or `_` followed by letters, digits and `_`"));
            }
            env.insert(k.clone(), check_template(key, v)?);
        }
        if let Some(cmd) = &p.version_cmd {
            if cmd.is_empty() || cmd[0].is_empty() {
                return Err(param("version_cmd", "must name a program, e.g. [\"python3\", \"--version\"]"));
            }
            for (i, a) in cmd.iter().enumerate() {
                let t = Template::parse(a).map_err(|m| param(format!("version_cmd[{i}]"), m))?;
                if !t.is_literal() {
                    return Err(param(
                        format!("version_cmd[{i}]"),
                        "placeholders are not available in version_cmd: it runs when the stage is built, before \
                         any input exists",
                    ));
                }
            }
        } else if p.tool_version.is_some() {
            return Err(param("tool_version", "is what version_cmd prints: set version_cmd too"));
        }
        let timeout = match &p.timeout {
            None => None,
            Some(t) => {
                let d = humantime::parse_duration(t).map_err(|e| {
                    param("timeout", format!("{:?}: {e} (write e.g. \"90s\", \"10m\", \"2h\")", excerpt(t, 40)))
                })?;
                if d.is_zero() {
                    return Err(param("timeout", "must be more than 0"));
                }
                Some(d)
            }
        };
        Ok(Self { run, env, inputs, outputs, timeout })
    }

    /// The program's environment in the scratch directory `home`: the defaults, then `env`
    /// with placeholders replaced.
    pub(crate) fn environment(&self, home: &Path) -> BTreeMap<String, String> {
        let mut env = base_env(home);
        for (k, t) in &self.env {
            env.insert(k.clone(), self.render(t));
        }
        env
    }

    /// A string with its placeholders replaced by scratch-relative paths.
    pub(crate) fn render(&self, t: &Template) -> String {
        t.render(|p| match p {
            Piece::Input(n) => input_path(n),
            Piece::Output(n) => {
                let kind = self.outputs.iter().find(|(o, _)| o == n).map(|(_, k)| k.clone());
                output_path(n, &kind.unwrap_or(OutputKind::Dir))
            }
            Piece::Lit(s) => s.clone(),
        })
    }
}

fn valid_env_name(k: &str) -> bool {
    let mut b = k.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// PATH, HOME, LANG, TMPDIR and TZ for a program whose home is `home`.
fn base_env(home: &Path) -> BTreeMap<String, String> {
    let home = home.to_string_lossy().into_owned();
    BTreeMap::from([
        ("PATH".to_owned(), DEFAULT_PATH.to_owned()),
        ("HOME".to_owned(), home.clone()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ("TMPDIR".to_owned(), format!("{home}/tmp")),
        ("TZ".to_owned(), "UTC".to_owned()),
    ])
}

/// Runs `version_cmd` (once per process for the same command and environment) and returns
/// what it printed, trimmed: stdout, or stderr when stdout is empty (`java -version`).
pub(crate) fn tool_version(p: &CommandParams) -> Result<Option<String>, CommandError> {
    static MEMO: OnceLock<Mutex<BTreeMap<String, String>>> = OnceLock::new();
    let Some(cmd) = &p.version_cmd else { return Ok(None) };
    let command = cmd.join(" ");
    let err = |message: String| CommandError::Version { command: excerpt(&command, MAX_EXCERPT_CHARS).into(), message };
    // Unescape `{{`/`}}` (placeholders were refused by Spec::check).
    let argv: Vec<String> = cmd
        .iter()
        .map(|a| Template::parse(a).map(|t| t.render(|_| String::new())))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    // The same variables as the program, but those naming inputs or outputs.
    let literal_env: BTreeMap<String, String> = p
        .env
        .iter()
        .filter_map(|(k, v)| {
            Template::parse(v).ok().filter(Template::is_literal).map(|t| (k.clone(), t.render(|_| String::new())))
        })
        .collect();
    let memo_key = serde_json::to_string(&(&argv, &literal_env)).unwrap_or_default();
    let memo = MEMO.get_or_init(Mutex::default);
    let remembered = memo.lock().ok().and_then(|m| m.get(&memo_key).cloned());
    let version = match remembered {
        Some(v) => v,
        None => {
            let v = measure(&argv, &literal_env).map_err(err)?;
            if let Ok(mut m) = memo.lock() {
                m.insert(memo_key, v.clone());
            }
            v
        }
    };
    if let Some(pin) = &p.tool_version
        && *pin != version
    {
        return Err(err(format!(
            "printed {:?}, but tool_version is {:?} (pinned in the pipeline file, or recorded by the run being \
             reproduced): the tool changed",
            excerpt(&version, MAX_EXCERPT_CHARS),
            excerpt(pin, MAX_EXCERPT_CHARS)
        )));
    }
    Ok(Some(version))
}

fn measure(argv: &[String], extra: &BTreeMap<String, String>) -> Result<String, String> {
    let dir = tempfile::Builder::new().prefix("esteira-version-").tempdir().map_err(|e| e.to_string())?;
    std::fs::create_dir(dir.path().join("tmp")).map_err(|e| e.to_string())?;
    let mut env = base_env(dir.path());
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    let out = tempfile::tempfile().map_err(|e| e.to_string())?;
    let err = tempfile::tempfile().map_err(|e| e.to_string())?;
    let (mut out_r, mut err_r) =
        (out.try_clone().map_err(|e| e.to_string())?, err.try_clone().map_err(|e| e.to_string())?);
    let ended = crate::process::run(argv, &env, dir.path(), out, err, Some(VERSION_CMD_TIMEOUT))
        .map_err(|e| format!("cannot start `{}`: {e} (PATH={})", excerpt(&argv[0], MAX_EXCERPT_CHARS), env["PATH"]))?;
    let read = |f: &mut std::fs::File| -> Result<String, String> {
        use std::io::{Read, Seek};
        f.rewind().map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        f.take(MAX_TOOL_VERSION_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    };
    let (stdout, stderr) = (read(&mut out_r)?, read(&mut err_r)?);
    match ended {
        crate::process::Ended::TimedOut => {
            return Err(format!("did not finish within {}", humantime::format_duration(VERSION_CMD_TIMEOUT)));
        }
        crate::process::Ended::Exited(s) if !s.success() => {
            let said = if stderr.is_empty() { &stdout } else { &stderr };
            return Err(format!("{}: {}", crate::process::describe(s), excerpt(said, 2 * MAX_EXCERPT_CHARS)));
        }
        crate::process::Ended::Exited(_) => {}
    }
    let version = if stdout.is_empty() { stderr } else { stdout };
    if version.is_empty() {
        return Err("printed nothing".into());
    }
    if version.len() > MAX_TOOL_VERSION_BYTES {
        return Err(format!("printed more than {MAX_TOOL_VERSION_BYTES} bytes; a version string is expected"));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: serde_json::Value) -> CommandParams {
        serde_json::from_value(v).unwrap()
    }

    fn check(v: serde_json::Value) -> Result<Spec, String> {
        Spec::check(&params(v)).map_err(|e| e.to_string())
    }

    #[test]
    fn inputs_come_from_placeholders_and_paths_are_relative() {
        let s = check(serde_json::json!({
            "run": ["python3", "{inputs.script}", "--table={inputs.table}", "{outputs.features}", "{outputs.plots}"],
            "outputs": {"features": "parquet", "plots": "dir"},
            "env": {"CONFIG": "{inputs.config}"}
        }))
        .unwrap();
        assert_eq!(s.inputs.iter().map(String::as_str).collect::<Vec<_>>(), ["config", "script", "table"]);
        let argv: Vec<String> = s.run.iter().map(|t| s.render(t)).collect();
        assert_eq!(argv, ["python3", "in/script", "--table=in/table", "out/features.parquet", "out/plots"]);
        let env = s.environment(Path::new("/scratch/x"));
        assert_eq!(env["CONFIG"], "in/config");
        assert_eq!(env["HOME"], "/scratch/x");
        assert_eq!(env["TMPDIR"], "/scratch/x/tmp");
        assert_eq!(env["PATH"], DEFAULT_PATH);
        assert_eq!(env.len(), 6);
    }

    #[test]
    fn bad_params_name_the_key() {
        let cases = [
            (serde_json::json!({"run": []}), "param `run`: must name a program"),
            (
                serde_json::json!({"run": ["x", "{outputs.nope}"], "outputs": {"a": "txt"}}),
                "param `run[1]`: `{outputs.nope}` is not a declared output (outputs: a)",
            ),
            (serde_json::json!({"run": ["x", "{params.k}"]}), "param `run[1]`: unknown placeholder `{params.k}`"),
            (
                serde_json::json!({"run": ["x"], "outputs": {"../etc": "txt"}}),
                "param `outputs.../etc`: the output name contains '.'",
            ),
            (serde_json::json!({"run": ["x"], "outputs": {"a": "tar.gz"}}), "param `outputs.a`: kind \"tar.gz\""),
            (
                serde_json::json!({"run": ["x"], "outputs": {"log": "txt"}}),
                "param `outputs.log`: `log` is the program's log output",
            ),
            (serde_json::json!({"run": ["x"], "log": false}), "param `outputs`: declares no output"),
            (serde_json::json!({"run": ["x"], "env": {"A-B": "1"}}), "param `env.A-B`"),
            (serde_json::json!({"run": ["x"], "timeout": "soon"}), "param `timeout`: \"soon\""),
            (serde_json::json!({"run": ["x"], "timeout": "0s"}), "param `timeout`: must be more than 0"),
            (
                serde_json::json!({"run": ["x"], "version_cmd": ["{inputs.a}"]}),
                "param `version_cmd[0]`: placeholders are not available",
            ),
            (
                serde_json::json!({"run": ["x"], "tool_version": "1"}),
                "param `tool_version`: is what version_cmd prints",
            ),
            (
                serde_json::json!({"run": ["x"], "outputs": {"m": "json"}, "metrics": "n"}),
                "param `metrics`: `n` is not a declared output (outputs: m)",
            ),
            (
                serde_json::json!({"run": ["x"], "outputs": {"m": "txt"}, "metrics": "m"}),
                "param `metrics`: output `m` must be of kind \"json\"",
            ),
            (
                serde_json::json!({"run": ["x"], "outputs": {"m": "json"}, "media": {"n": "model"}}),
                "param `media.n`: not a declared output (outputs: m)",
            ),
            (
                serde_json::json!({"run": ["x"], "outputs": {"m": "json"}, "media": {"m": "A Model"}}),
                "param `media.m`: `A Model` is not a media kind",
            ),
        ];
        for (v, want) in cases {
            let e = check(v.clone()).err().unwrap_or_default();
            assert!(e.contains(want), "{v}: {e}");
        }
        // `log` may be an output's name when the log is off.
        assert!(check(serde_json::json!({"run": ["x"], "outputs": {"log": "txt"}, "log": false})).is_ok());
    }

    #[test]
    fn version_cmd_output_is_measured_pinned_and_checked() {
        let p = params(serde_json::json!({"run": ["x"], "version_cmd": ["sh", "-c", "echo '  tool 1.2  '"]}));
        assert_eq!(tool_version(&p).unwrap().as_deref(), Some("tool 1.2"));
        // stderr when stdout is empty, as `java -version` prints.
        let p = params(serde_json::json!({"run": ["x"], "version_cmd": ["sh", "-c", "echo 'v9' >&2"]}));
        assert_eq!(tool_version(&p).unwrap().as_deref(), Some("v9"));
        let pinned = CommandParams { tool_version: Some("v8".into()), ..p };
        let e = tool_version(&pinned).unwrap_err().to_string();
        assert!(e.contains("printed \"v9\", but tool_version is \"v8\""), "{e}");
        let p = params(serde_json::json!({"run": ["x"], "version_cmd": ["sh", "-c", "echo broken >&2; exit 4"]}));
        let e = tool_version(&p).unwrap_err().to_string();
        assert!(e.contains("version_cmd `sh -c echo broken >&2; exit 4`: exited with status 4: broken"), "{e}");
        let p = params(serde_json::json!({"run": ["x"], "version_cmd": ["no-such-tool-esteira", "--version"]}));
        let e = tool_version(&p).unwrap_err().to_string();
        assert!(e.contains("cannot start `no-such-tool-esteira`") && e.contains("PATH=/usr/local/bin"), "{e}");
        // The environment is the program's: env's literal variables, no inherited ones.
        let p = params(serde_json::json!({"run": ["x"], "env": {"V": "7", "I": "{inputs.a}"},
            "version_cmd": ["sh", "-c", "echo \"$V-${{I:-none}}-${{CARGO:-clean}}\""]}));
        assert_eq!(tool_version(&p).unwrap().as_deref(), Some("7-none-clean"));
    }
}
