//! The model artifact: one versioned JSON document with everything needed to score a raw row.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::estimator::Estimator;
use crate::features::{FeatureSpec, Source};
use crate::params::{CvMetric, GridPoint, Solver, ThresholdRule};

/// The artifact format this crate writes. Bump it when the JSON shape changes.
/// Version 2 added the logistic regression's `solver` and `convergence`; version 3 numeric
/// features' `bin_edges` and random forests' `max_samples` (each absent when not used).
pub const FORMAT_VERSION: u32 = 3;

/// The oldest format still read: versions 1 and 2 differ only by lacking the fields later
/// versions added (version 1's logistic regressions were all fitted by smartcore, which is what
/// loading assumes; no version 2 model has bins).
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// A trained model: feature pipeline with its fitted statistics, the estimator, the decision
/// threshold, the class names and where it came from. Serialised with [`Model::to_json`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub(crate) format_version: u32,
    pub(crate) target: String,
    pub(crate) positive_class: String,
    pub(crate) negative_class: String,
    pub(crate) group: Option<String>,
    pub(crate) features: FeatureSpec,
    /// Matrix column names, for people reading the JSON.
    pub(crate) feature_names: Vec<String>,
    pub(crate) estimator: Estimator,
    pub(crate) threshold: f64,
    pub(crate) threshold_rule: ThresholdRule,
    pub(crate) training: TrainingSummary,
}

/// How a model was trained: data, selection and scores on training data only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSummary {
    /// BLAKE3 hash of the training table.
    pub data_hash: String,
    /// Rows in the training table.
    pub rows: usize,
    /// Rows dropped by Local Outlier Factor.
    pub outliers_removed: usize,
    /// Rows per class after outlier removal (before balancing).
    pub class_counts: BTreeMap<String, usize>,
    /// The grid point chosen by cross-validation.
    pub selected: GridPoint,
    /// The metric it was chosen by.
    pub cv_metric: CvMetric,
    /// The seed of every random choice.
    pub seed: u64,
    /// Training-side scores (CV means, validation scores at the threshold …).
    pub metrics: BTreeMap<String, f64>,
}

/// A raw input column a row needs, with what training saw in it (a serve form is built from
/// these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputColumn {
    /// The column name in the raw table.
    pub name: String,
    /// Its kind and training values.
    pub kind: InputKind,
}

/// What kind of values an input column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputKind {
    /// Text values; `categories` are those seen in training, sorted.
    Categorical {
        /// The values seen in training.
        categories: Vec<String>,
    },
    /// Numbers; the training range and median (used to impute a missing value).
    Numeric {
        /// Smallest training value.
        min: f64,
        /// Largest training value.
        max: f64,
        /// Median training value.
        median: f64,
    },
}

/// One logistic regression coefficient, read as an effect on the odds of the positive class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEffect {
    /// Matrix column name (`idade`, `sexo=M`).
    pub feature: String,
    /// The feature column it belongs to (`idade`, `sexo`).
    pub column: String,
    /// For a one-hot column: its category.
    pub category: Option<String>,
    /// For a one-hot column: the reference category the effect is relative to.
    pub reference: Option<String>,
    /// The coefficient (per scaled unit for numeric features).
    pub coefficient: f64,
    /// `exp(coefficient)`.
    pub odds_ratio: f64,
}

/// Probabilities with what the encoders did not recognise.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// P(positive class) per row.
    pub probabilities: Vec<f64>,
    /// Feature -> rows whose category was unseen in training (encoded as the reference).
    pub unseen: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<serde_json::Value>,
}

fn json_error(e: &serde_json::Error) -> TrainError {
    TrainError::ModelJson { line: e.line(), column: e.column(), message: e.to_string() }
}

