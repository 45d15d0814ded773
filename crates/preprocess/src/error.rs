//! The one error type of esteira-preprocess.

use std::fmt::Write as _;

use esteira_core::{MAX_EXCERPT_CHARS, excerpt};

use crate::CastType;

/// How many offending values a cast error lists.
pub const MAX_EXAMPLES: usize = 20;

/// Everything that can go wrong in a preprocessing recipe. Step numbers count from 1 in the
/// declared order; row numbers count from 1 in the table given to [`crate::apply`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreprocessError {
    /// A step is malformed regardless of the table (an empty list, a duplicate column).
    #[error("step {step} ({kind}): {message}")]
    Spec {
        /// The step number.
        step: usize,
        /// The step kind.
        kind: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A step names columns the table (at that step) does not have.
    #[error("step {step} ({kind}): no column named {} (available: {})", ticks(missing), ticks(available))]
    MissingColumns {
        /// The step number.
        step: usize,
        /// The step kind.
        kind: &'static str,
        /// The missing columns, as named in the step.
        missing: Vec<String>,
        /// The columns the table has at that step.
        available: Vec<String>,
    },
    /// A column's type does not fit the step (a constant of another type, a map on numbers).
    #[error("step {step} ({kind}): column `{}` ({data_type}): {message}", excerpt(column, MAX_EXCERPT_CHARS))]
    ColumnType {
        /// The step number.
        step: usize,
        /// The step kind.
        kind: &'static str,
        /// The column.
        column: String,
        /// The column's Arrow type.
        data_type: String,
        /// What does not fit.
        message: String,
    },
    /// Values that do not convert under `on_error = "error"`.
    #[error("{}", cast_message(*step, column, *to, *count, examples))]
    Cast {
        /// The step number.
        step: usize,
        /// The column.
        column: String,
        /// The target type.
        to: CastType,
        /// How many values failed in the whole table.
        count: u64,
        /// Up to [`MAX_EXAMPLES`] (row number, value) pairs, in row order.
        examples: Vec<(u64, String)>,
    },
    /// Values a `map` table does not cover under `unmapped = "error"`.
    #[error("{}", unmapped_message(*step, column, values))]
    Unmapped {
        /// The step number.
        step: usize,
        /// The column.
        column: String,
        /// Each unmapped value (`None` = null) with its row count: most frequent first.
        values: Vec<(Option<String>, u64)>,
    },
    /// A batch given to [`crate::apply`] does not match the schema given with it.
    #[error("input batch {batch} does not match the table schema: {message}")]
    BatchSchema {
        /// The batch's position (from 0).
        batch: usize,
        /// What differs.
        message: String,
    },
    /// An Arrow kernel failed.
    #[error("step {step} ({kind}): arrow: {source}")]
    Arrow {
        /// The step number.
        step: usize,
        /// The step kind.
        kind: &'static str,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// The recipe cannot be written into the cache key (core's `Params`).
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
}

impl PreprocessError {
    /// The 1-based step the error is about, if any.
    pub fn step(&self) -> Option<usize> {
        match self {
            Self::Spec { step, .. }
            | Self::MissingColumns { step, .. }
            | Self::ColumnType { step, .. }
            | Self::Cast { step, .. }
            | Self::Unmapped { step, .. }
            | Self::Arrow { step, .. } => Some(*step),
            Self::BatchSchema { .. } | Self::Core(_) => None,
        }
    }
}

/// Column names in backticks, each cut to [`MAX_EXCERPT_CHARS`] and the whole list to four
/// times that (a header can be megabytes long).
fn ticks(names: &[String]) -> String {
    let list = names.iter().map(|n| format!("`{}`", excerpt(n, MAX_EXCERPT_CHARS))).collect::<Vec<_>>().join(", ");
    excerpt(&list, 4 * MAX_EXCERPT_CHARS).into_owned()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") }
}

fn cast_message(step: usize, column: &str, to: CastType, count: u64, examples: &[(u64, String)]) -> String {
    let verb = if count == 1 { "does" } else { "do" };
    let mut s = format!(
        "step {step} (cast): column `{}`: {} {verb} not parse as {to}: ",
        excerpt(column, MAX_EXCERPT_CHARS),
        plural(count, "value", "values")
    );
    let listed: Vec<String> =
        examples.iter().map(|(row, v)| format!("row {row} {:?}", excerpt(v, MAX_EXCERPT_CHARS))).collect();
    s.push_str(&listed.join(", "));
    let more = count.saturating_sub(examples.len() as u64);
    if more > 0 {
        let _ = write!(s, " and {more} more");
    }
    s.push_str(r#"; set on_error = "null" or "drop" to accept them"#);
    s
}

fn unmapped_message(step: usize, column: &str, values: &[(Option<String>, u64)]) -> String {
    let n = values.len() as u64;
    let verb = if n == 1 { "is" } else { "are" };
    let mut s = format!(
        "step {step} (map): column `{}`: {} {verb} not in the mapping: ",
        excerpt(column, MAX_EXCERPT_CHARS),
        plural(n, "value", "values")
    );
    let listed: Vec<String> = values
        .iter()
        .take(MAX_EXAMPLES)
        .map(|(v, c)| {
            let v = v.as_ref().map_or_else(|| "null".to_owned(), |v| format!("{:?}", excerpt(v, MAX_EXCERPT_CHARS)));
            format!("{v} ({})", plural(*c, "row", "rows"))
        })
        .collect();
    s.push_str(&listed.join(", "));
    if values.len() > MAX_EXAMPLES {
        let _ = write!(s, " and {} more", values.len() - MAX_EXAMPLES);
    }
    s.push_str(r#"; add them to `values` or set unmapped = "keep" or "drop""#);
    s
}
