//! Dropping exact duplicate rows: whole-row hashing straight from the columns, and a value
//! comparison behind every hash match.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Schema};
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};

use crate::{DownloadError, Table};

use crate::keys::FxBuild;

/// Drops rows equal in every column to an earlier row; returns the table and how many rows
/// were dropped. The first occurrence is kept, so the order of the rest is unchanged.
///
/// Each row is hashed to 64 bits straight from its columns (no copy of the row); rows whose
/// hashes match are then compared value by value, so a hash collision can never drop a
/// distinct row. Memory is 16 bytes per distinct row (its hash and where it is kept) instead of
/// a second copy of the table. The table is consumed so each input batch is freed as soon as
/// its output is made.
pub fn drop_duplicates(table: Table) -> Result<(Table, usize), DownloadError> {
    if table.schema.fields().is_empty() || table.num_rows() == 0 {
        return Ok((table, 0));
    }
    let err = |e| DownloadError::arrow("dropping duplicate rows", e);
    let schema = Arc::clone(&table.schema);
    let rows = RowHasher::new(&schema, u64::MAX).map_err(err)?;
    dedup_rows(table, &rows)
}

/// The body of [`drop_duplicates`] (tests pass a hasher whose hashes always collide).
///
/// Fast path, on all cores: the rows are hashed batch by batch in parallel; one sequential pass
/// keeps each hash's first row and pairs every later row with it; the pairs are then compared
/// value by value in parallel. When every pair is equal (no 64-bit collision: in practice
/// always), the kept rows are exactly those [`dedup_exact`] keeps; otherwise the table goes to
/// it. Either way the output is the same, whatever the thread count.
pub(crate) fn dedup_rows(table: Table, rows: &RowHasher) -> Result<(Table, usize), DownloadError> {
    use rayon::prelude::*;
    let err = |e| DownloadError::arrow("dropping duplicate rows", e);
    let batches = &table.batches;
    if batches.len() > u32::MAX as usize || batches.iter().any(|b| b.num_rows() > u32::MAX as usize) {
        return dedup_exact(table, rows);
    }
    let hashes: Vec<Vec<u64>> = batches
        .par_iter()
        .map(|b| {
            let mut h = Vec::new();
            rows.hash_batch(b, &mut h).map(|()| h)
        })
        .collect::<Result<_, _>>()
        .map_err(err)?;
    // Hash -> its first row (batch, row); later rows with the hash become (row, first) pairs.
    let mut first: HashMap<u64, (u32, u32), FxBuild> =
        HashMap::with_capacity_and_hasher(table.num_rows(), FxBuild::default());
    let mut keep: Vec<Vec<u32>> = Vec::with_capacity(batches.len());
    let mut pairs: Vec<[u32; 4]> = Vec::new();
    for (b, hashes) in hashes.iter().enumerate() {
        let mut kept = Vec::with_capacity(hashes.len());
        for (i, &h) in hashes.iter().enumerate() {
            match first.entry(h) {
                Entry::Vacant(e) => {
                    e.insert((b as u32, i as u32));
                    kept.push(i as u32);
                }
                Entry::Occupied(e) => {
                    let (ob, oi) = *e.get();
                    pairs.push([b as u32, i as u32, ob, oi]);
                }
            }
        }
        keep.push(kept);
    }
    drop((first, hashes));
    let all_equal = pairs_equal(batches, &pairs, rows).map_err(err)?;
    if !all_equal {
        tracing::debug!("a 64-bit row hash collided: dropping duplicates the exact way");
        return dedup_exact(table, rows);
    }
    let dropped = pairs.len();
    drop(pairs);
    let schema = Arc::clone(&table.schema);
    let mut out: Vec<RecordBatch> = table
        .batches
        .into_par_iter()
        .zip(keep)
        .map(|(batch, keep)| {
            if keep.len() == batch.num_rows() {
                return Ok(batch);
            }
            // A filter copies each run of kept rows whole, where `take` copies value by value:
            // the de-duplication and write of a scale-100 merge went from 1.22 to 1.0 s.
            let mut mask = vec![false; batch.num_rows()];
            for &i in &keep {
                mask[i as usize] = true;
            }
            arrow::compute::filter_record_batch(&batch, &arrow::array::BooleanArray::from(mask))
        })
        .collect::<Result<_, _>>()
        .map_err(err)?;
    out.retain(|b| b.num_rows() > 0);
    Ok((Table::new(schema, out), dropped))
}

