//! Collapsing a table to one row per key before it is joined: the merge's `aggregate`.
//!
//! The UFRN socio-economic table has one row per aid programme a student holds: a student with
//! food and transport aid has two rows, identical but for the flags (`possui_auxilio_alimentacao
//! = true` in one, `possui_auxilio_transporte = true` in the other). Joined as it is, each of
//! that student's enrolments appears twice with contradicting flags, and neither row says the
//! truth. [`aggregate`] makes one row per key:
//!
//! - `any` columns are boolean flags (text `true`/`false`/`t`/`f` in any case, as the portal
//!   writes them, or `Boolean`), OR-ed over the key's rows; nulls are skipped. The value kept is
//!   the first true one (its spelling unchanged), else the first false one, else null.
//! - `first` columns take the value of the key's first row (in table order), null or not.
//! - every other column must hold one value per key (null counts as a value): two differing
//!   values are an error naming the table, the key, the column and both values with their rows.
//!
//! Rows come out in the order of each key's first row; rows with a null key (which a join never
//! matches) are kept as they are. Every value of an `any` column is checked, whether or not its
//! key repeats.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, RecordBatch, UInt32Array};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use esteira_core::{MAX_EXCERPT_CHARS, excerpt};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::join::{KeyEncoder, concat_columns, key_text, short};
use crate::{DownloadError, Table};

/// How to collapse a table to one row per key (a join's `aggregate` in the merge params).
/// Column names are the table's names after the join's `rename`, like `on`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateParams {
    /// Boolean flag columns, OR-ed over each key's rows.
    #[serde(default)]
    pub any: Vec<String>,
    /// Columns taken from each key's first row.
    #[serde(default)]
    pub first: Vec<String>,
}

/// What an aggregation did, for the merge's `joins` metric.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateStats {
    /// Rows before.
    pub rows_in: usize,
    /// Rows after: one per key, plus the rows with a null key.
    pub rows_out: usize,
    /// Distinct non-null keys.
    pub keys: usize,
    /// Keys with exactly two rows.
    pub keys_with_2_rows: usize,
    /// Keys with three rows or more.
    pub keys_with_3_or_more_rows: usize,
    /// The most rows one key has (0 for an empty table).
    pub max_rows_per_key: usize,
    /// Rows whose key is null in some key column (kept, never merged).
    pub null_key_rows: usize,
    /// Per `any` column: keys whose flag is true but false or null in their first row (what
    /// keeping the first row alone would have lost).
    pub flags_from_later_rows: BTreeMap<String, usize>,
}

const NO_GROUP: u32 = u32::MAX;

/// A flag's value: ordered so that the value kept is the first of the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flag {
    Null,
    False,
    True,
}

