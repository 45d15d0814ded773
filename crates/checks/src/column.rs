//! A table column normalised to a few Arrow types, with statistics computed once and shared
//! by every expectation that needs them.

use std::cell::OnceCell;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};

use crate::scalar::{FxHashMap, RowRef, Scalar};

/// The normalised value arrays of a column, one per batch.
pub(crate) enum ColData {
    Int(Vec<Int64Array>),
    Float(Vec<Float64Array>),
    Bool(Vec<BooleanArray>),
    Str(Vec<StrChunk>),
    /// Types without value semantics here (dates, lists …): only nulls and the type are checked.
    Other(Vec<ArrayRef>),
}

/// One chunk of a text column: strings, or keys into a dictionary of strings (how a Parquet
/// dictionary-encoded column is read for validation: each distinct value is decoded once, and
/// counting values is counting keys).
pub(crate) enum StrChunk {
    Plain(StringArray),
    /// The dictionary array and its values.
    Dict(DictionaryArray<Int32Type>, StringArray),
}

impl StrChunk {
    fn of(array: &ArrayRef) -> Self {
        match array.as_dictionary_opt::<Int32Type>() {
            Some(d) if d.values().data_type() == &DataType::Utf8 => {
                Self::Dict(d.clone(), d.values().as_string::<i32>().clone())
            }
            _ => match array.data_type() {
                DataType::Utf8 => Self::Plain(array.as_string::<i32>().clone()),
                _ => Self::Plain(cast(array, &DataType::Utf8).as_string::<i32>().clone()),
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Plain(a) => a.len(),
            Self::Dict(d, _) => d.len(),
        }
    }

    /// Missing values: null strings, or keys that are null or name a null (or absent) value.
    fn missing(&self) -> usize {
        match self {
            Self::Plain(a) => a.null_count(),
            Self::Dict(d, values) => {
                if values.null_count() == 0
                    && d.keys().values().iter().all(|&k| usize::try_from(k).is_ok_and(|k| k < values.len()))
                {
                    d.keys().null_count()
                } else {
                    let mut n = 0;
                    self.for_each(|v| {
                        n += usize::from(v.is_none());
                        true
                    });
                    n
                }
            }
        }
    }

    /// Calls `f` with every row's value in order (`None` when missing) until it returns false;
    /// returns false when `f` stopped it.
    fn for_each<'a>(&'a self, mut f: impl FnMut(Option<&'a str>) -> bool) -> bool {
        match self {
            Self::Plain(a) => {
                for v in a {
                    if !f(v) {
                        return false;
                    }
                }
            }
            Self::Dict(d, values) => {
                let keys = d.keys();
                for (i, &k) in keys.values().iter().enumerate() {
                    let v = if keys.is_null(i) { None } else { dict_value(values, k) };
                    if !f(v) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

/// The value a dictionary key names (`None` for a null value, or a key out of range).
fn dict_value(values: &StringArray, key: i32) -> Option<&str> {
    let k = usize::try_from(key).ok().filter(|&k| k < values.len())?;
    values.is_valid(k).then(|| values.value(k))
}

/// Adds the counts of a dictionary's keys to `map`, by value.
fn flush<'a>(map: &mut FxHashMap<&'a str, u64>, current: Option<(&'a ArrayRef, &'a StringArray, Vec<u64>)>) {
    if let Some((_, values, counts)) = current {
        for (k, &c) in counts.iter().enumerate() {
            if c > 0 && values.is_valid(k) {
                *map.entry(values.value(k)).or_insert(0) += c;
            }
        }
    }
}

/// Counts the values of text chunks; consecutive chunks sharing one dictionary (a Parquet row
/// group) are counted by key and their dictionary values visited once.
fn count_strings(chunks: &[StrChunk]) -> FxHashMap<&str, u64> {
    let mut map: FxHashMap<&str, u64> = FxHashMap::default();
    // The dictionary being counted by key, and the counts of its keys.
    let mut current: Option<(&ArrayRef, &StringArray, Vec<u64>)> = None;
    for chunk in chunks {
        match chunk {
            StrChunk::Dict(d, values) => {
                let keys = d.keys();
                let shared = current.as_ref().is_some_and(|(v, _, _)| Arc::ptr_eq(v, d.values()));
                // A dictionary much larger than the chunk is not worth a count per key.
                if !shared && values.len() > 4 * keys.len() + 1024 {
                    chunk.for_each(|v| {
                        if let Some(v) = v {
                            *map.entry(v).or_insert(0) += 1;
                        }
                        true
                    });
                    continue;
                }
                if !shared {
                    flush(&mut map, current.take());
                    current = Some((d.values(), values, vec![0; values.len()]));
                }
                if let Some((_, _, counts)) = current.as_mut() {
                    let nulls = keys.nulls();
                    for (i, &k) in keys.values().iter().enumerate() {
                        if nulls.is_none_or(|n| n.is_valid(i))
                            && let Some(c) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k))
                        {
                            *c += 1;
                        }
                    }
                }
            }
            StrChunk::Plain(a) => {
                for v in a.iter().flatten() {
                    *map.entry(v).or_insert(0) += 1;
                }
            }
        }
    }
    flush(&mut map, current);
    map
}

/// Text values with their counts, sorted by value (the order of `Scalar::total_cmp` on text) and
/// owned. Values are compared by their first eight bytes first: a key that orders like the
/// text, so most comparisons of long distinct values (ids) never reach `memcmp`.
fn sort_texts(counts: Vec<(&str, u64)>) -> Vec<(Scalar, u64)> {
    let prefix = |s: &str| {
        let mut b = [0u8; 8];
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        u64::from_be_bytes(b)
    };
    let mut keyed: Vec<(u64, &str, u64)> = counts.into_iter().map(|(s, c)| (prefix(s), s, c)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    keyed.into_iter().map(|(_, s, c)| (Scalar::Str(s.to_owned()), c)).collect()
}

/// Ids of distinct text values, in the order they are first met.
#[derive(Default)]
struct Interner<'a> {
    ids: FxHashMap<&'a str, u32>,
    /// The values, by id.
    values: Vec<&'a str>,
    /// More distinct values than ids.
    full: bool,
}

impl<'a> Interner<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        let Some(next) = u32::try_from(self.values.len()).ok().filter(|&n| n < MISSING_TEXT) else {
            self.full = true;
            return MISSING_TEXT;
        };
        match self.ids.entry(s) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.values.push(s);
                *e.insert(next)
            }
        }
    }
}

