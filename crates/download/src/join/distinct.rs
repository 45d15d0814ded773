//! A merge's de-duplication done inside its last join, before the output is gathered: an output
//! row is a left row beside a right row (or beside nulls), so it equals an earlier output row
//! exactly when its left row's class and its right row's class ([`row_classes`]) are the
//! earlier row's. Only the kept rows are gathered: at `synth --scale 100` the last join pairs
//! 2.26 M rows of which 1.1 M are duplicates (the portal has a row per grade unit of an
//! enrolment, and the merge keeps none of the columns that tell them apart).

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use arrow::error::ArrowError;

use crate::dedup::{RowHasher, row_classes};
use crate::keys::FxBuild;

/// Rows per slice when the right side's single arrays are classed on all cores.
const SLICE_ROWS: usize = 65_536;

/// The classes of both sides and the (left class, right class) pairs output so far.
pub(super) struct Distinct {
    left: Vec<u32>,
    right: Vec<u32>,
    seen: HashSet<u64, FxBuild>,
    /// Pairs dropped as duplicates.
    pub(super) dropped: usize,
}

impl Distinct {
    /// Classes the left table's rows and the right side's carried columns (`fields` their
    /// fields).
    pub(super) fn new(
        left: &[RecordBatch],
        left_schema: &Schema,
        fields: &[Field],
        right: &[ArrayRef],
    ) -> Result<Self, ArrowError> {
        let left_classes = row_classes(left, &RowHasher::new(left_schema, u64::MAX)?)?;
        let rows = right.first().map_or(0, Array::len);
        let right_classes = if right.is_empty() {
            Vec::new()
        } else {
            let schema = std::sync::Arc::new(Schema::new(fields.to_vec()));
            let whole = RecordBatch::try_new(schema, right.to_vec())?;
            let slices: Vec<RecordBatch> =
                (0..rows).step_by(SLICE_ROWS).map(|o| whole.slice(o, SLICE_ROWS.min(rows - o))).collect();
            row_classes(&slices, &RowHasher::new(&whole.schema(), u64::MAX)?)?
        };
        let seen = HashSet::with_capacity_and_hasher(left_classes.len(), FxBuild::default());
        Ok(Self { left: left_classes, right: right_classes, seen, dropped: 0 })
    }

    /// Keeps the pairs (`offset` + left row, right row) whose row was not output before.
    pub(super) fn retain(&mut self, offset: usize, li: &mut Vec<u32>, ri: &mut Vec<Option<u32>>) {
        let before = li.len();
        let mut k = 0;
        for n in 0..before {
            let (l, r) = (li[n], ri[n]);
            let rc = match r {
                // Nothing carried: every right part is the same (empty) row.
                _ if self.right.is_empty() => 0,
                Some(j) => self.right[j as usize],
                // A left join's null-filled part, in a class no right row has. It could never
                // meet a real right row's anyway: rows of one left class have one key, and a key
                // either matched (each such row beside a right row) or did not.
                None => u32::MAX,
            };
            let pair = (u64::from(self.left[offset + l as usize]) << 32) | u64::from(rc);
            if self.seen.insert(pair) {
                li[k] = l;
                ri[k] = r;
                k += 1;
            }
        }
        li.truncate(k);
        ri.truncate(k);
        self.dropped += before - k;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{JoinSpec, JoinType, index_keys, prepare_right, probe};
    use crate::Table;
    use crate::dedup::drop_duplicates;
    use crate::join::tests::{rows, table};

    /// Cells from a few values, some null, so that rows repeat on both sides.
    fn cells(seed: u64, n: usize, columns: usize, values: u64) -> Vec<Vec<Option<String>>> {
        (0..n as u64)
            .map(|i| {
                (0..columns as u64)
                    .map(|c| {
                        let x = (i * 31 + c * 7 + seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                        (!x.is_multiple_of(6)).then(|| format!("{}", x % values))
                    })
                    .collect()
            })
            .collect()
    }

    fn make(names: &[&str], cells: &[Vec<Option<String>>], batch: usize) -> Table {
        let refs: Vec<Vec<Option<&str>>> = cells.iter().map(|r| r.iter().map(|c| c.as_deref()).collect()).collect();
        let slices: Vec<&[Option<&str>]> = refs.iter().map(Vec::as_slice).collect();
        let mut t = table(names, &slices);
        let whole = t.batches[0].clone();
        t.batches = (0..cells.len()).step_by(batch).map(|o| whole.slice(o, batch.min(cells.len() - o))).collect();
        t
    }

    fn joined(left: &Table, right: &Table, how: JoinType, dedup: bool) -> (Table, usize, usize) {
        let on = ["k".to_owned()];
        let spec = JoinSpec { on: &on, how, validate: None, aggregate: None };
        let (side, encoded) = prepare_right(right.clone(), "r", &on).unwrap();
        let index = index_keys(&encoded);
        let (t, stats, _, dropped) = probe(left.clone(), "l", Ok((side, &encoded)), index, "r", &spec, dedup).unwrap();
        (t, stats.out_rows, dropped)
    }

    /// Dropping duplicates inside the join keeps the rows, in the batches, that dropping them
    /// from the join's output keeps, and counts as many; the join's `out_rows` is unchanged.
    #[test]
    fn dedup_in_the_join_equals_dedup_after_it() {
        let left = make(&["k", "a", "b"], &cells(1, 3_000, 3, 4), 700);
        let right = make(&["k", "c", "d"], &cells(2, 4_000, 3, 5), 4_000);
        let keys_only = make(&["k"], &cells(3, 500, 1, 5), 500);
        for (right, what) in [(&right, "carried columns"), (&keys_only, "keys only")] {
            for how in [JoinType::Inner, JoinType::Left] {
                let (plain, plain_rows, none) = joined(&left, right, how, false);
                let (expected, expected_dropped) = drop_duplicates(plain).unwrap();
                let (got, got_rows, dropped) = joined(&left, right, how, true);
                assert_eq!(none, 0);
                assert!(expected_dropped > 100, "{what} {how:?}: {expected_dropped}");
                assert_eq!((dropped, got_rows), (expected_dropped, plain_rows), "{what} {how:?}");
                assert_eq!(rows(&got), rows(&expected), "{what} {how:?}");
                let sizes = |t: &Table| t.batches.iter().map(arrow::array::RecordBatch::num_rows).collect::<Vec<_>>();
                assert_eq!(sizes(&got), sizes(&expected), "{what} {how:?}");
            }
        }
    }
}
