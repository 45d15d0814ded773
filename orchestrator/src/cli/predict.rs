//! `esteira predict`.

use std::path::PathBuf;

use super::{Global, open_store};
use crate::{OrchestratorError, exit};

/// Options of `esteira predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV to score (`;` or `,` separated, with the preprocessed table's raw columns);
    /// `-` reads standard input. The scored CSV goes to standard output. Every value is checked
    /// first: a number that does not parse or a category the model does not know is an error
    /// naming its line and column (exit 2), and nothing is written (from standard input, writing
    /// stops at the first invalid row).
    input: PathBuf,
    /// The model object (hash or unique prefix); default: the newest succeeded run's model.
    #[arg(long)]
    model: Option<String>,
    /// Use the model of this run (id, prefix or `latest`).
    #[arg(long, conflicts_with = "model")]
    run: Option<String>,
    /// Do not read the evaluate stage's calibrator: no `calibrated_probability_<class>` column
    /// (the way past a calibration file that cannot be used).
    #[arg(long)]
    no_calibration: bool,
}

pub(super) fn exec(g: &Global, a: &Args) -> Result<u8, OrchestratorError> {
    let store = open_store(g, None)?;
    let (rows, calibration) = esteira_serve::predict_from_store_with(
        store.root(),
        a.run.as_deref(),
        a.model.as_deref(),
        &a.input,
        std::io::stdout().lock(),
        !a.no_calibration,
    )?;
    tracing::info!(rows, "scored");
    // On stderr, so the scored CSV on stdout stays clean: which probability columns it has.
    match calibration.reason() {
        None => eprintln!(
            "calibrated_probability column: the model's probability through the Platt calibrator of its \
             evaluate stage (class weighting in training pulls the model's probabilities towards one half)"
        ),
        Some(reason) => eprintln!("no calibrated probability ({reason}); only the model's probability is written"),
    }
    Ok(exit::OK)
}
