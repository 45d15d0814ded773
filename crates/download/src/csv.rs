//! The UFRN portal's CSV dialect into Arrow.
//!
//! The portal writes `;`-separated files with every field quoted, a header row, UTF-8 (sometimes
//! with a BOM) and CRLF or LF line ends; some older exports are Windows-1252. Every column is read
//! as `Utf8` (typing is the preprocess stage's job) and an empty field — quoted or not — is null.
//!
//! The reader streams: it holds one read buffer and the Arrow columns being built, never the whole
//! file. The text encoding is never guessed silently ([`CsvEncoding`], the merge stage's
//! `encoding` param):
//!
//! - `utf-8` (the default): every record is checked as it is read, and the first byte that is not
//!   UTF-8 is an error naming the byte offset in the file, the line and the column.
//! - `windows-1252`: every byte is a character (the portal's older exports); nothing is checked.
//! - `auto`: UTF-8 as long as the file is; at the first invalid byte a warning names the file and
//!   that byte's offset, line and column, and the *whole* file (earlier batches included, which
//!   still hold the same bytes) is decoded as Windows-1252, so a file never mixes two decodings.
//!   [`CsvTable::invalid_utf8`] says where.
//!
//! Errors name the source, the physical line (counting newlines inside quoted fields, unlike
//! arrow-csv's record count) and, for ragged rows, both field counts.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanBufferBuilder, RecordBatch, StringArray, StringBuilder};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema};
use encoding_rs::WINDOWS_1252;
use esteira_core::table::TextBuilder;
use esteira_core::{MAX_EXCERPT_CHARS, excerpt};
use serde::{Deserialize, Serialize};

use crate::{DownloadError, Table};

/// How to read a portal CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field separator (the portal uses `;`).
    pub delimiter: u8,
    /// Rows per Arrow batch.
    pub batch_rows: usize,
    /// How the bytes are decoded (UTF-8, checked, by default).
    pub encoding: CsvEncoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self { delimiter: b';', batch_rows: 65_536, encoding: CsvEncoding::Utf8 }
    }
}

/// How to decode a CSV's bytes: the `encoding` param of the merge stage (`"utf-8"`,
/// `"windows-1252"` or `"auto"`). See the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsvEncoding {
    /// UTF-8; the first invalid byte is an error naming its byte offset, line and column.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows-1252, every byte a character; nothing to check.
    #[serde(rename = "windows-1252")]
    Windows1252,
    /// UTF-8 if the whole file is valid UTF-8, else the whole file as Windows-1252, with a
    /// warning naming the file and its first invalid byte.
    #[serde(rename = "auto")]
    Auto,
}

impl CsvEncoding {
    /// The name the param uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Windows1252 => "windows-1252",
            Self::Auto => "auto",
        }
    }
}

