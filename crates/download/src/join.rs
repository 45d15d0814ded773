//! Relational operations on [`Table`]s with Arrow kernels: column selection with renames, inner
//! and left hash joins, and dropping exact duplicate rows.
//!
//! Arrow has no join kernel. Keys of any type (and composite keys) are encoded with `arrow-row`
//! into byte strings that compare equal exactly when the keys do (a single `Utf8` key, the
//! usual case, is its own bytes and skips the encoding); the right table is indexed
//! in a hash map from key bytes to its first row, with the other rows of the same key chained
//! in right-table order; the left table is probed batch by batch and the output gathered with
//! `take`. Output order is deterministic: left rows in order, each followed by its matches in
//! right-table order. Null keys never match (as in SQL).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

mod distinct;
mod gather;
mod right;
mod stats;

use distinct::Distinct;
use gather::Gather;
pub(crate) use right::{RightSide, index_keys, prepare_right};
use stats::{cardinality_error, fan_out_stats, share};

pub(crate) use crate::keys::{DistinctKeys, END, EncodedKeys, FxBuild, Group, KeyEncoder, KeyGroups, key_text, short};

use crate::aggregate::{AggregateParams, AggregateStats, Plan};
use crate::table::ColumnIndex;
use crate::{DownloadError, Table};

/// Which rows of the left table a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinType {
    /// Only left rows with at least one match.
    Inner,
    /// Every left row; right columns are null where nothing matched.
    Left,
}

impl JoinType {
    /// `inner` or `left`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inner => "inner",
            Self::Left => "left",
        }
    }
}

/// What a join did, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinStats {
    /// Rows of the left table.
    pub left_rows: usize,
    /// Rows of the right table.
    pub right_rows: usize,
    /// Rows produced.
    pub out_rows: usize,
    /// Left rows with no match (dropped by an inner join, null-filled by a left join).
    pub unmatched_left_rows: usize,
    /// Distinct non-null keys among those rows.
    pub unmatched_left_keys: usize,
    /// Right rows that matched no left row.
    pub unmatched_right_rows: usize,
    /// Left rows whose key is blank: null in some key column (an empty CSV field is null, and a
    /// null key never matches) or an empty text. Counted in `unmatched_left_rows` when null.
    #[serde(default)]
    pub blank_key_left_rows: usize,
    /// Right rows whose key is blank (null or empty text); a null one can never be matched.
    #[serde(default)]
    pub blank_key_right_rows: usize,
    /// Distinct non-null keys of the left table.
    #[serde(default)]
    pub left_keys: usize,
    /// Distinct non-null keys of the right table.
    #[serde(default)]
    pub right_keys: usize,
    /// Keys on both sides.
    #[serde(default)]
    pub matched_keys: usize,
    /// Left keys with more than one row.
    #[serde(default)]
    pub left_keys_repeated: usize,
    /// Right keys with more than one row.
    #[serde(default)]
    pub right_keys_repeated: usize,
    /// The most left rows one key has (0 for an empty table).
    #[serde(default)]
    pub max_left_rows_per_key: usize,
    /// The most right rows one key has.
    #[serde(default)]
    pub max_right_rows_per_key: usize,
    /// Left rows that matched more than one right row: each is in the output once per match.
    #[serde(default)]
    pub multiplied_left_rows: usize,
    /// Output rows beyond one per matched left row: what the multiplying added.
    #[serde(default)]
    pub extra_rows: usize,
    /// Whether the join multiplied rows (`extra_rows > 0`).
    #[serde(default)]
    pub multiplied: bool,
}

/// The cardinality a join declares (the merge's `validate`, like pandas'
/// `merge(validate=…)`): *left* is the table so far, *right* the input joined onto it. "One"
/// means each key at most once on that side; null keys, which never match, are not counted.
/// A join that breaks it fails, naming the side, an example key and its row count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cardinality {
    /// Keys unique on both sides.
    OneToOne,
    /// Keys unique in the left table.
    OneToMany,
    /// Keys unique in the right table (a lookup: the join cannot multiply rows).
    ManyToOne,
    /// Nothing checked (declaring it says that multiplied rows are expected).
    ManyToMany,
}

