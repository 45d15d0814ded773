//! The one error type of esteira-evaluate.

/// Everything that can go wrong while evaluating a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluateError {
    /// Two inputs of a metric do not have the same number of rows.
    #[error("{metric}: y_true has {expected} rows but {what} has {found}")]
    LengthMismatch {
        /// The metric or function called.
        metric: &'static str,
        /// Which argument differs (`y_pred`, `scores`).
        what: &'static str,
        /// The number of labels.
        expected: usize,
        /// The other argument's length.
        found: usize,
    },
    /// A metric was asked of zero rows.
    #[error("{metric}: no rows to evaluate")]
    Empty {
        /// The metric.
        metric: &'static str,
    },
    /// The metric has no value on these labels (e.g. ROC AUC with only one class present).
    #[error("{metric} is undefined: {reason}")]
    Undefined {
        /// The metric.
        metric: &'static str,
        /// Why.
        reason: String,
    },
    /// A score is NaN, infinite, or (for probability metrics) outside [0, 1].
    #[error("{metric}: score at row {row} is {value}, expected {expected}")]
    InvalidScore {
        /// The metric.
        metric: &'static str,
        /// The 0-based row.
        row: usize,
        /// The offending score.
        value: f64,
        /// What was expected (`a finite number`, `a probability in [0, 1]`).
        expected: &'static str,
    },
    /// The test table does not fit the model (missing target column, unknown class, null label).
    #[error("test table: column `{column}`{}: {message}", row.map(|r| format!(", row {r}")).unwrap_or_default())]
    Table {
        /// The column.
        column: String,
        /// The 0-based row, when one row is at fault.
        row: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A parameter is out of range.
    #[error("evaluate: param `{key}`: {message}")]
    Param {
        /// The param.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Loading the model or predicting with it failed.
    #[error("model: {0}")]
    Model(#[from] esteira_train::TrainError),
    /// The inference model (effects with intervals) or Platt scaling could not be fitted.
    #[error("inference model: {0}")]
    Inference(#[from] esteira_inference::InferenceError),
    /// Drawing a chart failed.
    #[error("chart `{chart}`: {message}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// The drawing backend's message.
        message: String,
    },
    /// An Arrow kernel failed.
    #[error("{what}: arrow: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// Reading inputs or writing outputs failed.
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
}

impl EvaluateError {
    pub(crate) fn arrow(what: impl Into<String>, source: arrow::error::ArrowError) -> Self {
        Self::Arrow { what: what.into(), source }
    }
}

/// `Ok` when `value` is at most `max`, else a param error naming `key`.
pub(crate) fn at_most(key: &'static str, value: usize, max: usize) -> Result<(), EvaluateError> {
    if value > max {
        return Err(EvaluateError::Param { key, message: format!("{value} is more than the limit of {max}") });
    }
    Ok(())
}
