//! `esteira exec KIND`: one stage, outside any pipeline file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use esteira_core::{ArtifactStore, InputArtifact, LocalStore, PathPolicy, Registry};

use super::Global;
use crate::execute::run_stage;
use crate::{OrchestratorError, exit};

/// Options of `esteira exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stage kind (`--list` shows them).
    #[arg(required_unless_present = "list")]
    kind: Option<String>,
    /// A param, `key=value`; the value is read as TOML when it parses (numbers, booleans,
    /// arrays, inline tables), else as a string. Dotted keys nest. Repeatable.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// A TOML file with the params table.
    #[arg(long, value_name = "FILE")]
    params_file: Option<PathBuf>,
    /// An input, `name=path`. Repeatable.
    #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
    inputs: Vec<String>,
    /// Where to write the outputs (`<name>.<ext>`).
    #[arg(long, short = 'o', default_value = ".")]
    out: PathBuf,
    /// List the stage kinds.
    #[arg(long)]
    list: bool,
}

fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

pub(super) fn exec(_g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    if a.list {
        for k in registry.kinds() {
            let summary = registry.get(k).map_or("", |f| f.summary);
            super::outln!("{k:<12} {summary}")?;
        }
        return Ok(exit::OK);
    }
    let kind = a.kind.clone().unwrap_or_default();
    let mut table = match &a.params_file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| OrchestratorError::Usage(format!("{}: {e}", p.display())))?;
            toml::from_str::<toml::Table>(&text)
                .map_err(|e| OrchestratorError::Usage(format!("{}: {}", p.display(), e.message())))?
        }
        None => toml::Table::new(),
    };
    for kv in &a.params {
        let (k, v) =
            kv.split_once('=').ok_or_else(|| OrchestratorError::Usage(format!("--param {kv}: expected key=value")))?;
        let mut cur = &mut table;
        let parts: Vec<&str> = k.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            let entry = cur.entry((*p).to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = match entry {
                toml::Value::Table(t) => t,
                _ => return Err(OrchestratorError::Usage(format!("--param {kv}: `{p}` is not a table"))),
            };
        }
        cur.insert(parts[parts.len() - 1].to_owned(), parse_value(v));
    }
    let params = serde_json::to_value(&table).map_err(OrchestratorError::Json)?;
    let stage = registry.build(&kind, params)?;
    let tmp = std::env::temp_dir().join(format!("esteira-exec-{}", std::process::id()));
    let store = Arc::new(LocalStore::open(&tmp)?);
    let mut inputs = BTreeMap::new();
    for kv in &a.inputs {
        let (name, path) =
            kv.split_once('=').ok_or_else(|| OrchestratorError::Usage(format!("--input {kv}: expected name=path")))?;
        let hash = store.put_file(std::path::Path::new(path))?;
        inputs.insert(name.to_owned(), InputArtifact { hash, path: store.object_path(&hash)? });
    }
    let wanted = stage.inputs();
    for w in &wanted {
        if !inputs.contains_key(w) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(OrchestratorError::Usage(format!(
                "kind `{kind}` needs input `{w}` (inputs: {}): pass --input {w}=PATH",
                wanted.join(", ")
            )));
        }
    }
    let result = run_stage(
        stage.as_ref(),
        &kind,
        // The person typing the paths is the one reading them: no confinement.
        &PathPolicy::unrestricted(std::env::current_dir().unwrap_or_default()),
        inputs,
        Arc::clone(&store) as Arc<dyn ArtifactStore>,
        None,
        false,
        Arc::new(esteira_core::NoProgress),
    );
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(OrchestratorError::ExecFailed { kind, message: e.message });
        }
    };
    std::fs::create_dir_all(&a.out).map_err(|e| esteira_core::CoreError::io(&a.out, e))?;
    for spec in stage.outputs() {
        if let Some(h) = outcome.outputs.get(&spec.name) {
            let dest = a.out.join(spec.file_name());
            let src = store.object_path(h)?;
            let _ = std::fs::remove_file(&dest);
            std::fs::copy(&src, &dest).map_err(|e| esteira_core::CoreError::io(&dest, e))?;
            let mut perms = std::fs::metadata(&dest).map_err(|e| esteira_core::CoreError::io(&dest, e))?.permissions();
            #[allow(clippy::permissions_set_readonly_false, reason = "a copy handed to the user, not a store object")]
            perms.set_readonly(false);
            let _ = std::fs::set_permissions(&dest, perms);
            super::outln!("{:<12} {}  {}", spec.name, h.short(), dest.display())?;
        }
    }
    for (k, v) in &outcome.metrics {
        super::outln!("metric {k} = {v}")?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(exit::OK)
}