impl Cardinality {
    /// The name the param uses (`one_to_one` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneToOne => "one_to_one",
            Self::OneToMany => "one_to_many",
            Self::ManyToOne => "many_to_one",
            Self::ManyToMany => "many_to_many",
        }
    }

    fn left_unique(self) -> bool {
        matches!(self, Self::OneToOne | Self::OneToMany)
    }

    fn right_unique(self) -> bool {
        matches!(self, Self::OneToOne | Self::ManyToOne)
    }
}

/// Rows per output batch of a join, so one heavily duplicated key cannot make a huge batch.
const OUT_BATCH_ROWS: usize = 65_536;

/// Keeps `columns` (all when `None`, in the table's order) and renames some of them
/// (`rename` maps an existing name to its new name). `name` labels the table in errors.
pub fn select(
    table: &Table,
    name: &str,
    columns: Option<&[String]>,
    rename: &BTreeMap<String, String>,
) -> Result<Table, DownloadError> {
    let indices: Vec<usize> = match columns {
        Some(columns) => columns.iter().map(|c| table.column_index(name, c)).collect::<Result<_, _>>()?,
        None => (0..table.schema.fields().len()).collect(),
    };
    let bad = |message: String| DownloadError::Join { context: name.to_owned(), message };
    for (k, &i) in indices.iter().enumerate() {
        if indices[..k].contains(&i) {
            return Err(bad(format!("column `{}` is selected twice", short(table.schema.field(i).name()))));
        }
    }
    for from in rename.keys() {
        let i = table.column_index(name, from)?;
        if !indices.contains(&i) {
            return Err(bad(format!("column `{from}` is renamed but not selected")));
        }
    }
    let fields: Vec<Field> = indices
        .iter()
        .map(|&i| {
            let f = table.schema.field(i);
            match rename.get(f.name()) {
                Some(to) => f.clone().with_name(to.clone()),
                None => f.clone(),
            }
        })
        .collect();
    for (k, f) in fields.iter().enumerate() {
        if fields[..k].iter().any(|g| g.name() == f.name()) {
            return Err(bad(format!("two columns would be named `{}` after renaming", short(f.name()))));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batches = table
        .batches
        .iter()
        .map(|b| {
            let columns = indices.iter().map(|&i| Arc::clone(b.column(i))).collect();
            RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| DownloadError::arrow(name, e))
        })
        .collect::<Result<_, _>>()?;
    Ok(Table::new(schema, batches))
}

/// Joins `right` onto `left` on the key columns `on` (same names and types on both sides).
///
/// The output has every left column, then every right column except the keys. A non-key column
/// present on both sides is an error (rename or leave out one of them first).
pub fn join(
    left: &Table,
    left_name: &str,
    right: &Table,
    right_name: &str,
    on: &[String],
    how: JoinType,
) -> Result<(Table, JoinStats), DownloadError> {
    let spec = JoinSpec { on, how, validate: None, aggregate: None };
    join_owned(left.clone(), left_name, right.clone(), right_name, &spec).map(|(table, stats, _)| (table, stats))
}

/// How [`join_with`] joins.
#[derive(Debug, Clone, Copy)]
pub struct JoinSpec<'a> {
    /// The key columns (same names and types on both sides).
    pub on: &'a [String],
    /// Inner or left.
    pub how: JoinType,
    /// The cardinality the join must have: an error names the side, an example key and its row
    /// count. `None` checks nothing, and a join that multiplies rows is warned about (in the log)
    /// unless it declares `OneToMany` or `ManyToMany`.
    pub validate: Option<Cardinality>,
    /// Collapse the right table to one row per key first, as [`aggregate`](crate::aggregate())
    /// does (same rows, checks and errors), on the join's own index of the right keys.
    pub aggregate: Option<&'a AggregateParams>,
}

/// [`join`] with a declared cardinality and an aggregation of the right table (see
/// [`JoinSpec`]); the aggregation's figures come back when there is one.
pub fn join_with(
    left: &Table,
    left_name: &str,
    right: &Table,
    right_name: &str,
    spec: &JoinSpec<'_>,
) -> Result<(Table, JoinStats, Option<AggregateStats>), DownloadError> {
    join_owned(left.clone(), left_name, right.clone(), right_name, spec)
}

