//! The declared feature pipeline: derived columns, imputation, one-hot encoding and scaling,
//! fitted on training rows and applied unchanged to any later rows.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::columns;
use crate::params::{Derived, Scaling, TrainParams};

/// Where a feature's values come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Source {
    /// A raw column as it is.
    Column { column: String },
    /// `reference_year - column`.
    Age { column: String, reference_year: i64 },
    /// `"true"`/`"false"`: whether `column` equals `value`.
    Equals { column: String, value: String },
}

impl Source {
    fn new(name: &str, params: &TrainParams) -> Self {
        match params.derived.get(name) {
            Some(Derived::Age { from }) => Self::Age { column: from.clone(), reference_year: params.reference_year },
            Some(Derived::Equals { from, value }) => Self::Equals { column: from.clone(), value: value.clone() },
            None => Self::Column { column: name.to_owned() },
        }
    }

    /// The raw column a row must carry.
    pub(crate) fn raw_column(&self) -> &str {
        match self {
            Self::Column { column } | Self::Age { column, .. } | Self::Equals { column, .. } => column,
        }
    }

    fn numbers(&self, batches: &[RecordBatch]) -> Result<Vec<Option<f64>>, TrainError> {
        let mut v = columns::numbers(batches, self.raw_column())?;
        if let Self::Age { reference_year, .. } = self {
            let r = *reference_year as f64;
            for x in v.iter_mut().flatten() {
                *x = r - *x;
            }
        }
        Ok(v)
    }

    /// Calls `f(row, value)` with the categorical value of every row.
    fn for_each_text(
        &self,
        batches: &[RecordBatch],
        mut f: impl FnMut(usize, Option<&str>) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        match self {
            Self::Equals { column, value } => columns::for_each_text(batches, column, |row, v| {
                f(row, v.map(|s| if s == value { "true" } else { "false" }))
            }),
            _ => columns::for_each_text(batches, self.raw_column(), f),
        }
    }
}

/// A fitted numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NumericFeature {
    pub(crate) name: String,
    pub(crate) source: Source,
    /// Imputed for missing values (median of the training values).
    pub(crate) median: f64,
    /// Smallest and largest training value (before imputation and scaling).
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// Scaled value = (value - center) / scale.
    pub(crate) center: f64,
    pub(crate) scale: f64,
    /// Inner edges of the quantile bins (`numeric_bins`), strictly increasing: bin `k` holds
    /// the values with `k` edges at or below them; bins after the first get a one-hot column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) bin_edges: Vec<f64>,
}

impl NumericFeature {
    /// The bin of an imputed, unscaled value.
    fn bin(&self, v: f64) -> usize {
        self.bin_edges.partition_point(|&e| e <= v)
    }

    /// `[a, b)`-style labels of every bin.
    fn bin_labels(&self) -> Vec<String> {
        let e = &self.bin_edges;
        (0..=e.len())
            .map(|k| match (k.checked_sub(1).map(|i| e[i]), e.get(k)) {
                (None, Some(hi)) => format!("< {hi}"),
                (Some(lo), Some(hi)) => format!("[{lo}, {hi})"),
                (Some(lo), None) => format!(">= {lo}"),
                (None, None) => "all".to_owned(),
            })
            .collect()
    }
}

/// Inner edges of `bins` quantile bins of `sorted` values (numpy's linear percentile, as
/// scikit-learn's `KBinsDiscretizer(strategy="quantile")`), edges closer than 1e-8 merged.
fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    if bins < 2 || sorted.is_empty() {
        return Vec::new();
    }
    let last = (sorted.len() - 1) as f64;
    let mut edges: Vec<f64> = Vec::with_capacity(bins + 1);
    for q in 0..=bins {
        let pos = last * q as f64 / bins as f64;
        let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
        let hi = (lo + 1).min(sorted.len() - 1);
        let e = sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
        if edges.last().is_none_or(|&prev| e - prev > 1e-8) {
            edges.push(e);
        }
    }
    // The outer two are the range, not cuts.
    if edges.len() <= 2 { Vec::new() } else { edges[1..edges.len() - 1].to_vec() }
}

