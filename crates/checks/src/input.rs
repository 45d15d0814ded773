//! Reading the table to validate: Parquet, or CSV typed as pandas' `read_csv` would type it.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use esteira_core::table::Table;

use crate::CheckError;

/// Parquet files start (and end) with these four bytes.
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// Rows per batch when reading CSV.
const CSV_BATCH_ROWS: usize = 8192;

/// The strings pandas' `read_csv` reads as missing by default.
pub const PANDAS_NA_VALUES: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Whether bytes are a Parquet file (by content, not by name).
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes.starts_with(PARQUET_MAGIC) && bytes.ends_with(PARQUET_MAGIC)
}

/// Reads a table file: Parquet as stored, anything else as CSV typed like pandas (see
/// [`read_csv`]).
pub fn read_table_file(path: &Path) -> Result<Table, CheckError> {
    let bytes = std::fs::read(path).map_err(|e| CheckError::io(path, e))?;
    if is_parquet(&bytes) {
        drop(bytes);
        return Ok(esteira_core::table::read_parquet(path)?);
    }
    read_csv(&bytes, &path.display().to_string())
}

/// Reads the columns of a Parquet file that `wanted` picks from its schema (by position), with
/// the file's schema and row count: what checking a suite needs, without decoding the columns it
/// does not name. Text columns are read as dictionaries (each distinct value of a row group
/// decoded once; [`crate::column::Column`] reads them as the text they are, and the schema keeps
/// the file's types), and columns are decoded on several threads.
pub(crate) fn read_parquet_columns(
    path: &Path,
    wanted: impl FnOnce(&SchemaRef) -> Vec<usize>,
) -> Result<crate::validate::TableData, CheckError> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

    let parquet_err =
        |source| CheckError::Core(esteira_core::CoreError::Parquet { what: path.display().to_string(), source });
    let file = std::fs::File::open(path).map_err(|e| CheckError::io(path, e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(parquet_err)?;
    let schema = Arc::clone(meta.schema());
    let rows = usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0);
    let wanted = wanted(&schema);
    let dictionaries: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f
                .as_ref()
                .clone()
                .with_data_type(DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))),
            _ => f.as_ref().clone(),
        })
        .collect();
    let dictionaries = Arc::new(Schema::new_with_metadata(dictionaries, schema.metadata().clone()));
    // Should the file's types not allow it, the columns are read as they are.
    let read_meta =
        ArrowReaderMetadata::try_new(Arc::clone(meta.metadata()), ArrowReaderOptions::new().with_schema(dictionaries))
            .unwrap_or(meta);
    let read = |i: usize| -> Result<Vec<ArrayRef>, CheckError> {
        let file = std::fs::File::open(path).map_err(|e| CheckError::io(path, e))?;
        let mask = ProjectionMask::roots(read_meta.parquet_schema(), [i]);
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, read_meta.clone())
            .with_projection(mask)
            .with_batch_size(esteira_core::table::BATCH_ROWS)
            .build()
            .map_err(parquet_err)?;
        reader
            .map(|b| {
                b.map(|b| Arc::clone(b.column(0))).map_err(|source| CheckError::Arrow {
                    what: format!("reading column {:?} of {}", schema.field(i).name(), path.display()),
                    source,
                })
            })
            .collect()
    };
    let mut columns: Vec<Option<Vec<ArrayRef>>> = vec![None; schema.fields().len()];
    for (i, arrays) in crate::validate::parallel_map(&wanted, rows, read) {
        columns[i] = Some(arrays?);
    }
    Ok(crate::validate::TableData { schema, rows, columns })
}

