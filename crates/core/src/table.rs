//! Arrow tables in and out of Parquet, byte-for-byte reproducibly.
//!
//! Parquet bytes depend on the writer properties (including `created_by`) and on how rows are
//! split across `write` calls, so every table is written with [`writer_properties`] and
//! re-chunked to [`BATCH_ROWS`] rows per call.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

use crate::CoreError;

mod gather;

pub use gather::{RowRuns, TextBuilder, same_bytes};

/// Rows per `write` call and per batch read back.
pub const BATCH_ROWS: usize = 8192;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// The fixed writer properties. `created_by` is pinned so a parquet upgrade does not change
/// every hash; bump [`FORMAT_TAG`] (and stage versions) when these properties change.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(FORMAT_TAG.to_owned())
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_write_batch_size(1024)
        .set_data_page_row_count_limit(20_000)
        .build()
}

/// The `created_by` string in every Parquet file esteira writes.
pub const FORMAT_TAG: &str = "esteira table v1";

/// Writes `batches` (all of `schema`) as Parquet, re-chunked to [`BATCH_ROWS`].
///
/// The columns of each row group are encoded in parallel (rayon), and the bytes are those
/// `ArrowWriter` writes from the same calls: each column sees the same sequence of
/// [`BATCH_ROWS`] slices, row groups split at the same rows, chunks appended in schema order.
pub fn write_parquet<W: Write + Send>(out: W, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<W, CoreError> {
    write_parquet_with(out, schema, batches, writer_properties())
}

fn write_parquet_with<W: Write + Send>(
    out: W,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    props: WriterProperties,
) -> Result<W, CoreError> {
    use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};
    use rayon::prelude::*;
    let pq = |e| CoreError::Parquet { what: "writing parquet".to_owned(), source: e };
    let group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
    let writer = ArrowWriter::try_new(out, Arc::clone(schema), Some(props)).map_err(pq)?;
    let (mut file, factory) = writer.into_serialized_writer().map_err(pq)?;
    // How many Parquet leaf columns (so column writers) each field has: one unless nested.
    let leaves_per_field = schema
        .fields()
        .iter()
        .map(|f| compute_leaves(f, &arrow::array::new_empty_array(f.data_type())).map(|l| l.len()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(pq)?;
    let chunks = rechunk(schema, batches, BATCH_ROWS)?;
    for (index, group) in row_groups(&chunks, group_rows).into_iter().enumerate() {
        let mut writers = factory.create_column_writers(index).map_err(pq)?.into_iter();
        let per_field: Vec<Vec<ArrowColumnWriter>> =
            leaves_per_field.iter().map(|&n| writers.by_ref().take(n).collect()).collect();
        let encoded: Vec<Vec<ArrowColumnChunk>> = per_field
            .into_par_iter()
            .enumerate()
            .map(|(f, mut writers)| {
                let field = schema.field(f);
                for batch in &group {
                    for (writer, leaf) in writers.iter_mut().zip(compute_leaves(field, batch.column(f))?) {
                        writer.write(&leaf)?;
                    }
                }
                writers.into_iter().map(ArrowColumnWriter::close).collect()
            })
            .collect::<Result<_, _>>()
            .map_err(pq)?;
        let mut row_group = file.next_row_group().map_err(pq)?;
        for chunk in encoded.into_iter().flatten() {
            chunk.append_to_row_group(&mut row_group).map_err(pq)?;
        }
        row_group.close().map_err(pq)?;
    }
    file.into_inner().map_err(pq)
}

/// `batches` cut into row groups of `rows` rows (the last may be shorter), as `ArrowWriter`
/// cuts them: a batch crossing a boundary is sliced there.
fn row_groups(batches: &[RecordBatch], rows: usize) -> Vec<Vec<RecordBatch>> {
    let mut groups = Vec::new();
    let mut group: Vec<RecordBatch> = Vec::new();
    let mut buffered = 0;
    for batch in batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (rows - buffered).min(batch.num_rows() - offset);
            group.push(batch.slice(offset, take));
            buffered += take;
            offset += take;
            if buffered == rows {
                groups.push(std::mem::take(&mut group));
                buffered = 0;
            }
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

/// Re-slices batches into batches of exactly `rows` rows (the last may be shorter).
pub fn rechunk(schema: &SchemaRef, batches: &[RecordBatch], rows: usize) -> Result<Vec<RecordBatch>, CoreError> {
    let mut out = Vec::new();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0usize;
    let flush = |pending: &mut Vec<RecordBatch>, out: &mut Vec<RecordBatch>| -> Result<(), CoreError> {
        if pending.is_empty() {
            return Ok(());
        }
        let b = if pending.len() == 1 {
            pending.pop().unwrap_or_else(|| RecordBatch::new_empty(Arc::clone(schema)))
        } else {
            arrow::compute::concat_batches(schema, pending.iter())
                .map_err(|e| CoreError::Arrow { what: "re-chunking a table".into(), source: e })?
        };
        pending.clear();
        out.push(b);
        Ok(())
    };
    for batch in batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (rows - pending_rows).min(batch.num_rows() - offset);
            pending.push(batch.slice(offset, take));
            pending_rows += take;
            offset += take;
            if pending_rows == rows {
                flush(&mut pending, &mut out)?;
                pending_rows = 0;
            }
        }
    }
    flush(&mut pending, &mut out)?;
    Ok(out)
}

/// A table held in memory: Arrow record batches sharing one schema, in row order. The one
/// type for that pair across the workspace (stages read it, merge joins it, checks validate it).
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

    /// The schema and the batches, for code that works on them apart.
    pub fn into_parts(self) -> (SchemaRef, Vec<RecordBatch>) {
        (self.schema, self.batches)
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema.fields().iter().map(|f| f.name().as_str()).collect()
    }

    /// All rows as one batch (an empty batch of the schema when there are none).
    pub fn concat(&self) -> Result<RecordBatch, CoreError> {
        concat(&self.schema, &self.batches)
    }
}

