//! Join keys as byte strings and the indexes over them: [`KeyEncoder`] (a `Utf8` key is its own
//! bytes, anything else the `arrow-row` encoding), [`KeyGroups`] (each distinct key's rows
//! chained in table order), [`DistinctKeys`] (exact distinct counts without an allocation per
//! key), the one hasher the in-memory maps use ([`FxBuild`]), and keys and column names as
//! error messages show them. Shared by the joins and the aggregation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::row::{RowConverter, Rows, SortField};

use crate::Table;

/// The end of a chain of rows.
pub(crate) const END: u32 = u32::MAX;

/// The distinct non-null keys of a table (the right one of a join, or one being aggregated):
/// each key's rows chained in table order.
pub(crate) struct KeyGroups<'k> {
    /// Each key's group.
    pub(crate) map: HashMap<&'k [u8], Group, FxBuild>,
    /// The row after each row of its group, or [`END`].
    pub(crate) next: Vec<u32>,
    /// Rows with a null key (in no group: a null key never matches).
    pub(crate) null_rows: usize,
    /// Rows with a blank key: null, or empty text.
    pub(crate) blank_rows: usize,
}

impl<'k> KeyGroups<'k> {
    /// Indexes the `n` rows of `keys` (at most `u32::MAX - 1`).
    pub(crate) fn build(keys: &'k EncodedKeys, n: usize) -> Self {
        // Sized for the runs of equal adjacent keys: at least the distinct keys, and exactly
        // them when each key's rows are together (the portal's enrolments come student by
        // student). Sized for the rows, the matrículas map at `synth --scale 100` (2.4 M rows,
        // 504 k keys) held 4 M buckets, 100 MB more than the 1 M it needs.
        let mut runs = 0;
        let mut previous = None;
        for j in 0..n {
            let key = keys.key(j);
            runs += usize::from(key.is_some() && key != previous);
            previous = key;
        }
        let mut map: HashMap<&[u8], Group, FxBuild> = HashMap::with_capacity_and_hasher(runs, FxBuild::default());
        let mut next = vec![END; n];
        let (mut null_rows, mut blank_rows) = (0, 0);
        // Back to front, so each chain runs in table order.
        for j in (0..n).rev() {
            blank_rows += usize::from(keys.is_blank(j));
            let Some(key) = keys.key(j) else {
                null_rows += 1;
                continue;
            };
            match map.entry(key) {
                Entry::Occupied(mut e) => {
                    let g = e.get_mut();
                    next[j] = g.head;
                    g.head = j as u32;
                    g.rows += 1;
                }
                Entry::Vacant(e) => {
                    e.insert(Group { head: j as u32, rows: 1, left: 0 });
                }
            }
        }
        Self { map, next, null_rows, blank_rows }
    }

    /// The rows of the group whose first row is `head`, in table order.
    pub(crate) fn rows(&self, head: u32) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(head), |&j| Some(self.next[j as usize]).filter(|&n| n != END)).map(|j| j as usize)
    }
}

/// One distinct key of a table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    /// Its first row (the chain continues in [`KeyGroups::next`]).
    pub(crate) head: u32,
    /// Its rows.
    pub(crate) rows: u32,
    /// The rows of a join's left table counted so far with this key.
    pub(crate) left: u32,
}

/// Distinct byte strings and how many rows each has, without an allocation per string: they
/// are copied into one buffer and indexed by hash, and compared on a hash match so the count is
/// exact.
#[derive(Default)]
pub(crate) struct DistinctKeys {
    bytes: Vec<u8>,
    /// Where each key is in `bytes`, by index.
    ranges: Vec<(usize, usize)>,
    /// Rows counted for each key ([`Self::count_row`]).
    pub(crate) counts: Vec<u32>,
    first: HashMap<u64, u32, FxBuild>,
    /// Keys whose hash an earlier, different key already has.
    more: Vec<(u64, u32)>,
}

impl DistinctKeys {
    /// The index of `key`, added if new.
    pub(crate) fn insert(&mut self, key: &[u8]) -> u32 {
        let h = FxBuild::default().hash_one(key);
        let is_key = |index: u32| {
            let (a, b) = self.ranges[index as usize];
            &self.bytes[a..b] == key
        };
        let collided = match self.first.get(&h) {
            None => false,
            Some(&index) if is_key(index) => return index,
            Some(_) => {
                if let Some(&(_, index)) = self.more.iter().find(|&&(mh, index)| mh == h && is_key(index)) {
                    return index;
                }
                true
            }
        };
        let index = self.ranges.len() as u32;
        self.ranges.push((self.bytes.len(), self.bytes.len() + key.len()));
        self.counts.push(0);
        self.bytes.extend_from_slice(key);
        if collided {
            self.more.push((h, index));
        } else {
            self.first.insert(h, index);
        }
        index
    }

    /// Counts one more row of key `index`; returns its rows so far.
    pub(crate) fn count_row(&mut self, index: u32) -> u32 {
        let count = &mut self.counts[index as usize];
        *count += 1;
        *count
    }

    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }
}

/// A table's columns each as one array. The batches are taken apart first so each column's
/// pieces are freed as soon as it is concatenated: the peak is one column, not the table.
pub(crate) fn concat_columns(table: Table) -> Result<Vec<ArrayRef>, ArrowError> {
    if let [batch] = table.batches.as_slice() {
        return Ok(batch.columns().to_vec());
    }
    let mut pieces: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(table.batches.len()); table.schema.fields().len()];
    for batch in table.batches {
        for (column, array) in pieces.iter_mut().zip(batch.columns()) {
            column.push(Arc::clone(array));
        }
    }
    pieces
        .into_iter()
        .zip(table.schema.fields())
        .map(|(arrays, field)| {
            if arrays.is_empty() {
                return Ok(arrow::array::new_empty_array(field.data_type()));
            }
            let refs: Vec<&dyn Array> = arrays.iter().map(AsRef::as_ref).collect();
            arrow::compute::concat(&refs)
        })
        .collect()
}

