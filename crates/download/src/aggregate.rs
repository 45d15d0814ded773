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
//!   values are an error naming the table, the key, the column and both values with their rows
//!   (the first row, in table order, that differs from its key's first row).
//!
//! Rows come out in the order of each key's first row; rows with a null key (which a join never
//! matches) are kept as they are. Every value of an `any` column is checked, whether or not its
//! key repeats. The merge does not call [`aggregate`]: its join collapses the right table on the
//! index of the right keys it builds anyway ([`JoinSpec::aggregate`](crate::JoinSpec)), with
//! the same results, which saves a copy and a hash table the size of the table.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Schema};
use arrow::row::{RowConverter, SortField};
use esteira_core::{MAX_EXCERPT_CHARS, excerpt};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyEncoder, KeyGroups, concat_columns, key_text, short};
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

/// A flag's value: ordered so that the value kept is the first of the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flag {
    Null,
    False,
    True,
}

/// Collapses `table` to one row per key `on` as `params` says (see the module docs). `name`
/// labels the table in errors. [`join_with`](crate::join_with) does the same to its right
/// table on its own index of the keys, without this function's copy of the table.
pub fn aggregate(
    table: Table,
    name: &str,
    on: &[String],
    params: &AggregateParams,
) -> Result<(Table, AggregateStats), DownloadError> {
    let plan = Plan::new(&table.schema, name, on, params)?;
    let n = table.num_rows();
    if u32::try_from(n).is_err() {
        return Err(plan.bad(format!("`{name}` has {n} rows, more than an aggregation supports (2^32 - 1)")));
    }
    let schema = Arc::clone(&table.schema);
    let arrow_err = |e| DownloadError::arrow(plan.context.clone(), e);
    let mut columns = concat_columns(table).map_err(arrow_err)?;
    let key_arrays: Vec<ArrayRef> = plan.keys.iter().map(|&i| Arc::clone(&columns[i])).collect();
    let types: Vec<DataType> = key_arrays.iter().map(|a| a.data_type().clone()).collect();
    let encoded = KeyEncoder::new(&types).map_err(arrow_err)?.encode(&key_arrays).map_err(arrow_err)?;
    let groups = KeyGroups::build(&encoded, n);
    let stats = plan.combine(params, &mut columns, &schema, &key_arrays, &groups)?;
    if stats.rows_out < n {
        // Each key's first row, and the null-key rows, in table order.
        let mut keep: Vec<bool> = (0..n).map(|i| encoded.key(i).is_none()).collect();
        for g in groups.map.values() {
            keep[g.head as usize] = true;
        }
        let keep = BooleanArray::from(keep);
        for column in &mut columns {
            *column = arrow::compute::filter(column.as_ref(), &keep).map_err(arrow_err)?;
        }
    }
    drop(groups);
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(arrow_err)?;
    Ok((Table::new(schema, vec![batch]), stats))
}

/// An aggregation resolved against a table's columns.
pub(crate) struct Plan {
    /// `aggregate of `name` by keys`, for errors.
    context: String,
    keys: Vec<usize>,
    any: Vec<usize>,
    /// Per column: `key`, `any`, `first`, or none (one value per key required).
    role: Vec<Option<&'static str>>,
}

