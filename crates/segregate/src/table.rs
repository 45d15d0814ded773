//! Splitting an Arrow table: columns to dense ids, the split, and the two output tables.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use serde::{Deserialize, Serialize};

use esteira_core::table::RowRuns;

use crate::SegregateError;
use crate::split::{Groups, Labels, SplitOptions, assign};
use rustc_hash::FxHashMap;

/// The params of a table split (and of the `segregate` stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegregateParams {
    /// The class column.
    pub target: String,
    /// Share of rows in the test table, in (0, 1). Default 0.3.
    #[serde(default = "default_fraction")]
    pub test_fraction: f64,
    /// Seed of the split. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Split each class in proportion. Default true.
    #[serde(default = "default_true")]
    pub stratify: bool,
    /// A column whose equal values must land on the same side (e.g. a student id).
    #[serde(default)]
    pub group: Option<String>,
}

fn default_fraction() -> f64 {
    0.3
}

fn default_true() -> bool {
    true
}

impl SegregateParams {
    /// Params with the defaults for `target`.
    pub fn new(target: impl Into<String>) -> Self {
        Self { target: target.into(), test_fraction: 0.3, seed: 0, stratify: true, group: None }
    }

    /// The split options these params describe.
    pub fn options(&self) -> SplitOptions {
        SplitOptions { test_fraction: self.test_fraction, seed: self.seed, stratify: self.stratify }
    }
}

/// Row (and group) counts of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SideCounts {
    /// In the train table.
    pub train: u64,
    /// In the test table.
    pub test: u64,
}

/// What a table split did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitReport {
    /// Rows per side.
    pub rows: SideCounts,
    /// Rows per class per side (a null target is reported as `null`).
    pub classes: BTreeMap<String, SideCounts>,
    /// Groups per side, when grouping.
    pub groups: Option<SideCounts>,
}

impl SplitReport {
    /// Flat metrics: `train.rows`, `test.rows`, `train.class.<class>`, `test.class.<class>`,
    /// and with grouping `train.groups`, `test.groups`.
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        let mut side = |name: &str, c: SideCounts| {
            m.insert(format!("train.{name}"), c.train);
            m.insert(format!("test.{name}"), c.test);
        };
        side("rows", self.rows);
        for (class, c) in &self.classes {
            side(&format!("class.{class}"), *c);
        }
        if let Some(g) = self.groups {
            side("groups", g);
        }
        m
    }
}

/// The two tables of a split.
#[derive(Debug, Clone)]
pub struct SplitTables {
    /// The schema of both tables (the input's).
    pub schema: SchemaRef,
    /// Train rows, in input order.
    pub train: Vec<RecordBatch>,
    /// Test rows, in input order.
    pub test: Vec<RecordBatch>,
    /// Counts per side.
    pub report: SplitReport,
}

/// Splits a table into train and test tables (see [`crate::train_test_split`] and
/// [`crate::group_train_test_split`] for how rows are chosen). Batches are taken by value and
/// released as they are split, so peak memory stays near one copy of the table. Rows whose
/// group key is null are each a group of their own.
pub fn split_table(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    params: &SegregateParams,
) -> Result<SplitTables, SegregateError> {
    let options = params.options();
    options.validate()?;
    let column = |param: &'static str, name: &str| {
        schema.index_of(name).map_err(|_| SegregateError::MissingColumn {
            param,
            column: name.to_owned(),
            available: schema.fields().iter().map(|f| f.name().clone()).collect(),
        })
    };
    let target = column("target", &params.target)?;
    let group = params.group.as_deref().map(|g| column("group", g)).transpose()?;

    let (class_ids, names, nulls) = encode_target(&batches, target)?;
    if let Some((count, first_row)) = nulls.filter(|_| options.stratify) {
        return Err(SegregateError::NullTarget { column: params.target.clone(), count, first_row });
    }
    let groups = group.map(|g| encode_group_column(&batches, g)).transpose()?;
    let labels = Labels { ids: &class_ids, names: &names, column: &params.target };
    let group_ref = groups.as_ref().map(|(ids, count)| Groups { ids, count: *count });
    let is_test = assign(&labels, group_ref.as_ref(), &options)?;

    let report = report(&class_ids, &names, groups.as_ref(), &is_test);
    drop((class_ids, groups));

    let mut train = Vec::new();
    let mut test = Vec::new();
    let mut offset = 0;
    for batch in batches {
        let n = batch.num_rows();
        let (train_rows, test_rows) = RowRuns::split(&is_test[offset..offset + n]);
        offset += n;
        let arrow_err = |source| SegregateError::Arrow { what: "splitting a batch".into(), source };
        // Test first, as before: the order only matters for which allocation comes first.
        if test_rows.rows() > 0 {
            test.push(test_rows.gather_batch(&batch).map_err(arrow_err)?);
        }
        if train_rows.rows() > 0 {
            train.push(train_rows.gather_batch(&batch).map_err(arrow_err)?);
        }
    }
    tracing::debug!(train = report.rows.train, test = report.rows.test, "split table");
    Ok(SplitTables { schema: schema.clone(), train, test, report })
}

