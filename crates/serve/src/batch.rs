//! Batch scoring of a CSV file: the input rows with probability and decision columns appended,
//! streamed in chunks so memory stays flat whatever the file size.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use esteira_train::{InputKind, Model, predict_detailed};

use crate::ServeError;
use crate::rows::{InputSchema, parse_number};

/// Rows scored per call into the model.
const CHUNK: usize = 4096;

/// Picks `;` or `,`: whichever occurs more often outside quotes in the header line.
fn detect_delimiter(header: &[u8]) -> u8 {
    let (mut semi, mut comma, mut quoted) = (0usize, 0usize, false);
    for &b in header {
        match b {
            b'"' => quoted = !quoted,
            b';' if !quoted => semi += 1,
            b',' if !quoted => comma += 1,
            _ => {}
        }
    }
    if semi > comma { b';' } else { b',' }
}

/// The names of the columns [`predict_csv`] appends, for a model.
pub fn output_columns(model: &Model) -> [String; 3] {
    [
        format!("probability_{}", model.positive_class()),
        format!("probability_{}", model.negative_class()),
        "decision".to_owned(),
    ]
}

/// Scores every row of a CSV file with `model` and writes the rows back with three columns
/// appended: `probability_<positive>`, `probability_<negative>` and `decision` (the positive
/// class when its probability reaches the model's threshold). Returns the number of rows.
///
/// The separator (`;` as in the UFRN portal's files, or `,`) is detected from the header line,
/// and the output uses the same one. The header must name every column the model needs (others
/// are carried through untouched). Blank values are imputed as in training; categories unseen in
/// training are encoded as the reference category (counted in a `tracing` warning). A value that
/// is not a number in a numeric column is an error naming its line and column.
pub fn predict_csv(model: &Model, input: impl Read, output: impl Write) -> Result<usize, ServeError> {
    predict_csv_named(model, input, output, "input")
}

pub(crate) fn predict_csv_named(
    model: &Model,
    input: impl Read,
    output: impl Write,
    source_name: &str,
) -> Result<usize, ServeError> {
    let mut input = BufReader::new(input);
    let mut first = Vec::new();
    input.read_until(b'\n', &mut first).map_err(|e| ServeError::io(source_name, e))?;
    let delimiter = detect_delimiter(&first);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(std::io::Cursor::new(first).chain(input));
    let csv_error = |e: &csv::Error| ServeError::Csv {
        source_name: source_name.to_owned(),
        line: e.position().map_or(0, csv::Position::line),
        message: e.to_string(),
    };
    let header = reader.headers().map_err(|e| csv_error(&e))?.clone();
    if header.is_empty() {
        return Err(ServeError::Csv {
            source_name: source_name.to_owned(),
            line: 1,
            message: "empty input: no header line".into(),
        });
    }
    let InputSchema { columns, schema } = InputSchema::new(model);
    let mut missing = Vec::new();
    let mut index = Vec::with_capacity(columns.len());
    for c in &columns {
        match header.iter().position(|h| h.trim() == c.name) {
            Some(i) => index.push(i),
            None => missing.push(c.name.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(ServeError::CsvColumns {
            source_name: source_name.to_owned(),
            missing: missing.join(", "),
            header: header.iter().collect::<Vec<_>>().join(&char::from(delimiter).to_string()),
        });
    }
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(output);
    let write_error = |e: csv::Error| ServeError::io("writing the scored CSV", std::io::Error::other(e));
    let extra = output_columns(model);
    writer.write_record(header.iter().chain(extra.iter().map(String::as_str))).map_err(write_error)?;

    let threshold = model.threshold();
    let mut rows = 0usize;
    let mut unseen: BTreeMap<String, u64> = BTreeMap::new();
    let mut chunk: Vec<csv::StringRecord> = Vec::with_capacity(CHUNK);
    let mut records = reader.records();
    loop {
        chunk.clear();
        for rec in records.by_ref().take(CHUNK) {
            chunk.push(rec.map_err(|e| csv_error(&e))?);
        }
        if chunk.is_empty() {
            break;
        }
        let line_of = |r: &csv::StringRecord| r.position().map_or(0, csv::Position::line);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        for (c, &i) in columns.iter().zip(&index) {
            fn cell(r: &csv::StringRecord, i: usize) -> Option<&str> {
                r.get(i).map(str::trim).filter(|s| !s.is_empty())
            }
            arrays.push(match c.kind {
                InputKind::Numeric { .. } => {
                    let mut v = Vec::with_capacity(chunk.len());
                    for r in &chunk {
                        v.push(match cell(r, i) {
                            None => None,
                            Some(s) => Some(parse_number(s).ok_or_else(|| ServeError::CsvValue {
                                source_name: source_name.to_owned(),
                                line: line_of(r),
                                column: c.name.clone(),
                                value: s.to_owned(),
                                message: "not a number".into(),
                            })?),
                        });
                    }
                    Arc::new(Float64Array::from(v)) as ArrayRef
                }
                InputKind::Categorical { .. } => {
                    Arc::new(chunk.iter().map(|r| cell(r, i)).collect::<StringArray>()) as ArrayRef
                }
            });
        }
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| esteira_train::TrainError::Arrow { what: "building the batch to score".into(), source: e })?;
        let prediction = predict_detailed(model, &[batch])?;
        for (k, n) in prediction.unseen {
            *unseen.entry(k).or_insert(0) += n;
        }
        for (r, p) in chunk.iter().zip(prediction.probabilities) {
            let decision = if p >= threshold { model.positive_class() } else { model.negative_class() };
            let (pos, neg) = (p.to_string(), (1.0 - p).to_string());
            writer.write_record(r.iter().chain([pos.as_str(), neg.as_str(), decision])).map_err(write_error)?;
        }
        rows += chunk.len();
    }
    writer.flush().map_err(|e| ServeError::io("writing the scored CSV", e))?;
    for (feature, n) in &unseen {
        tracing::warn!(feature = %feature, rows = n, "categories unseen in training were encoded as the reference category");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_detected_outside_quotes() {
        assert_eq!(detect_delimiter(b"a;b;c\n"), b';');
        assert_eq!(detect_delimiter(b"a,b,c\n"), b',');
        assert_eq!(detect_delimiter(b"\"x,y,z\";b\n"), b';');
        assert_eq!(detect_delimiter(b"single\n"), b',');
    }
}
