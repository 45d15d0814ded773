//! The model's design on any table, for other crates: the dense matrix its estimator sees and
//! what each of its columns means. The one home of that vocabulary (esteira-inference fits its
//! inference model on it instead of re-implementing the feature pipeline).

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::model::Model;

/// One column of a model's design matrix and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureColumn {
    /// The column's name (`idade`, `idade >= 25`, `sexo=M`), as [`Model::feature_names`].
    pub name: String,
    /// The feature it belongs to (`idade`, `sexo`).
    pub feature: String,
    /// For a one-hot or bin column: its category or bin.
    pub category: Option<String>,
    /// For a one-hot or bin column: the reference category or bin its effect is relative to.
    pub reference: Option<String>,
}

/// A table as the model's estimator sees it: imputed, scaled numerics first, then their bins,
/// then one-hot categories (drop-first, the reference being the first category).
#[derive(Debug, Clone, PartialEq)]
pub struct DesignMatrix {
    /// Rows.
    pub rows: usize,
    /// The columns, in matrix order.
    pub columns: Vec<FeatureColumn>,
    /// `rows` x `columns.len()` values, row-major.
    pub values: Vec<f64>,
    /// Feature -> rows whose category was not seen in training (encoded as the reference).
    pub unseen: BTreeMap<String, u64>,
}

impl Model {
    /// The design matrix's columns, in order.
    pub fn feature_columns(&self) -> Vec<FeatureColumn> {
        self.features
            .feature_names()
            .into_iter()
            .map(|(name, feature, category, reference)| FeatureColumn { name, feature, category, reference })
            .collect()
    }

    /// The design matrix of `batches` (the columns [`Model::input_columns`] lists): the same
    /// values [`predict`](crate::predict) multiplies by the coefficients.
    pub fn design_matrix(&self, batches: &[RecordBatch]) -> Result<DesignMatrix, TrainError> {
        let t = self.features.transform(batches)?;
        Ok(DesignMatrix {
            rows: t.matrix.rows,
            columns: self.feature_columns(),
            values: t.matrix.data,
            unseen: t.unseen,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, StringArray};

    use crate::estimator::Estimator;
    use crate::{GridEntry, LofMode, LofParams, TrainParams, predict, train};

    #[test]
    fn the_design_times_the_coefficients_is_predict() {
        let n = 120;
        let grupo: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
        let renda: Vec<Option<f64>> = (0..n).map(|i| (i % 11 != 0).then(|| ((i * 37) % 100) as f64)).collect();
        let descricao: Vec<&str> =
            (0..n).map(|i| if (i % 3 == 1 && i % 7 != 0) || i % 5 == 0 { "APROVADO" } else { "FALHOU" }).collect();
        let batch = arrow::array::RecordBatch::try_from_iter([
            ("grupo", Arc::new(StringArray::from(grupo)) as ArrayRef),
            ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
            ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
        ])
        .unwrap();
        let params = TrainParams {
            categorical: vec!["grupo".into()],
            numeric: vec!["renda".into()],
            numeric_bins: 2,
            derived: std::collections::BTreeMap::default(),
            lof: LofParams { enabled: LofMode::Off, ..LofParams::default() },
            grid: vec![GridEntry::LogisticRegression { alpha: vec![1.0] }],
            ..TrainParams::default()
        };
        let model = train(&params, std::slice::from_ref(&batch), "t").unwrap().model;
        let d = model.design_matrix(std::slice::from_ref(&batch)).unwrap();
        let names: Vec<&str> = d.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, model.feature_names());
        assert_eq!(d.columns.last().unwrap().reference.as_deref(), Some("a"));
        let Estimator::LogisticRegression { coefficients, intercept, .. } = &model.estimator else { unreachable!() };
        let p = predict(&model, std::slice::from_ref(&batch)).unwrap();
        let cols = d.columns.len();
        for (i, want) in p.into_iter().enumerate() {
            let z: f64 = d.values[i * cols..(i + 1) * cols].iter().zip(coefficients).map(|(x, w)| x * w).sum::<f64>();
            assert!((1.0 / (1.0 + (-(z + intercept)).exp()) - want).abs() < 1e-12, "row {i}");
        }
    }
}