/// [`join_with`] taking its tables by value: each left batch is released once its output is
/// built and each right column once it is gathered into one array, which is what keeps a
/// merge's peak memory down (the caller holding no other reference to them).
pub(crate) fn join_owned(
    left: Table,
    left_name: &str,
    right: Table,
    right_name: &str,
    spec: &JoinSpec<'_>,
) -> Result<(Table, JoinStats, Option<AggregateStats>), DownloadError> {
    match prepare_right(right, right_name, spec.on) {
        Ok((side, encoded)) => {
            let index = index_keys(&encoded);
            probe(left, left_name, Ok((side, &encoded)), index, right_name, spec, false).map(|(t, s, a, _)| (t, s, a))
        }
        Err(e) => probe(left, left_name, Err(e), None, right_name, spec, false).map(|(t, s, a, _)| (t, s, a)),
    }
}

/// Joins the prepared right side onto `left`, with `index` its [`index_keys`]. Errors
/// come in the order a reader checks: the keys on the left, then the right side's own, then
/// the two sides against each other.
///
/// With `drop_duplicates`, output rows equal to an earlier output row are dropped before they
/// are gathered (as [`drop_duplicates`](crate::drop_duplicates) of the output would: the same
/// rows in the same batches), and how many comes back; `out_rows` counts them all the same.
pub(crate) fn probe<'r>(
    left: Table,
    left_name: &str,
    right: Result<(RightSide, &'r EncodedKeys), DownloadError>,
    index: Option<KeyGroups<'r>>,
    right_name: &str,
    spec: &JoinSpec<'_>,
    drop_duplicates: bool,
) -> Result<(Table, JoinStats, Option<AggregateStats>, usize), DownloadError> {
    let JoinSpec { on, how, validate, aggregate: aggregation } = *spec;
    let context = format!("{} join of `{right_name}` onto `{left_name}`", how.as_str());
    let bad = |message: String| DownloadError::Join { context: context.clone(), message };
    if on.is_empty() {
        return Err(bad("no key columns (`on` is empty)".into()));
    }
    let left_keys: Vec<usize> = on.iter().map(|k| left.column_index(left_name, k)).collect::<Result<_, _>>()?;
    let (right, right_encoded) = right?;
    let RightSide {
        schema: right_schema,
        keys: right_keys,
        columns: mut right_columns,
        key_arrays: right_key_arrays,
        rows: n_right,
    } = right;
    for ((k, &l), &r) in on.iter().zip(&left_keys).zip(&right_keys) {
        let (lt, rt) = (left.schema.field(l).data_type(), right_schema.field(r).data_type());
        if lt != rt {
            return Err(bad(format!("key `{k}` is {lt} in `{left_name}` but {rt} in `{right_name}`")));
        }
    }
    let right_carry: Vec<usize> = (0..right_schema.fields().len()).filter(|i| !right_keys.contains(i)).collect();
    for &i in &right_carry {
        let name = right_schema.field(i).name();
        if left.schema.index_of(name).is_ok() {
            return Err(bad(format!(
                "column `{}` is in both tables and is not a key: rename it or leave it out on one side",
                short(name)
            )));
        }
    }
    let mut fields: Vec<Field> = left.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(right_carry.iter().map(|&i| {
        let f = right_schema.field(i).clone();
        if how == JoinType::Left { f.with_nullable(true) } else { f }
    }));
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let arrow_err = |e| DownloadError::arrow(context.clone(), e);

    let (Ok(_), Some(mut index)) = (u32::try_from(n_right), index) else {
        return Err(bad(format!("`{right_name}` has {n_right} rows, more than a join supports (2^32 - 1)")));
    };
    let mut stats = JoinStats { left_rows: left.num_rows(), right_rows: n_right, ..JoinStats::default() };
    let plan = aggregation.map(|params| Plan::new(&right_schema, right_name, on, params)).transpose()?;
    let encoder =
        KeyEncoder::new(&left_keys.iter().map(|&i| left.schema.field(i).data_type().clone()).collect::<Vec<_>>())
            .map_err(arrow_err)?;

    let null_key_right_rows = index.null_rows;
    stats.blank_key_right_rows = index.blank_rows;
    let mut aggregated = None;
    if let (Some(plan), Some(params)) = (&plan, aggregation) {
        let agg = plan.combine(params, &mut right_columns, &right_schema, &right_key_arrays, &index)?;
        // One row per key from here on: its first row, holding the combined flags.
        stats.blank_key_right_rows = null_key_right_rows;
        let KeyGroups { map, next, .. } = &mut index;
        for g in map.values_mut() {
            next[g.head as usize] = END;
            g.rows = 1;
            stats.blank_key_right_rows += usize::from(right_encoded.is_blank(g.head as usize));
        }
        stats.right_rows = agg.rows_out;
        aggregated = Some(agg);
    }
    let KeyGroups { map: mut groups, next, .. } = index;
    let right_carried: Vec<ArrayRef> = right_carry.iter().map(|&i| Arc::clone(&right_columns[i])).collect();
    drop(right_columns);
    stats.right_keys = groups.len();
    for g in groups.values() {
        stats.right_keys_repeated += usize::from(g.rows > 1);
        stats.max_right_rows_per_key = stats.max_right_rows_per_key.max(g.rows as usize);
    }
    if let Some(validate) = validate
        && validate.right_unique()
        && stats.right_keys_repeated > 0
    {
        // The first right row, in table order, whose key repeats.
        let example = (0..n_right)
            .find_map(|j| {
                let rows = groups.get(right_encoded.key(j)?)?.rows;
                (rows > 1).then(|| (key_text(on, &right_key_arrays, j), rows))
            })
            .unwrap_or_default();
        return Err(cardinality_error(&context, validate, "right", right_name, &example, &stats));
    }

    let mut unmatched_keys = DistinctKeys::default();
    // The first left key seen twice, when the declared cardinality needs left keys unique.
    let check_left = validate.is_some_and(Cardinality::left_unique);
    let mut left_repeat: Option<(String, Vec<u8>)> = None;
    // The probe is one pass in left order; the gathers that copy the values are independent,
    // so output batches wait as (left batch, left rows, right rows) until there are a few for
    // each core, then are gathered in parallel (and the left batches they used are freed).
    let gather = Gather { schema: &schema, right: &right_carried, context: &context };
    let wave = 2 * rayon::current_num_threads();
    let mut distinct = if drop_duplicates {
        let carried: Vec<Field> = right_carry.iter().map(|&i| right_schema.field(i).clone()).collect();
        let d = Distinct::new(&left.batches, &left.schema, &carried, &right_carried)
            .map_err(|e| DownloadError::arrow("dropping duplicate rows", e))?;
        Some(d)
    } else {
        None
    };
    let mut offset = 0;
    let mut pending: Vec<(RecordBatch, Vec<u32>, Vec<Option<u32>>)> = Vec::new();
    let mut out = Vec::new();
    for batch in left.batches {
        let keys: Vec<ArrayRef> = left_keys.iter().map(|&i| Arc::clone(batch.column(i))).collect();
        let encoded = encoder.encode(&keys).map_err(arrow_err)?;
        let mut li: Vec<u32> = Vec::with_capacity(batch.num_rows());
        let mut ri: Vec<Option<u32>> = Vec::with_capacity(batch.num_rows());
        // Rows of one key tend to be adjacent (the previous join put each left row's matches
        // together): reusing the last lookup skips a likely cache miss in a large map. The left
        // rows of such a run are added to its group when the run ends.
        let mut last: Option<(&[u8], Found)> = None;
        let mut run = 0u32;
        for i in 0..batch.num_rows() {
            let key = encoded.key(i);
            if encoded.is_blank(i) {
                stats.blank_key_left_rows += 1;
            }
            let found = match (key, last) {
                (None, _) => None,
                (Some(k), Some((lk, found))) if lk == k => {
                    run += u32::from(matches!(found, Found::Matched { .. }));
                    Some(found)
                }
                (Some(k), _) => {
                    if let Some((lk, Found::Matched { .. })) = last {
                        add_run(&mut groups, lk, &mut run);
                    }
                    let found = match groups.get_mut(k) {
                        Some(g) => {
                            g.left += 1;
                            Found::Matched { head: g.head, left: g.left }
                        }
                        None => Found::Unmatched(unmatched_keys.insert(k)),
                    };
                    last = Some((k, found));
                    Some(found)
                }
            };
            // This row's rank among its key's left rows.
            let rank = match found {
                Some(Found::Matched { head, left, .. }) => {
                    let mut j = head;
                    while j != END {
                        li.push(i as u32);
                        ri.push(Some(j));
                        j = next[j as usize];
                    }
                    left + run
                }
                Some(Found::Unmatched(u)) => unmatched_keys.count_row(u),
                None => 0,
            };
            if !matches!(found, Some(Found::Matched { .. })) {
                stats.unmatched_left_rows += 1;
                if how == JoinType::Left {
                    li.push(i as u32);
                    ri.push(None);
                }
            }
            if check_left
                && rank == 2
                && left_repeat.is_none()
                && let Some(k) = key
            {
                left_repeat = Some((key_text(on, &keys, i), k.to_vec()));
            }
            if li.len() >= OUT_BATCH_ROWS {
                let rows = OUT_BATCH_ROWS.min(batch.num_rows());
                let mut full = (
                    std::mem::replace(&mut li, Vec::with_capacity(rows)),
                    std::mem::replace(&mut ri, Vec::with_capacity(rows)),
                );
                if let Some(d) = &mut distinct {
                    d.retain(offset, &mut full.0, &mut full.1);
                }
                if !full.0.is_empty() {
                    pending.push((batch.clone(), full.0, full.1));
                }
            }
        }
        if let Some((lk, Found::Matched { .. })) = last {
            add_run(&mut groups, lk, &mut run);
        }
        if let Some(d) = &mut distinct {
            d.retain(offset, &mut li, &mut ri);
        }
        offset += batch.num_rows();
        if !li.is_empty() {
            pending.push((batch, li, ri));
        }
        if pending.len() >= wave {
            out.extend(gather.all(std::mem::take(&mut pending))?);
        }
    }
    out.extend(gather.all(pending)?);
    let dropped = distinct.map_or(0, |d| d.dropped);
    stats.out_rows = out.iter().map(RecordBatch::num_rows).sum::<usize>() + dropped;
    stats.unmatched_left_keys = unmatched_keys.len();
    fan_out_stats(&mut stats, groups.values(), &unmatched_keys.counts);
    stats.unmatched_right_rows += null_key_right_rows;
    if let (Some(validate), Some((text, key))) = (validate, left_repeat) {
        let rows = match groups.get(key.as_slice()) {
            Some(g) => g.left,
            None => {
                let u = unmatched_keys.insert(&key);
                unmatched_keys.counts[u as usize]
            }
        };
        return Err(cardinality_error(&context, validate, "left", left_name, &(text, rows), &stats));
    }
    if stats.blank_key_left_rows > 0 || stats.blank_key_right_rows > 0 {
        tracing::warn!(
            %context,
            left = stats.blank_key_left_rows,
            left_share = share(stats.blank_key_left_rows, stats.left_rows),
            right = stats.blank_key_right_rows,
            right_share = share(stats.blank_key_right_rows, stats.right_rows),
            "rows with a null or empty join key (a null key never matches: an inner join drops those rows)"
        );
    }
    if stats.multiplied {
        let expected = matches!(validate, Some(Cardinality::OneToMany | Cardinality::ManyToMany));
        let message = format!(
            "{context}: {} left row(s) matched several right rows ({} keys repeat in `{right_name}`, up to {} rows): \
             {} rows out of {} left rows ({} extra){}",
            stats.multiplied_left_rows,
            stats.right_keys_repeated,
            stats.max_right_rows_per_key,
            stats.out_rows,
            stats.left_rows,
            stats.extra_rows,
            if expected {
                ""
            } else {
                "; if this is meant, declare validate = \"one_to_many\" or \"many_to_many\", else collapse the input \
                 to one row per key ([joins.aggregate]) or validate = \"many_to_one\""
            }
        );
        if expected {
            tracing::info!(%context, extra_rows = stats.extra_rows, "{message}");
        } else {
            tracing::warn!(%context, extra_rows = stats.extra_rows, "the join multiplies rows: {message}");
        }
    }
    tracing::debug!(%context, ?stats, dropped, "joined");
    Ok((Table::new(schema, out), stats, aggregated, dropped))
}

