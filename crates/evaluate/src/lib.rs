//! esteira-evaluate: scikit-learn-exact metrics, charts and an HTML report.

#![forbid(unsafe_code)]

mod bootstrap;
mod error;
pub mod metrics;

pub use bootstrap::{BootstrapIntervals, Interval, bootstrap_intervals};
pub use error::EvaluateError;
pub mod charts;
