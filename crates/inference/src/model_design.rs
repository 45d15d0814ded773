//! The adapter from an `esteira-train` [`Model`] and a table to the inference model's design:
//! the same columns the model's logistic regression sees (scaled numerics, their quantile bins
//! when configured, one-hot columns dropping the first category, with the same reference
//! categories and the same imputation), the outcome as booleans and the clusters of a group
//! column.
//!
//! esteira-train does not expose its fitted feature pipeline, so this module reads it from the
//! model artifact's `features` section (format version [`esteira_train::FORMAT_VERSION`]) and
//! applies it the way `esteira-train`'s `features.rs` does. Two checks keep the copy honest:
//! the column names must equal [`Model::feature_names`], and for a logistic regression model
//! the design times the model's own coefficients must reproduce [`predict`] on the same rows
//! (else [`InferenceError::Model`]). When esteira-train exposes its design matrix, this module's
//! body becomes a call to it and the signature stays.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use esteira_core::{MAX_EXCERPT_CHARS, excerpt, parse_number};
use esteira_train::{Model, predict};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::{Clusters, Design, InferenceError, LogitOptions, LogitReport, fit_logit};

/// Where a feature's values come from (esteira-train's `features::Source`).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Source {
    Column { column: String },
    Age { column: String, reference_year: i64 },
    Equals { column: String, value: String },
}

