//! The one error type of esteira-segregate.

use esteira_core::{MAX_EXCERPT_CHARS, excerpt};

/// Everything that can go wrong in a split.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegregateError {
    /// `test_fraction` is not strictly between 0 and 1.
    #[error("test_fraction must be in (0, 1), got {value}")]
    Fraction {
        /// The value given.
        value: f64,
    },
    /// The table has no column named by a param.
    #[error("{param} column `{}` does not exist (available: {})", excerpt(column, MAX_EXCERPT_CHARS), ticks(available))]
    MissingColumn {
        /// The param (`target` or `group`).
        param: &'static str,
        /// The column named.
        column: String,
        /// The table's columns.
        available: Vec<String>,
    },
    /// Under stratification every class needs a row on each side.
    #[error(
        "stratifying on `{column}` needs at least 2 rows per class; too few: {}; drop or merge these classes, or set stratify = false",
        small_classes(classes)
    )]
    SmallClasses {
        /// The target column (`labels` for the slice functions).
        column: String,
        /// Each class with fewer than 2 rows, and its row count.
        classes: Vec<(String, usize)>,
    },
    /// Null targets cannot be stratified.
    #[error(
        "target column `{column}` has {count} null value{} (the first at row {first_row}); fill or filter them before splitting, or set stratify = false",
        if *count == 1 { "" } else { "s" }
    )]
    NullTarget {
        /// The target column.
        column: String,
        /// How many nulls.
        count: usize,
        /// The 1-based row of the first null.
        first_row: usize,
    },
    /// Too few rows (or groups) for a split with a row on each side.
    #[error("a split needs at least 2 {what}, got {count}")]
    TooFew {
        /// `rows` or `groups`.
        what: &'static str,
        /// How many there are.
        count: usize,
    },
    /// A k-fold request that cannot be met.
    #[error("k-fold with k = {k}: {message}")]
    Folds {
        /// The number of folds asked for.
        k: usize,
        /// Why it cannot be done.
        message: String,
    },
    /// Labels and group keys of different lengths.
    #[error("{labels} labels but {groups} group keys")]
    LengthMismatch {
        /// Number of labels.
        labels: usize,
        /// Number of group keys.
        groups: usize,
    },
    /// An Arrow kernel failed.
    #[error("{what}: arrow: {source}")]
    Arrow {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: arrow::error::ArrowError,
    },
    /// The params cannot be written into the cache key (core's `Params`).
    #[error(transparent)]
    Core(#[from] esteira_core::CoreError),
}

/// Column names in backticks, each cut to [`MAX_EXCERPT_CHARS`] and the list to four times
/// that (names come from the table's header).
fn ticks(names: &[String]) -> String {
    let list = names.iter().map(|n| format!("`{}`", excerpt(n, MAX_EXCERPT_CHARS))).collect::<Vec<_>>().join(", ");
    excerpt(&list, 4 * MAX_EXCERPT_CHARS).into_owned()
}

/// `"class" (n rows)` for each small class, each name and the list cut (class names are cells).
fn small_classes(classes: &[(String, usize)]) -> String {
    let list = classes
        .iter()
        .map(|(c, n)| format!("{:?} ({n} row{})", excerpt(c, MAX_EXCERPT_CHARS), if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ");
    excerpt(&list, 4 * MAX_EXCERPT_CHARS).into_owned()
}