impl Plan {
    /// Finds the columns `params` and `on` name in `schema` (the table `name`): each at most once.
    pub(crate) fn new(
        schema: &Schema,
        name: &str,
        on: &[String],
        params: &AggregateParams,
    ) -> Result<Self, DownloadError> {
        let context =
            format!("aggregate of `{name}` by {}", on.iter().map(|k| short(k)).collect::<Vec<_>>().join(", "));
        let bad = |message: String| DownloadError::Join { context: context.clone(), message };
        if on.is_empty() {
            return Err(bad("no key columns (`on` is empty)".into()));
        }
        let index = |c: &String| {
            schema.index_of(c).map_err(|_| DownloadError::MissingColumn {
                table: name.to_owned(),
                column: c.clone(),
                available: schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
            })
        };
        let keys: Vec<usize> = on.iter().map(index).collect::<Result<_, _>>()?;
        let any: Vec<usize> = params.any.iter().map(index).collect::<Result<_, _>>()?;
        let first: Vec<usize> = params.first.iter().map(index).collect::<Result<_, _>>()?;
        let mut role: Vec<Option<&'static str>> = vec![None; schema.fields().len()];
        for (list, indices) in [("key", &keys), ("any", &any), ("first", &first)] {
            for &i in indices {
                if let Some(earlier) = role[i] {
                    let column = short(schema.field(i).name());
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
        Ok(Self { context, keys, any, role })
    }

    fn bad(&self, message: String) -> DownloadError {
        DownloadError::Join { context: self.context.clone(), message }
    }

    /// Checks the rows of each key of `groups` (an index of `columns`' keys, `key_arrays`) and
    /// combines them: every `any` column is replaced by one whose first row of each key holds the
    /// key's OR-ed value. Which rows remain is the caller's business (each key's first row).
    pub(crate) fn combine(
        &self,
        params: &AggregateParams,
        columns: &mut [ArrayRef],
        schema: &Schema,
        key_arrays: &[ArrayRef],
        groups: &KeyGroups<'_>,
    ) -> Result<AggregateStats, DownloadError> {
        let n = columns.first().map_or(0, Array::len);
        let mut stats = AggregateStats {
            rows_in: n,
            keys: groups.map.len(),
            rows_out: groups.map.len() + groups.null_rows,
            null_key_rows: groups.null_rows,
            ..AggregateStats::default()
        };
        // The first rows of keys with several rows, in table order.
        let mut repeated: Vec<u32> = Vec::new();
        for g in groups.map.values() {
            stats.keys_with_2_rows += usize::from(g.rows == 2);
            stats.keys_with_3_or_more_rows += usize::from(g.rows >= 3);
            stats.max_rows_per_key = stats.max_rows_per_key.max(g.rows as usize);
            if g.rows > 1 {
                repeated.push(g.head);
            }
        }
        repeated.sort_unstable();
        let on: Vec<String> = self.keys.iter().map(|&i| schema.field(i).name().clone()).collect();
        let key_of = |row: usize| key_text(&on, key_arrays, row);
        let arrow_err = |e| DownloadError::arrow(self.context.clone(), e);

        for (&c, column_name) in self.any.iter().zip(&params.any) {
            let (patches, later) = or_flags(&columns[c], groups, &repeated).map_err(|(row, problem)| {
                let at = row.map(|row| format!(", row {} ({}):", row + 1, key_of(row))).unwrap_or_default();
                self.bad(format!("column `{}`{at} {problem}", short(column_name)))
            })?;
            stats.flags_from_later_rows.insert(column_name.clone(), later);
            if !patches.is_empty() {
                let mut idx: Vec<u32> = (0..n as u32).collect();
                for (head, source) in patches {
                    idx[head as usize] = source;
                }
                columns[c] =
                    arrow::compute::take(columns[c].as_ref(), &UInt32Array::from(idx), None).map_err(arrow_err)?;
            }
        }
        // The first row, in table order, whose value differs from its key's first row.
        let mut conflict: Option<(usize, usize, usize)> = None;
        for (c, column) in columns.iter().enumerate() {
            if self.role[c].is_some() {
                continue;
            }
            if let Some((first, row)) = first_difference(column, groups, &repeated).map_err(arrow_err)?
                && conflict.is_none_or(|(_, _, r)| row < r)
            {
                conflict = Some((c, first, row));
            }
        }
        if let Some((c, a, b)) = conflict {
            let column = &columns[c];
            return Err(self.bad(format!(
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
        tracing::debug!(context = %self.context, ?stats, "aggregated");
        Ok(stats)
    }
}

/// What ORing a flag column gives: the `(first row, row to take the value from)` pairs where they
/// differ, and how many keys are true only on a later row.
type Ored = (Vec<(u32, u32)>, usize);

/// A flag column's error: the row (none for a column of the wrong type) and what is wrong.
type FlagError = (Option<usize>, String);

/// Checks every value of flag column `column` and ORs it over the rows of each repeated key
/// (`repeated`: their first rows): the `(first row, row to take the value from)` pairs where they
/// differ, and how many keys are true only on a later row. An error is the row (none for a
/// column of the wrong type) and what is wrong.
fn or_flags(column: &ArrayRef, groups: &KeyGroups<'_>, repeated: &[u32]) -> Result<Ored, FlagError> {
    match column.data_type() {
        DataType::Boolean => {
            let b = column.as_boolean();
            or_flags_with(b.len(), groups, repeated, |i| {
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
            or_flags_with(s.len(), groups, repeated, |i| {
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
    groups: &KeyGroups<'_>,
    repeated: &[u32],
    flag: impl Fn(usize) -> Result<Flag, String>,
) -> Result<Ored, FlagError> {
    for i in 0..n {
        flag(i).map_err(|m| (Some(i), m))?;
    }
    let (mut patches, mut later) = (Vec::new(), 0);
    for &head in repeated {
        // Checked above.
        let first = flag(head as usize).unwrap_or(Flag::Null);
        let (mut best, mut source) = (first, head as usize);
        for row in groups.rows(head).skip(1) {
            let value = flag(row).unwrap_or(Flag::Null);
            if value > best {
                (best, source) = (value, row);
            }
        }
        if source != head as usize {
            patches.push((head, source as u32));
            later += usize::from(best == Flag::True);
        }
    }
    Ok((patches, later))
}

/// The first row (in table order) whose value differs from its key's first row, as
/// `(first row, that row)`; null equals only null.
fn first_difference(
    column: &ArrayRef,
    groups: &KeyGroups<'_>,
    repeated: &[u32],
) -> Result<Option<(usize, usize)>, arrow::error::ArrowError> {
    let mut found: Option<(usize, usize)> = None;
    let mut check = |same: &dyn Fn(usize, usize) -> bool| {
        for &head in repeated {
            let head = head as usize;
            if let Some(row) = groups.rows(head as u32).skip(1).find(|&row| !same(head, row))
                && found.is_none_or(|(_, r)| row < r)
            {
                found = Some((head, row));
            }
        }
    };
    if let Some(s) = column.as_string_opt::<i32>() {
        check(&|a, b| match (s.is_valid(a), s.is_valid(b)) {
            (true, true) => s.value(a) == s.value(b),
            (x, y) => x == y,
        });
    } else if !repeated.is_empty() {
        // Any other type: through its `arrow-row` encoding, equal exactly when the values are.
        let converter = RowConverter::new(vec![SortField::new(column.data_type().clone())])?;
        let encoded = converter.convert_columns(std::slice::from_ref(column))?;
        check(&|a, b| encoded.row(a) == encoded.row(b));
    }
    Ok(found)
}

/// A value as an error message shows it: quoted and cut, or `null`.
fn shown(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "null".into();
    }
    let text = arrow::util::display::array_value_to_string(column.as_ref(), row).unwrap_or_else(|e| e.to_string());
    format!("{:?}", excerpt(&text, MAX_EXCERPT_CHARS))
}
