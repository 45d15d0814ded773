//! An in-memory table: a schema and its record batches.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::DownloadError;

/// A table held in memory as Arrow record batches sharing one schema.
#[derive(Debug, Clone)]
pub struct Table {
    /// The schema every batch has.
    pub schema: SchemaRef,
    /// The rows, in order.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// A table from a schema and batches of that schema.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self { schema, batches }
    }

    /// Total rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema.fields().iter().map(|f| f.name().as_str()).collect()
    }

    /// All rows as one batch.
    pub fn concat(&self) -> Result<RecordBatch, DownloadError> {
        arrow::compute::concat_batches(&self.schema, &self.batches)
            .map_err(|e| DownloadError::arrow("concatenating batches", e))
    }

    /// The index of a column, or an error naming `table` and listing the columns it has.
    pub fn column_index(&self, table: &str, column: &str) -> Result<usize, DownloadError> {
        self.schema.index_of(column).map_err(|_| DownloadError::MissingColumn {
            table: table.to_owned(),
            column: column.to_owned(),
            available: self.column_names().join(", "),
        })
    }
}
