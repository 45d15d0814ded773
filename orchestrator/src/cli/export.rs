//! `esteira export RUN|HASH -o FILE`: one self-contained, deterministic bundle (esteira-bundle)
//! with what `reproduce --bundle` needs on a machine that has only the binary.

use std::collections::BTreeSet;
use std::path::PathBuf;

use esteira_bundle::{Compression, Contents};
use esteira_core::Registry;

use super::{Global, Target, open_store, resolve_target};
use crate::lineage::{InputSource, closure, input_source};
use crate::{OrchestratorError, exit};

/// Options of `esteira export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id or unique prefix (`latest` for the newest), or an object hash or unique prefix
    /// (the bundle then holds its stage and lineage only).
    target: String,
    /// The bundle file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Add the recorded outputs too, for inspection (a reproduction recomputes them).
    #[arg(long)]
    with_outputs: bool,
    /// Compress with zstd (also chosen by a `.zst` file name).
    #[arg(long)]
    zstd: bool,
}

pub(super) fn exec(g: &Global, registry: &Registry, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let (run, stages, target) = match resolve_target(&store, &a.target)? {
        Target::Run(run) => {
            let stages: Vec<String> = run.order.iter().filter(|n| run.stages.contains_key(*n)).cloned().collect();
            let target = esteira_bundle::Target::Run { id: run.id.clone() };
            (run, stages, target)
        }
        Target::Object(p) => {
            let stages = closure(&p.run, &p.stage);
            let hash = p.run.stages[&p.stage].outputs[&p.output];
            let target = esteira_bundle::Target::Object { hash, stage: p.stage, output: p.output };
            (p.run, stages, target)
        }
    };
    // What a reproduction starts from: the outputs of stages that read an external source
    // (fetch: they are verified, never re-read), and every input that does not come from a stage
    // being reproduced (`file:` inputs).
    let mut inputs = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    for name in &stages {
        let s = &run.stages[name];
        let volatile = registry.build(&s.kind, s.params.clone()).is_ok_and(|st| st.volatile());
        if volatile {
            inputs.extend(s.outputs.values().copied());
        } else if a.with_outputs {
            outputs.extend(s.outputs.values().copied());
        }
        for (input, hash) in &s.inputs {
            let src = s.input_sources.get(input).map_or("", String::as_str);
            let from_stage =
                matches!(input_source(src), InputSource::Stage { stage, .. } if stages.iter().any(|n| n == stage));
            if !from_stage {
                inputs.insert(*hash);
            }
        }
    }
    let contents = Contents {
        esteira_version: run.esteira_version.clone(),
        build: run.build.clone(),
        run,
        target,
        stages,
        inputs,
        outputs,
    };
    let zstd = a.zstd || a.output.extension().is_some_and(|e| e == "zst");
    let compression = if zstd { Compression::Zstd } else { Compression::None };
    // Written beside the destination and renamed over it: a failed export leaves no partial
    // bundle under the name someone may publish.
    let tmp = a.output.with_file_name(format!(
        ".{}.tmp-{}",
        a.output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let io = |source| esteira_bundle::BundleError::Io { path: a.output.clone(), source };
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    let written = match esteira_bundle::write(&contents, store.as_ref(), &mut out, compression) {
        Ok(w) => w,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &a.output).map_err(io)?;
    super::outln!(
        "wrote {}: run {}, {} stage(s), {} input object(s){}, {} bytes\nblake3 {}",
        a.output.display(),
        contents.run.id,
        contents.stages.len(),
        contents.inputs.len(),
        if a.with_outputs { format!(", {} output object(s)", contents.outputs.len()) } else { String::new() },
        written.size,
        written.hash
    )?;
    Ok(exit::OK)
}