impl Model {
    /// Reads an artifact written by [`Model::to_json`]. An artifact of another format version
    /// is rejected with a message saying which versions are involved.
    pub fn from_json(bytes: &[u8]) -> Result<Model, TrainError> {
        let probe: VersionProbe = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        match probe.format_version {
            Some(serde_json::Value::Number(n))
                if n.as_u64()
                    .is_some_and(|v| (u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION)).contains(&v)) => {}
            other => {
                return Err(TrainError::FormatVersion {
                    found: other.map_or_else(|| "missing".to_owned(), |v| v.to_string()),
                    supported: FORMAT_VERSION,
                });
            }
        }
        let mut model: Model = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        // Loaded models describe themselves in the current format (so `to_json` writes one
        // consistent shape).
        model.format_version = FORMAT_VERSION;
        Ok(model)
    }

    /// The artifact as pretty JSON; equal models give equal bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data (no maps with non-string keys, non-finite floats are
        // avoided when building) cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The outcome column, e.g. `descricao`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The class probabilities refer to (e.g. `APROVADO`).
    pub fn positive_class(&self) -> &str {
        &self.positive_class
    }

    /// The other class (e.g. `FALHOU`).
    pub fn negative_class(&self) -> &str {
        &self.negative_class
    }

    /// Decide the positive class when P(positive) >= this.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// How the threshold was chosen.
    pub fn threshold_rule(&self) -> ThresholdRule {
        self.threshold_rule
    }

    /// `logistic_regression` or `random_forest`.
    pub fn algorithm(&self) -> &str {
        self.estimator.algorithm()
    }

    /// The logistic regression's solver; `None` for other algorithms.
    pub fn solver(&self) -> Option<Solver> {
        self.estimator.solver().map(|(s, _)| s)
    }

    /// The group key column of the training data, if any (never a feature).
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// The feature matrix's column names, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// How the model was trained.
    pub fn training(&self) -> &TrainingSummary {
        &self.training
    }

    /// The raw columns a row needs, numeric features' sources first, each once.
    pub fn input_columns(&self) -> Vec<InputColumn> {
        let mut out: Vec<InputColumn> = Vec::new();
        let mut push = |c: InputColumn| {
            if !out.iter().any(|o| o.name == c.name) {
                out.push(c);
            }
        };
        for f in &self.features.numeric {
            let kind = match f.source {
                Source::Age { reference_year, .. } => {
                    let r = reference_year as f64;
                    InputKind::Numeric { min: r - f.max, max: r - f.min, median: r - f.median }
                }
                _ => InputKind::Numeric { min: f.min, max: f.max, median: f.median },
            };
            push(InputColumn { name: f.source.raw_column().to_owned(), kind });
        }
        for f in &self.features.categorical {
            let categories = match f.source {
                Source::Equals { .. } => f.raw_values.clone(),
                _ => f.categories.clone(),
            };
            push(InputColumn { name: f.source.raw_column().to_owned(), kind: InputKind::Categorical { categories } });
        }
        out
    }

    /// The logistic regression's coefficients as odds ratios; `None` for other algorithms.
    pub fn feature_effects(&self) -> Option<Vec<FeatureEffect>> {
        let Estimator::LogisticRegression { coefficients, .. } = &self.estimator else {
            return None;
        };
        Some(
            self.features
                .feature_names()
                .into_iter()
                .zip(coefficients)
                .map(|((feature, column, category, reference), &coefficient)| FeatureEffect {
                    feature,
                    column,
                    category,
                    reference,
                    coefficient,
                    odds_ratio: coefficient.exp(),
                })
                .collect(),
        )
    }
}

/// P(positive class) for every row of `batches`: missing values are imputed and categories
/// unseen in training are encoded as the reference category. The batches need the columns
/// listed by [`Model::input_columns`]; others are ignored.
pub fn predict(model: &Model, batches: &[RecordBatch]) -> Result<Vec<f64>, TrainError> {
    Ok(predict_detailed(model, batches)?.probabilities)
}

/// [`predict`], also counting the unseen categories per feature.
pub fn predict_detailed(model: &Model, batches: &[RecordBatch]) -> Result<Prediction, TrainError> {
    let t = model.features.transform(batches)?;
    let probabilities = model.estimator.predict_proba(&t.matrix)?;
    Ok(Prediction { probabilities, unseen: t.unseen })
}