/// The id [`text_ids`] gives a missing value.
pub(crate) const MISSING_TEXT: u32 = u32::MAX;

/// A text column as value ids: per row the id of its value (equal values, equal ids; missing
/// values [`MISSING_TEXT`]), and the values by id.
pub(crate) struct TextIds<'a> {
    pub ids: Vec<u32>,
    pub values: Vec<&'a str>,
}

impl TextIds<'_> {
    /// The distinct values with their counts, sorted by value: what [`Column::counts`] gives.
    pub(crate) fn counts(&self) -> Vec<(Scalar, u64)> {
        let mut n = vec![0u64; self.values.len()];
        for &id in &self.ids {
            if let Some(c) = usize::try_from(id).ok().and_then(|i| n.get_mut(i)) {
                *c += 1;
            }
        }
        // A dictionary value no row uses has no count.
        sort_texts(self.values.iter().zip(n).filter(|(_, c)| *c > 0).map(|(v, c)| (*v, c)).collect())
    }
}

/// A text column (given as its arrays) as value ids. `None` when an array is not text (or there
/// are more distinct values than ids). A dictionary shared by consecutive arrays is mapped once.
pub(crate) fn text_ids(arrays: &[ArrayRef]) -> Option<TextIds<'_>> {
    const MISSING: u32 = MISSING_TEXT;
    for a in arrays {
        match a.data_type() {
            DataType::Utf8 => {}
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {}
            _ => return None,
        }
    }
    let mut interner = Interner::default();
    let mut out: Vec<u32> = Vec::with_capacity(arrays.iter().map(Array::len).sum());
    // The dictionary mapped last, and the id of each of its keys.
    let mut current: Option<(&ArrayRef, Vec<u32>)> = None;
    for a in arrays {
        if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
            let values = d.values().as_string::<i32>();
            let shared = current.as_ref().is_some_and(|(v, _)| Arc::ptr_eq(v, d.values()));
            // A dictionary much larger than the array is not worth mapping whole.
            if !shared && values.len() > 4 * d.len() + 1024 {
                let keys = d.keys();
                for (i, &k) in keys.values().iter().enumerate() {
                    let v = if keys.is_null(i) { None } else { dict_value(values, k) };
                    out.push(v.map_or(MISSING, |s| interner.id(s)));
                }
                continue;
            }
            if !shared {
                let by_key =
                    (0..values.len()).map(|k| if values.is_valid(k) { interner.id(values.value(k)) } else { MISSING });
                current = Some((d.values(), by_key.collect()));
            }
            let by_key = current.as_ref().map(|(_, b)| b.as_slice()).unwrap_or_default();
            let keys = d.keys();
            out.extend(keys.values().iter().enumerate().map(|(i, &k)| {
                if keys.is_null(i) {
                    MISSING
                } else {
                    usize::try_from(k).ok().and_then(|k| by_key.get(k)).copied().unwrap_or(MISSING)
                }
            }));
        } else {
            out.extend(a.as_string::<i32>().iter().map(|v| v.map_or(MISSING, |s| interner.id(s))));
        }
    }
    (!interner.full).then_some(TextIds { ids: out, values: interner.values })
}