fn report(class_ids: &[u32], names: &[String], groups: Option<&(Vec<u32>, usize)>, is_test: &[bool]) -> SplitReport {
    let mut per_class = vec![SideCounts::default(); names.len()];
    let mut rows = SideCounts::default();
    for (&c, &t) in class_ids.iter().zip(is_test) {
        let counts = &mut per_class[c as usize];
        if t {
            counts.test += 1;
            rows.test += 1;
        } else {
            counts.train += 1;
            rows.train += 1;
        }
    }
    let groups = groups.map(|(ids, count)| {
        let mut side = vec![None; *count];
        for (&g, &t) in ids.iter().zip(is_test) {
            side[g as usize] = Some(t);
        }
        let test = side.iter().filter(|s| **s == Some(true)).count() as u64;
        SideCounts { train: *count as u64 - test, test }
    });
    let mut classes = BTreeMap::new();
    for (name, c) in names.iter().zip(per_class) {
        let e: &mut SideCounts = classes.entry(name.clone()).or_default();
        e.train += c.train;
        e.test += c.test;
    }
    SplitReport { rows, classes, groups }
}

fn arrow(what: &str) -> impl Fn(arrow::error::ArrowError) -> SegregateError + '_ {
    move |source| SegregateError::Arrow { what: what.to_owned(), source }
}

fn as_utf8(batches: &[RecordBatch], index: usize, what: &str) -> Result<Vec<ArrayRef>, SegregateError> {
    batches
        .iter()
        .map(|b| {
            let col = b.column(index);
            if col.data_type() == &DataType::Utf8 {
                Ok(col.clone())
            } else {
                cast(col, &DataType::Utf8).map_err(arrow(what))
            }
        })
        .collect()
}

/// Class ids in sorted class order (a null target last, named `null`), and the null count and
/// first null row (1-based), if any.
type EncodedTarget = (Vec<u32>, Vec<String>, Option<(usize, usize)>);

fn encode_target(batches: &[RecordBatch], index: usize) -> Result<EncodedTarget, SegregateError> {
    let cols = as_utf8(batches, index, "reading the target column")?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut seen = Interner::default();
    let mut ids = Vec::with_capacity(rows);
    let null_id = u32::MAX;
    let mut nulls = 0usize;
    let mut first_null = 0usize;
    for col in &cols {
        let text = col.as_string::<i32>();
        for i in 0..text.len() {
            if text.is_null(i) {
                if nulls == 0 {
                    first_null = ids.len() + 1;
                }
                nulls += 1;
                ids.push(null_id);
                continue;
            }
            ids.push(seen.id(text.value(i)));
        }
    }
    let mut names: Vec<(&str, u32)> = seen.into_names();
    names.sort_unstable();
    let mut remap = vec![0u32; names.len()];
    for (new, (_, old)) in names.iter().enumerate() {
        remap[*old as usize] = new as u32;
    }
    let null_new = names.len() as u32;
    for id in &mut ids {
        *id = if *id == null_id { null_new } else { remap[*id as usize] };
    }
    let mut names: Vec<String> = names.into_iter().map(|(s, _)| s.to_owned()).collect();
    if nulls > 0 {
        names.push("null".to_owned());
    }
    Ok((ids, names, (nulls > 0).then_some((nulls, first_null))))
}

