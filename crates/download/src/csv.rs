//! The UFRN portal's CSV dialect into Arrow.
//!
//! The portal writes `;`-separated files with every field quoted, a header row, UTF-8 (sometimes
//! with a BOM) and CRLF or LF line ends; some older exports are Windows-1252. Every column is read
//! as `Utf8` (typing is the preprocess stage's job) and an empty field — quoted or not — is null.
//!
//! The reader streams: it holds one read buffer and the Arrow columns being built, never the whole
//! file. The encoding is decided per file: as long as every batch is valid UTF-8 the bytes are used
//! as they are; at the first batch that is not, the whole file (earlier batches included, which
//! still hold the same bytes) is decoded as Windows-1252, so a file never mixes two decodings.
//!
//! Errors name the source, the physical line (counting newlines inside quoted fields, unlike
//! arrow-csv's record count) and, for ragged rows, both field counts.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanBufferBuilder, RecordBatch, StringArray, StringBuilder};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema};
use encoding_rs::WINDOWS_1252;
use esteira_core::{MAX_EXCERPT_CHARS, excerpt};

use crate::{DownloadError, Table};

/// How to read a portal CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field separator (the portal uses `;`).
    pub delimiter: u8,
    /// Rows per Arrow batch.
    pub batch_rows: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self { delimiter: b';', batch_rows: 65_536 }
    }
}

/// The text encoding a file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// Valid UTF-8 throughout.
    Utf8,
    /// Not valid UTF-8, decoded as Windows-1252 (a superset of the printable Latin-1).
    Windows1252,
}

impl TextEncoding {
    /// The encoding's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Windows1252 => "windows-1252",
        }
    }
}

/// A parsed CSV file.
#[derive(Debug, Clone)]
pub struct CsvTable {
    /// The rows, every column `Utf8` and nullable.
    pub table: Table,
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// Bytes read.
    pub bytes: u64,
}

/// Reads a portal CSV file (see the module docs for the dialect).
pub fn read_csv_file(path: &Path, options: &CsvOptions) -> Result<CsvTable, DownloadError> {
    let file = std::fs::File::open(path).map_err(|e| DownloadError::io(path.display(), e))?;
    read_csv(file, &path.display().to_string(), options)
}

/// Reads a portal CSV from any reader; `source` names it in errors (a path, URL or input name).
pub fn read_csv<R: Read>(mut reader: R, source: &str, options: &CsvOptions) -> Result<CsvTable, DownloadError> {
    let mut builder = TableBuilder::new(source, options);
    let mut scanner = RecordScanner { delimiter: options.delimiter, fields: Vec::new(), scratch: Vec::new() };
    let mut buf = vec![0u8; READ_CHUNK];
    let mut filled = 0usize;
    let mut start = 0usize;
    let mut eof = false;
    let mut sniffed = false;
    // Physical line number of `buf[0]`; advanced when consumed bytes are shifted out.
    let mut line_of_buf_start = 1u64;
    let mut bytes = 0u64;

    loop {
        if !eof {
            if start > 0 {
                line_of_buf_start += count_newlines(&buf[..start]);
                buf.copy_within(start..filled, 0);
                filled -= start;
                start = 0;
            }
            if filled == buf.len() {
                // One record longer than the buffer: grow rather than fail.
                buf.resize(buf.len() * 2, 0);
            }
            let n = read_some(&mut reader, &mut buf[filled..]).map_err(|e| DownloadError::io(source, e))?;
            if n == 0 {
                eof = true;
            }
            filled += n;
            bytes += n as u64;
        }
        if !sniffed {
            if !eof && filled < SNIFF_BYTES {
                continue;
            }
            start = sniff(source, &buf[..filled], eof)?;
            sniffed = true;
        }
        let data = &buf[..filled];
        let line_at = |pos: usize| line_of_buf_start + count_newlines(&data[..pos]);
        while start < filled {
            // Blank lines carry no record.
            if data[start] == b'\n' {
                start += 1;
                continue;
            }
            if data[start] == b'\r' {
                if start + 1 < filled {
                    if data[start + 1] == b'\n' {
                        start += 2;
                        continue;
                    }
                } else if eof {
                    start += 1;
                    continue;
                } else {
                    break;
                }
            }
            match scanner.scan(data, start, eof) {
                Ok(Scan::Record(next)) => {
                    builder.push_record(&scanner, data, || line_at(start))?;
                    start = next;
                }
                Ok(Scan::Incomplete) => break,
                Err(ScanError { pos, message }) => {
                    return Err(DownloadError::Csv { source_name: source.to_owned(), line: line_at(pos), message });
                }
            }
        }
        if eof {
            break;
        }
    }
    let (table, encoding) = builder.finish()?;
    Ok(CsvTable { table, encoding, bytes })
}