/// Reads CSV bytes as pandas' `read_csv` with default options would: the delimiter is
/// detected from the header line (`,`, `;`, tab or `|`), duplicate header names get `.1`,
/// `.2` suffixes, pandas' default NA strings become nulls, and each column is typed by
/// [`infer_types`]. `source_name` names the table in errors.
pub fn read_csv(bytes: &[u8], source_name: &str) -> Result<Table, CheckError> {
    // The reader's messages may quote a record: cut, like every value echoed in an error.
    let csv_err = |message: String| CheckError::Csv {
        source_name: source_name.to_owned(),
        message: esteira_core::excerpt(&message, 4 * esteira_core::MAX_EXCERPT_CHARS).into_owned(),
    };
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at - bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        return Err(csv_err(format!("line {line}, byte column {column}: invalid UTF-8 (transcode the file to UTF-8)")));
    }
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    let header = String::from_utf8_lossy(&bytes[..header_end]);
    let header = header.trim_end_matches('\r');
    if header.trim().is_empty() {
        return Err(csv_err("line 1: no header row".into()));
    }
    let delimiter = sniff_delimiter(header);
    let names = header_names(header, delimiter);
    let fields: Vec<Field> = names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect();
    let schema = Arc::new(Schema::new(fields));
    // The csv crate's reader (serve's too): records as byte strings, already checked as UTF-8
    // above, each column built as text (empty fields null) and typed afterwards.
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).from_reader(bytes);
    let mut builders: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let mut batches = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    let mut flush = |builders: &mut Vec<StringBuilder>| -> Result<(), CheckError> {
        let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| csv_err(e.to_string()))?;
        batches.push(batch);
        Ok(())
    };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let what = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
                        "{len} fields where the header has {expected_len} (an unterminated quote also shows up as a wrong field count)"
                    ),
                    _ => e.to_string(),
                };
                return Err(csv_err(format!("line {line}: {what}")));
            }
        }
        for (b, field) in builders.iter_mut().zip(record.iter()) {
            if field.is_empty() {
                b.append_null();
            } else {
                // Valid: the whole input was checked as UTF-8, and the reader splits at ASCII.
                b.append_value(String::from_utf8_lossy(field));
            }
        }
        rows += 1;
        if rows.is_multiple_of(CSV_BATCH_ROWS) {
            flush(&mut builders)?;
        }
    }
    if !rows.is_multiple_of(CSV_BATCH_ROWS) {
        flush(&mut builders)?;
    }
    infer_types(&schema, &batches)
}

fn sniff_delimiter(header: &str) -> u8 {
    let mut best = (0usize, b',');
    for d in [b',', b';', b'\t', b'|'] {
        let mut in_quotes = false;
        let mut n = 0;
        for b in header.bytes() {
            if b == b'"' {
                in_quotes = !in_quotes;
            } else if b == d && !in_quotes {
                n += 1;
            }
        }
        if n > best.0 {
            best = (n, d);
        }
    }
    best.1
}

/// Header names as pandas makes them: unquoted, blanks named `Unnamed: i`, repeats suffixed.
fn header_names(header: &str, delimiter: u8) -> Vec<String> {
    let mut raw = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = header.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if in_quotes && chars.peek() == Some(&'"') {
                cur.push('"');
                chars.next();
            } else {
                in_quotes = !in_quotes;
            }
        } else if c == char::from(delimiter) && !in_quotes {
            raw.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    raw.push(cur);
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, name) in raw.into_iter().enumerate() {
        let base = if name.is_empty() { format!("Unnamed: {i}") } else { name };
        let mut candidate = base.clone();
        let mut k = 1;
        while out.contains(&candidate) {
            candidate = format!("{base}.{k}");
            k += 1;
        }
        out.push(candidate);
    }
    out
}

/// The type pandas would give one column of strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inferred {
    Int,
    Float,
    Bool,
    Str,
}

fn is_na(s: &str) -> bool {
    PANDAS_NA_VALUES.contains(&s)
}