/// Dense ids in order of first appearance. A class column has few distinct values: comparing
/// against each of them is cheaper than hashing every row, until there are many.
#[derive(Default)]
struct Interner<'a> {
    few: Vec<&'a str>,
    many: FxHashMap<&'a str, u32>,
}

impl<'a> Interner<'a> {
    const FEW: usize = 16;

    fn id(&mut self, value: &'a str) -> u32 {
        if self.many.is_empty() {
            if let Some(i) =
                self.few.iter().position(|&s| esteira_core::table::same_bytes(s.as_bytes(), value.as_bytes()))
            {
                return i as u32;
            }
            if self.few.len() < Self::FEW {
                self.few.push(value);
                return (self.few.len() - 1) as u32;
            }
            self.many = self.few.iter().enumerate().map(|(i, &s)| (s, i as u32)).collect();
        }
        let next = self.many.len() as u32;
        *self.many.entry(value).or_insert(next)
    }

    fn into_names(self) -> Vec<(&'a str, u32)> {
        if self.many.is_empty() {
            self.few.into_iter().enumerate().map(|(i, s)| (s, i as u32)).collect()
        } else {
            self.many.into_iter().collect()
        }
    }
}

fn encode_group_column(batches: &[RecordBatch], index: usize) -> Result<(Vec<u32>, usize), SegregateError> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let dt = batches.first().map(|b| b.column(index).data_type().clone());
    if dt.as_ref().is_some_and(DataType::is_integer) {
        let mut groups = GroupIds::with_rows(rows);
        for b in batches {
            let col = cast(b.column(index), &DataType::Int64).map_err(arrow("reading the group column"))?;
            let ints = col.as_primitive::<Int64Type>();
            for i in 0..ints.len() {
                groups.push(ints.is_valid(i).then(|| ints.value(i)));
            }
        }
        Ok(groups.finish())
    } else {
        let cols = as_utf8(batches, index, "reading the group column")?;
        let mut groups = GroupIds::with_rows(rows);
        for col in &cols {
            let text = col.as_string::<i32>();
            for i in 0..text.len() {
                groups.push(text.is_valid(i).then(|| text.value(i)));
            }
        }
        Ok(groups.finish())
    }
}

/// Dense group ids in order of first appearance; a row with a null key is a group of its own.
struct GroupIds<K> {
    seen: FxHashMap<K, u32>,
    /// The previous row's key and id: rows of one key usually come together (enrolments of a
    /// student), so most rows skip the hash.
    last: Option<(K, u32)>,
    ids: Vec<u32>,
    next: u32,
}

impl<K: std::hash::Hash + Eq + Copy> GroupIds<K> {
    fn with_rows(rows: usize) -> Self {
        // Sized for about four rows per group: growing a map of millions of keys rehashes it
        // several times; guessing high costs a few bytes per row.
        let seen = FxHashMap::with_capacity_and_hasher(rows / 4, rustc_hash::FxBuildHasher);
        Self { seen, last: None, ids: Vec::with_capacity(rows), next: 0 }
    }

    #[inline]
    fn push(&mut self, key: Option<K>) {
        let next = &mut self.next;
        let mut fresh = || {
            *next += 1;
            *next - 1
        };
        let Some(key) = key else {
            self.ids.push(fresh());
            self.last = None;
            return;
        };
        let id = match self.last {
            Some((k, id)) if k == key => id,
            _ => *self.seen.entry(key).or_insert_with(fresh),
        };
        self.last = Some((key, id));
        self.ids.push(id);
    }

    /// The id of every row, and how many groups there are.
    fn finish(self) -> (Vec<u32>, usize) {
        (self.ids, self.next as usize)
    }
}
