//! The pipeline file: TOML declaring stages, their kinds, params and input bindings.
//!
//! ```toml
//! [pipeline]
//! name = "ufrn"
//! store = "artifacts"           # relative to this file
//! remote = "s3://team-cache/ufrn" # optional shared cache (README, "Team cache")
//!
//! [stages.segregate]
//! kind = "segregate"
//! inputs = { table = "check_clean.table" }   # "stage.output" or "file:relative/path"
//! after = ["some_stage"]                      # optional ordering-only dependencies
//! [stages.segregate.params]
//! target = "descricao"
//! [stages.segregate.resources]                # what its Slurm job asks for (`--executor slurm`)
//! cpus = 2
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use esteira_core::resources::Resources;
use esteira_core::{PathPolicy, name_problem};
use serde::Deserialize;
use toml::Spanned;

use crate::EngineError;

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Output `output` of stage `stage`.
    Stage {
        /// The upstream stage.
        stage: String,
        /// Its output.
        output: String,
    },
    /// A file named in the pipeline file, relative to the file's directory; hashed by content.
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stage { stage, output } => write!(f, "{stage}.{output}"),
            Self::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

/// One declared stage.
#[derive(Debug, Clone)]
pub struct StageDecl {
    /// The stage name (the table key).
    pub name: String,
    /// The stage kind.
    pub kind: String,
    /// Input name -> source.
    pub inputs: BTreeMap<String, Source>,
    /// Ordering-only dependencies.
    pub after: Vec<String>,
    /// The params, converted to JSON.
    pub params: serde_json::Value,
    /// 1-based line of the stage's table header.
    pub line: usize,
    /// Line of each input binding.
    pub input_lines: BTreeMap<String, usize>,
    /// Byte span of the params table in the file (for locating param errors).
    pub params_span: Option<std::ops::Range<usize>>,
    /// `[stages.NAME.resources]`: what the stage's Slurm job asks for, before the pipeline-wide
    /// defaults ([`Pipeline::resources`]). Not part of the cache key: where a stage runs does
    /// not change what it writes.
    pub resources: Resources,
}