/// A fitted categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoricalFeature {
    pub(crate) name: String,
    pub(crate) source: Source,
    /// Imputed for missing values (most frequent training value; ties go to the smallest).
    pub(crate) most_frequent: String,
    /// Sorted training categories; the first is the reference and gets no column.
    pub(crate) categories: Vec<String>,
    /// For a derived feature: the distinct raw values of its source column seen in training.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) raw_values: Vec<String>,
}

/// The whole fitted pipeline. Matrix columns: numeric features in declared order, then each
/// numeric feature's bin block (bins after the first; none unless `numeric_bins`), then each
/// categorical feature's one-hot block (categories after the first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeatureSpec {
    pub(crate) scaling: Scaling,
    pub(crate) numeric: Vec<NumericFeature>,
    pub(crate) categorical: Vec<CategoricalFeature>,
}

/// A dense row-major feature matrix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matrix {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) data: Vec<f64>,
}

impl Matrix {
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows at `idx`, in that order (repeats allowed).
    pub(crate) fn take(&self, idx: &[usize]) -> Self {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Self { rows: idx.len(), cols: self.cols, data }
    }
}

/// A transformed table and what the encoders did not recognise.
#[derive(Debug, Clone)]
pub(crate) struct Transformed {
    pub(crate) matrix: Matrix,
    /// Feature name -> rows whose category was not seen in training (encoded as all zeros).
    pub(crate) unseen: BTreeMap<String, u64>,
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]) }
}

/// The error of a numeric feature whose scaling statistics overflowed (a mean or variance of
/// values near `f64::MAX` is infinite, and every scaled value would be NaN): it names the
/// column and the row of the value of largest magnitude, the one that overflowed.
fn unscalable(name: &str, source: &Source, values: &[Option<f64>], scaling: Scaling) -> TrainError {
    // The first of the largest, when several are equal.
    let (row, value) = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .reduce(|best, x| if x.1.abs() > best.1.abs() { x } else { best })
        .unwrap_or((0, f64::NAN));
    let stats = match scaling {
        Scaling::Standard => "mean and standard deviation",
        Scaling::MinMax => "range (max - min)",
    };
    TrainError::BadValue {
        column: source.raw_column().to_owned(),
        row: row + 1,
        value: value.to_string(),
        message: format!(
            "numeric feature `{name}` cannot be scaled: the {stats} of its training values overflow to a \
             non-finite number, so every scaled value would be NaN (clip or filter such values in preprocess)"
        ),
    }
}

/// scikit-learn's `_handle_zeros_in_scale`: a (near) zero scale becomes 1.
fn safe_scale(s: f64) -> f64 {
    if s < 10.0 * f64::EPSILON { 1.0 } else { s }
}