/// Where a file read as UTF-8 first has a byte that is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidUtf8 {
    /// Offset of the byte in the file (0-based; a byte-order mark counts).
    pub offset: u64,
    /// The physical line (1-based) the byte is on.
    pub line: u64,
    /// The field (1-based) of its record that holds it.
    pub column: usize,
    /// The byte.
    pub byte: u8,
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
    /// With `encoding = "auto"`, where the file stopped being UTF-8 (it was then decoded as
    /// Windows-1252 throughout); `None` otherwise.
    pub invalid_utf8: Option<InvalidUtf8>,
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
    // Physical line number and file offset of `buf[0]`; advanced when consumed bytes are shifted out.
    let mut line_of_buf_start = 1u64;
    let mut offset_of_buf_start = 0u64;
    let mut bytes = 0u64;
    // The first byte of `buf` that is not UTF-8, once found. The records before it are pushed
    // as the text checked below (once: Arrow does not check it again); the record holding it is
    // an error (`utf-8`) or turns the file to Windows-1252 (`auto`), so errors keep their order.
    let mut bad: Option<usize> = None;

    loop {
        if !eof {
            if start > 0 {
                line_of_buf_start += count_newlines(&buf[..start]);
                offset_of_buf_start += start as u64;
                buf.copy_within(start..filled, 0);
                filled -= start;
                // Never before `start`: the record holding it is not consumed yet.
                bad = bad.map(|b| b.saturating_sub(start));
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
            if start > 0 && options.encoding == CsvEncoding::Windows1252 {
                tracing::warn!(source, "the file starts with a UTF-8 byte-order mark, but encoding = \"windows-1252\"");
            }
        }
        let data = &buf[..filled];
        // The text from `start` that this pass can push, checked: up to the last line end (a
        // complete record ends at one, and no character spans it), the end of the file, or the
        // bad byte. The unfinished record after it is checked again with the next read.
        let text_start = start;
        let mut text = "";
        if builder.checks_utf8() {
            let end = match bad {
                Some(b) => b,
                None if eof => filled,
                None => memchr::memrchr(b'\n', &data[start..]).map_or(start, |p| start + p + 1),
            };
            text = match std::str::from_utf8(&data[start..end]) {
                Ok(t) => t,
                Err(e) => {
                    let good = start + e.valid_up_to();
                    bad = Some(good);
                    std::str::from_utf8(&data[start..good]).unwrap_or_default()
                }
            };
        }
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
                    // Delimiters, quotes and line ends are ASCII, which never continues a UTF-8
                    // sequence: a record is valid UTF-8 exactly when each of its fields is.
                    if let Some(pos) = bad
                        && pos < next
                    {
                        bad = None;
                        builder.invalid_utf8(InvalidUtf8 {
                            offset: offset_of_buf_start + pos as u64,
                            line: line_at(pos),
                            column: field_number(&data[start..pos], options.delimiter),
                            byte: data[pos],
                        })?;
                    }
                    builder.push_record(&scanner, data, (text, text_start), || line_at(start))?;
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
    let invalid_utf8 = builder.invalid;
    let (table, encoding) = builder.finish()?;
    Ok(CsvTable { table, encoding, invalid_utf8, bytes })
}

/// The field (1-based) that the end of `prefix`, the start of a record, is in.
fn field_number(prefix: &[u8], delimiter: u8) -> usize {
    let mut field = 1;
    let mut at_start = true;
    let mut quoted = false;
    let mut i = 0;
    while i < prefix.len() {
        let b = prefix[i];
        if quoted {
            if b == b'"' {
                if prefix.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
            at_start = false;
        } else if b == delimiter {
            field += 1;
            at_start = true;
        } else {
            quoted = at_start && b == b'"';
            at_start = false;
        }
        i += 1;
    }
    field
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

/// A broken invariant of the reader, as an error rather than a panic.
#[cold]
fn internal(source: &str, line: u64, what: &str) -> DownloadError {
    DownloadError::Csv { source_name: source.to_owned(), line, message: format!("internal error: {what}") }
}

/// One column being built: its values and validity.
struct Column {
    values: ColumnValues,
    /// Bytes of text so far.
    bytes: usize,
    rows: usize,
    validity: BooleanBufferBuilder,
    nulls: usize,
}

/// A column's values: checked text, or, once the file is decoded as Windows-1252, raw bytes.
enum ColumnValues {
    /// Copies of `&str`s: the array is built without checking the bytes again.
    Text(TextBuilder),
    /// Raw bytes and their offsets.
    Raw(Vec<u8>, Vec<i32>),
}

impl Column {
    /// `text` is the expected byte size: sizing from the previous batch avoids the up-to-2x
    /// slack of a doubling `Vec`, which the Arrow buffer would keep for the table's lifetime.
    fn new(rows: usize, text: usize, utf8: bool) -> Self {
        let values = if utf8 {
            ColumnValues::Text(TextBuilder::with_capacity(rows, text))
        } else {
            let mut offsets = Vec::with_capacity(rows + 1);
            offsets.push(0);
            ColumnValues::Raw(Vec::with_capacity(text), offsets)
        };
        Self { values, bytes: 0, rows: 0, validity: BooleanBufferBuilder::new(rows), nulls: 0 }
    }

    #[inline]
    fn count(&mut self, len: usize) {
        self.bytes += len;
        self.rows += 1;
        self.validity.append(len > 0);
        self.nulls += usize::from(len == 0);
    }

    /// Appends a value of a file read as UTF-8; `false` if the column holds raw bytes.
    #[inline]
    fn push_text(&mut self, value: &str) -> bool {
        let ColumnValues::Text(text) = &mut self.values else { return false };
        text.append_str(value);
        self.count(value.len());
        true
    }

    /// Appends a value of a file decoded as Windows-1252; `false` if the column holds text.
    #[inline]
    fn push_raw(&mut self, value: &[u8]) -> bool {
        let ColumnValues::Raw(values, offsets) = &mut self.values else { return false };
        values.extend_from_slice(value);
        // MAX_BATCH_BYTES keeps this far below i32::MAX.
        offsets.push(values.len() as i32);
        self.count(value.len());
        true
    }

    /// Turns text values into raw bytes (the file turned out to be Windows-1252).
    fn make_raw(&mut self) -> Result<(), arrow::error::ArrowError> {
        let values = std::mem::replace(&mut self.values, ColumnValues::Raw(Vec::new(), Vec::new()));
        self.values = match values {
            ColumnValues::Text(text) => {
                let array = text.finish(None)?;
                ColumnValues::Raw(array.value_data().to_vec(), array.value_offsets().to_vec())
            }
            raw @ ColumnValues::Raw(..) => raw,
        };
        Ok(())
    }

    fn into_array(mut self) -> Result<ArrayRef, arrow::error::ArrowError> {
        let nulls = (self.nulls > 0).then(|| NullBuffer::new(self.validity.finish()));
        Ok(match self.values {
            ColumnValues::Text(text) => Arc::new(text.finish(nulls)?),
            ColumnValues::Raw(values, offsets) => decode_1252(&values, &offsets),
        })
    }
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
    columns: Vec<Column>,
    batch_bytes: usize,
    done: Vec<Vec<ArrayRef>>,
    /// What the options ask for.
    mode: CsvEncoding,
    /// How the file is being decoded (`auto` switches once, at the first invalid byte).
    encoding: TextEncoding,
    /// Where `auto` found the first invalid byte.
    invalid: Option<InvalidUtf8>,
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
            mode: options.encoding,
            encoding: match options.encoding {
                CsvEncoding::Windows1252 => TextEncoding::Windows1252,
                CsvEncoding::Utf8 | CsvEncoding::Auto => TextEncoding::Utf8,
            },
            invalid: None,
        }
    }

    /// Whether records must still be checked for UTF-8.
    #[inline]
    fn checks_utf8(&self) -> bool {
        self.encoding == TextEncoding::Utf8
    }

    /// A record holds a byte that is not UTF-8: an error for `utf-8`; for `auto`, a warning and
    /// the whole file decoded as Windows-1252 from here on (earlier batches re-decoded now).
    fn invalid_utf8(&mut self, at: InvalidUtf8) -> Result<(), DownloadError> {
        let column_name = self
            .header
            .as_ref()
            .and_then(|h| h.get(at.column - 1))
            .map(|name| excerpt(&String::from_utf8_lossy(name), MAX_EXCERPT_CHARS).into_owned());
        if self.mode != CsvEncoding::Auto {
            return Err(DownloadError::InvalidUtf8 {
                source_name: self.source.clone(),
                line: at.line,
                column: at.column,
                column_name,
                offset: at.offset,
                byte: at.byte,
            });
        }
        tracing::warn!(
            source = %self.source,
            offset = at.offset,
            line = at.line,
            column = at.column,
            "{}: not valid UTF-8 at byte offset {} (line {}, column {}{}, byte 0x{:02X}): encoding = \"auto\" \
             decodes the whole file as windows-1252",
            self.source,
            at.offset,
            at.line,
            at.column,
            column_name.map(|n| format!(" `{n}`")).unwrap_or_default(),
            at.byte
        );
        self.encoding = TextEncoding::Windows1252;
        self.invalid = Some(at);
        for column in &mut self.columns {
            column.make_raw().map_err(|e| DownloadError::arrow(format!("{}: re-reading a batch", self.source), e))?;
        }
        for done in &mut self.done {
            for a in done.iter_mut() {
                *a = recode_1252(a);
            }
        }
        Ok(())
    }

    /// Appends a record; `(text, text_start)` is the checked text of `data` from `text_start`,
    /// which holds the record while the file is read as UTF-8.
    fn push_record(
        &mut self,
        scanner: &RecordScanner,
        data: &[u8],
        (text, text_start): (&str, usize),
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
        if self.encoding == TextEncoding::Utf8 {
            for (column, &loc) in self.columns.iter_mut().zip(&scanner.fields) {
                let value = match loc {
                    FieldLoc::Buf(a, b) => text.get(a - text_start..b - text_start),
                    // Unescaped doubled quotes: short, and rare.
                    FieldLoc::Scratch(a, b) => std::str::from_utf8(&scanner.scratch[a..b]).ok(),
                };
                if !value.is_some_and(|v| column.push_text(v)) {
                    return Err(internal(&self.source, line(), "a field outside the text checked as UTF-8"));
                }
                self.batch_bytes += value.map_or(0, str::len);
            }
        } else {
            for (column, &loc) in self.columns.iter_mut().zip(&scanner.fields) {
                let bytes = scanner.field(data, loc);
                if !column.push_raw(bytes) {
                    return Err(internal(&self.source, line(), "a text column after the switch to windows-1252"));
                }
                self.batch_bytes += bytes.len();
            }
        }
        if self.columns.first().map_or(0, |c| c.rows) >= self.batch_rows || self.batch_bytes >= MAX_BATCH_BYTES {
            self.flush()?;
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
        let utf8 = self.encoding == TextEncoding::Utf8;
        self.columns = names.iter().map(|_| Column::new(self.batch_rows.min(1 << 16), 0, utf8)).collect();
        self.header = Some(names);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DownloadError> {
        if self.columns.first().is_none_or(|c| c.rows == 0) {
            return Ok(());
        }
        let capacity = self.batch_rows.min(1 << 16);
        let utf8 = self.encoding == TextEncoding::Utf8;
        let fresh = self.columns.iter().map(|c| Column::new(capacity, c.bytes + c.bytes / 16 + 64, utf8)).collect();
        let full: Vec<Column> = std::mem::replace(&mut self.columns, fresh);
        self.batch_bytes = 0;
        let arrays = full
            .into_iter()
            .map(Column::into_array)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DownloadError::arrow(format!("{}: building a batch", self.source), e))?;
        self.done.push(arrays);
        Ok(())
    }

    fn finish(mut self) -> Result<(Table, TextEncoding), DownloadError> {
        self.flush()?;
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
    use crate::table::ColumnIndex;

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
        let at = text.len() as u64 + 10;
        text.extend_from_slice(b"ADMINISTRA\xC7\xC3O;9\n");
        let auto = CsvOptions { batch_rows: 2, encoding: CsvEncoding::Auto, ..CsvOptions::default() };
        let t = read_csv(&text[..], "t.csv", &auto).unwrap();
        assert_eq!(t.encoding, TextEncoding::Windows1252);
        assert_eq!(t.invalid_utf8, Some(InvalidUtf8 { offset: at, line: 7, column: 1, byte: 0xC7 }));
        assert_eq!(t.table.batches.len(), 3);
        assert_eq!(cell(&t, 5, 0).as_deref(), Some("ADMINISTRAÇÃO"));
        assert_eq!(cell(&t, 0, 0).as_deref(), Some("linha0"));
    }

    #[test]
    fn split_utf8_across_fields_is_not_utf8() {
        // C3 | A7 is "ç" only when glued together: each field alone is invalid.
        let auto = CsvOptions { encoding: CsvEncoding::Auto, ..CsvOptions::default() };
        let t = read_csv(&b"a;b\n\xC3;\xA7\n"[..], "t.csv", &auto).unwrap();
        assert_eq!(t.encoding, TextEncoding::Windows1252);
        assert_eq!(cell(&t, 0, 0).as_deref(), Some("Ã"));
        let err = parse(b"a;b\n\xC3;\xA7\n").unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 2, column 1 (`a`): invalid UTF-8 at byte offset 4 (byte 0xC3)"), "{err}");
    }

    #[test]
    fn utf8_errors_name_offset_line_and_column() {
        // The bad byte is in the third field of a record whose second field spans two lines
        // and holds a doubled quote and a delimiter.
        let text = b"\xEF\xBB\xBF\"a\";\"b\";\"c\"\r\n\"1\";\"x\"\";\r\ny\";\"ok \xE9\"\r\n";
        let err = parse(text).unwrap_err();
        let DownloadError::InvalidUtf8 { line, column, column_name, offset, byte, .. } = &err else {
            panic!("{err}");
        };
        let offset_expected = text.iter().position(|&b| b == 0xE9).unwrap() as u64;
        assert_eq!((*line, *column, column_name.as_deref(), *offset, *byte), (3, 3, Some("c"), offset_expected, 0xE9));
        // In the header: no column name yet.
        let err = parse(b"a;n\xE3o\n1;2\n").unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 1, column 2: invalid UTF-8 at byte offset 3"), "{err}");
        assert!(err.contains("windows-1252"), "{err}");
        // Windows-1252 asked for: no check, every byte a character (a valid UTF-8 file would be
        // mojibake: that is what was asked).
        let latin = CsvOptions { encoding: CsvEncoding::Windows1252, ..CsvOptions::default() };
        let t = read_csv(&b"a;n\xE3o\n1;\xC7\n"[..], "t.csv", &latin).unwrap();
        assert_eq!((t.encoding, t.invalid_utf8), (TextEncoding::Windows1252, None));
        assert_eq!(t.table.column_names(), ["a", "não"]);
        assert_eq!(cell(&t, 0, 1).as_deref(), Some("Ç"));
    }

    #[test]
    fn field_numbers_follow_quotes() {
        assert_eq!(field_number(b"", b';'), 1);
        assert_eq!(field_number(b"a;b;", b';'), 3);
        assert_eq!(field_number(b"\"a;b\";\"c\"\"", b';'), 2);
        assert_eq!(field_number(b"\"a\"\";\";x", b';'), 2);
        // A quote inside an unquoted field is a plain character.
        assert_eq!(field_number(b"ab\"c;d", b';'), 2);
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
