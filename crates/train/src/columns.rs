//! Reading raw Arrow columns as text or numbers, whatever their physical type.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use esteira_core::parse_number;

use crate::TrainError;

fn column_index(batch: &RecordBatch, name: &str) -> Result<usize, TrainError> {
    batch.schema().index_of(name).map_err(|_| TrainError::MissingColumn {
        column: name.to_owned(),
        available: batch.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// Checks that every batch has `name` (an empty batch list has nothing to check).
pub(crate) fn require(batches: &[RecordBatch], name: &str) -> Result<(), TrainError> {
    for b in batches {
        column_index(b, name)?;
    }
    Ok(())
}

/// Calls `f(row, value)` for every row; empty and blank strings are missing (`None`).
/// Booleans read as `"true"`/`"false"`, numbers as their decimal text.
pub(crate) fn for_each_text(
    batches: &[RecordBatch],
    name: &str,
    mut f: impl FnMut(usize, Option<&str>) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let mut row = 0usize;
    for batch in batches {
        let col = batch.column(column_index(batch, name)?);
        let owned;
        let strings = match col.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => col,
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Dictionary(_, _)
            | DataType::Null => {
                owned = arrow::compute::cast(col, &DataType::Utf8)
                    .map_err(|e| TrainError::Arrow { what: format!("reading column `{name}` as text"), source: e })?;
                &owned
            }
            other => {
                return Err(TrainError::ColumnType {
                    column: name.to_owned(),
                    data_type: other.to_string(),
                    expected: "text, boolean or a number (a categorical column)".into(),
                });
            }
        };
        let mut visit = |i: usize, v: Option<&str>| f(row + i, v.map(str::trim).filter(|s| !s.is_empty()));
        match strings.data_type() {
            DataType::Utf8 => {
                for (i, v) in strings.as_string::<i32>().iter().enumerate() {
                    visit(i, v)?;
                }
            }
            DataType::LargeUtf8 => {
                for (i, v) in strings.as_string::<i64>().iter().enumerate() {
                    visit(i, v)?;
                }
            }
            _ => {
                for (i, v) in strings.as_string_view().iter().enumerate() {
                    visit(i, v)?;
                }
            }
        }
        row += batch.num_rows();
    }
    Ok(())
}

/// All values of a column as numbers; nulls, blanks and NaN are missing. Text is read by
/// [`esteira_core::parse_number`], as preprocess and serve read it (the portal's `5.9`, a decimal
/// comma `1,5`; `1.500` is ambiguous); text that is not one number, and an infinite value, are
/// errors naming the row.
pub(crate) fn numbers(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>, TrainError> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut out = Vec::with_capacity(total);
    for batch in batches {
        let col = batch.column(column_index(batch, name)?);
        match col.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let start = out.len();
                for_each_text(std::slice::from_ref(batch), name, |i, v| {
                    out.push(match v {
                        None => None,
                        Some(s) => parse_number(s).map_err(|e| TrainError::BadValue {
                            column: name.to_owned(),
                            row: start + i + 1,
                            value: s.to_owned(),
                            message: e.to_string(),
                        })?,
                    });
                    Ok(())
                })?;
            }
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _)
            | DataType::Null => {
                let cast = arrow::compute::cast(col, &DataType::Float64).map_err(|e| TrainError::Arrow {
                    what: format!("reading column `{name}` as numbers"),
                    source: e,
                })?;
                let arr = cast.as_primitive::<Float64Type>();
                let start = out.len();
                for (i, v) in arr.iter().enumerate() {
                    // An infinity would poison every mean, scale and quantile edge: an error, as
                    // "inf" in a text column is.
                    if let Some(x) = v.filter(|x| x.is_infinite()) {
                        return Err(TrainError::BadValue {
                            column: name.to_owned(),
                            row: start + i + 1,
                            value: x.to_string(),
                            message: "not a finite number".into(),
                        });
                    }
                    out.push(v.filter(|x| !x.is_nan()));
                }
            }
            other => {
                return Err(TrainError::ColumnType {
                    column: name.to_owned(),
                    data_type: other.to_string(),
                    expected: "a number or numeric text (a numeric column)".into(),
                });
            }
        }
    }
    Ok(out)
}

/// Number of rows in all batches.
pub(crate) fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
