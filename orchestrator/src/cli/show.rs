//! `esteira show HASH`: lineage of an object: the stage that produced it, its inputs, the tree of
//! stages it needs (what `esteira reproduce HASH` re-executes), and who used it.

use std::fmt::Write as _;

use esteira_core::{ArtifactStore, Registry};

use super::{Global, open_store, resolve_object};
use crate::{OrchestratorError, exit};

/// Options of `esteira show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Object hash or unique prefix.
    hash: String,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let hash = resolve_object(&store, &a.hash)?;
    let size = store.object_path(&hash).ok().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
    let mut out = format!(
        "object {hash}\n  {}\n",
        size.map_or_else(|| "not in the store (known from records only)".into(), |s| format!("{s} bytes"))
    );
    let runs = store.run_list()?;
    let mut produced = false;
    let mut used = Vec::new();
    for r in runs.iter().rev() {
        for name in &r.order {
            let Some(s) = r.stages.get(name) else { continue };
            for (out_name, h) in &s.outputs {
                if *h == hash && !produced {
                    produced = true;
                    let _ = writeln!(
                        out,
                        "produced by stage `{name}` (kind `{}` v{}) as output `{out_name}`\n  run {} ({}), key {}",
                        s.kind,
                        s.version,
                        r.id,
                        s.status.as_str(),
                        s.key.map(|k| k.to_hex()).unwrap_or_default()
                    );
                    let _ = writeln!(out, "  from inputs:");
                    for (i, ih) in &s.inputs {
                        let src = s.input_sources.get(i).map(String::as_str).unwrap_or("");
                        let _ = writeln!(out, "    {i} = {ih} ({src})");
                    }
                    if s.inputs.is_empty() {
                        let _ = writeln!(out, "    (none: params {})", s.params);
                    }
                }
            }
            for (i, h) in &s.inputs {
                if *h == hash {
                    let src = s.input_sources.get(i).cloned().unwrap_or_default();
                    used.push(format!("  run {} stage `{name}` input `{i}` ({src})", r.id));
                }
            }
        }
    }
    if let Some(p) = crate::lineage::producer(&runs, &hash) {
        let external =
            |s: &esteira_core::StageRecord| registry.build(&s.kind, s.params.clone()).is_ok_and(|st| st.volatile());
        out.push_str("lineage (what `esteira reproduce` re-executes for it):\n");
        out.push_str(&crate::lineage::tree(&p, &external));
    }
    if !produced {
        out.push_str("not produced by any recorded stage (an input file, or its runs were collected)\n");
    }
    if !used.is_empty() {
        out.push_str("used as input by:\n");
        used.truncate(20);
        for u in used {
            out.push_str(&u);
            out.push('\n');
        }
    }
    super::out!("{out}")?;
    Ok(exit::OK)
}