const READ_CHUNK: usize = 1 << 20;
const SNIFF_BYTES: usize = 256;
/// A batch is cut early when its text reaches this size, far below `i32` offsets' limit.
const MAX_BATCH_BYTES: usize = 1 << 30;

fn read_some<R: Read>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Rejects bodies that are plainly not CSV and returns where the header starts (after a BOM).
fn sniff(source: &str, head: &[u8], eof: bool) -> Result<usize, DownloadError> {
    let start = if head.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let rest = &head[start..];
    let not_csv = |message: String| DownloadError::NotCsv { source_name: source.to_owned(), message };
    match rest.iter().find(|b| !b.is_ascii_whitespace()) {
        None if eof => Err(not_csv("the body is empty (expected a header row)".into())),
        Some(b'<') => Err(not_csv(format!("it looks like an HTML or XML page: {}", preview(rest)))),
        Some(b'{' | b'[') => Err(not_csv(format!("it looks like a JSON document: {}", preview(rest)))),
        _ => Ok(start),
    }
}

/// The start of a body as one short printable line, for error messages.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    let mut out: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > 80 {
        out = out.chars().take(80).collect::<String>() + "…";
    }
    format!("{out:?}")
}

/// Where a field's bytes are: in the read buffer, or unescaped into the scratch buffer.
#[derive(Debug, Clone, Copy)]
enum FieldLoc {
    Buf(usize, usize),
    Scratch(usize, usize),
}

enum Scan {
    /// A whole record was scanned; the next one starts here.
    Record(usize),
    /// The buffer ends inside the record: read more and scan it again.
    Incomplete,
}

struct ScanError {
    pos: usize,
    message: String,
}

/// Splits records into fields. Quoted fields are found with `memchr` and only copied when they
/// contain doubled quotes; everything else stays a range of the read buffer.
struct RecordScanner {
    delimiter: u8,
    fields: Vec<FieldLoc>,
    scratch: Vec<u8>,
}

impl RecordScanner {
    fn field<'a>(&'a self, data: &'a [u8], loc: FieldLoc) -> &'a [u8] {
        match loc {
            FieldLoc::Buf(a, b) => &data[a..b],
            FieldLoc::Scratch(a, b) => &self.scratch[a..b],
        }
    }