fn clean(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !is_na(s))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "True" | "TRUE" | "true" => Some(true),
        "False" | "FALSE" | "false" => Some(false),
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn parse_float(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// Types an all-string table as pandas' `read_csv` does: pandas' NA strings are missing; a
/// column of integers is `int64` (`float64` if any value is missing, as in pandas); of numbers
/// `float64`; of `True`/`False` (any case pandas accepts) `bool`; anything else stays text
/// (pandas' `object`). An all-missing column is `float64`. Non-string columns pass unchanged.
///
/// Unlike pandas, a boolean column with missing values stays `bool` (with nulls) instead of
/// becoming `object`.
pub fn infer_types(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Table, CheckError> {
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(batches.len()); batches.len()];
    for (ci, field) in schema.fields().iter().enumerate() {
        if field.data_type() != &DataType::Utf8 {
            fields.push(field.as_ref().clone());
            for (bi, b) in batches.iter().enumerate() {
                columns[bi].push(Arc::clone(b.column(ci)));
            }
            continue;
        }
        let arrays: Vec<&StringArray> = batches.iter().map(|b| b.column(ci).as_string::<i32>()).collect();
        let (mut int_ok, mut float_ok, mut bool_ok, mut any_na, mut any_value) = (true, true, true, false, false);
        for v in arrays.iter().flat_map(|a| a.iter()) {
            match v {
                None => any_na = true,
                Some(s) if is_na(s) => any_na = true,
                Some(s) => {
                    any_value = true;
                    if int_ok && parse_int(s).is_none() {
                        int_ok = false;
                    }
                    if !int_ok && float_ok && parse_float(s).is_none() {
                        float_ok = false;
                    }
                    if bool_ok && parse_bool(s).is_none() {
                        bool_ok = false;
                    }
                    if !int_ok && !float_ok && !bool_ok {
                        break;
                    }
                }
            }
        }
        let kind = match (any_value, int_ok, float_ok, bool_ok) {
            (false, ..) => Inferred::Float,
            (true, true, _, _) if !any_na => Inferred::Int,
            (true, true, _, _) | (true, false, true, _) => Inferred::Float,
            (true, false, false, true) => Inferred::Bool,
            _ => Inferred::Str,
        };
        let data_type = match kind {
            Inferred::Int => DataType::Int64,
            Inferred::Float => DataType::Float64,
            Inferred::Bool => DataType::Boolean,
            Inferred::Str => DataType::Utf8,
        };
        fields.push(Field::new(field.name(), data_type, true));
        for (bi, a) in arrays.iter().enumerate() {
            let array: ArrayRef = match kind {
                Inferred::Int => Arc::new(a.iter().map(|v| clean(v).and_then(parse_int)).collect::<Int64Array>()),
                Inferred::Float => Arc::new(a.iter().map(|v| clean(v).and_then(parse_float)).collect::<Float64Array>()),
                Inferred::Bool => Arc::new(a.iter().map(|v| clean(v).and_then(parse_bool)).collect::<BooleanArray>()),
                Inferred::Str => {
                    if a.iter().any(|v| v.is_some_and(is_na)) {
                        Arc::new(a.iter().map(clean).collect::<StringArray>())
                    } else {
                        Arc::new((*a).clone())
                    }
                }
            };
            columns[bi].push(array);
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batches = columns
        .into_iter()
        .map(|cols| {
            RecordBatch::try_new(Arc::clone(&schema), cols)
                .map_err(|e| CheckError::Arrow { what: "typing CSV columns".into(), source: e })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Table::new(schema, batches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn types_like_pandas_read_csv() {
        // Checked with pandas 3.1: pd.read_csv(io.StringIO(text)).dtypes ->
        // i int64, f float64, b bool, s object (str), n float64 (int with a blank), e float64 (all NA),
        // m object (mixed).
        let text = "i;f;b;s;n;e;m;i\n1;1.5;True;x;1;;1;7\n-2;2;false;NA;;NA;a;8\n+3;1e3;TRUE;z;3;;2.5;9\n";
        let (schema, batches) = read_csv(text.as_bytes(), "t.csv").unwrap().into_parts();
        let types: Vec<String> = schema.fields().iter().map(|f| crate::type_name(f.data_type())).collect();
        assert_eq!(types, ["int64", "float64", "bool", "object", "float64", "float64", "object", "int64"]);
        assert_eq!(schema.field(7).name(), "i.1");
        let b = &batches[0];
        assert_eq!(b.column(0).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), vec![1, -2, 3]);
        assert_eq!(b.column(1).as_primitive::<arrow::datatypes::Float64Type>().value(2), 1000.0);
        assert!(b.column(3).is_null(1), "NA is missing");
        assert!(b.column(4).is_null(1));
    }

    #[test]
    fn parquet_columns_are_read_only_when_wanted_and_text_as_dictionaries() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
            Field::new("t", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("a"), None, Some("a")])),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec!["x", "y", "z"])),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        let path = dir.path().join("t.parquet");
        esteira_core::table::write_parquet(std::fs::File::create(&path).unwrap(), &schema, &[batch]).unwrap();
        let data = read_parquet_columns(&path, |s| {
            assert_eq!(s.as_ref(), schema.as_ref(), "the file's own schema");
            vec![0, 1]
        })
        .unwrap();
        assert_eq!(data.rows, 3);
        assert_eq!(data.schema.field(0).data_type(), &DataType::Utf8);
        let s = &data.columns[0].as_ref().unwrap()[0];
        assert!(matches!(s.data_type(), DataType::Dictionary(..)), "{}", s.data_type());
        assert_eq!(s.logical_null_count(), 1);
        assert_eq!(data.columns[1].as_ref().unwrap()[0].data_type(), &DataType::Int64);
        assert!(data.columns[2].is_none(), "not wanted, not read");
    }

    #[test]
    fn parquet_is_detected_by_content() {
        assert!(is_parquet(b"PAR1....PAR1"));
        assert!(!is_parquet(b"a,b\n1,2\n"));
    }

    #[test]
    fn bad_csv_names_the_file_and_line() {
        let err = read_csv(b"a,b\n1,2\n\xff,3\n", "bad.csv").unwrap_err().to_string();
        assert!(err.contains("bad.csv") && err.contains("line 3") && err.contains("UTF-8"), "{err}");
        let err = read_csv(b"a,b\n1,2\n1,2,3\n", "ragged.csv").unwrap_err().to_string();
        assert!(err.contains("ragged.csv") && err.contains("line 3: 3 fields where the header has 2"), "{err}");
        let err = read_csv(b"a,b\n1,2\n\"open,3\n4,5\n", "quote.csv").unwrap_err().to_string();
        assert!(err.contains("quote.csv") && err.contains("fields where the header has 2"), "{err}");
    }
}