impl Source {
    fn raw_column(&self) -> &str {
        match self {
            Self::Column { column } | Self::Age { column, .. } | Self::Equals { column, .. } => column,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NumericFeature {
    name: String,
    source: Source,
    median: f64,
    #[serde(rename = "min")]
    _min: IgnoredAny,
    #[serde(rename = "max")]
    _max: IgnoredAny,
    center: f64,
    scale: f64,
    #[serde(default)]
    bin_edges: Vec<f64>,
}

impl NumericFeature {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoricalFeature {
    name: String,
    source: Source,
    most_frequent: String,
    categories: Vec<String>,
    #[serde(default, rename = "raw_values")]
    _raw_values: IgnoredAny,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureSpec {
    #[serde(rename = "scaling")]
    _scaling: IgnoredAny,
    numeric: Vec<NumericFeature>,
    categorical: Vec<CategoricalFeature>,
}

/// One design column and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignColumn {
    /// The column's name (`idade`, `idade >= 25`, `sexo=M`), as [`Model::feature_names`].
    pub name: String,
    /// The feature it belongs to (`idade`, `sexo`).
    pub feature: String,
    /// For a one-hot or bin column: its category or bin.
    pub category: Option<String>,
    /// For a one-hot or bin column: the reference category or bin its effect is relative to.
    pub reference: Option<String>,
}

/// A model's design on a table, ready for [`fit_logit`].
#[derive(Debug, Clone)]
pub struct ModelDesign {
    /// `rows` x `names.len()` values, row-major (no intercept column).
    pub x: Vec<f64>,
    /// Rows.
    pub rows: usize,
    /// Column names ([`Model::feature_names`]).
    pub names: Vec<String>,
    /// What each column means.
    pub columns: Vec<DesignColumn>,
    /// Whether each row's outcome is the model's positive class.
    pub y: Vec<bool>,
    /// Rows grouped by the group column; `None` without one.
    pub clusters: Option<Clusters>,
    /// The group column used.
    pub group: Option<String>,
    /// Feature -> rows whose category was not seen in training (encoded as the reference).
    pub unseen: BTreeMap<String, u64>,
}

impl ModelDesign {
    /// The design as [`fit_logit`] takes it.
    pub fn design(&self) -> Result<Design<'_>, InferenceError> {
        Design::new(&self.x, self.rows, &self.names)
    }

    /// Fits the inference model on this design, clustered by the group column if there is one.
    pub fn fit(&self, options: &LogitOptions) -> Result<LogitReport, InferenceError> {
        fit_logit(&self.design()?, &self.y, self.clusters.as_ref(), options)
    }
}

fn column_index(batch: &RecordBatch, name: &str) -> Result<usize, InferenceError> {
    batch.schema().index_of(name).map_err(|_| InferenceError::MissingColumn {
        column: name.to_owned(),
        available: batch.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// `f(row, value)` for every row; blank text is missing. Non-text columns are read as their
/// Arrow text (as esteira-train's `columns::for_each_text`).
fn for_each_text(
    batches: &[RecordBatch],
    name: &str,
    mut f: impl FnMut(usize, Option<&str>) -> Result<(), InferenceError>,
) -> Result<(), InferenceError> {
    let mut row = 0usize;
    for batch in batches {
        let col = batch.column(column_index(batch, name)?);
        let owned;
        let strings = match col.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => col,
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Dictionary(_, _)
            | DataType::Null => {
                owned = arrow::compute::cast(col, &DataType::Utf8).map_err(|e| InferenceError::Arrow {
                    what: format!("reading column `{name}` as text"),
                    source: e,
                })?;
                &owned
            }
            other => {
                return Err(InferenceError::ColumnType {
                    column: name.to_owned(),
                    data_type: other.to_string(),
                    expected: "text, boolean or a number (a categorical column)".into(),
                });
            }
        };
        let mut visit = |i: usize, v: Option<&str>| f(row + i, v.map(str::trim).filter(|s| !s.is_empty()));
        match strings.data_type() {
            DataType::Utf8 => {
                for (i, v) in strings.as_string::<i32>().iter().enumerate() {
                    visit(i, v)?;
                }
            }
            DataType::LargeUtf8 => {
                for (i, v) in strings.as_string::<i64>().iter().enumerate() {
                    visit(i, v)?;
                }
            }
            _ => {
                for (i, v) in strings.as_string_view().iter().enumerate() {
                    visit(i, v)?;
                }
            }
        }
        row += batch.num_rows();
    }
    Ok(())
}

fn bad_value(column: &str, row: usize, value: &str, message: impl Into<String>) -> InferenceError {
    InferenceError::BadValue {
        column: column.to_owned(),
        row,
        value: excerpt(value, MAX_EXCERPT_CHARS).into_owned(),
        message: message.into(),
    }
}

/// A column as numbers: nulls, blanks and NaN are missing; text is read by
/// [`esteira_core::parse_number`] (as esteira-train's `columns::numbers`).
fn numbers(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<f64>>, InferenceError> {
    let mut out = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let col = batch.column(column_index(batch, name)?);
        let start = out.len();
        match col.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                for_each_text(std::slice::from_ref(batch), name, |i, v| {
                    out.push(match v {
                        None => None,
                        Some(s) => parse_number(s).map_err(|e| bad_value(name, start + i + 1, s, e.to_string()))?,
                    });
                    Ok(())
                })?;
            }
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _)
            | DataType::Null => {
                let cast = arrow::compute::cast(col, &DataType::Float64).map_err(|e| InferenceError::Arrow {
                    what: format!("reading column `{name}` as numbers"),
                    source: e,
                })?;
                for (i, v) in cast.as_primitive::<Float64Type>().iter().enumerate() {
                    if let Some(x) = v.filter(|x| x.is_infinite()) {
                        return Err(bad_value(name, start + i + 1, &x.to_string(), "not a finite number"));
                    }
                    out.push(v.filter(|x| !x.is_nan()));
                }
            }
            other => {
                return Err(InferenceError::ColumnType {
                    column: name.to_owned(),
                    data_type: other.to_string(),
                    expected: "a number or numeric text (a numeric column)".into(),
                });
            }
        }
    }
    Ok(out)
}

fn feature_numbers(f: &NumericFeature, batches: &[RecordBatch]) -> Result<Vec<Option<f64>>, InferenceError> {
    let mut v = numbers(batches, f.source.raw_column())?;
    if let Source::Age { reference_year, .. } = f.source {
        let r = reference_year as f64;
        for x in v.iter_mut().flatten() {
            *x = r - *x;
        }
    }
    Ok(v)
}

fn feature_text(
    source: &Source,
    batches: &[RecordBatch],
    mut f: impl FnMut(usize, Option<&str>) -> Result<(), InferenceError>,
) -> Result<(), InferenceError> {
    match source {
        Source::Equals { column, value } => {
            for_each_text(batches, column, |row, v| f(row, v.map(|s| if s == value { "true" } else { "false" })))
        }
        _ => for_each_text(batches, source.raw_column(), f),
    }
}

/// Builds `model`'s design on `batches` (for the inference model, the training split): the
/// feature matrix the model's estimator sees, the outcome (`model.target()` equal to
/// `model.positive_class()`; any value but the two classes, and a missing one, is an error) and
/// the clusters of `group` (`None`: the model's own group column, [`Model::group`]; no
/// clusters if it has none). A missing group key is an error.
pub fn design_from_model(
    model: &Model,
    batches: &[RecordBatch],
    group: Option<&str>,
) -> Result<ModelDesign, InferenceError> {
    let artifact = serde_json::to_value(model).map_err(|e| InferenceError::Model(e.to_string()))?;
    let spec = artifact
        .get("features")
        .ok_or_else(|| InferenceError::Model("the artifact has no `features` section".into()))
        .and_then(|f| {
            FeatureSpec::deserialize(f).map_err(|e| {
                InferenceError::Model(format!(
                    "its feature pipeline is not one esteira-inference can rebuild (artifact format {}): {e}",
                    esteira_train::FORMAT_VERSION
                ))
            })
        })?;

    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut columns = Vec::new();
    for f in &spec.numeric {
        columns.push(DesignColumn { name: f.name.clone(), feature: f.name.clone(), category: None, reference: None });
    }
    for f in &spec.numeric {
        let labels = f.bin_labels();
        for label in labels.iter().skip(1) {
            columns.push(DesignColumn {
                name: format!("{} {label}", f.name),
                feature: f.name.clone(),
                category: Some(label.clone()),
                reference: labels.first().cloned(),
            });
        }
    }
    for f in &spec.categorical {
        for c in f.categories.iter().skip(1) {
            columns.push(DesignColumn {
                name: format!("{}={c}", f.name),
                feature: f.name.clone(),
                category: Some(c.clone()),
                reference: f.categories.first().cloned(),
            });
        }
    }
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    if names != model.feature_names() {
        return Err(InferenceError::Model(format!(
            "the rebuilt design's columns ({}) are not the model's ({})",
            excerpt(&names.join(", "), 400),
            excerpt(&model.feature_names().join(", "), 400)
        )));
    }

    let cols = names.len();
    let mut x = vec![0.0; rows * cols];
    let mut offset = spec.numeric.len();
    for (j, f) in spec.numeric.iter().enumerate() {
        for (i, v) in feature_numbers(f, batches)?.into_iter().enumerate() {
            let v = v.unwrap_or(f.median);
            let scaled = (v - f.center) / f.scale;
            if !scaled.is_finite() {
                return Err(bad_value(
                    f.source.raw_column(),
                    i + 1,
                    &v.to_string(),
                    format!("numeric feature `{}` scales it to {scaled}", f.name),
                ));
            }
            x[i * cols + j] = scaled;
            if let Some(k) = f.bin_edges.partition_point(|&e| e <= v).checked_sub(1) {
                x[i * cols + offset + k] = 1.0;
            }
        }
        offset += f.bin_edges.len();
    }
    let mut unseen = BTreeMap::new();
    for f in &spec.categorical {
        let mut missing = 0u64;
        column_index_all(batches, f.source.raw_column())?;
        feature_text(&f.source, batches, |i, v| {
            let v = v.unwrap_or(&f.most_frequent);
            match f.categories.binary_search_by(|c| c.as_str().cmp(v)) {
                Ok(0) => {}
                Ok(k) => x[i * cols + offset + k - 1] = 1.0,
                Err(_) => missing += 1,
            }
            Ok(())
        })?;
        if missing > 0 {
            unseen.insert(f.name.clone(), missing);
        }
        offset += f.categories.len().saturating_sub(1);
    }
    if model.algorithm() == "logistic_regression" {
        check_against_predictions(model, &artifact, batches, &x, cols)?;
    }

    let target = model.target();
    let mut y = Vec::with_capacity(rows);
    for_each_text(batches, target, |row, v| {
        let v = v.ok_or_else(|| bad_value(target, row + 1, "", "the outcome is missing"))?;
        if v == model.positive_class() {
            y.push(true);
        } else if v == model.negative_class() {
            y.push(false);
        } else {
            return Err(bad_value(
                target,
                row + 1,
                v,
                format!(
                    "the outcome must be `{}` or `{}`",
                    excerpt(model.positive_class(), MAX_EXCERPT_CHARS),
                    excerpt(model.negative_class(), MAX_EXCERPT_CHARS)
                ),
            ));
        }
        Ok(())
    })?;

    let group = group.or(model.group()).map(str::to_owned);
    let clusters = match &group {
        None => None,
        Some(g) => {
            let mut keys: Vec<String> = Vec::with_capacity(rows);
            for_each_text(batches, g, |row, v| {
                keys.push(v.ok_or_else(|| bad_value(g, row + 1, "", "the group key is missing"))?.to_owned());
                Ok(())
            })?;
            Some(Clusters::from_keys(&keys))
        }
    };
    Ok(ModelDesign { x, rows, names, columns, y, clusters, group, unseen })
}

fn column_index_all(batches: &[RecordBatch], name: &str) -> Result<(), InferenceError> {
    for b in batches {
        column_index(b, name)?;
    }
    Ok(())
}

/// The rebuilt design must score the rows exactly as the model does: `sigmoid(x · w + b)` with
/// the model's coefficients, summed in the order esteira-train sums them.
fn check_against_predictions(
    model: &Model,
    artifact: &serde_json::Value,
    batches: &[RecordBatch],
    x: &[f64],
    cols: usize,
) -> Result<(), InferenceError> {
    let coefficients: Vec<f64> = model.feature_effects().unwrap_or_default().iter().map(|e| e.coefficient).collect();
    let intercept = artifact.pointer("/estimator/intercept").and_then(serde_json::Value::as_f64);
    let (Some(intercept), true) = (intercept, coefficients.len() == cols) else {
        return Err(InferenceError::Model("the logistic regression's coefficients do not fit the design".into()));
    };
    let model_p = predict(model, batches)?;
    for (i, &want) in model_p.iter().enumerate() {
        let row = &x[i * cols..(i + 1) * cols];
        let z: f64 = row.iter().zip(&coefficients).map(|(a, b)| a * b).sum::<f64>() + intercept;
        let got = 1.0 / (1.0 + (-z).exp());
        let agree = (got - want).abs() <= 1e-12;
        if !agree {
            return Err(InferenceError::Model(format!(
                "the rebuilt design disagrees with the model's own feature pipeline at row {} (probability \
                 {got} here, {want} from the model): esteira-train's features changed; update \
                 esteira-inference's model_design.rs",
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use esteira_train::{GridEntry, LofMode, LofParams, TrainParams, train};

    use super::*;
    use crate::{CoefficientStatus, INTERCEPT};

    /// 400 enrolments of 134 students: sex (some missing), state of origin, birth year (some
    /// missing), income as text (some blank), area; passing depends on area, age and income.
    fn table(n: usize) -> RecordBatch {
        let u = |i: usize, s: usize| {
            let mut z = ((i * 8 + s) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64 / 2f64.powi(64)
        };
        let student = |i: usize| i / 3;
        let sexo: Vec<Option<&str>> = (0..n)
            .map(|i| match u(student(i), 1) {
                v if v < 0.05 => None,
                v if v < 0.55 => Some("M"),
                _ => Some("F"),
            })
            .collect();
        let estado: Vec<&str> =
            (0..n).map(|i| if u(student(i), 2) < 0.7 { "Rio Grande do Norte" } else { "Paraíba" }).collect();
        let ano: Vec<Option<i64>> = (0..n)
            .map(|i| if u(student(i), 3) < 0.03 { None } else { Some(1990 + (u(student(i), 4) * 12.0) as i64) })
            .collect();
        let renda: Vec<String> = (0..n)
            .map(|i| {
                if u(student(i), 5) < 0.05 {
                    String::new()
                } else {
                    format!("{}", 500 + (u(student(i), 6) * 4000.0) as i64)
                }
            })
            .collect();
        let area: Vec<&str> =
            (0..n).map(|i| ["Exatas", "Humanas", "Saude"][(u(student(i), 7) * 3.0) as usize]).collect();
        let descricao: Vec<&str> = (0..n)
            .map(|i| {
                let eta = 0.4 + if area[i] == "Humanas" { 0.8 } else { 0.0 }
                    - 0.05 * ano[i].map_or(0.0, |a| (2002 - a) as f64)
                    + 0.0003 * renda[i].parse::<f64>().unwrap_or(2000.0)
                    - 0.6;
                if u(i, 8) < 1.0 / (1.0 + (-eta).exp()) { "APROVADO" } else { "FALHOU" }
            })
            .collect();
        let ids: Vec<String> = (0..n).map(|i| format!("s{:03}", student(i))).collect();
        RecordBatch::try_from_iter([
            ("sexo", Arc::new(StringArray::from(sexo)) as ArrayRef),
            ("estado_origem", Arc::new(StringArray::from(estado)) as ArrayRef),
            ("ano_nascimento", Arc::new(Int64Array::from(ano)) as ArrayRef),
            ("renda", Arc::new(StringArray::from(renda)) as ArrayRef),
            ("area_conhecimento", Arc::new(StringArray::from(area)) as ArrayRef),
            ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
            ("id_discente", Arc::new(StringArray::from(ids)) as ArrayRef),
        ])
        .unwrap()
    }

    fn params() -> TrainParams {
        TrainParams {
            group: Some("id_discente".into()),
            categorical: vec!["sexo".into(), "area_conhecimento".into(), "local_ou_de_fora".into()],
            numeric: vec!["idade".into(), "renda".into()],
            numeric_bins: 2,
            lof: LofParams { enabled: LofMode::Off, ..LofParams::default() },
            grid: vec![GridEntry::LogisticRegression { alpha: vec![1.0] }],
            ..TrainParams::default()
        }
    }

    #[test]
    fn the_design_is_the_models_own() {
        let batch = table(400);
        let model = train(&params(), std::slice::from_ref(&batch), "test").unwrap().model;
        // Two batches: rows are numbered across them.
        let halves = [batch.slice(0, 150), batch.slice(150, 250)];
        let md = design_from_model(&model, &halves, None).unwrap();
        assert_eq!(md.names, model.feature_names());
        assert_eq!(md.rows, 400);
        assert_eq!(md.group.as_deref(), Some("id_discente"));
        assert_eq!(md.clusters.as_ref().unwrap().count(), 134);
        let sexo = md.columns.iter().position(|c| c.name == "sexo=M").unwrap();
        assert_eq!(md.columns[sexo].reference.as_deref(), Some("F"));
        assert_eq!(md.columns[sexo].feature, "sexo");
        let bin = md.columns.iter().find(|c| c.name.starts_with("idade >= ")).unwrap();
        assert!(bin.reference.as_deref().unwrap().starts_with("< "), "{bin:?}");
        assert!(md.columns.iter().any(|c| c.name == "local_ou_de_fora=true"));
        // A missing sex is imputed with the most frequent (M here): sexo=M is 1 on those rows.
        let sexo_col = batch.column(0).as_string::<i32>();
        for i in (0..400).filter(|&i| sexo_col.is_null(i)) {
            assert_eq!(md.x[i * md.names.len() + sexo], 1.0, "row {i}");
        }
        // The outcome as the model reads it.
        let desc = batch.column(5).as_string::<i32>();
        assert!((0..400).all(|i| md.y[i] == (desc.value(i) == "APROVADO")));

        let report = md.fit(&LogitOptions::default()).unwrap();
        assert!(report.converged, "{:?}", report.warnings);
        assert_eq!(report.coefficients[0].name, INTERCEPT);
        assert_eq!(report.coefficients.len(), md.names.len() + 1);
        assert!(report.coefficients.iter().all(|c| c.status == CoefficientStatus::Estimated));
        assert!(report.coefficients.iter().all(|c| c.clustered.is_some() && c.naive.is_some()));
        assert_eq!(report.clusters_used, Some(134));
        // Unclustered when asked for another group column that groups nothing.
        let by_row = design_from_model(&model, std::slice::from_ref(&batch), Some("renda"));
        assert!(matches!(by_row, Err(InferenceError::BadValue { .. })), "blank group keys are errors");
    }

    #[test]
    fn missing_columns_and_unknown_outcomes_are_named() {
        let batch = table(200);
        let model = train(&params(), std::slice::from_ref(&batch), "test").unwrap().model;
        let no_area = batch.project(&[0, 1, 2, 3, 5, 6]).unwrap();
        let e = design_from_model(&model, &[no_area], None).unwrap_err().to_string();
        assert!(e.contains("column `area_conhecimento` is missing"), "{e}");
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        let mut desc: Vec<&str> = batch.column(5).as_string::<i32>().iter().map(Option::unwrap).collect();
        desc[7] = "TRANCADO";
        cols[5] = Arc::new(StringArray::from(desc));
        let odd = RecordBatch::try_new(batch.schema(), cols).unwrap();
        let e = design_from_model(&model, &[odd], None).unwrap_err().to_string();
        assert!(e.contains("column `descricao`, row 8") && e.contains("TRANCADO"), "{e}");
    }

    #[test]
    fn bin_labels_are_esteira_trains() {
        let f = NumericFeature {
            name: "idade".into(),
            source: Source::Column { column: "idade".into() },
            median: 0.0,
            _min: IgnoredAny,
            _max: IgnoredAny,
            center: 0.0,
            scale: 1.0,
            bin_edges: vec![20.0, 25.5],
        };
        assert_eq!(f.bin_labels(), ["< 20", "[20, 25.5)", ">= 25.5"]);
    }
}
