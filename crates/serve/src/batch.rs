//! Batch scoring of a CSV file: the input rows with probability and decision columns appended,
//! streamed in chunks so memory stays flat whatever the file size.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use esteira_train::{InputKind, Model, predict_detailed};

use crate::ServeError;
use crate::calibration::Platt;
use crate::error::CsvCellError;
use crate::rows::{ErrorList, InputSchema, number_from_text, refused_value};

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
/// are carried through untouched). Blank values are imputed as in training. Values are checked
/// as the JSON API checks them: a number that does not parse, or a category the model did not see
/// in training, is an error naming its line and column ([`ServeError::CsvValues`]; every row is
/// checked, the first [`MAX_ERRORS`](crate::MAX_ERRORS) errors are listed). Rows are scored and
/// written in chunks of 4096, and nothing more is written once an invalid row is met; to write
/// nothing at all for an invalid file, check it first (as `esteira predict` does for files).
pub fn predict_csv(model: &Model, input: impl Read, output: impl Write) -> Result<usize, ServeError> {
    run(model, None, input, Some(output), "input", None)
}

/// The column [`predict_csv_named`] appends after `decision` when the model has a calibrator.
pub(crate) fn calibrated_column(model: &Model) -> String {
    format!("calibrated_probability_{}", model.positive_class())
}

/// Scores `input` into `output`, refusing more than `max_rows` rows when given; with a
/// calibrator, a fourth column ([`calibrated_column`]) holds the calibrated probability (the
/// other columns, the decision included, stay the model's: its threshold was chosen on them).
pub(crate) fn predict_csv_named(
    model: &Model,
    calibration: Option<&Platt>,
    input: impl Read,
    output: impl Write,
    source_name: &str,
    max_rows: Option<usize>,
) -> Result<usize, ServeError> {
    run(model, calibration, input, Some(output), source_name, max_rows)
}

/// Checks every row of `input` as [`predict_csv`] would, without scoring or writing anything.
pub(crate) fn check_csv_named(model: &Model, input: impl Read, source_name: &str) -> Result<usize, ServeError> {
    run(model, None, input, None::<std::io::Sink>, source_name, None)
}

/// The longest header line read to detect the separator.
const HEADER_SNIFF: u64 = 1024 * 1024;

/// One input column of a chunk, checked.
enum Column<'a> {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<&'a str>>),
}