/// What a left key's lookup found: its right group (its head, and its left rows counted at the
/// lookup), or its index among the unmatched keys.
#[derive(Debug, Clone, Copy)]
enum Found {
    Matched { head: u32, left: u32 },
    Unmatched(u32),
}

/// Adds a run of left rows that reused the last lookup to its key's group.
fn add_run(groups: &mut HashMap<&[u8], Group, FxBuild>, key: &[u8], run: &mut u32) {
    if *run > 0
        && let Some(g) = groups.get_mut(key)
    {
        g.left += *run;
    }
    *run = 0;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, StringArray};
    use arrow::datatypes::DataType;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    pub(crate) fn table(names: &[&str], rows: &[&[Option<&str>]]) -> Table {
        let schema =
            Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect::<Vec<_>>()));
        let columns: Vec<ArrayRef> = (0..names.len())
            .map(|c| Arc::new(rows.iter().map(|r| r[c]).collect::<StringArray>()) as ArrayRef)
            .collect();
        Table::new(Arc::clone(&schema), vec![RecordBatch::try_new(schema, columns).unwrap()])
    }

    pub(crate) fn rows(t: &Table) -> Vec<Vec<Option<String>>> {
        let b = t.concat().unwrap();
        (0..b.num_rows())
            .map(|i| {
                b.columns()
                    .iter()
                    .map(|c| {
                        let s = c.as_any().downcast_ref::<StringArray>().unwrap();
                        s.is_valid(i).then(|| s.value(i).to_owned())
                    })
                    .collect()
            })
            .collect()
    }

    pub(crate) fn s(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|x| x.map(str::to_owned)).collect()
    }

    #[test]
    fn blank_keys_are_counted_on_both_sides() {
        // A quarter of the left rows have an empty (null) key: an inner join drops them, and
        // the stats say so instead of only counting them as unmatched.
        let l = table(
            &["k", "a"],
            &[&[Some("1"), Some("a1")], &[None, Some("a2")], &[Some("2"), Some("a3")], &[Some("3"), Some("a4")]],
        );
        let r = table(&["k", "b"], &[&[Some("1"), Some("b1")], &[None, Some("b2")], &[Some(""), Some("b3")]]);
        let (out, stats) = join(&l, "l", &r, "r", &["k".to_owned()], JoinType::Inner).unwrap();
        assert_eq!(out.num_rows(), 1);
        assert_eq!((stats.blank_key_left_rows, stats.blank_key_right_rows), (1, 2));
        assert_eq!(stats.unmatched_left_rows, 3);
        // Composite keys (the arrow-row encoding): blank when any key column is.
        let l = table(
            &["k", "j", "a"],
            &[&[Some("1"), Some(""), Some("a1")], &[Some("1"), Some("x"), Some("a2")], &[None, Some("x"), Some("a3")]],
        );
        let r = table(&["k", "j", "b"], &[&[Some("1"), Some("x"), Some("b1")]]);
        let on = ["k".to_owned(), "j".to_owned()];
        let (out, stats) = join(&l, "l", &r, "r", &on, JoinType::Left).unwrap();
        assert_eq!(out.num_rows(), 3);
        assert_eq!((stats.blank_key_left_rows, stats.blank_key_right_rows), (2, 0));
    }

    #[test]
    fn inner_and_left_joins_keep_order_and_multiplicity() {
        let l = table(
            &["k", "a"],
            &[&[Some("1"), Some("a1")], &[Some("2"), Some("a2")], &[None, Some("a3")], &[Some("1"), Some("a4")]],
        );
        let r = table(
            &["k", "b"],
            &[&[Some("1"), Some("b1")], &[Some("3"), Some("b3")], &[Some("1"), Some("b1x")], &[None, Some("bn")]],
        );
        let on = vec!["k".to_owned()];
        let (t, st) = join(&l, "l", &r, "r", &on, JoinType::Inner).unwrap();
        assert_eq!(
            rows(&t),
            vec![
                s(&[Some("1"), Some("a1"), Some("b1")]),
                s(&[Some("1"), Some("a1"), Some("b1x")]),
                s(&[Some("1"), Some("a4"), Some("b1")]),
                s(&[Some("1"), Some("a4"), Some("b1x")]),
            ]
        );
        assert_eq!(
            st,
            JoinStats {
                left_rows: 4,
                right_rows: 4,
                out_rows: 4,
                unmatched_left_rows: 2,
                unmatched_left_keys: 1,
                unmatched_right_rows: 2,
                blank_key_left_rows: 1,
                blank_key_right_rows: 1,
                left_keys: 2,
                right_keys: 2,
                matched_keys: 1,
                left_keys_repeated: 1,
                right_keys_repeated: 1,
                max_left_rows_per_key: 2,
                max_right_rows_per_key: 2,
                multiplied_left_rows: 2,
                extra_rows: 2,
                multiplied: true,
            }
        );
        let (t, st) = join(&l, "l", &r, "r", &on, JoinType::Left).unwrap();
        assert_eq!(st.out_rows, 6);
        assert_eq!(rows(&t)[2], s(&[Some("2"), Some("a2"), None]));
        assert_eq!(rows(&t)[3], s(&[None, Some("a3"), None]));
        assert!(t.schema.field(2).is_nullable());
    }

    #[test]
    fn composite_keys() {
        let l = table(&["x", "y"], &[&[Some("1"), Some("2")], &[Some("12"), Some("")]]);
        let r = table(&["x", "y", "v"], &[&[Some("1"), Some("2"), Some("ok")], &[Some("1"), Some("22"), Some("no")]]);
        let (t, _) = join(&l, "l", &r, "r", &["x".into(), "y".into()], JoinType::Inner).unwrap();
        assert_eq!(rows(&t), vec![s(&[Some("1"), Some("2"), Some("ok")])]);
    }

    #[test]
    fn join_errors_are_clear() {
        let l = table(&["k", "a"], &[&[Some("1"), Some("a")]]);
        let r = table(&["id", "a"], &[&[Some("1"), Some("b")]]);
        let err = join(&l, "l", &r, "socio", &["k".into()], JoinType::Inner).unwrap_err().to_string();
        assert_eq!(err, "socio: no column `k` (columns: id, a)");
        let r2 = table(&["k", "a"], &[&[Some("1"), Some("b")]]);
        let err = join(&l, "l", &r2, "r", &["k".into()], JoinType::Inner).unwrap_err().to_string();
        assert!(err.contains("`a` is in both tables"), "{err}");
    }

    #[test]
    fn select_and_rename() {
        let t = table(&["discente", "x", "y"], &[&[Some("1"), Some("2"), Some("3")]]);
        let rename = BTreeMap::from([("discente".to_owned(), "id_discente".to_owned())]);
        let out = select(&t, "m", Some(&["y".into(), "discente".into()]), &rename).unwrap();
        assert_eq!(out.column_names(), ["y", "id_discente"]);
        let err = select(&t, "m", Some(&["y".into()]), &rename).unwrap_err().to_string();
        assert!(err.contains("renamed but not selected"), "{err}");
        let err = select(&t, "m", Some(&["nope".into()]), &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("no column `nope`"), "{err}");
    }

    #[test]
    fn non_string_columns_join_and_dedup() {
        use arrow::array::Int64Array;
        let schema =
            Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true), Field::new("v", DataType::Utf8, true)]));
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
        let (out, dropped) = crate::drop_duplicates(t.clone()).unwrap();
        assert_eq!((out.num_rows(), dropped), (5, 2));
        let rschema =
            Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true), Field::new("w", DataType::Utf8, true)]));
        let r = RecordBatch::try_new(
            Arc::clone(&rschema),
            vec![
                Arc::new(Int64Array::from(vec![Some(2), None, Some(1), Some(2)])),
                Arc::new(StringArray::from(vec!["p", "q", "r", "s"])),
            ],
        )
        .unwrap();
        let r = Table::new(rschema, vec![r]);
        let (j, st) = join(&t, "t", &r, "r", &["k".into()], JoinType::Inner).unwrap();
        let w = j.concat().unwrap();
        let w: Vec<&str> = w.column(2).as_string::<i32>().iter().map(Option::unwrap).collect();
        assert_eq!(w, ["r", "p", "s", "r", "p", "s"]);
        assert_eq!((st.unmatched_left_rows, st.unmatched_left_keys), (3, 1));
    }

    #[test]
    fn distinct_keys_count_exactly() {
        let mut keys = DistinctKeys::default();
        for k in ["a", "b", "a", "", "ab", "b", ""] {
            let index = keys.insert(k.as_bytes());
            keys.count_row(index);
        }
        assert_eq!(keys.len(), 4);
        assert_eq!(keys.counts, [2, 2, 2, 1]);
    }

    #[test]
    fn fx_hasher_spreads_similar_keys() {
        let b = FxBuild::default();
        let hashes: HashSet<u64> = (0..10_000).map(|i| b.hash_one(format!("2019{i:07}").as_bytes()) >> 50).collect();
        // The top 14 bits of 10k sequential ids should take thousands of distinct values.
        assert!(hashes.len() > 4000, "{}", hashes.len());
    }
}