/// A parsed pipeline file.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file it came from.
    pub path: PathBuf,
    /// The directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The file's bytes (for the config hash and error locations).
    pub text: String,
    /// Its name.
    pub name: String,
    /// The store directory (resolved).
    pub store: PathBuf,
    /// `remote = "s3://BUCKET/PREFIX"`: the shared cache under the store, unless `--remote` or
    /// `ESTEIRA_REMOTE` names another.
    pub remote: Option<String>,
    /// Which local files stages may read: the file's directory and `external_paths`.
    pub paths: PathPolicy,
    /// `[pipeline.resources]`: every Slurm job's defaults.
    pub resources: Resources,
    /// Stages by name.
    pub stages: BTreeMap<String, StageDecl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    pipeline: Option<MetaToml>,
    #[serde(default)]
    stages: BTreeMap<String, Spanned<StageToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaToml {
    name: Option<String>,
    store: Option<String>,
    /// The team cache: `s3://BUCKET/PREFIX`.
    remote: Option<String>,
    /// Directories outside the pipeline file's own from which `file:` inputs may be read.
    #[serde(default)]
    external_paths: Vec<String>,
    /// Every Slurm job's default resources.
    #[serde(default)]
    resources: Option<Spanned<toml::Value>>,
    #[allow(dead_code, reason = "free text for humans, accepted so files can document themselves")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageToml {
    kind: String,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    params: Option<Spanned<toml::Table>>,
    #[serde(default)]
    resources: Option<Spanned<toml::Value>>,
    #[allow(dead_code, reason = "free text for humans")]
    #[serde(default)]
    description: Option<String>,
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

impl Pipeline {
    /// Reads and parses a pipeline file.
    pub fn load(path: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::Pipeline {
            file: path.to_path_buf(),
            line: 0,
            column: None,
            message: format!("cannot read the pipeline file: {e}"),
        })?;
        Self::parse(path, text)
    }

    /// Parses pipeline text that came from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, EngineError> {
        let err = |line: usize, message: String| EngineError::Pipeline {
            file: path.to_path_buf(),
            line,
            column: None,
            message,
        };
        let file: FileToml = toml::from_str(&text).map_err(|e| match e.span() {
            Some(s) => {
                let (line, column) = locate::line_column(&text, s.start);
                EngineError::Pipeline {
                    file: path.to_path_buf(),
                    line,
                    column: Some(column),
                    message: e.message().trim().to_owned(),
                }
            }
            None => err(0, e.message().trim().to_owned()),
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty());
        let base_dir = base_dir.unwrap_or_else(|| PathBuf::from("."));
        let meta = file.pipeline.unwrap_or(MetaToml {
            name: None,
            store: None,
            remote: None,
            external_paths: Vec::new(),
            resources: None,
            description: None,
        });
        let resources_of = |what: &str, value: Option<Spanned<toml::Value>>| match value {
            None => Ok(Resources::default()),
            Some(v) => {
                let line = line_of(&text, v.span().start);
                Resources::from_toml(v.into_inner()).map_err(|e| err(line, format!("{what}{e}")))
            }
        };
        let default_resources = resources_of("[pipeline] ", meta.resources)?;
        let external: Vec<PathBuf> = meta.external_paths.iter().map(PathBuf::from).collect();
        let paths = PathPolicy::confined(&base_dir, &external);
        let store = base_dir.join(meta.store.unwrap_or_else(|| "artifacts".to_owned()));
        let remote = meta.remote;
        let name = meta.name.unwrap_or_else(|| {
            path.file_stem().map_or_else(|| "pipeline".to_owned(), |s| s.to_string_lossy().into_owned())
        });
        if file.stages.is_empty() {
            return Err(err(1, "no stages declared (expected [stages.<name>] tables)".into()));
        }
        let mut stages = BTreeMap::new();
        for (name, spanned) in file.stages {
            let line = line_of(&text, spanned.span().start);
            let st = spanned.into_inner();
            if let Some(problem) = name_problem(&name) {
                return Err(err(line, format!("stage name {:?}: {problem}", esteira_core::excerpt(&name, 80))));
            }
            let resources = resources_of(&format!("stage `{name}`: "), st.resources)?;
            let mut inputs = BTreeMap::new();
            let mut input_lines = BTreeMap::new();
            for (input, src) in st.inputs {
                let iline = line_of(&text, src.span().start);
                if let Some(problem) = name_problem(&input) {
                    let shown = esteira_core::excerpt(&input, 80);
                    return Err(err(iline, format!("stage `{name}`: input name {shown:?}: {problem}")));
                }
                let raw = src.into_inner();
                let source = if let Some(p) = raw.strip_prefix("file:") {
                    if p.is_empty() {
                        return Err(err(iline, format!("stage `{name}`: input `{input}`: empty file path")));
                    }
                    let file = PathBuf::from(p);
                    // A file that exists must be one the policy allows (a missing one is reported
                    // when the stage needs it).
                    if base_dir.join(&file).exists()
                        && let Err(why) = paths.resolve(&file)
                    {
                        return Err(err(iline, format!("stage `{name}`: input `{input}`: {why}")));
                    }
                    Source::File(file)
                } else if let Some((stage, output)) = raw.split_once('.') {
                    Source::Stage { stage: stage.to_owned(), output: output.to_owned() }
                } else {
                    return Err(err(
                        iline,
                        format!(
                            "stage `{name}`: input `{input}` = {raw:?}: expected \"stage.output\" or \"file:path\""
                        ),
                    ));
                };
                inputs.insert(input.clone(), source);
                input_lines.insert(input, iline);
            }
            let (params, params_span) = match st.params {
                Some(p) => {
                    let span = p.span();
                    let v = serde_json::to_value(p.into_inner())
                        .map_err(|e| err(line, format!("stage `{name}`: params: {e}")))?;
                    (v, Some(span))
                }
                None => (serde_json::Value::Object(serde_json::Map::new()), None),
            };
            stages.insert(
                name.clone(),
                StageDecl {
                    name,
                    kind: st.kind,
                    inputs,
                    after: st.after,
                    params,
                    line,
                    input_lines,
                    params_span,
                    resources,
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            base_dir,
            text,
            name,
            store,
            remote,
            paths,
            resources: default_resources,
            stages,
        })
    }

    /// Where param `key` of a stage is written (a path from the params root as the stage's
    /// error names it: `lof.k`, `joins[1].input`): line and column of its key (of the element,
    /// for an index) from the TOML's spans, so a repeated key such as `column` is found in the
    /// right table. What cannot be found is located at the deepest part of the path that can,
    /// else at the stage's header.
    pub fn param_position(&self, stage: &StageDecl, key: &str) -> (usize, Option<usize>) {
        match locate::param_offset(&self.text, &stage.name, key) {
            Some(offset) => {
                let (line, column) = locate::line_column(&self.text, offset);
                (line, Some(column))
            }
            None => (stage.line, None),
        }
    }
}

mod locate;
mod overrides;

pub use overrides::Override;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources_and_lines() {
        let text = r#"
[pipeline]
name = "t"

[stages.a]
kind = "k"
inputs = { x = "file:data/x.csv" }

[stages.b]
kind = "k"
inputs = { y = "a.out" }
[stages.b.params]
n = 3
"#;
        let p = Pipeline::parse(Path::new("dir/p.toml"), text.to_owned()).unwrap();
        assert_eq!(p.name, "t");
        assert_eq!(p.store, Path::new("dir/artifacts"));
        assert_eq!(p.stages["a"].inputs["x"], Source::File("data/x.csv".into()));
        assert_eq!(p.stages["b"].inputs["y"], Source::Stage { stage: "a".into(), output: "out".into() });
        assert_eq!(p.stages["b"].input_lines["y"], 11);
        assert_eq!(p.stages["b"].params["n"], 3);
        assert_eq!(p.param_position(&p.stages["b"], "n"), (13, Some(1)));
    }

    #[test]
    fn duplicate_stage_is_an_error_with_a_line() {
        let text = "[stages.a]\nkind = \"k\"\n[stages.a]\nkind = \"k\"\n";
        let e = Pipeline::parse(Path::new("p.toml"), text.to_owned()).unwrap_err().to_string();
        assert!(e.starts_with("p.toml:3:"), "{e}");
    }

    #[test]
    fn resources_are_read_and_a_bad_one_names_its_line() {
        let text = "[pipeline.resources]\nmemory = \"1G\"\n[stages.a]\nkind = \"k\"\n[stages.a.resources]\ncpus = 2\n";
        let p = Pipeline::parse(Path::new("p.toml"), text.to_owned()).unwrap();
        let r = p.stages["a"].resources.or(&p.resources);
        assert_eq!(
            (r.cpus.map(esteira_core::resources::Cpus::get), r.memory.map(esteira_core::resources::Memory::megabytes)),
            (Some(2), Some(1024))
        );
        let bad = text.replace("cpus = 2", "cpus = 2\ngpus = 1");
        let e = Pipeline::parse(Path::new("p.toml"), bad).unwrap_err().to_string();
        assert!(e.starts_with("p.toml:5: stage `a`: resources"), "{e}");
        assert!(e.contains("gpus"), "{e}");
    }

    #[test]
    fn bad_binding_names_the_line() {
        let text = "[stages.a]\nkind = \"k\"\ninputs = { x = \"nodot\" }\n";
        let e = Pipeline::parse(Path::new("p.toml"), text.to_owned()).unwrap_err().to_string();
        assert!(e.starts_with("p.toml:3:"), "{e}");
        assert!(e.contains("expected \"stage.output\""), "{e}");
    }
}
