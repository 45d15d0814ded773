//! `esteira checks validate|profile`.

use std::path::PathBuf;

use super::Global;
use crate::{OrchestratorError, exit};

/// `esteira checks` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Validate a table (CSV or Parquet) against a Great Expectations suite. Exit 0 when the
    /// suite passes, 1 when an expectation fails, 2 on bad input.
    Validate {
        /// The table.
        table: PathBuf,
        /// The suite (GE legacy JSON).
        #[arg(long)]
        suite: PathBuf,
        /// Write the validation result (GE's JSON shape) here.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Write the self-contained HTML report here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Propose a tolerant suite from a table.
    Profile {
        /// The table.
        table: PathBuf,
        /// Where to write the suite.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
}

pub(super) fn exec(_g: &Global, cmd: &Cmd) -> Result<u8, OrchestratorError> {
    match cmd {
        Cmd::Validate { table, suite, output, html } => {
            let result = esteira_checks::cli::run_validate(table, suite, output.as_deref(), html.as_deref())?;
            super::out!("{}", esteira_checks::cli::summary(&result))?;
            if result.success {
                Ok(exit::OK)
            } else {
                Err(OrchestratorError::ChecksFailed {
                    failed: result.statistics.unsuccessful_expectations,
                    evaluated: result.statistics.evaluated_expectations,
                })
            }
        }
        Cmd::Profile { table, output } => {
            let suite = esteira_checks::cli::run_profile(table, output, &esteira_checks::ProfileOptions::default())?;
            super::outln!("{} expectations written to {}", suite.expectations.len(), output.display())?;
            Ok(exit::OK)
        }
    }
}
