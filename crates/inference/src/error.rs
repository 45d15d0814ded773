//! The crate's one error type.

use arrow::error::ArrowError;
use esteira_train::TrainError;

/// Everything that can go wrong. Numerical trouble with the data (separation, collinearity,
/// non-convergence) is not an error: it is a [`FitWarning`](crate::FitWarning) in the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    /// The design, outcome and clusters do not fit together (lengths, names).
    #[error("design: {0}")]
    Shape(String),
    /// A design value is NaN or infinite.
    #[error("design column `{column}`, row {row}: {value} is not a finite number")]
    NonFinite {
        /// The design column's name.
        column: String,
        /// 1-based row.
        row: usize,
        /// The value.
        value: f64,
    },
    /// The outcome holds one class only: there is nothing to estimate.
    #[error("the outcome is {} in every row: a logistic regression needs both classes", if *.positive { "positive" } else { "negative" })]
    SingleClass {
        /// Which class it is.
        positive: bool,
    },
    /// Fewer rows than parameters.
    #[error("{rows} rows cannot identify {parameters} parameters")]
    TooFewRows {
        /// Rows given.
        rows: usize,
        /// Parameters (columns, with the intercept).
        parameters: usize,
    },
    /// A [`LogitOptions`](crate::LogitOptions) field is out of range.
    #[error("option `{name}`: {message}")]
    InvalidOption {
        /// The field.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A p-value given to an adjustment is not a number in [0, 1].
    #[error("p-value {index}: {value} is not in [0, 1]")]
    InvalidPValue {
        /// 0-based position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A raw table column the model's features need is missing.
    #[error("column `{column}` is missing (available: {available})")]
    MissingColumn {
        /// The column.
        column: String,
        /// The table's columns.
        available: String,
    },
    /// A raw table column has a type the feature cannot read.
    #[error("column `{column}` has type {data_type}; expected {expected}")]
    ColumnType {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
        /// What the feature reads.
        expected: String,
    },
    /// A raw value cannot be used (not a number, a missing outcome or group key, an unknown class).
    #[error("column `{column}`, row {row}: value {value:?}: {message}")]
    BadValue {
        /// The column.
        column: String,
        /// 1-based row.
        row: usize,
        /// The value (cut with `esteira_core::excerpt`).
        value: String,
        /// Why.
        message: String,
    },
    /// The model artifact's feature pipeline is not one this crate can rebuild, or the design
    /// rebuilt from it disagrees with the model's own predictions.
    #[error("model: {0}")]
    Model(String),
    /// An Arrow kernel failed.
    #[error("{what}: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// Arrow's error.
        #[source]
        source: ArrowError,
    },
    /// The model's own scoring failed.
    #[error(transparent)]
    Train(#[from] TrainError),
}