fn run<W: Write>(
    model: &Model,
    calibration: Option<&Platt>,
    input: impl Read,
    output: Option<W>,
    source_name: &str,
    max_rows: Option<usize>,
) -> Result<usize, ServeError> {
    let mut input = BufReader::new(input);
    let mut first = Vec::new();
    input.by_ref().take(HEADER_SNIFF).read_until(b'\n', &mut first).map_err(|e| ServeError::io(source_name, e))?;
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
    let inputs = InputSchema::new(model);
    let mut missing = Vec::new();
    let mut index = Vec::with_capacity(inputs.columns.len());
    for c in &inputs.columns {
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
    let mut writer = output.map(|o| csv::WriterBuilder::new().delimiter(delimiter).from_writer(o));
    let write_error = |e: csv::Error| ServeError::io("writing the scored CSV", std::io::Error::other(e));
    // The header goes out with the first scored chunk (or at the end), so that input invalid
    // from its first chunk on leaves no output at all.
    let mut extra = output_columns(model).to_vec();
    if calibration.is_some() {
        extra.push(calibrated_column(model));
    }
    let mut header_out = false;
    let mut write_header = |w: &mut csv::Writer<W>| -> Result<(), ServeError> {
        if !std::mem::replace(&mut header_out, true) {
            w.write_record(header.iter().chain(extra.iter().map(String::as_str))).map_err(write_error)?;
        }
        Ok(())
    };

    let threshold = model.threshold();
    let (mut rows, mut written) = (0usize, 0usize);
    let mut errors: ErrorList<CsvCellError> = ErrorList::new();
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
        rows += chunk.len();
        if let Some(limit) = max_rows
            && rows > limit
        {
            return Err(ServeError::TooManyRows { source_name: source_name.to_owned(), limit });
        }
        let columns = check_chunk(&inputs, &index, &chunk, &mut errors);
        let Some(w) = writer.as_mut().filter(|_| errors.is_empty()) else { continue };
        write_header(w)?;
        let arrays: Vec<ArrayRef> = columns
            .into_iter()
            .map(|c| match c {
                Column::Numbers(v) => Arc::new(Float64Array::from(v)) as ArrayRef,
                Column::Texts(v) => Arc::new(StringArray::from(v)) as ArrayRef,
            })
            .collect();
        let batch = RecordBatch::try_new(inputs.schema.clone(), arrays)
            .map_err(|e| esteira_train::TrainError::Arrow { what: "building the batch to score".into(), source: e })?;
        let prediction = match predict_detailed(model, &[batch]) {
            Ok(p) => p,
            Err(e) => {
                let Some((row, column, value, message)) = refused_value(&e) else { return Err(e.into()) };
                errors.push_with(|| CsvCellError {
                    line: chunk.get(row).and_then(csv::StringRecord::position).map_or(0, csv::Position::line),
                    column: column.to_owned(),
                    value: value.to_owned(),
                    message: format!("{value:?}: {message}"),
                });
                continue;
            }
        };
        for (k, n) in prediction.unseen {
            *unseen.entry(k).or_insert(0) += n;
        }
        for (r, p) in chunk.iter().zip(prediction.probabilities) {
            let decision = if p >= threshold { model.positive_class() } else { model.negative_class() };
            let (pos, neg) = (p.to_string(), (1.0 - p).to_string());
            match calibration {
                Some(c) => {
                    let cal = c.apply(p).to_string();
                    w.write_record(r.iter().chain([pos.as_str(), neg.as_str(), decision, cal.as_str()]))
                }
                None => w.write_record(r.iter().chain([pos.as_str(), neg.as_str(), decision])),
            }
            .map_err(write_error)?;
        }
        written += chunk.len();
    }
    if !errors.is_empty() {
        if let Some(w) = writer.as_mut() {
            w.flush().map_err(|e| ServeError::io("writing the scored CSV", e))?;
        }
        return Err(ServeError::CsvValues {
            source_name: source_name.to_owned(),
            errors: errors.listed,
            total: errors.total,
            written,
        });
    }
    if let Some(w) = writer.as_mut() {
        write_header(w)?;
        w.flush().map_err(|e| ServeError::io("writing the scored CSV", e))?;
    }
    for (feature, n) in &unseen {
        // Every category is checked above, so this is a bug, not the user's input.
        tracing::error!(feature = %feature, rows = n, "categories unseen in training reached the model");
    }
    Ok(rows)
}

/// Checks the model's columns of a chunk row by row, as the JSON API does; invalid values are
/// counted in `errors` and left blank.
fn check_chunk<'a>(
    inputs: &InputSchema,
    index: &[usize],
    chunk: &'a [csv::StringRecord],
    errors: &mut ErrorList<CsvCellError>,
) -> Vec<Column<'a>> {
    let mut columns: Vec<Column<'a>> = inputs
        .columns
        .iter()
        .map(|c| match c.kind {
            InputKind::Numeric { .. } => Column::Numbers(Vec::with_capacity(chunk.len())),
            InputKind::Categorical { .. } => Column::Texts(Vec::with_capacity(chunk.len())),
        })
        .collect();
    for r in chunk {
        let line = r.position().map_or(0, csv::Position::line);
        for (j, (column, &i)) in columns.iter_mut().zip(index).enumerate() {
            let cell = r.get(i).map(str::trim).filter(|s| !s.is_empty());
            let checked = match (column, cell) {
                (Column::Numbers(v), None) => {
                    v.push(None);
                    Ok(())
                }
                (Column::Texts(v), None) => {
                    v.push(None);
                    Ok(())
                }
                (Column::Numbers(v), Some(s)) => match number_from_text(s) {
                    Ok(x) => {
                        v.push(x);
                        Ok(())
                    }
                    Err((message, _)) => {
                        v.push(None);
                        Err((s, message))
                    }
                },
                (Column::Texts(v), Some(s)) => match inputs.category(j, s) {
                    Ok(()) => {
                        v.push(Some(s));
                        Ok(())
                    }
                    Err((message, _)) => {
                        v.push(None);
                        Err((s, message))
                    }
                },
            };
            if let Err((value, message)) = checked {
                errors.push_with(|| CsvCellError {
                    line,
                    column: inputs.columns[j].name.clone(),
                    value: value.to_owned(),
                    message,
                });
            }
        }
    }
    columns
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