    fn scan(&mut self, data: &[u8], pos: usize, eof: bool) -> Result<Scan, ScanError> {
        self.fields.clear();
        self.scratch.clear();
        let len = data.len();
        let mut p = pos;
        loop {
            if p >= len {
                if !eof {
                    return Ok(Scan::Incomplete);
                }
                // `a;b;` at the very end: a last, empty field.
                self.fields.push(FieldLoc::Buf(p, p));
                return Ok(Scan::Record(p));
            }
            if data[p] == b'"' {
                let open = p;
                let content = p + 1;
                let Some(k) = memchr::memchr(b'"', &data[content..]) else {
                    return if eof { Err(unterminated(open, self.fields.len())) } else { Ok(Scan::Incomplete) };
                };
                let mut close = content + k;
                if close + 1 >= len && !eof {
                    // Cannot tell a closing quote from the first half of a doubled one yet.
                    return Ok(Scan::Incomplete);
                }
                let loc = if close + 1 < len && data[close + 1] == b'"' {
                    let s = self.scratch.len();
                    self.scratch.extend_from_slice(&data[content..=close]);
                    let mut q = close + 2;
                    loop {
                        let Some(k) = memchr::memchr(b'"', &data[q..]) else {
                            return if eof { Err(unterminated(open, self.fields.len())) } else { Ok(Scan::Incomplete) };
                        };
                        let c = q + k;
                        self.scratch.extend_from_slice(&data[q..c]);
                        if c + 1 >= len && !eof {
                            return Ok(Scan::Incomplete);
                        }
                        if c + 1 < len && data[c + 1] == b'"' {
                            self.scratch.push(b'"');
                            q = c + 2;
                        } else {
                            close = c;
                            break;
                        }
                    }
                    FieldLoc::Scratch(s, self.scratch.len())
                } else {
                    FieldLoc::Buf(content, close)
                };
                self.fields.push(loc);
                p = close + 1;
                if p >= len {
                    return Ok(Scan::Record(p));
                }
                match data[p] {
                    b if b == self.delimiter => p += 1,
                    b'\n' => return Ok(Scan::Record(p + 1)),
                    b'\r' if p + 1 < len && data[p + 1] == b'\n' => return Ok(Scan::Record(p + 2)),
                    b'\r' if p + 1 >= len => {
                        return if eof { Ok(Scan::Record(p + 1)) } else { Ok(Scan::Incomplete) };
                    }
                    other => {
                        return Err(ScanError {
                            pos: p,
                            message: format!(
                                "field {}: unexpected {:?} after a closing quote (a quote inside a quoted field \
                                 must be doubled)",
                                self.fields.len(),
                                char::from(other)
                            ),
                        });
                    }
                }
            } else {
                match memchr::memchr2(self.delimiter, b'\n', &data[p..]) {
                    None => {
                        if !eof {
                            return Ok(Scan::Incomplete);
                        }
                        let end = if len > p && data[len - 1] == b'\r' { len - 1 } else { len };
                        self.fields.push(FieldLoc::Buf(p, end));
                        return Ok(Scan::Record(len));
                    }
                    Some(k) => {
                        let e = p + k;
                        if data[e] == self.delimiter {
                            self.fields.push(FieldLoc::Buf(p, e));
                            p = e + 1;
                        } else {
                            let end = if e > p && data[e - 1] == b'\r' { e - 1 } else { e };
                            self.fields.push(FieldLoc::Buf(p, end));
                            return Ok(Scan::Record(e + 1));
                        }
                    }
                }
            }
        }
    }
}

fn unterminated(open: usize, index: usize) -> ScanError {
    ScanError { pos: open, message: format!("field {}: the quote opened here is never closed", index + 1) }
}

/// One column being built: raw bytes, offsets and validity.
struct RawColumn {
    values: Vec<u8>,
    offsets: Vec<i32>,
    validity: BooleanBufferBuilder,
    nulls: usize,
}

impl RawColumn {
    /// `text` is the expected byte size: sizing from the previous batch avoids the up-to-2x
    /// slack of a doubling `Vec`, which the Arrow buffer would keep for the table's lifetime.
    fn new(rows: usize, text: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self { values: Vec::with_capacity(text), offsets, validity: BooleanBufferBuilder::new(rows), nulls: 0 }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.values.extend_from_slice(bytes);
        // MAX_BATCH_BYTES keeps this far below i32::MAX.
        self.offsets.push(self.values.len() as i32);
        self.validity.append(!bytes.is_empty());
        self.nulls += usize::from(bytes.is_empty());
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn null_buffer(&mut self) -> Option<NullBuffer> {
        (self.nulls > 0).then(|| NullBuffer::new(self.validity.finish()))
    }

    /// The column as UTF-8 strings, or its raw bytes when they are not UTF-8 (Arrow's own
    /// validation is the only pass over the bytes: it also checks every field boundary).
    fn into_utf8(mut self) -> Result<ArrayRef, RawText> {
        let nulls = self.null_buffer();
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut self.offsets)));
        let values = Buffer::from_vec(std::mem::take(&mut self.values));
        // Buffer clones share the allocation: keeping them costs nothing.
        match StringArray::try_new(offsets.clone(), values.clone(), nulls) {
            Ok(array) => Ok(Arc::new(array)),
            Err(_) => Err(RawText { values, offsets }),
        }
    }

    fn decode_1252(&self) -> ArrayRef {
        decode_1252(&self.values, &self.offsets)
    }
}

/// A column's bytes that turned out not to be UTF-8.
struct RawText {
    values: Buffer,
    offsets: OffsetBuffer<i32>,
}