/// Reads a whole Parquet file.
pub fn read_parquet(path: &Path) -> Result<Table, CoreError> {
    let batches = ParquetFile::open(path)?.batches(None)?;
    let schema = batches.schema();
    Ok(Table { schema, batches: batches.collect::<Result<Vec<_>, _>>()? })
}

/// A Parquet file whose footer has been read: its schema and row count, before any rows are.
pub struct ParquetFile {
    builder: ParquetRecordBatchReaderBuilder<std::fs::File>,
    what: String,
}

impl ParquetFile {
    /// Opens `path` and reads its footer.
    pub fn open(path: &Path) -> Result<Self, CoreError> {
        let what = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| CoreError::Parquet { what: what.clone(), source: e })?;
        Ok(Self { builder, what })
    }

    /// The file's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(self.builder.schema())
    }

    /// Rows in the file, from its footer.
    pub fn rows(&self) -> usize {
        usize::try_from(self.builder.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// Its rows a batch at a time, of [`BATCH_ROWS`] rows (the batches [`read_parquet`]
    /// collects); with `columns`, only those top-level fields (indices into [`Self::schema`];
    /// the batches keep the file's order), so the other columns' pages are never read.
    pub fn batches(self, columns: Option<&[usize]>) -> Result<ParquetBatches, CoreError> {
        let Self { mut builder, what } = self;
        builder = builder.with_batch_size(BATCH_ROWS);
        if let Some(columns) = columns {
            let fields = builder.schema().fields().len();
            if let Some(&bad) = columns.iter().find(|&&c| c >= fields) {
                return Err(CoreError::Parquet {
                    what,
                    source: parquet::errors::ParquetError::General(format!(
                        "column {bad} asked for, the file has {fields} columns"
                    )),
                });
            }
            let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
            builder = builder.with_projection(mask);
        }
        let reader = builder.build().map_err(|e| CoreError::Parquet { what: what.clone(), source: e })?;
        let schema = arrow::array::RecordBatchReader::schema(&reader);
        Ok(ParquetBatches { schema, reader, what })
    }
}

/// A Parquet file's rows a batch at a time ([`ParquetFile::batches`]), without holding them all.
pub struct ParquetBatches {
    schema: SchemaRef,
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    what: String,
}

impl ParquetBatches {
    /// The schema of the batches: the file's, or its projection.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch, CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next().map(|r| r.map_err(|e| CoreError::Arrow { what: self.what.clone(), source: e }))
    }
}