impl FeatureSpec {
    /// Fits every declared feature on `batches` (the training rows).
    pub(crate) fn fit(params: &TrainParams, batches: &[RecordBatch]) -> Result<Self, TrainError> {
        let mut numeric = Vec::new();
        for name in &params.numeric {
            let source = Source::new(name, params);
            let values = source.numbers(batches)?;
            let mut seen: Vec<f64> = values.iter().flatten().copied().collect();
            if seen.is_empty() {
                return Err(TrainError::Data(format!(
                    "numeric feature `{name}` (from column `{}`) has no values in the training rows",
                    source.raw_column()
                )));
            }
            seen.sort_by(f64::total_cmp);
            let med = median(&seen);
            let (min, max) = (seen[0], seen[seen.len() - 1]);
            let n = values.len() as f64;
            let (center, scale) = match params.scaling {
                Scaling::Standard => {
                    // Statistics of the imputed column, as a scikit-learn imputer -> scaler pipeline.
                    let mean = values.iter().map(|v| v.unwrap_or(med)).sum::<f64>() / n;
                    let var = values.iter().map(|v| (v.unwrap_or(med) - mean).powi(2)).sum::<f64>() / n;
                    (mean, safe_scale(var.sqrt()))
                }
                Scaling::MinMax => (min, safe_scale(max - min)),
            };
            if !(center.is_finite() && scale.is_finite()) {
                return Err(unscalable(name, &source, &values, params.scaling));
            }
            let bin_edges = if params.numeric_bins >= 2 {
                let mut imputed: Vec<f64> = values.iter().map(|v| v.unwrap_or(med)).collect();
                imputed.sort_by(f64::total_cmp);
                quantile_edges(&imputed, params.numeric_bins)
            } else {
                Vec::new()
            };
            numeric.push(NumericFeature {
                name: name.clone(),
                source,
                median: med,
                min,
                max,
                center,
                scale,
                bin_edges,
            });
        }
        let mut categorical = Vec::new();
        for name in &params.categorical {
            let source = Source::new(name, params);
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            source.for_each_text(batches, |_, v| {
                if let Some(v) = v {
                    if let Some(c) = counts.get_mut(v) {
                        *c += 1;
                    } else {
                        counts.insert(v.to_owned(), 1);
                    }
                }
                Ok(())
            })?;
            let mut most_frequent: Option<(&String, u64)> = None;
            for (k, &c) in &counts {
                if most_frequent.is_none_or(|(_, best)| c > best) {
                    most_frequent = Some((k, c));
                }
            }
            let Some((most_frequent, _)) = most_frequent else {
                return Err(TrainError::Data(format!(
                    "categorical feature `{name}` (from column `{}`) has no values in the training rows",
                    source.raw_column()
                )));
            };
            let most_frequent = most_frequent.clone();
            let raw_values = if let Source::Equals { column, .. } = &source {
                let mut raw = std::collections::BTreeSet::new();
                columns::for_each_text(batches, column, |_, v| {
                    if let Some(v) = v
                        && !raw.contains(v)
                    {
                        raw.insert(v.to_owned());
                    }
                    Ok(())
                })?;
                raw.into_iter().collect()
            } else {
                Vec::new()
            };
            categorical.push(CategoricalFeature {
                name: name.clone(),
                source,
                most_frequent,
                categories: counts.into_keys().collect(),
                raw_values,
            });
        }
        Ok(Self { scaling: params.scaling, numeric, categorical })
    }

    /// Number of matrix columns.
    pub(crate) fn width(&self) -> usize {
        self.numeric.len()
            + self.numeric.iter().map(|n| n.bin_edges.len()).sum::<usize>()
            + self.categorical.iter().map(|c| c.categories.len().saturating_sub(1)).sum::<usize>()
    }

    /// Matrix column names with (column, category, reference) for each.
    pub(crate) fn feature_names(&self) -> Vec<(String, String, Option<String>, Option<String>)> {
        let mut out: Vec<_> = self.numeric.iter().map(|n| (n.name.clone(), n.name.clone(), None, None)).collect();
        for n in &self.numeric {
            let labels = n.bin_labels();
            for label in labels.iter().skip(1) {
                out.push((format!("{} {label}", n.name), n.name.clone(), Some(label.clone()), labels.first().cloned()));
            }
        }
        for c in &self.categorical {
            for cat in c.categories.iter().skip(1) {
                out.push((
                    format!("{}={cat}", c.name),
                    c.name.clone(),
                    Some(cat.clone()),
                    c.categories.first().cloned(),
                ));
            }
        }
        out
    }

    /// Applies the fitted pipeline to any rows (training, test, one served row).
    pub(crate) fn transform(&self, batches: &[RecordBatch]) -> Result<Transformed, TrainError> {
        let encoded = self.encode(batches)?;
        let matrix = encoded.dense_rows(0..encoded.rows);
        Ok(Transformed { matrix, unseen: encoded.unseen })
    }