/// Collapses `table` to one row per key `on` as `params` says (see the module docs). `name`
/// labels the table in errors.
pub fn aggregate(
    table: Table,
    name: &str,
    on: &[String],
    params: &AggregateParams,
) -> Result<(Table, AggregateStats), DownloadError> {
    let context = format!("aggregate of `{name}` by {}", on.iter().map(|k| short(k)).collect::<Vec<_>>().join(", "));
    let bad = |message: String| DownloadError::Join { context: context.clone(), message };
    if on.is_empty() {
        return Err(bad("no key columns (`on` is empty)".into()));
    }
    let keys: Vec<usize> = on.iter().map(|k| table.column_index(name, k)).collect::<Result<_, _>>()?;
    let any: Vec<usize> = params.any.iter().map(|c| table.column_index(name, c)).collect::<Result<_, _>>()?;
    let first: Vec<usize> = params.first.iter().map(|c| table.column_index(name, c)).collect::<Result<_, _>>()?;
    let mut role: Vec<Option<&str>> = vec![None; table.schema.fields().len()];
    for (list, indices) in [("key", &keys), ("any", &any), ("first", &first)] {
        for &i in indices {
            if let Some(earlier) = role[i] {
                let column = short(table.schema.field(i).name());
                return Err(bad(if earlier == list {
                    format!("column `{column}` is listed twice in `{list}`")
                } else if earlier == "key" {
                    format!("column `{column}` is a key: it cannot be in `aggregate.{list}`")
                } else {
                    format!("column `{column}` is in both `aggregate.{earlier}` and `aggregate.{list}`")
                }));
            }
            role[i] = Some(list);
        }
    }
    let n = table.num_rows();
    if u32::try_from(n).is_err() {
        return Err(bad(format!("`{name}` has {n} rows, more than an aggregation supports (2^32 - 1)")));
    }
    let schema = Arc::clone(&table.schema);
    let arrow_err = |e| DownloadError::arrow(context.clone(), e);
    let columns = concat_columns(table).map_err(arrow_err)?;
    let key_arrays: Vec<ArrayRef> = keys.iter().map(|&i| Arc::clone(&columns[i])).collect();
    let types: Vec<DataType> = key_arrays.iter().map(|a| a.data_type().clone()).collect();
    let encoded = KeyEncoder::new(&types).map_err(arrow_err)?.encode(&key_arrays).map_err(arrow_err)?;

    // Each row's group (key), each group's first row and row count.
    let mut groups: FxHashMap<&[u8], u32> = FxHashMap::with_capacity_and_hasher(n, rustc_hash::FxBuildHasher);
    let mut group_of: Vec<u32> = Vec::with_capacity(n);
    let mut first_row: Vec<u32> = Vec::new();
    let mut count: Vec<u32> = Vec::new();
    let mut stats = AggregateStats { rows_in: n, ..AggregateStats::default() };
    for i in 0..n {
        let Some(key) = encoded.key(i) else {
            group_of.push(NO_GROUP);
            stats.null_key_rows += 1;
            continue;
        };
        let g = *groups.entry(key).or_insert_with(|| {
            first_row.push(i as u32);
            count.push(0);
            (first_row.len() - 1) as u32
        });
        count[g as usize] += 1;
        group_of.push(g);
    }
    drop(groups);
    stats.keys = first_row.len();
    stats.keys_with_2_rows = count.iter().filter(|&&c| c == 2).count();
    stats.keys_with_3_or_more_rows = count.iter().filter(|&&c| c >= 3).count();
    stats.max_rows_per_key = count.iter().copied().max().unwrap_or(0) as usize;
    let repeats = stats.keys_with_2_rows + stats.keys_with_3_or_more_rows > 0;
    let key_of = |row: usize| key_text(on, &key_arrays, row);
    // The rows of keys with several rows, in table order: the only ones to combine or compare.
    let repeated: Vec<u32> = if repeats {
        (0..n as u32)
            .filter(|&i| group_of[i as usize] != NO_GROUP && count[group_of[i as usize] as usize] > 1)
            .collect()
    } else {
        Vec::new()
    };
    let rows = Rows { group_of: &group_of, first_row: &first_row, repeated: &repeated };

    // The row each group takes each `any` column's value from (checked on every row).
    let mut any_source: Vec<Vec<u32>> = Vec::with_capacity(any.len());
    for (&c, column_name) in any.iter().zip(&params.any) {
        let (source, later) = or_flags(&columns[c], &rows, repeats).map_err(|(row, problem)| {
            let at = row.map(|row| format!(", row {} ({}):", row + 1, key_of(row))).unwrap_or_default();
            bad(format!("column `{}`{at} {problem}", short(column_name)))
        })?;
        stats.flags_from_later_rows.insert(column_name.clone(), later);
        any_source.push(source);
    }
    if !repeats {
        stats.rows_out = n;
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(arrow_err)?;
        return Ok((Table::new(schema, vec![batch]), stats));
    }
    for (c, column) in columns.iter().enumerate() {
        if role[c].is_some() {
            continue;
        }
        if let Some((a, b)) = first_difference(column, &rows).map_err(arrow_err)? {
            return Err(bad(format!(
                "{} has different values in column `{}`: {} (row {}) and {} (row {}); list the column in \
                 `aggregate.first` to take the first row's value (or in `aggregate.any` if it is a flag)",
                key_of(a),
                short(schema.field(c).name()),
                shown(column, a),
                a + 1,
                shown(column, b),
                b + 1
            )));
        }
    }

    // One row per group, in first-row order, and the null-key rows where they are: most rows,
    // in long runs, which a filter copies run by run.
    let mut keep = BooleanBufferBuilder::new(n);
    for (i, &g) in group_of.iter().enumerate() {
        keep.append(g == NO_GROUP || first_row[g as usize] as usize == i);
    }
    let keep = BooleanArray::new(keep.finish(), None);
    stats.rows_out = keep.true_count();
    let mut out: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (c, column) in columns.iter().enumerate() {
        let array = match any.iter().position(|&a| a == c) {
            Some(k) => {
                // Each kept row's value from the row its group's OR chose.
                let source = &any_source[k];
                let idx: UInt32Array = (0..n as u32)
                    .filter(|&i| keep.value(i as usize))
                    .map(|i| match group_of[i as usize] {
                        NO_GROUP => i,
                        g => source[g as usize],
                    })
                    .collect::<Vec<u32>>()
                    .into();
                arrow::compute::take(column.as_ref(), &idx, None)
            }
            None => arrow::compute::filter(column.as_ref(), &keep),
        }
        .map_err(arrow_err)?;
        out.push(array);
    }
    let batch = RecordBatch::try_new(Arc::clone(&schema), out).map_err(arrow_err)?;
    tracing::debug!(%context, ?stats, "aggregated");
    Ok((Table::new(schema, vec![batch]), stats))
}

