//! A join's right side made ready for the probe before the probe needs it: selected columns
//! each one array, the keys encoded ([`prepare_right`]) and indexed ([`index_keys`]). None of
//! it needs the left table, which is what lets a merge do it for every join up front.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;

use crate::keys::{EncodedKeys, KeyEncoder, KeyGroups, concat_columns};
use crate::table::ColumnIndex;
use crate::{DownloadError, Table};

/// A join's right table made ready for the probe: each column one array (its keys encoded
/// beside it, [`prepare_right`]). It needs nothing of the left table, so a merge prepares
/// every join's right side, and indexes it ([`index_keys`]), while earlier joins run.
pub(crate) struct RightSide {
    pub(super) schema: SchemaRef,
    /// The key columns' positions.
    pub(super) keys: Vec<usize>,
    pub(super) columns: Vec<ArrayRef>,
    /// The key columns.
    pub(super) key_arrays: Vec<ArrayRef>,
    /// The table's rows.
    pub(super) rows: usize,
}

/// Every distinct non-null key of a right side's `encoded` keys: its rows chained in
/// right-table order, and the rows it has on each side, all in the map's bucket (one cache
/// miss a probe). `None` when the table has more rows than a join supports (the probe says
/// so).
pub(crate) fn index_keys(encoded: &EncodedKeys) -> Option<KeyGroups<'_>> {
    let rows = encoded.len();
    u32::try_from(rows).is_ok().then(|| KeyGroups::build(encoded, rows))
}

/// The right side of a join on `on` and its encoded keys; `name` labels the table in errors.
pub(crate) fn prepare_right(
    right: Table,
    name: &str,
    on: &[String],
) -> Result<(RightSide, EncodedKeys), DownloadError> {
    let keys: Vec<usize> = on.iter().map(|k| right.column_index(name, k)).collect::<Result<_, _>>()?;
    let (schema, rows) = (Arc::clone(&right.schema), right.num_rows());
    let arrow_err = |e| DownloadError::arrow(format!("reading `{name}` for a join"), e);
    let columns = concat_columns(right).map_err(arrow_err)?;
    let key_arrays: Vec<ArrayRef> = keys.iter().map(|&i| Arc::clone(&columns[i])).collect();
    let encoder = KeyEncoder::new(&keys.iter().map(|&i| schema.field(i).data_type().clone()).collect::<Vec<_>>())
        .map_err(arrow_err)?;
    let encoded = encoder.encode(&key_arrays).map_err(arrow_err)?;
    Ok((RightSide { schema, keys, columns, key_arrays, rows }, encoded))
}
