//! Writing the portal's CSV dialect: every field double-quoted, `;` between fields, CRLF.

use std::io::Write;

use crate::error::SynthError;

/// A row writer for one table that counts rows and bytes.
pub(crate) struct CsvWriter<W: Write> {
    inner: W,
    table: &'static str,
    line: String,
    bytes: u64,
    rows: u64,
}

impl<W: Write> CsvWriter<W> {
    pub(crate) fn new(inner: W, table: &'static str) -> Self {
        Self { inner, table, line: String::with_capacity(512), bytes: 0, rows: 0 }
    }

    /// Writes one record; the header counts as a row here and is subtracted by the caller.
    pub(crate) fn row(&mut self, fields: &[&str]) -> Result<(), SynthError> {
        self.line.clear();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(';');
            }
            self.line.push('"');
            if field.contains('"') {
                self.line.push_str(&field.replace('"', "\"\""));
            } else {
                self.line.push_str(field);
            }
            self.line.push('"');
        }
        self.line.push_str("\r\n");
        self.rows += 1;
        let line = std::mem::take(&mut self.line);
        let result = self.raw(line.as_bytes());
        self.line = line;
        self.rows -= u64::from(result.is_err());
        result
    }

    /// Writes bytes that are already in the portal format (the embedded course table).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> Result<(), SynthError> {
        self.inner.write_all(bytes).map_err(|source| SynthError::Write { table: self.table, source })?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn flush(&mut self) -> Result<(), SynthError> {
        self.inner.flush().map_err(|source| SynthError::Write { table: self.table, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_escaped_and_crlf_terminated() {
        let mut w = CsvWriter::new(Vec::new(), "t.csv");
        w.row(&["a", "", "say \"hi\"", "x;y"]).unwrap();
        assert_eq!(w.rows(), 1);
        let expected = "\"a\";\"\";\"say \"\"hi\"\"\";\"x;y\"\r\n";
        assert_eq!(w.bytes(), expected.len() as u64);
        assert_eq!(String::from_utf8(w.inner).unwrap(), expected);
    }

    #[test]
    fn write_errors_name_the_table() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut w = CsvWriter::new(Full, "discentes.csv");
        let err = w.row(&["a"]).unwrap_err().to_string();
        assert!(err.contains("discentes.csv") && err.contains("disk full"), "{err}");
        assert_eq!(w.rows(), 0);
    }
}
