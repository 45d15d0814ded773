//! The in-memory table is core's [`Table`]; here, what the merge adds to it: errors that name
//! the table and list the columns it has.

pub use esteira_core::table::Table;

use crate::DownloadError;

/// Column lookup with the merge's error.
pub(crate) trait ColumnIndex {
    /// The index of a column, or an error naming `table` and listing the columns it has.
    fn column_index(&self, table: &str, column: &str) -> Result<usize, DownloadError>;
}

impl ColumnIndex for Table {
    fn column_index(&self, table: &str, column: &str) -> Result<usize, DownloadError> {
        self.schema.index_of(column).map_err(|_| DownloadError::MissingColumn {
            table: table.to_owned(),
            column: column.to_owned(),
            available: self.column_names().join(", "),
        })
    }
}