/// Non-missing numeric values, sorted ascending.
pub(crate) enum Sorted {
    Ints(Vec<i64>),
    Floats(Vec<f64>),
}

impl Sorted {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Ints(v) => v.len(),
            Self::Floats(v) => v.len(),
        }
    }
    pub(crate) fn get_f64(&self, i: usize) -> f64 {
        match self {
            Self::Ints(v) => v[i] as f64,
            Self::Floats(v) => v[i],
        }
    }
    pub(crate) fn get(&self, i: usize) -> Scalar {
        match self {
            Self::Ints(v) => Scalar::Int(v[i]),
            Self::Floats(v) => Scalar::Float(v[i]),
        }
    }
}

/// A column of the table being validated.
pub(crate) struct Column {
    pub data_type: DataType,
    pub data: ColData,
    pub len: usize,
    missing: OnceCell<usize>,
    sorted: OnceCell<Result<Sorted, String>>,
    counts: OnceCell<Result<Vec<(Scalar, u64)>, String>>,
}

fn cast(array: &ArrayRef, to: &DataType) -> ArrayRef {
    // A failed cast (e.g. u64 beyond i64) falls back to float, which always succeeds for numbers.
    arrow::compute::cast(array, to)
        .or_else(|_| arrow::compute::cast(array, &DataType::Float64))
        .unwrap_or_else(|_| arrow::array::new_null_array(to, array.len()))
}

