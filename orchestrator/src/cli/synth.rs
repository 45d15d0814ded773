//! `esteira synth`.

use std::path::PathBuf;

use super::Global;
use crate::{OrchestratorError, exit};

/// Options of `esteira synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Size factor: 1 is about the real data's size, 100 a hundred times more.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seed.
    #[arg(long, default_value_t = 2020)]
    seed: u64,
    /// Output directory (the four portal tables are written there).
    #[arg(long, short = 'o')]
    out: PathBuf,
}

pub(super) fn exec(_g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let config = esteira_synth::SynthConfig { scale: a.scale, seed: a.seed };
    let started = std::time::Instant::now();
    let summary = esteira_synth::generate(&config, &a.out)?;
    for (name, bytes) in esteira_synth::TABLE_FILES.iter().zip(summary.table_bytes) {
        super::outln!("{:<48} {:>12} bytes", a.out.join(name).display(), bytes)?;
    }
    super::outln!(
        "{} students ({} with a socio-economic record), {} enrolments, in {:.2}s",
        summary.discentes_rows,
        summary.students_with_socio,
        summary.enrolments,
        started.elapsed().as_secs_f64()
    )?;
    Ok(exit::OK)
}