fn decode_1252(values: &[u8], offsets: &[i32]) -> ArrayRef {
    let rows = offsets.len().saturating_sub(1);
    let mut b = StringBuilder::with_capacity(rows, values.len());
    for w in offsets.windows(2) {
        let bytes = &values[w[0] as usize..w[1] as usize];
        if bytes.is_empty() {
            b.append_null();
        } else {
            b.append_value(WINDOWS_1252.decode_without_bom_handling(bytes).0);
        }
    }
    Arc::new(b.finish())
}

/// Re-decodes a column built as UTF-8 whose file turned out to be Windows-1252.
fn recode_1252(array: &ArrayRef) -> ArrayRef {
    let Some(strings) = array.as_any().downcast_ref::<StringArray>() else {
        return Arc::clone(array);
    };
    let mut b = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
    for v in strings {
        match v {
            None => b.append_null(),
            Some(s) => b.append_value(WINDOWS_1252.decode_without_bom_handling(s.as_bytes()).0),
        }
    }
    Arc::new(b.finish())
}

struct TableBuilder {
    source: String,
    batch_rows: usize,
    header: Option<Vec<Vec<u8>>>,
    columns: Vec<RawColumn>,
    batch_bytes: usize,
    done: Vec<Vec<ArrayRef>>,
    encoding: TextEncoding,
}

impl TableBuilder {
    fn new(source: &str, options: &CsvOptions) -> Self {
        Self {
            source: source.to_owned(),
            batch_rows: options.batch_rows.max(1),
            header: None,
            columns: Vec::new(),
            batch_bytes: 0,
            done: Vec::new(),
            encoding: TextEncoding::Utf8,
        }
    }

    fn push_record(
        &mut self,
        scanner: &RecordScanner,
        data: &[u8],
        line: impl Fn() -> u64,
    ) -> Result<(), DownloadError> {
        let Some(header) = &self.header else {
            return self.set_header(scanner, data, line());
        };
        if scanner.fields.len() != header.len() {
            return Err(DownloadError::Ragged {
                source_name: self.source.clone(),
                line: line(),
                expected: header.len(),
                found: scanner.fields.len(),
            });
        }
        for (column, &loc) in self.columns.iter_mut().zip(&scanner.fields) {
            let bytes = scanner.field(data, loc);
            self.batch_bytes += bytes.len();
            column.push(bytes);
        }
        if self.columns.first().map_or(0, RawColumn::len) >= self.batch_rows || self.batch_bytes >= MAX_BATCH_BYTES {
            self.flush();
        }
        Ok(())
    }

