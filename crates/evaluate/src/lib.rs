//! esteira-evaluate: scikit-learn-exact metrics, charts and an HTML report.

#![forbid(unsafe_code)]

mod bootstrap;
mod error;
pub mod metrics;

pub use bootstrap::{BootstrapIntervals, Interval, bootstrap_intervals};
pub use error::EvaluateError;
pub mod charts;
mod evaluation;
mod importance;

pub use evaluation::{Baseline, MetricSet, PriorSource, ScoreEvaluation, evaluate_scores, majority_baseline, metric_set};
pub use importance::{ColumnImportance, permutation_importance};
mod report;

pub use report::{Charts, Evaluation, METRICS_FORMAT, OddsRatio, escape_html, render_html, verdict};