    /// [`FeatureSpec::transform`] in compact form: the scaled numeric values and, per one-hot
    /// block, which of its columns is 1 ([`Encoded::dense_rows`] gives the same matrix).
    pub(crate) fn encode(&self, batches: &[RecordBatch]) -> Result<Encoded, TrainError> {
        let rows = columns::row_count(batches);
        let cols = self.width();
        let n_num = self.numeric.len();
        // Blocks with at least one column, in column order: bins, then categories.
        let widths: Vec<usize> = self
            .numeric
            .iter()
            .map(|f| f.bin_edges.len())
            .chain(self.categorical.iter().map(|c| c.categories.len().saturating_sub(1)))
            .collect();
        let n_blocks = widths.iter().filter(|&&w| w > 0).count();
        // Each feature reads its own raw column: all of them at once, then assembled in order
        // (the first failing feature's error, as if they were read one by one).
        let numeric_columns: Vec<Result<NumericColumn, TrainError>> =
            self.numeric.par_iter().enumerate().map(|(j, f)| self.encode_numeric(j, f, batches)).collect();
        let categorical_columns: Vec<Result<CategoricalColumn, TrainError>> =
            self.categorical.par_iter().enumerate().map(|(c, f)| self.encode_categorical(c, f, batches)).collect();
        let mut numeric = vec![0.0; rows * n_num];
        let mut hot = vec![NO_COLUMN; rows * n_blocks];
        let mut block = 0;
        for (j, column) in numeric_columns.into_iter().enumerate() {
            let (values, bins) = column?;
            for (i, v) in values.into_iter().enumerate() {
                numeric[i * n_num + j] = v;
            }
            if !self.numeric[j].bin_edges.is_empty() {
                for (i, c) in bins.into_iter().enumerate() {
                    hot[i * n_blocks + block] = c;
                }
                block += 1;
            }
        }
        let mut unseen = BTreeMap::new();
        for (f, column) in self.categorical.iter().zip(categorical_columns) {
            let (codes, missing) = column?;
            if f.categories.len() > 1 {
                for (i, c) in codes.into_iter().enumerate() {
                    hot[i * n_blocks + block] = c;
                }
                block += 1;
            }
            if missing > 0 {
                tracing::debug!(feature = %f.name, rows = missing, "categories unseen in training encoded as all zeros");
                unseen.insert(f.name.clone(), missing);
            }
        }
        Ok(Encoded { rows, cols, n_num, n_blocks, numeric, hot, unseen })
    }
}

/// One numeric feature, encoded: scaled values and bin columns (empty without bins).
type NumericColumn = (Vec<f64>, Vec<u32>);
/// One categorical feature, encoded: one-hot columns and the count of unseen categories.
type CategoricalColumn = (Vec<u32>, u64);

impl FeatureSpec {
    /// The first matrix column of numeric feature `j`'s bin block.
    fn bin_offset(&self, j: usize) -> usize {
        self.numeric.len() + self.numeric[..j].iter().map(|f| f.bin_edges.len()).sum::<usize>()
    }

    /// The first matrix column of categorical feature `c`'s block.
    fn category_offset(&self, c: usize) -> usize {
        self.bin_offset(self.numeric.len())
            + self.categorical[..c].iter().map(|f| f.categories.len().saturating_sub(1)).sum::<usize>()
    }

    /// Numeric feature `j`: its scaled values and its bin column per row (empty without bins).
    fn encode_numeric(
        &self,
        j: usize,
        f: &NumericFeature,
        batches: &[RecordBatch],
    ) -> Result<NumericColumn, TrainError> {
        let values = f.source.numbers(batches)?;
        let offset = self.bin_offset(j);
        let binned = !f.bin_edges.is_empty();
        let mut scaled_values = Vec::with_capacity(values.len());
        let mut bins = Vec::with_capacity(if binned { values.len() } else { 0 });
        for (i, v) in values.into_iter().enumerate() {
            let v = v.unwrap_or(f.median);
            let scaled = (v - f.center) / f.scale;
            if !scaled.is_finite() {
                return Err(TrainError::BadValue {
                    column: f.source.raw_column().to_owned(),
                    row: i + 1,
                    value: v.to_string(),
                    message: format!(
                        "numeric feature `{}` scales it to {scaled} ((value - {}) / {}): the value is too large \
                         for the training statistics (clip or filter such values in preprocess)",
                        f.name, f.center, f.scale
                    ),
                });
            }
            scaled_values.push(scaled);
            if binned {
                bins.push(f.bin(v).checked_sub(1).map_or(NO_COLUMN, |k| (offset + k) as u32));
            }
        }
        Ok((scaled_values, bins))
    }