/// Turns join keys into byte strings that are equal exactly when the keys are.
pub(crate) enum KeyEncoder {
    /// One `Utf8` key (the portal's ids): its own UTF-8 bytes, no copy.
    Utf8,
    /// Anything else: the `arrow-row` encoding.
    Rows(RowConverter),
}

/// One batch's keys, encoded.
pub(crate) enum EncodedKeys {
    Utf8(StringArray),
    Rows(Rows, Vec<ArrayRef>),
}

impl KeyEncoder {
    pub(crate) fn new(types: &[DataType]) -> Result<Self, ArrowError> {
        if let [DataType::Utf8] = types {
            return Ok(Self::Utf8);
        }
        Ok(Self::Rows(RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?))
    }

    pub(crate) fn encode(&self, arrays: &[ArrayRef]) -> Result<EncodedKeys, ArrowError> {
        match self {
            Self::Utf8 => arrays
                .first()
                .and_then(|a| a.as_string_opt::<i32>())
                .map(|s| EncodedKeys::Utf8(s.clone()))
                .ok_or_else(|| ArrowError::InvalidArgumentError("a Utf8 key column is not Utf8".into())),
            Self::Rows(converter) => Ok(EncodedKeys::Rows(converter.convert_columns(arrays)?, arrays.to_vec())),
        }
    }
}

impl EncodedKeys {
    /// The rows whose keys these are.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Utf8(s) => s.len(),
            Self::Rows(rows, _) => rows.num_rows(),
        }
    }

    /// Row `i`'s key, or `None` when any of its columns is null (null keys never match).
    #[inline]
    pub(crate) fn key(&self, i: usize) -> Option<&[u8]> {
        match self {
            Self::Utf8(s) => s.is_valid(i).then(|| s.value(i).as_bytes()),
            Self::Rows(rows, arrays) => (!arrays.iter().any(|a| a.is_null(i))).then(|| rows.row(i).data()),
        }
    }

    /// Whether row `i`'s key is blank: null, or empty text, in any of its columns.
    #[inline]
    pub(crate) fn is_blank(&self, i: usize) -> bool {
        match self {
            Self::Utf8(s) => s.is_null(i) || s.value(i).is_empty(),
            Self::Rows(_, arrays) => arrays.iter().any(|a| {
                a.is_null(i)
                    || a.as_string_opt::<i32>().is_some_and(|s| s.value(i).is_empty())
                    || a.as_string_opt::<i64>().is_some_and(|s| s.value(i).is_empty())
            }),
        }
    }
}

/// Hashing for the in-memory maps (never iterated into outputs, so their order does not
/// matter): rustc-hash's Fx, for key bytes and for row hashes alike.
pub(crate) type FxBuild = rustc_hash::FxBuildHasher;

/// Row `row`'s key as an error message shows it: `id = "7"`, or `(a, b) = ("1", "x")`.
pub(crate) fn key_text(on: &[String], arrays: &[ArrayRef], row: usize) -> String {
    let value = |a: &ArrayRef| {
        if a.is_null(row) {
            return "null".to_owned();
        }
        let text = arrow::util::display::array_value_to_string(a.as_ref(), row).unwrap_or_else(|e| e.to_string());
        format!("{:?}", esteira_core::excerpt(&text, esteira_core::MAX_EXCERPT_CHARS))
    };
    match (on, arrays) {
        ([name], [array]) => format!("{} = {}", short(name), value(array)),
        _ => format!(
            "({}) = ({})",
            on.iter().map(|n| short(n)).collect::<Vec<_>>().join(", "),
            arrays.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A column name from a file (a header can be megabytes long) as an error message shows it.
pub(crate) fn short(name: &str) -> std::borrow::Cow<'_, str> {
    esteira_core::excerpt(name, esteira_core::MAX_EXCERPT_CHARS)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Each group's rows in table order, by key, as the per-row definition gives them.
    fn groups_by_row(values: &[Option<&str>]) -> BTreeMap<String, Vec<usize>> {
        let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (j, v) in values.iter().enumerate() {
            if let Some(v) = v {
                out.entry((*v).to_owned()).or_default().push(j);
            }
        }
        out
    }

    #[test]
    fn runs_of_equal_keys_chain_like_one_lookup_a_row() {
        let values = [
            Some("b"),
            Some("b"),
            Some("a"),
            None,
            Some("a"),
            Some("a"),
            Some("b"),
            Some(""),
            Some(""),
            None,
            None,
            Some("c"),
            Some("b"),
            Some("b"),
        ];
        let array: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        let encoded = KeyEncoder::new(&[DataType::Utf8]).unwrap().encode(&[array]).unwrap();
        let groups = KeyGroups::build(&encoded, values.len());
        let mut got: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (key, g) in &groups.map {
            let rows: Vec<usize> = groups.rows(g.head).collect();
            assert_eq!(rows.len(), g.rows as usize);
            got.insert(String::from_utf8(key.to_vec()).unwrap(), rows);
        }
        assert_eq!(got, groups_by_row(&values));
        assert_eq!((groups.null_rows, groups.blank_rows), (3, 5));
    }
}