/// Whether each pair `[batch, row, other batch, other row]` of `batches` is two equal rows,
/// compared on all cores.
fn pairs_equal(batches: &[RecordBatch], pairs: &[[u32; 4]], rows: &RowHasher) -> Result<bool, ArrowError> {
    use rayon::prelude::*;
    pairs
        .par_chunks(4096)
        .map(|chunk| {
            for &[b, i, ob, oi] in chunk {
                if !rows.equal(&batches[b as usize], i as usize, &batches[ob as usize], oi as usize)? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .try_reduce(|| true, |x, y| Ok(x && y))
}

/// The exact, sequential dedup: every hash match is compared before the row is dropped, and a
/// collision chain keeps each distinct row. [`dedup_rows`] falls back to it when a hash match
/// turns out to be two distinct rows.
fn dedup_exact(table: Table, rows: &RowHasher) -> Result<(Table, usize), DownloadError> {
    let err = |e| DownloadError::arrow("dropping duplicate rows", e);
    let schema = Arc::clone(&table.schema);
    // Hash -> the first kept row with it, as (batch << 32 | position among that batch's kept rows).
    let mut seen: HashMap<u64, u64, FxBuild> = HashMap::with_capacity_and_hasher(table.num_rows(), FxBuild::default());
    // Further distinct rows sharing a hash (a 64-bit collision: in practice never).
    let mut also: HashMap<u64, Vec<u64>, FxBuild> = HashMap::default();
    let mut out: Vec<RecordBatch> = Vec::with_capacity(table.batches.len());
    let mut hashes = Vec::new();
    let mut dropped = 0;
    for (b, batch) in table.batches.into_iter().enumerate() {
        rows.hash_batch(&batch, &mut hashes).map_err(err)?;
        let mut keep: Vec<u32> = Vec::with_capacity(batch.num_rows());
        for (i, &h) in hashes.iter().enumerate() {
            let here = ((b as u64) << 32) | keep.len() as u64;
            let duplicate = match seen.entry(h) {
                Entry::Vacant(e) => {
                    e.insert(here);
                    false
                }
                Entry::Occupied(e) => {
                    let same = |at: u64| {
                        let (ob, ok) = ((at >> 32) as usize, (at & u64::from(u32::MAX)) as usize);
                        // Kept rows of the batch in hand are still at their input positions.
                        let (other, j) = if ob == b { (&batch, keep[ok] as usize) } else { (&out[ob], ok) };
                        rows.equal(other, j, &batch, i)
                    };
                    if same(*e.get()).map_err(err)? {
                        true
                    } else {
                        let chain = also.entry(h).or_default();
                        let mut found = false;
                        for &at in chain.iter() {
                            if same(at).map_err(err)? {
                                found = true;
                                break;
                            }
                        }
                        if !found {
                            chain.push(here);
                        }
                        found
                    }
                }
            };
            if !duplicate {
                keep.push(i as u32);
            }
        }
        dropped += batch.num_rows() - keep.len();
        // One output batch per input batch (maybe empty), so kept rows are addressed by batch.
        if keep.len() == batch.num_rows() {
            out.push(batch);
        } else {
            let idx = UInt32Array::from(keep);
            let columns = batch
                .columns()
                .iter()
                .map(|c| arrow::compute::take(c.as_ref(), &idx, None))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            out.push(RecordBatch::try_new(Arc::clone(&schema), columns).map_err(err)?);
        }
    }
    out.retain(|b| b.num_rows() > 0);
    Ok((Table::new(schema, out), dropped))
}

/// Each row's class among `batches` (one schema): rows equal in every column share a class, and
/// classes are numbered by first appearance, in table order. A merge's last join drops duplicate
/// output rows by these: an output row is its left row beside its right row, so two output rows
/// are equal exactly when their left classes and their right classes are.
///
/// Hashed on all cores; every row taking an earlier row's class is compared with it value by
/// value, and on a 64-bit collision (in practice never) the classes are made the exact way.
pub(crate) fn row_classes(batches: &[RecordBatch], rows: &RowHasher) -> Result<Vec<u32>, ArrowError> {
    use rayon::prelude::*;
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if total >= u32::MAX as usize || batches.len() > u32::MAX as usize {
        return Err(ArrowError::InvalidArgumentError(format!("{total} rows are more than 2^32 - 1")));
    }
    let hashes: Vec<Vec<u64>> = batches
        .par_iter()
        .map(|b| {
            let mut h = Vec::new();
            rows.hash_batch(b, &mut h).map(|()| h)
        })
        .collect::<Result<_, _>>()?;
    // Hash -> (class, batch, row) of its first row.
    let mut first: HashMap<u64, (u32, u32, u32), FxBuild> =
        HashMap::with_capacity_and_hasher(total, FxBuild::default());
    let mut classes = Vec::with_capacity(total);
    let mut pairs: Vec<[u32; 4]> = Vec::new();
    for (b, hashes) in hashes.iter().enumerate() {
        for (i, &h) in hashes.iter().enumerate() {
            let next = first.len() as u32;
            let &mut (class, ob, oi) = first.entry(h).or_insert((next, b as u32, i as u32));
            if class != next {
                pairs.push([b as u32, i as u32, ob, oi]);
            }
            classes.push(class);
        }
    }
    drop(first);
    if pairs_equal(batches, &pairs, rows)? {
        return Ok(classes);
    }
    tracing::debug!("a 64-bit row hash collided: classing rows the exact way");
    // Hash -> every distinct row with it, as (class, batch, row).
    let mut chains: HashMap<u64, Vec<(u32, u32, u32)>, FxBuild> = HashMap::default();
    let mut count = 0u32;
    classes.clear();
    for (b, hashes) in hashes.iter().enumerate() {
        for (i, &h) in hashes.iter().enumerate() {
            let chain = chains.entry(h).or_default();
            let mut class = None;
            for &(c, ob, oi) in chain.iter() {
                if rows.equal(&batches[ob as usize], oi as usize, &batches[b], i)? {
                    class = Some(c);
                    break;
                }
            }
            let class = class.unwrap_or_else(|| {
                chain.push((count, b as u32, i as u32));
                count += 1;
                count - 1
            });
            classes.push(class);
        }
    }
    Ok(classes)
}

/// Hashes and compares whole rows: `Utf8` columns directly, any other columns through their
/// `arrow-row` encoding (equal exactly when the values are).
pub(crate) struct RowHasher {
    /// Applied to every hash: `u64::MAX` (tests use 0 to make every row collide).
    mask: u64,
    strings: Vec<usize>,
    others: Vec<usize>,
    converter: Option<RowConverter>,
}

const NULL_TAG: usize = usize::MAX;

impl RowHasher {
    pub(crate) fn new(schema: &Schema, mask: u64) -> Result<Self, ArrowError> {
        let (strings, others): (Vec<usize>, Vec<usize>) =
            (0..schema.fields().len()).partition(|&i| schema.field(i).data_type() == &DataType::Utf8);
        let converter = if others.is_empty() {
            None
        } else {
            Some(RowConverter::new(
                others.iter().map(|&i| SortField::new(schema.field(i).data_type().clone())).collect(),
            )?)
        };
        Ok(Self { mask, strings, others, converter })
    }

    fn other_columns(&self, batch: &RecordBatch, at: Option<usize>) -> Vec<ArrayRef> {
        self.others
            .iter()
            .map(|&c| match at {
                Some(i) => batch.column(c).slice(i, 1),
                None => Arc::clone(batch.column(c)),
            })
            .collect()
    }

    /// One 64-bit hash per row of `batch`, into `out`. Column by column, so each column's
    /// buffers are read in order.
    fn hash_batch(&self, batch: &RecordBatch, out: &mut Vec<u64>) -> Result<(), ArrowError> {
        let mut states = vec![rustc_hash::FxHasher::default(); batch.num_rows()];
        for &c in &self.strings {
            let Some(s) = batch.column(c).as_string_opt::<i32>() else { continue };
            let offsets = s.value_offsets();
            let values = s.value_data();
            for (i, state) in states.iter_mut().enumerate() {
                if s.is_null(i) {
                    state.write_usize(NULL_TAG);
                } else {
                    let bytes = &values[offsets[i] as usize..offsets[i + 1] as usize];
                    state.write(bytes);
                    state.write_usize(bytes.len());
                }
            }
        }
        if let Some(converter) = &self.converter {
            let rows = converter.convert_columns(&self.other_columns(batch, None))?;
            for (i, state) in states.iter_mut().enumerate() {
                state.write(rows.row(i).data());
            }
        }
        out.clear();
        out.extend(states.iter().map(|s| s.finish() & self.mask));
        Ok(())
    }

    /// Whether row `i` of `a` equals row `j` of `b` (same schema) in every column.
    fn equal(&self, a: &RecordBatch, i: usize, b: &RecordBatch, j: usize) -> Result<bool, ArrowError> {
        for &c in &self.strings {
            let (Some(x), Some(y)) = (a.column(c).as_string_opt::<i32>(), b.column(c).as_string_opt::<i32>()) else {
                continue;
            };
            let same = match (x.is_valid(i), y.is_valid(j)) {
                (true, true) => x.value(i) == y.value(j),
                (false, false) => true,
                _ => false,
            };
            if !same {
                return Ok(false);
            }
        }
        let Some(converter) = &self.converter else { return Ok(true) };
        let x = converter.convert_columns(&self.other_columns(a, Some(i)))?;
        let y = converter.convert_columns(&self.other_columns(b, Some(j)))?;
        Ok(x.row(0) == y.row(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::join::tests::{rows, s, table};

    #[test]
    fn duplicates_dropped_keep_first() {
        let t = table(
            &["a", "b"],
            &[
                &[Some("1"), None],
                &[Some("1"), Some("")],
                &[Some("1"), None],
                &[Some("2"), Some("x")],
                &[Some("1"), Some("")],
            ],
        );
        let (out, dropped) = drop_duplicates(t).unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(rows(&out), vec![s(&[Some("1"), None]), s(&[Some("1"), Some("")]), s(&[Some("2"), Some("x")])]);
    }

    /// Six rows, two of them repeats, some null or empty.
    fn six_rows() -> Table {
        table(
            &["a", "b"],
            &[
                &[Some("1"), None],
                &[Some("1"), Some("")],
                &[Some("1"), None],
                &[Some("2"), Some("x")],
                &[Some("1"), Some("")],
                &[Some("2"), Some("y")],
            ],
        )
    }

    #[test]
    fn colliding_hashes_never_drop_distinct_rows() {
        let t = six_rows();
        // Every row hashes to 0: only the value comparison tells rows apart.
        let mut two = t.clone();
        two.batches = vec![t.batches[0].slice(0, 4), t.batches[0].slice(4, 2)];
        let hasher = RowHasher::new(&t.schema, 0).unwrap();
        let (exact, _) = dedup_exact(two.clone(), &hasher).unwrap();
        let (out, dropped) = dedup_rows(two, &hasher).unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(
            rows(&out),
            vec![
                s(&[Some("1"), None]),
                s(&[Some("1"), Some("")]),
                s(&[Some("2"), Some("x")]),
                s(&[Some("2"), Some("y")])
            ]
        );
        assert_eq!(rows(&out), rows(&exact));
    }

    #[test]
    fn non_string_columns_dedup_with_and_without_collisions() {
        use arrow::array::{Int64Array, StringArray};
        let schema = Arc::new(Schema::new(vec![
            arrow::datatypes::Field::new("k", DataType::Int64, true),
            arrow::datatypes::Field::new("v", DataType::Utf8, true),
        ]));
        let batch = |k: Vec<Option<i64>>, v: Vec<Option<&str>>| {
            let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(k)), Arc::new(StringArray::from(v))];
            RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()
        };
        let t = Table::new(
            Arc::clone(&schema),
            vec![
                batch(vec![Some(1), Some(2), None], vec![Some("a"), Some("b"), Some("c")]),
                batch(vec![Some(1), Some(3), None, Some(2)], vec![Some("a"), Some("b"), Some("c"), Some("x")]),
            ],
        );
        for mask in [u64::MAX, 0] {
            let hasher = RowHasher::new(&t.schema, mask).unwrap();
            let (out, dropped) = dedup_rows(t.clone(), &hasher).unwrap();
            assert_eq!((out.num_rows(), dropped), (5, 2), "mask {mask}");
        }
    }

    #[test]
    fn row_classes_number_equal_rows_alike_with_and_without_collisions() {
        let t = six_rows();
        let two = vec![t.batches[0].slice(0, 4), t.batches[0].slice(4, 2)];
        for mask in [u64::MAX, 0] {
            let hasher = RowHasher::new(&t.schema, mask).unwrap();
            assert_eq!(row_classes(&two, &hasher).unwrap(), [0, 1, 0, 2, 1, 3], "mask {mask}");
        }
    }

    /// The parallel path keeps exactly the rows the sequential one keeps, on many batches with
    /// many duplicates, and says it dropped as many.
    #[test]
    fn parallel_dedup_keeps_what_the_exact_one_keeps() {
        let names = ["a", "b", "c"];
        let cells: Vec<Vec<Option<String>>> = (0u64..5_000)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 53;
                vec![Some(format!("{}", x % 37)), (x % 5 != 0).then(|| format!("{}", x % 11)), Some(String::new())]
            })
            .collect();
        let refs: Vec<Vec<Option<&str>>> = cells.iter().map(|r| r.iter().map(|c| c.as_deref()).collect()).collect();
        let slices: Vec<&[Option<&str>]> = refs.iter().map(Vec::as_slice).collect();
        let mut t = table(&names, &slices);
        let whole = t.batches[0].clone();
        t.batches = (0..5_000).step_by(700).map(|o| whole.slice(o, 700.min(5_000 - o))).collect();
        let hasher = RowHasher::new(&t.schema, u64::MAX).unwrap();
        let (exact, exact_dropped) = dedup_exact(t.clone(), &hasher).unwrap();
        let (fast, fast_dropped) = dedup_rows(t, &hasher).unwrap();
        assert!(exact_dropped > 4_000, "{exact_dropped}");
        assert_eq!(fast_dropped, exact_dropped);
        assert_eq!(rows(&fast), rows(&exact));
        assert_eq!(fast.batches.len(), exact.batches.len());
    }
}