    /// Categorical feature `c`: its one-hot column per row, and how many rows held a category
    /// unseen in training.
    fn encode_categorical(
        &self,
        c: usize,
        f: &CategoricalFeature,
        batches: &[RecordBatch],
    ) -> Result<CategoricalColumn, TrainError> {
        let offset = self.category_offset(c);
        let mut missing = 0u64;
        let mut codes = Vec::with_capacity(columns::row_count(batches));
        columns::require(batches, f.source.raw_column())?;
        f.source.for_each_text(batches, |_, v| {
            let v = v.unwrap_or(&f.most_frequent);
            codes.push(match f.categories.binary_search_by(|c| c.as_str().cmp(v)) {
                Ok(0) => NO_COLUMN,
                Ok(k) => (offset + k - 1) as u32,
                Err(_) => {
                    missing += 1;
                    NO_COLUMN
                }
            });
            Ok(())
        })?;
        Ok((codes, missing))
    }
}

/// No column of a one-hot block is 1 (the reference category, or one unseen in training).
pub(crate) const NO_COLUMN: u32 = u32::MAX;

/// A transformed table in compact form. Matrix row `i` holds `numeric[i * n_num..][..n_num]` in
/// its first `n_num` columns, 1 in each column `hot[i * n_blocks..][..n_blocks]` names (in
/// increasing order; [`NO_COLUMN`] names none), and 0 elsewhere.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) rows: usize,
    /// Width of the matrix.
    pub(crate) cols: usize,
    /// Leading dense (scaled numeric) columns.
    pub(crate) n_num: usize,
    /// One-hot blocks with at least one column.
    pub(crate) n_blocks: usize,
    pub(crate) numeric: Vec<f64>,
    pub(crate) hot: Vec<u32>,
    /// Feature name -> rows whose category was not seen in training (encoded as all zeros).
    pub(crate) unseen: BTreeMap<String, u64>,
}

impl Encoded {
    /// The numeric values of row `i`.
    pub(crate) fn numeric_row(&self, i: usize) -> &[f64] {
        &self.numeric[i * self.n_num..(i + 1) * self.n_num]
    }

    /// The one-hot columns of row `i` (some may be [`NO_COLUMN`]).
    pub(crate) fn hot_row(&self, i: usize) -> &[u32] {
        &self.hot[i * self.n_blocks..(i + 1) * self.n_blocks]
    }

    /// The dense matrix of the rows `idx`, in that order.
    pub(crate) fn dense_rows(&self, idx: impl ExactSizeIterator<Item = usize>) -> Matrix {
        let (rows, cols) = (idx.len(), self.cols);
        let mut data = vec![0.0; rows * cols];
        for (out, i) in data.chunks_exact_mut(cols.max(1)).zip(idx) {
            out[..self.n_num].copy_from_slice(self.numeric_row(i));
            for &c in self.hot_row(i) {
                if c != NO_COLUMN {
                    out[c as usize] = 1.0;
                }
            }
        }
        Matrix { rows, cols, data }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};

    use super::*;