/// Each row's group, each group's first row, and the rows of groups with several rows.
struct Rows<'a> {
    group_of: &'a [u32],
    first_row: &'a [u32],
    repeated: &'a [u32],
}

/// Checks every value of flag column `column` and ORs it per group: for each group, the row to
/// take the value from, and how many groups are true only on a later row. `repeats` false: only
/// the check. An error is the row (none for a column of the wrong type) and what is wrong.
fn or_flags(column: &ArrayRef, rows: &Rows<'_>, repeats: bool) -> Result<(Vec<u32>, usize), (Option<usize>, String)> {
    match column.data_type() {
        DataType::Boolean => {
            let b = column.as_boolean();
            or_flags_with(b.len(), rows, repeats, |i| {
                Ok(if b.is_null(i) {
                    Flag::Null
                } else if b.value(i) {
                    Flag::True
                } else {
                    Flag::False
                })
            })
        }
        DataType::Utf8 => {
            let s = column.as_string::<i32>();
            or_flags_with(s.len(), rows, repeats, |i| {
                if s.is_null(i) {
                    return Ok(Flag::Null);
                }
                match s.value(i).as_bytes() {
                    b"true" | b"t" => Ok(Flag::True),
                    b"false" | b"f" => Ok(Flag::False),
                    v if v.eq_ignore_ascii_case(b"true") || v.eq_ignore_ascii_case(b"t") => Ok(Flag::True),
                    v if v.eq_ignore_ascii_case(b"false") || v.eq_ignore_ascii_case(b"f") => Ok(Flag::False),
                    _ => Err(format!(
                        "{:?} is not a boolean flag (true, false, t or f)",
                        excerpt(s.value(i), MAX_EXCERPT_CHARS)
                    )),
                }
            })
        }
        other => {
            Err((None, format!("is {other}: `aggregate.any` needs boolean flags (text true/false/t/f, or Boolean)")))
        }
    }
}

/// [`or_flags`] over `n` values read by `flag`.
fn or_flags_with(
    n: usize,
    rows: &Rows<'_>,
    repeats: bool,
    flag: impl Fn(usize) -> Result<Flag, String>,
) -> Result<(Vec<u32>, usize), (Option<usize>, String)> {
    for i in 0..n {
        flag(i).map_err(|m| (Some(i), m))?;
    }
    if !repeats {
        return Ok((Vec::new(), 0));
    }
    let mut source = rows.first_row.to_vec();
    let mut best = vec![Flag::Null; rows.first_row.len()];
    let mut later = 0;
    for &i in rows.repeated {
        let (i, g) = (i as usize, rows.group_of[i as usize] as usize);
        // Checked above.
        let value = flag(i).unwrap_or(Flag::Null);
        if rows.first_row[g] as usize == i {
            best[g] = value;
        } else if value > best[g] {
            later += usize::from(value == Flag::True);
            best[g] = value;
            source[g] = i as u32;
        }
    }
    Ok((source, later))
}

/// The first row (in table order) whose value differs from its group's first row, as
/// `(first row, that row)`; null equals only null.
fn first_difference(column: &ArrayRef, rows: &Rows<'_>) -> Result<Option<(usize, usize)>, arrow::error::ArrowError> {
    let mut pairs = rows.repeated.iter().filter_map(|&i| {
        let (i, f) = (i as usize, rows.first_row[rows.group_of[i as usize] as usize] as usize);
        (f != i).then_some((f, i))
    });
    if let Some(s) = column.as_string_opt::<i32>() {
        let same = |a: usize, b: usize| match (s.is_valid(a), s.is_valid(b)) {
            (true, true) => s.value(a) == s.value(b),
            (x, y) => x == y,
        };
        return Ok(pairs.find(|&(f, i)| !same(f, i)));
    }
    // Any other type: through its `arrow-row` encoding, equal exactly when the values are.
    let converter = RowConverter::new(vec![SortField::new(column.data_type().clone())])?;
    let encoded = converter.convert_columns(std::slice::from_ref(column))?;
    Ok(pairs.find(|&(f, i)| encoded.row(f) != encoded.row(i)))
}

/// A value as an error message shows it: quoted and cut, or `null`.
fn shown(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "null".into();
    }
    let text = arrow::util::display::array_value_to_string(column.as_ref(), row).unwrap_or_else(|e| e.to_string());
    format!("{:?}", excerpt(&text, MAX_EXCERPT_CHARS))
}
