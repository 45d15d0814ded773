//! The adapter from an `esteira-train` [`Model`] and a table to the inference model's design:
//! the columns the model's estimator sees ([`Model::design_matrix`]: scaled numerics, their
//! quantile bins when configured, one-hot columns dropping the first category, with the same
//! reference categories and the same imputation), the outcome as booleans and the clusters of a
//! group column. The feature pipeline itself lives in esteira-train only.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use esteira_core::{MAX_EXCERPT_CHARS, excerpt};
use esteira_train::Model;

use crate::{Clusters, Design, InferenceError, LogitOptions, LogitReport, fit_logit};

/// One design column and what it means (esteira-train's vocabulary).
pub type DesignColumn = esteira_train::FeatureColumn;

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

/// `f(row, value)` for every row of a key or outcome column; blank text is missing. Non-text
/// columns are read as their Arrow text.
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
                    expected: "text, boolean or a number (an outcome or group key column)".into(),
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

/// Builds `model`'s design on `batches` (for the inference model, the training split): the
/// feature matrix the model's estimator sees ([`Model::design_matrix`]), the outcome
/// (`model.target()` equal to `model.positive_class()`; any value but the two classes, and a
/// missing one, is an error) and the clusters of `group` (`None`: the model's own group column,
/// [`Model::group`]; no clusters if it has none). A missing group key is an error.
pub fn design_from_model(
    model: &Model,
    batches: &[RecordBatch],
    group: Option<&str>,
) -> Result<ModelDesign, InferenceError> {
    let matrix = model.design_matrix(batches)?;
    let rows = matrix.rows;
    let names: Vec<String> = matrix.columns.iter().map(|c| c.name.clone()).collect();

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
    Ok(ModelDesign {
        x: matrix.values,
        rows,
        names,
        columns: matrix.columns,
        y,
        clusters,
        group,
        unseen: matrix.unseen,
    })
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
}