/// Concatenates batches into one (an empty batch of `schema` when there are none).
pub fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, CoreError> {
    arrow::compute::concat_batches(schema, batches)
        .map_err(|e| CoreError::Arrow { what: "concatenating batches".into(), source: e })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn table(split: &[usize]) -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let mut batches = Vec::new();
        let mut start = 0i64;
        for &n in split {
            let ids: Vec<i64> = (start..start + n as i64).collect();
            let s: Vec<Option<String>> = ids.iter().map(|i| (i % 3 != 0).then(|| format!("v{i}"))).collect();
            batches.push(
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(s))],
                )
                .unwrap(),
            );
            start += n as i64;
        }
        (schema, batches)
    }

    #[test]
    fn bytes_do_not_depend_on_batch_split() {
        let (schema, a) = table(&[20_000]);
        let (_, b) = table(&[1, 8191, 5000, 6808]);
        let x = write_parquet(Vec::new(), &schema, &a).unwrap();
        let y = write_parquet(Vec::new(), &schema, &b).unwrap();
        assert_eq!(x, y);
    }

    /// The parallel encoder writes exactly `ArrowWriter`'s bytes, across row groups (small ones
    /// here), for nulls, several types, and an empty table.
    #[test]
    fn parallel_columns_write_arrow_writers_bytes() {
        use arrow::array::{BooleanArray, Float64Array};
        let props = || WriterProperties::builder().set_max_row_group_row_count(Some(7_000)).build();
        let reference = |schema: &SchemaRef, batches: &[RecordBatch]| {
            let mut w = ArrowWriter::try_new(Vec::new(), Arc::clone(schema), Some(props())).unwrap();
            for b in rechunk(schema, batches, BATCH_ROWS).unwrap() {
                w.write(&b).unwrap();
            }
            w.into_inner().unwrap()
        };
        let (schema, a) = table(&[3, 20_000, 4_000]);
        let ours = write_parquet_with(Vec::new(), &schema, &a, props()).unwrap();
        assert_eq!(ours, reference(&schema, &a));
        let Table { schema: back, batches: rows } = {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("t.parquet");
            std::fs::write(&p, &ours).unwrap();
            read_parquet(&p).unwrap()
        };
        assert_eq!(concat(&back, &rows).unwrap(), concat(&schema, &a).unwrap());

        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("b", DataType::Boolean, false),
        ]));
        let x: Float64Array = (0..9_000).map(|i| (i % 5 != 0).then_some(f64::from(i) / 7.0)).collect();
        let b: BooleanArray = (0..9_000).map(|i| Some(i % 2 == 0)).collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(x), Arc::new(b)]).unwrap();
        let batches = [batch];
        assert_eq!(write_parquet_with(Vec::new(), &schema, &batches, props()).unwrap(), reference(&schema, &batches));
        assert_eq!(write_parquet_with(Vec::new(), &schema, &[], props()).unwrap(), reference(&schema, &[]));
    }

    #[test]
    fn row_groups_split_batches_at_the_boundary() {
        let (_, a) = table(&[5, 10, 3]);
        let sizes: Vec<Vec<usize>> =
            row_groups(&a, 7).iter().map(|g| g.iter().map(RecordBatch::num_rows).collect()).collect();
        assert_eq!(sizes, vec![vec![5, 2], vec![7], vec![1, 3]]);
    }

    #[test]
    fn round_trip() {
        let (schema, a) = table(&[10_000]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        std::fs::write(&p, write_parquet(Vec::new(), &schema, &a).unwrap()).unwrap();
        let Table { schema: s2, batches: b } = read_parquet(&p).unwrap();
        assert_eq!(s2.fields().len(), 2);
        assert_eq!(concat(&s2, &b).unwrap(), concat(&schema, &a).unwrap());
    }

    #[test]
    fn batches_are_those_read_whole_and_a_projection_keeps_the_file_order() {
        let (schema, a) = table(&[10_000, 7_000]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        std::fs::write(&p, write_parquet(Vec::new(), &schema, &a).unwrap()).unwrap();
        let whole = read_parquet(&p).unwrap();
        let file = ParquetFile::open(&p).unwrap();
        assert_eq!((file.schema(), file.rows()), (whole.schema.clone(), 17_000));
        let streamed = file.batches(None).unwrap();
        assert_eq!(streamed.schema(), whole.schema);
        let streamed: Vec<RecordBatch> = streamed.collect::<Result<_, _>>().unwrap();
        assert_eq!(streamed, whole.batches);
        assert_eq!(streamed.iter().map(RecordBatch::num_rows).max(), Some(BATCH_ROWS));

        // Asked for in another order and twice: the file's order, once.
        let only_s = ParquetFile::open(&p).unwrap().batches(Some(&[1, 1])).unwrap();
        assert_eq!(only_s.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["s"]);
        let got: Vec<RecordBatch> = only_s.collect::<Result<_, _>>().unwrap();
        let want: Vec<RecordBatch> = whole.batches.iter().map(|b| b.project(&[1]).unwrap()).collect();
        assert_eq!(got, want);
        let both = ParquetFile::open(&p).unwrap().batches(Some(&[1, 0])).unwrap();
        assert_eq!(both.schema(), whole.schema);

        let err = ParquetFile::open(&p).unwrap().batches(Some(&[2])).err().unwrap().to_string();
        assert!(err.contains("column 2") && err.contains("t.parquet"), "{err}");
    }

    #[test]
    fn a_missing_garbage_or_truncated_file_is_an_error_naming_it() {
        let (schema, a) = table(&[10_000]);
        let dir = tempfile::tempdir().unwrap();
        let good = write_parquet(Vec::new(), &schema, &a).unwrap();
        let cases: [(&str, Vec<u8>); 4] = [
            ("garbage.parquet", b"not a parquet file at all".to_vec()),
            ("empty.parquet", Vec::new()),
            ("no-footer.parquet", good[..good.len() / 2].to_vec()),
            ("no-head.parquet", good[good.len() / 2..].to_vec()),
        ];
        for (name, bytes) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let err = read_parquet(&p).err().unwrap_or_else(|| panic!("{name} was read")).to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
        let err = ParquetFile::open(&dir.path().join("missing.parquet")).err().unwrap().to_string();
        assert!(err.contains("missing.parquet"), "{err}");
    }
}