    fn table() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("sexo", Arc::new(StringArray::from(vec![Some("F"), Some("M"), None, Some("M")])) as ArrayRef),
            (
                "estado_origem",
                Arc::new(StringArray::from(vec![
                    Some("Rio Grande do Norte"),
                    Some("Paraíba"),
                    None,
                    Some("Rio Grande do Norte"),
                ])) as ArrayRef,
            ),
            ("ano_nascimento", Arc::new(Int64Array::from(vec![Some(2000), Some(1990), None, Some(1995)])) as ArrayRef),
            (
                "renda",
                Arc::new(StringArray::from(vec![Some("1000"), Some(""), Some("3000.0"), Some("2000")])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn params(scaling: Scaling) -> TrainParams {
        TrainParams {
            categorical: vec!["sexo".into(), "local_ou_de_fora".into()],
            numeric: vec!["idade".into(), "renda".into()],
            scaling,
            ..TrainParams::default()
        }
    }

    #[test]
    fn standard_pipeline_matches_hand_computation() {
        let spec = FeatureSpec::fit(&params(Scaling::Standard), &[table()]).unwrap();
        let t = spec.transform(&[table()]).unwrap();
        // idade = 2020 - ano: [20, 30, missing -> median 25, 25]; mean 25, std sqrt(12.5).
        // renda: [1000, missing -> 2000, 3000, 2000]; mean 2000, std sqrt(5e5).
        // sexo: most frequent M imputes the null; F is the reference -> column sexo=M.
        // local_ou_de_fora: [true, false, missing -> true, true]; reference "false".
        let (a, r) = (12.5f64.sqrt(), 500_000f64.sqrt());
        #[rustfmt::skip]
        let expected = vec![
            -5.0 / a, -1000.0 / r, 0.0, 1.0,
             5.0 / a,  0.0,        1.0, 0.0,
             0.0,      1000.0 / r, 1.0, 1.0,
             0.0,      0.0,        1.0, 1.0,
        ];
        assert_eq!(t.matrix.cols, 4);
        for (g, e) in t.matrix.data.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-12, "{:?} vs {expected:?}", t.matrix.data);
        }
        let names: Vec<String> = spec.feature_names().into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["idade", "renda", "sexo=M", "local_ou_de_fora=true"]);
        assert!(t.unseen.is_empty());
        assert_eq!(spec.categorical[1].raw_values, ["Paraíba", "Rio Grande do Norte"]);
    }

    #[test]
    fn min_max_uses_training_range_and_unseen_is_zero() {
        let spec = FeatureSpec::fit(&params(Scaling::MinMax), &[table()]).unwrap();
        let t = spec.transform(&[table()]).unwrap();
        let col = |j: usize| (0..4).map(|i| t.matrix.data[i * 4 + j]).collect::<Vec<_>>();
        assert_eq!(col(0), [0.0, 1.0, 0.5, 0.5]);
        assert_eq!(col(1), [0.0, 0.5, 1.0, 0.5]);
        // A later row: unseen sex, birth year outside the training range (not clipped).
        let row = RecordBatch::try_from_iter([
            ("sexo", Arc::new(StringArray::from(vec!["X"])) as ArrayRef),
            ("estado_origem", Arc::new(StringArray::from(vec!["Ceará"])) as ArrayRef),
            ("ano_nascimento", Arc::new(Float64Array::from(vec![1970.0])) as ArrayRef),
            ("renda", Arc::new(Float64Array::from(vec![None])) as ArrayRef),
        ])
        .unwrap();
        let t = spec.transform(&[row]).unwrap();
        // idade 2020 - 1970 = 50 -> (50 - 20) / (30 - 20) = 3; renda imputed with the median 2000.
        assert_eq!(t.matrix.data, [3.0, 0.5, 0.0, 0.0]);
        assert_eq!(t.unseen, BTreeMap::from([("sexo".to_owned(), 1)]));
    }

    #[test]
    fn a_value_too_large_for_the_training_scale_is_named_not_scored_nan() {
        // Training values with a standard deviation below 1 (here forced), then a later value
        // near f64::MAX: its scaled value is infinite, and the model's score would be NaN.
        let mut spec = FeatureSpec::fit(&params(Scaling::Standard), &[table()]).unwrap();
        spec.numeric[1].scale = 1e-3;
        let row = RecordBatch::try_from_iter([
            ("sexo", Arc::new(StringArray::from(vec!["F", "M"])) as ArrayRef),
            ("estado_origem", Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef),
            ("ano_nascimento", Arc::new(Float64Array::from(vec![1970.0, 1980.0])) as ArrayRef),
            ("renda", Arc::new(Float64Array::from(vec![1.0, 1e308])) as ArrayRef),
        ])
        .unwrap();
        let msg = spec.transform(&[row]).unwrap_err().to_string();
        assert!(msg.contains("column `renda`, row 2: value \"1000000"), "{msg}");
        assert!(msg.contains("numeric feature `renda` scales it to inf"), "{msg}");
    }

    #[test]
    fn bad_numbers_and_missing_columns_are_named() {
        let bad = RecordBatch::try_from_iter([
            ("sexo", Arc::new(StringArray::from(vec!["F", "M"])) as ArrayRef),
            ("estado_origem", Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef),
            ("ano_nascimento", Arc::new(Int64Array::from(vec![2000, 2001])) as ArrayRef),
            ("renda", Arc::new(StringArray::from(vec!["10", "dez"])) as ArrayRef),
        ])
        .unwrap();
        let msg = FeatureSpec::fit(&params(Scaling::Standard), std::slice::from_ref(&bad)).unwrap_err().to_string();
        assert!(msg.contains("column `renda`, row 2: value \"dez\""), "{msg}");
        let infinite = RecordBatch::try_from_iter([
            ("sexo", Arc::new(StringArray::from(vec!["F", "M"])) as ArrayRef),
            ("estado_origem", Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef),
            ("ano_nascimento", Arc::new(Int64Array::from(vec![2000, 2001])) as ArrayRef),
            ("renda", Arc::new(Float64Array::from(vec![10.0, f64::INFINITY])) as ArrayRef),
        ])
        .unwrap();
        let msg = FeatureSpec::fit(&params(Scaling::Standard), &[infinite]).unwrap_err().to_string();
        assert!(msg.contains("column `renda`, row 2") && msg.contains("not a finite number"), "{msg}");
        let spec = FeatureSpec::fit(&params(Scaling::Standard), &[table()]).unwrap();
        let missing = bad.project(&[0, 1, 2]).unwrap();
        let msg = spec.transform(&[missing]).unwrap_err().to_string();
        assert!(msg.contains("column `renda` is missing"), "{msg}");
    }

    #[test]
    fn quantile_edges_match_numpy_percentiles() {
        // np.percentile(np.arange(1, 11), [0, 25, 50, 75, 100]) = [1, 3.25, 5.5, 7.75, 10].
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile_edges(&v, 4), [3.25, 5.5, 7.75]);
        // Tied quantiles merge: [1, 1, 1, 1, 2] has no inner cut left.
        assert!(quantile_edges(&[1.0, 1.0, 1.0, 1.0, 2.0], 4).is_empty());
        // np.percentile([1, 1, 2, 3, 3], [0, 100 / 3, 200 / 3, 100]).
        let e = quantile_edges(&[1.0, 1.0, 2.0, 3.0, 3.0], 3);
        assert!(
            e.len() == 2
                && (e[0] - 1.333_333_333_333_333_5).abs() < 1e-12
                && (e[1] - 2.666_666_666_666_667).abs() < 1e-12
        );
        assert!(quantile_edges(&v, 0).is_empty() && quantile_edges(&[], 4).is_empty());
    }

    #[test]
    fn numeric_bins_add_one_hot_columns_after_the_scaled_values() {
        let p = TrainParams { numeric_bins: 2, ..params(Scaling::MinMax) };
        let spec = FeatureSpec::fit(&p, &[table()]).unwrap();
        // Imputed idade [20, 30, 25, 25] -> one cut at the median 25; renda [1000, 2000, 3000,
        // 2000] -> one cut at 2000. A value on a cut belongs to the upper bin.
        assert_eq!(spec.numeric[0].bin_edges, [25.0]);
        assert_eq!(spec.numeric[1].bin_edges, [2000.0]);
        let names: Vec<String> = spec.feature_names().into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["idade", "renda", "idade >= 25", "renda >= 2000", "sexo=M", "local_ou_de_fora=true"]);
        assert_eq!(spec.feature_names()[2].3.as_deref(), Some("< 25"));
        let t = spec.transform(&[table()]).unwrap();
        assert_eq!(t.matrix.cols, 6);
        let col = |j: usize| (0..4).map(|i| t.matrix.data[i * 6 + j]).collect::<Vec<_>>();
        assert_eq!(col(2), [0.0, 1.0, 1.0, 1.0]);
        assert_eq!(col(3), [0.0, 1.0, 1.0, 1.0]);
        assert_eq!(col(4), [0.0, 1.0, 1.0, 1.0]);
        for bad in [1, 101] {
            let p = TrainParams { numeric_bins: bad, ..params(Scaling::MinMax) };
            assert!(p.validate().unwrap_err().to_string().contains("numeric_bins"), "{bad}");
        }
    }
}