impl Column {
    /// Normalises a column given as its arrays: integers to Int64 (UInt64 to Float64), floats to
    /// Float64, all string encodings to Utf8 (dictionary arrays of Utf8 stay dictionaries, read
    /// through [`StrChunk`]). `data_type` is the column's type in the table's schema.
    pub(crate) fn new(data_type: &DataType, arrays: &[ArrayRef]) -> Self {
        let target = match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => Some(DataType::Int64),
            DataType::UInt64 | DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Null => {
                Some(DataType::Float64)
            }
            DataType::Boolean => Some(DataType::Boolean),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(DataType::Utf8),
            DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                Some(DataType::Utf8)
            }
            _ => None,
        };
        if target == Some(DataType::Utf8) {
            let chunks: Vec<StrChunk> = arrays.iter().map(StrChunk::of).collect();
            let len = chunks.iter().map(StrChunk::len).sum();
            return Self::with_data(data_type, ColData::Str(chunks), len);
        }
        let normalised: Vec<ArrayRef> = match &target {
            Some(t) => arrays.iter().map(|a| if a.data_type() == t { Arc::clone(a) } else { cast(a, t) }).collect(),
            None => arrays.to_vec(),
        };
        let len = normalised.iter().map(Array::len).sum();
        let data = match target {
            Some(DataType::Int64) if normalised.iter().all(|a| a.data_type() == &DataType::Int64) => {
                ColData::Int(normalised.iter().map(|a| a.as_primitive::<Int64Type>().clone()).collect())
            }
            Some(DataType::Int64 | DataType::Float64) => ColData::Float(
                normalised.iter().map(|a| cast(a, &DataType::Float64).as_primitive::<Float64Type>().clone()).collect(),
            ),
            Some(DataType::Boolean) => ColData::Bool(normalised.iter().map(|a| a.as_boolean().clone()).collect()),
            _ => ColData::Other(normalised),
        };
        Self::with_data(data_type, data, len)
    }

    fn with_data(data_type: &DataType, data: ColData, len: usize) -> Self {
        Self {
            data_type: data_type.clone(),
            data,
            len,
            missing: OnceCell::new(),
            sorted: OnceCell::new(),
            counts: OnceCell::new(),
        }
    }

    /// Takes the distinct values and counts of a text column computed elsewhere (from
    /// [`TextIds::counts`] of the same arrays).
    pub(crate) fn set_counts(&self, counts: Vec<(Scalar, u64)>) {
        if matches!(self.data, ColData::Str(_)) {
            let _ = self.counts.set(Ok(counts));
        }
    }

    /// Computes now what expectations and profiles of this column will ask for (missing values,
    /// distinct values with counts, sorted numbers), so that it can be done on another thread.
    pub(crate) fn prepare(&self) {
        self.missing();
        if !matches!(self.data, ColData::Other(_)) {
            let _ = self.counts();
        }
    }

    /// Missing values: nulls, and NaN in float columns (pandas treats NaN as missing).
    pub(crate) fn missing(&self) -> usize {
        *self.missing.get_or_init(|| match &self.data {
            ColData::Float(arrays) => {
                arrays.iter().map(|a| a.null_count() + a.iter().filter(|v| v.is_some_and(f64::is_nan)).count()).sum()
            }
            ColData::Int(a) => a.iter().map(Array::null_count).sum(),
            ColData::Bool(a) => a.iter().map(Array::null_count).sum(),
            ColData::Str(a) => a.iter().map(StrChunk::missing).sum(),
            ColData::Other(a) => a.iter().map(Array::logical_null_count).sum(),
        })
    }

    pub(crate) fn nonmissing(&self) -> usize {
        self.len - self.missing()
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self.data, ColData::Int(_) | ColData::Float(_) | ColData::Bool(_))
    }

    /// Calls `f(row, value)` for every row in order (`None` when missing) until it returns false.
    pub(crate) fn scan(&self, mut f: impl FnMut(usize, Option<RowRef<'_>>) -> bool) {
        let mut row = 0usize;
        macro_rules! walk {
            ($arrays:expr, $conv:expr) => {
                for a in $arrays {
                    for v in a.iter() {
                        if !f(row, v.and_then($conv)) {
                            return;
                        }
                        row += 1;
                    }
                }
            };
        }
        match &self.data {
            ColData::Int(arrays) => walk!(arrays, |x| Some(RowRef::Int(x))),
            ColData::Float(arrays) => walk!(arrays, |x: f64| (!x.is_nan()).then_some(RowRef::Float(x))),
            ColData::Bool(arrays) => walk!(arrays, |x| Some(RowRef::Bool(x))),
            ColData::Str(chunks) => {
                for c in chunks {
                    let go = c.for_each(|v| {
                        let more = f(row, v.map(RowRef::Str));
                        row += 1;
                        more
                    });
                    if !go {
                        return;
                    }
                }
            }
            ColData::Other(arrays) => {
                // Values of other types are not compared; callers use `validity` for nulls.
                for a in arrays {
                    for _ in 0..a.len() {
                        if !f(row, None) {
                            return;
                        }
                        row += 1;
                    }
                }
            }
        }
    }

    /// Whether row values of an `Other` column are present, in order.
    pub(crate) fn validity(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.len);
        match &self.data {
            ColData::Other(arrays) => {
                for a in arrays {
                    let nulls = a.logical_nulls();
                    out.extend((0..a.len()).map(|i| nulls.as_ref().is_none_or(|n| n.is_valid(i))));
                }
            }
            _ => self.scan(|_, v| {
                out.push(v.is_some());
                true
            }),
        }
        out
    }

    /// Non-missing values sorted ascending (booleans as 0/1). Err for non-numeric columns.
    pub(crate) fn sorted(&self) -> Result<&Sorted, String> {
        self.sorted.get_or_init(|| self.compute_sorted()).as_ref().map_err(Clone::clone)
    }

    fn not_numeric(&self) -> String {
        format!("column type {} is not numeric", crate::types::type_name(&self.data_type))
    }

    fn compute_sorted(&self) -> Result<Sorted, String> {
        match &self.data {
            ColData::Int(arrays) => {
                let mut values: Vec<i64> = Vec::with_capacity(self.nonmissing());
                for a in arrays {
                    if a.null_count() == 0 {
                        values.extend_from_slice(a.values());
                    } else {
                        values.extend(a.iter().flatten());
                    }
                }
                sort_ints(&mut values);
                Ok(Sorted::Ints(values))
            }
            ColData::Bool(arrays) => {
                let ones: usize = arrays.iter().map(BooleanArray::true_count).sum();
                let n = self.nonmissing();
                let mut values = vec![0i64; n - ones];
                values.resize(n, 1);
                Ok(Sorted::Ints(values))
            }
            ColData::Float(arrays) => {
                let mut values: Vec<f64> = Vec::with_capacity(self.nonmissing());
                for a in arrays {
                    values.extend(a.iter().flatten().filter(|x| !x.is_nan()));
                }
                values.sort_unstable_by(f64::total_cmp);
                Ok(Sorted::Floats(values))
            }
            ColData::Str(_) | ColData::Other(_) => Err(self.not_numeric()),
        }
    }

    /// Distinct non-missing values with their counts, sorted by value.
    pub(crate) fn counts(&self) -> Result<&[(Scalar, u64)], String> {
        self.counts.get_or_init(|| self.compute_counts()).as_deref().map_err(Clone::clone)
    }

    fn compute_counts(&self) -> Result<Vec<(Scalar, u64)>, String> {
        match &self.data {
            ColData::Bool(arrays) => {
                let ones: usize = arrays.iter().map(BooleanArray::true_count).sum();
                let zeros = self.nonmissing() - ones;
                let mut out = Vec::new();
                if zeros > 0 {
                    out.push((Scalar::Bool(false), zeros as u64));
                }
                if ones > 0 {
                    out.push((Scalar::Bool(true), ones as u64));
                }
                Ok(out)
            }
            ColData::Int(_) | ColData::Float(_) => {
                let sorted = self.sorted()?;
                let mut out: Vec<(Scalar, u64)> = Vec::new();
                match sorted {
                    Sorted::Ints(v) => {
                        for &x in v {
                            match out.last_mut() {
                                Some((Scalar::Int(last), c)) if *last == x => *c += 1,
                                _ => out.push((Scalar::Int(x), 1)),
                            }
                        }
                    }
                    Sorted::Floats(v) => {
                        for &x in v {
                            match out.last_mut() {
                                Some((Scalar::Float(last), c)) if *last == x => *c += 1,
                                _ => out.push((Scalar::Float(x), 1)),
                            }
                        }
                    }
                }
                Ok(out)
            }
            ColData::Str(chunks) => Ok(sort_texts(count_strings(chunks).into_iter().collect())),
            ColData::Other(_) => {
                Err(format!("column type {} has no comparable values", crate::types::type_name(&self.data_type)))
            }
        }
    }

    /// Minimum and maximum non-missing values (numeric columns; booleans stay booleans).
    pub(crate) fn min_max(&self) -> Result<Option<(Scalar, Scalar)>, String> {
        if let Some(Ok(s)) = self.sorted.get() {
            if s.len() == 0 {
                return Ok(None);
            }
            if let ColData::Bool(_) = self.data {
                return Ok(Some((Scalar::Bool(s.get_f64(0) != 0.0), Scalar::Bool(s.get_f64(s.len() - 1) != 0.0))));
            }
            return Ok(Some((s.get(0), s.get(s.len() - 1))));
        }
        match &self.data {
            ColData::Int(arrays) => {
                let mut mm: Option<(i64, i64)> = None;
                for a in arrays {
                    if let (Some(lo), Some(hi)) = (arrow::compute::min(a), arrow::compute::max(a)) {
                        mm = Some(mm.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))));
                    }
                }
                Ok(mm.map(|(l, h)| (Scalar::Int(l), Scalar::Int(h))))
            }
            ColData::Float(arrays) => {
                let mut mm: Option<(f64, f64)> = None;
                for x in arrays.iter().flat_map(|a| a.iter().flatten()).filter(|x| !x.is_nan()) {
                    mm = Some(mm.map_or((x, x), |(l, h)| (l.min(x), h.max(x))));
                }
                Ok(mm.map(|(l, h)| (Scalar::Float(l), Scalar::Float(h))))
            }
            ColData::Bool(arrays) => {
                let ones: usize = arrays.iter().map(BooleanArray::true_count).sum();
                let n = self.nonmissing();
                Ok((n > 0).then_some((Scalar::Bool(ones == n), Scalar::Bool(ones > 0))))
            }
            ColData::Str(_) | ColData::Other(_) => Err(self.not_numeric()),
        }
    }

    /// Exact sum of an integer or boolean column.
    pub(crate) fn int_sum(&self) -> Option<i128> {
        match &self.data {
            ColData::Int(arrays) => Some(
                arrays
                    .iter()
                    .map(|a| {
                        if a.null_count() == 0 {
                            a.values().iter().map(|&x| i128::from(x)).sum::<i128>()
                        } else {
                            a.iter().flatten().map(i128::from).sum::<i128>()
                        }
                    })
                    .sum(),
            ),
            ColData::Bool(arrays) => Some(arrays.iter().map(|a| a.true_count() as i128).sum()),
            _ => None,
        }
    }

    /// Compensated (Neumaier) sum of a float column, skipping missing values.
    pub(crate) fn float_sum(&self) -> Option<f64> {
        match &self.data {
            ColData::Float(arrays) => {
                let mut acc = Neumaier::default();
                for x in arrays.iter().flat_map(|a| a.iter().flatten()).filter(|x| !x.is_nan()) {
                    acc.add(x);
                }
                Some(acc.total())
            }
            _ => None,
        }
    }

    /// Compensated sum of squared deviations from `mean` over non-missing values.
    pub(crate) fn sum_sq_dev(&self, mean: f64) -> f64 {
        let mut acc = Neumaier::default();
        self.scan(|_, v| {
            let x = match v {
                Some(RowRef::Int(i)) => i as f64,
                Some(RowRef::Float(f)) => f,
                Some(RowRef::Bool(b)) => f64::from(u8::from(b)),
                _ => return true,
            };
            let d = x - mean;
            acc.add(d * d);
            true
        });
        acc.total()
    }
}