    fn set_header(&mut self, scanner: &RecordScanner, data: &[u8], line: u64) -> Result<(), DownloadError> {
        let names: Vec<Vec<u8>> = scanner.fields.iter().map(|&l| scanner.field(data, l).to_vec()).collect();
        let err = |message: String| DownloadError::Csv { source_name: self.source.clone(), line, message };
        if let [only] = names.as_slice()
            && (only.contains(&b',') || only.contains(&b'\t'))
        {
            return Err(err(format!(
                "the header has a single column {:?}: the delimiter is `;`, is this a comma- or tab-separated file?",
                excerpt(&String::from_utf8_lossy(only), MAX_EXCERPT_CHARS)
            )));
        }
        // First position of each name: a header of many thousand columns is checked in one pass.
        let mut first: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(err(format!("header column {} has an empty name", i + 1)));
            }
            if let Some(&j) = first.get(name.as_slice()) {
                return Err(err(format!(
                    "header columns {} and {} have the same name {:?}",
                    j + 1,
                    i + 1,
                    excerpt(&String::from_utf8_lossy(name), MAX_EXCERPT_CHARS)
                )));
            }
            first.insert(name, i);
        }
        self.columns = names.iter().map(|_| RawColumn::new(self.batch_rows.min(1 << 16), 0)).collect();
        self.header = Some(names);
        Ok(())
    }

    fn flush(&mut self) {
        if self.columns.first().is_none_or(|c| c.len() == 0) {
            return;
        }
        let capacity = self.batch_rows.min(1 << 16);
        let fresh =
            self.columns.iter().map(|c| RawColumn::new(capacity, c.values.len() + c.values.len() / 16 + 64)).collect();
        let raw: Vec<RawColumn> = std::mem::replace(&mut self.columns, fresh);
        self.batch_bytes = 0;
        let mut arrays = Vec::with_capacity(raw.len());
        let mut raw = raw.into_iter();
        if self.encoding == TextEncoding::Utf8 {
            for column in raw.by_ref() {
                match column.into_utf8() {
                    Ok(array) => arrays.push(array),
                    Err(raw) => {
                        tracing::debug!(source = %self.source, "not valid UTF-8: decoding as windows-1252");
                        self.encoding = TextEncoding::Windows1252;
                        for done in &mut self.done {
                            for a in done.iter_mut() {
                                *a = recode_1252(a);
                            }
                        }
                        for a in &mut arrays {
                            *a = recode_1252(a);
                        }
                        arrays.push(decode_1252(raw.values.as_slice(), &raw.offsets));
                        break;
                    }
                }
            }
        }
        arrays.extend(raw.map(|c| c.decode_1252()));
        self.done.push(arrays);
    }

    fn finish(mut self) -> Result<(Table, TextEncoding), DownloadError> {
        self.flush();
        let Some(header) = &self.header else {
            return Err(DownloadError::NotCsv {
                source_name: self.source.clone(),
                message: "the body has no header row (it is empty or only blank lines)".into(),
            });
        };
        let fields: Vec<Field> = header
            .iter()
            .map(|name| {
                let name = match self.encoding {
                    TextEncoding::Utf8 => String::from_utf8_lossy(name).into_owned(),
                    TextEncoding::Windows1252 => WINDOWS_1252.decode_without_bom_handling(name).0.into_owned(),
                };
                Field::new(name, DataType::Utf8, true)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batches = self
            .done
            .into_iter()
            .map(|columns| {
                RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map_err(|e| DownloadError::arrow(format!("{}: building a batch", self.source), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        tracing::debug!(source = %self.source, rows = batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            encoding = self.encoding.name(), "parsed CSV");
        Ok((Table::new(schema, batches), self.encoding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<CsvTable, DownloadError> {
        read_csv(text, "t.csv", &CsvOptions::default())
    }

    fn cell(t: &CsvTable, row: usize, col: usize) -> Option<String> {
        let b = t.table.concat().unwrap();
        let a = b.column(col).as_any().downcast_ref::<StringArray>().unwrap();
        a.is_valid(row).then(|| a.value(row).to_owned())
    }

    #[test]
    fn quoted_fields_crlf_bom_and_nulls() {
        let t =
            parse(b"\xEF\xBB\xBF\"a\";\"b\";\"c\"\r\n\"1\";\"x;y\";\"\"\r\n\"2\";;\"he said \"\"hi\"\"\"\r\n").unwrap();
        assert_eq!(t.table.column_names(), ["a", "b", "c"]);
        assert_eq!(t.table.num_rows(), 2);
        assert_eq!(cell(&t, 0, 1).as_deref(), Some("x;y"));
        assert_eq!(cell(&t, 0, 2), None);
        assert_eq!(cell(&t, 1, 1), None);
        assert_eq!(cell(&t, 1, 2).as_deref(), Some("he said \"hi\""));
        assert_eq!(t.encoding, TextEncoding::Utf8);
    }

    #[test]
    fn newline_inside_quotes_and_no_final_newline() {
        let t = parse(b"a;b\n\"line1\nline2\";2\n3;4").unwrap();
        assert_eq!(t.table.num_rows(), 2);
        assert_eq!(cell(&t, 0, 0).as_deref(), Some("line1\nline2"));
        assert_eq!(cell(&t, 1, 1).as_deref(), Some("4"));
    }

    #[test]
    fn ragged_row_names_physical_line() {
        // The record on line 4 follows a record spanning lines 2-3.
        let err = parse(b"a;b\n\"x\ny\";1\n1;2;3\n").unwrap_err().to_string();
        assert_eq!(err, "t.csv: line 4: ragged row: 3 field(s), but the header has 2 column(s)");
    }

    #[test]
    fn blank_lines_are_skipped() {
        let t = parse(b"a;b\r\n\r\n1;2\r\n\n3;4\n\n").unwrap();
        assert_eq!(t.table.num_rows(), 2);
    }

    #[test]
    fn unterminated_quote_and_garbage_after_quote() {
        let err = parse(b"a;b\n1;\"open\n2;3\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("never closed"), "{err}");
        let err = parse(b"a;b\n1;\"x\"y\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("after a closing quote"), "{err}");
    }

    #[test]
    fn not_csv_bodies() {
        let err = parse(b"  \n<!DOCTYPE html><html><body>Service unavailable</body></html>").unwrap_err().to_string();
        assert!(err.contains("t.csv: not a CSV table: it looks like an HTML"), "{err}");
        let err = parse(b"{\"error\": \"not found\"}").unwrap_err().to_string();
        assert!(err.contains("JSON"), "{err}");
        let err = parse(b"").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = parse(b"a,b,c\n1,2,3\n").unwrap_err().to_string();
        assert!(err.contains("comma"), "{err}");
    }

    #[test]
    fn bad_headers() {
        let err = parse(b"a;;b\n").unwrap_err().to_string();
        assert!(err.contains("column 2 has an empty name"), "{err}");
        let err = parse(b"a;b;a\n").unwrap_err().to_string();
        assert!(err.contains("columns 1 and 3"), "{err}");
    }

    #[test]
    fn huge_headers_are_cut_in_errors() {
        // A 1 MB header line used to come back whole in the error (a 2 MB line in the run record).
        let mut comma = "x".repeat(1 << 20);
        comma.push_str(",y\n1,2\n");
        let err = parse(comma.as_bytes()).unwrap_err().to_string();
        assert!(err.len() < 1_000, "{} bytes", err.len());
        assert!(err.contains("comma") && err.contains("chars]"), "{err}");
        let name = "n".repeat(1 << 20);
        let twice = format!("{name};b;{name}\n");
        let err = parse(twice.as_bytes()).unwrap_err().to_string();
        assert!(err.len() < 1_000, "{} bytes", err.len());
        assert!(err.contains("columns 1 and 3") && err.contains("chars]"), "{err}");
        // A selection naming a missing column lists the columns, cut too.
        let t = parse(format!("{name};b\n1;2\n").as_bytes()).unwrap();
        let err = t.table.column_index("t", "id").unwrap_err().to_string();
        assert!(err.len() < 2_000 && err.contains("no column `id`"), "{} bytes", err.len());
    }

    #[test]
    fn header_only_gives_empty_table() {
        let t = parse(b"\"a\";\"b\"\r\n").unwrap();
        assert_eq!(t.table.num_rows(), 0);
        assert_eq!(t.table.column_names(), ["a", "b"]);
    }

    #[test]
    fn windows_1252_fallback_recodes_earlier_batches() {
        // The first batch is plain ASCII, the invalid byte comes in the third.
        let mut text = b"nome;n\n".to_vec();
        for i in 0..5 {
            text.extend_from_slice(format!("linha{i};{i}\n").as_bytes());
        }
        text.extend_from_slice(b"ADMINISTRA\xC7\xC3O;9\n");
        let t = read_csv(&text[..], "t.csv", &CsvOptions { batch_rows: 2, ..CsvOptions::default() }).unwrap();
        assert_eq!(t.encoding, TextEncoding::Windows1252);
        assert_eq!(t.table.batches.len(), 3);
        assert_eq!(cell(&t, 5, 0).as_deref(), Some("ADMINISTRAÇÃO"));
        assert_eq!(cell(&t, 0, 0).as_deref(), Some("linha0"));
    }

    #[test]
    fn split_utf8_across_fields_is_not_utf8() {
        // C3 | A7 is "ç" only when glued together: each field alone is invalid.
        let t = parse(b"a;b\n\xC3;\xA7\n").unwrap();
        assert_eq!(t.encoding, TextEncoding::Windows1252);
        assert_eq!(cell(&t, 0, 0).as_deref(), Some("Ã"));
    }

    #[test]
    fn small_reads_give_same_result() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"\"a\";\"b\"\r\n\"x\"\"y\";\"1\r\n2\"\r\n\"\";\"z\"\r\n";
        let whole = parse(text).unwrap();
        let trickled = read_csv(Trickle(text), "t.csv", &CsvOptions::default()).unwrap();
        assert_eq!(whole.table.concat().unwrap(), trickled.table.concat().unwrap());
        assert_eq!(cell(&whole, 0, 0).as_deref(), Some("x\"y"));
        assert_eq!(cell(&whole, 0, 1).as_deref(), Some("1\r\n2"));
    }
}