/// Neumaier's compensated summation: exact to within a few ulps whatever the order of terms.
#[derive(Default)]
pub(crate) struct Neumaier {
    sum: f64,
    c: f64,
}

impl Neumaier {
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.c += (self.sum - t) + x;
        } else {
            self.c += (x - t) + self.sum;
        }
        self.sum = t;
    }
    pub(crate) fn total(&self) -> f64 {
        self.sum + self.c
    }
}

/// Sorts integers; a counting sort when the value range is small (years, incomes in reais),
/// which is several times faster than a comparison sort on a million rows.
fn sort_ints(values: &mut [i64]) {
    let (Some(&lo), Some(&hi)) = (values.iter().min(), values.iter().max()) else {
        return;
    };
    let range = (i128::from(hi) - i128::from(lo)) as u128;
    let limit = (values.len() as u128 * 2).clamp(1 << 16, 1 << 26);
    if range >= limit {
        values.sort_unstable();
        return;
    }
    let mut counts = vec![0u32; range as usize + 1];
    for &v in values.iter() {
        counts[(v - lo) as usize] += 1;
    }
    let mut pos = 0usize;
    for (offset, &c) in counts.iter().enumerate() {
        if c > 0 {
            let v = lo + offset as i64;
            values[pos..pos + c as usize].fill(v);
            pos += c as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_sort_matches_comparison_sort() {
        let mut a: Vec<i64> = (0..5000).map(|i| (i * 7919 % 1013) - 400).collect();
        let mut b = a.clone();
        sort_ints(&mut a);
        b.sort_unstable();
        assert_eq!(a, b);
        let mut wide = vec![i64::MAX, i64::MIN, 0, 5];
        sort_ints(&mut wide);
        assert_eq!(wide, vec![i64::MIN, 0, 5, i64::MAX]);
    }

    #[test]
    fn neumaier_is_exact_where_naive_is_not() {
        let mut acc = Neumaier::default();
        for x in [1.0, 1e100, 1.0, -1e100] {
            acc.add(x);
        }
        assert_eq!(acc.total(), 2.0);
    }
}
