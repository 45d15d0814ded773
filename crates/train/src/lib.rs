//! esteira-train: a declared feature pipeline, Local Outlier Factor outlier removal and
//! models (logistic regression by our L-BFGS or smartcore's, random forests of smartcore
//! trees), chosen by stratified grouped cross-validation, with class balancing and a decision
//! threshold fitted on training rows only. The result is one versioned JSON [`Model`] that
//! scores raw rows with [`predict`].
//!
//! In a pipeline file (every key optional; these are the defaults unless marked):
//!
//! ```toml
//! [stages.train]
//! kind = "train"
//! inputs = { train = "segregate.train" }
//! [stages.train.params]
//! target = "descricao"
//! positive_class = "APROVADO"
//! group = "id_discente"            # (default none) never a feature; keeps a student in one fold
//! reference_year = 2020
//! derived = { idade = { kind = "age", from = "ano_nascimento" }, local_ou_de_fora = { kind = "equals", from = "estado_origem", value = "Rio Grande do Norte" } }
//! categorical = ["sexo", "raca", "area_conhecimento", "grau_academico", "local_ou_de_fora",
//!                "possui_auxilio_alimentacao", "possui_auxilio_transporte", "possui_auxilio_residencia_moradia"]
//! numeric = ["idade", "renda"]
//! scaling = "standard"             # or "min_max"
//! numeric_bins = 0                 # e.g. 4: + one-hot quartile bins of each numeric column (training edges)
//! lof = { enabled = true, k = 20, max_score = 1.5 }   # enabled = false, or "cv" to let CV choose
//! balance = "oversample"           # or "weight" (scikit-learn's class_weight="balanced" inside the L-BFGS
//!                                  # objective; forests and smartcore oversample instead), "undersample", "none"
//! threshold = "balanced_accuracy"  # or "minority_f1", "fixed" (0.5)
//! validation_fraction = 0.2
//! cv = { folds = 5, metric = "roc_auc" }   # or "balanced_accuracy", "minority_f1"
//! seed = 42
//! [[stages.train.params.grid]]
//! algorithm = "logistic_regression"
//! alpha = [0.1, 1.0, 10.0]
//! [[stages.train.params.grid]]     # (not in the defaults) a second family to compare
//! algorithm = "random_forest"
//! n_trees = [100]
//! max_depth = [10]                 # 0 = unlimited
//! min_samples_leaf = [5]
//! max_samples = [0]                # rows each tree grows from (0 = all; bounds a tree's cost on big tables)
//! [stages.train.params.logistic]   # how logistic regressions are fitted
//! solver = "lbfgs"                 # ours (L-BFGS, scikit-learn's stopping rule) or "smartcore"
//! max_iter = 100                   # lbfgs only; running out is a warning + metric, not an error
//! tol = 1e-4                       # lbfgs only: max |gradient| of the per-row objective
//! ```
//!
//! Training runs on rayon's thread pool (the global one, or the one [`train`] is called in):
//! the cross-validation fits, the LOF searches and the loss passes in parallel, every parallel
//! sum combined in a fixed order, so the model and CV report are the same bytes for any number
//! of threads. The loss is summed once per distinct feature row (the design is mostly one-hot
//! and a student's enrolments share their features), with the weights of its rows.
//!
//! Size-like params have upper bounds, checked when the params are parsed (the error names the
//! key, and the pipeline file's line):
//!
//! | param | at most | constant |
//! | --- | --- | --- |
//! | `numeric_bins` | 100 | [`MAX_BINS`] |
//! | `lof.k` | 1 000 | [`MAX_LOF_K`] |
//! | `cv.folds` | 100 | [`MAX_CV_FOLDS`] |
//! | `logistic.max_iter` | 100 000 | [`MAX_LOGISTIC_ITER`] |
//! | models in `grid` (the sum over entries of the product of their lists) | 1 000 | [`MAX_GRID_POINTS`] |
//! | `grid[].n_trees` | 10 000 | [`MAX_TREES`] |
//! | `grid[].max_depth` (0 = unlimited) | 1 000 | [`MAX_TREE_DEPTH`] |
//! | `grid[].min_samples_leaf`, `grid[].max_samples` | 1 000 000 000 | [`MAX_TREE_ROWS`] |
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
//! use esteira_train::{TrainParams, predict, train, Model};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 200 students: group "b" passes more often.
//! let n = 200;
//! let grupo: Vec<&str> = (0..n).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
//! let renda: Vec<f64> = (0..n).map(|i| f64::from((i * 37) % 100)).collect();
//! let descricao: Vec<&str> =
//!     (0..n).map(|i| if (i % 2 == 1 && i % 7 != 0) || i % 5 == 0 { "APROVADO" } else { "FALHOU" }).collect();
//! let batch = RecordBatch::try_from_iter([
//!     ("grupo", Arc::new(StringArray::from(grupo)) as ArrayRef),
//!     ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
//!     ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
//! ])?;
//! let params = TrainParams {
//!     categorical: vec!["grupo".into()],
//!     numeric: vec!["renda".into()],
//!     derived: Default::default(),
//!     ..TrainParams::default()
//! };
//! let trained = train(&params, &[batch.clone()], "example")?;
//! let model = Model::from_json(&trained.model.to_json())?;
//! let p = predict(&model, &[batch])?;
//! assert!(p[1] > p[0]); // a "b" row scores above an "a" row
//! assert_eq!(model.positive_class(), "APROVADO");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod columns;
mod design;
mod design_matrix;
mod error;
mod estimator;
mod features;
mod fit;
mod lbfgs;
mod lof;
mod model;
mod neighbors;
mod params;
mod scores;
mod scoring;
mod split;
mod stage;

pub use design_matrix::{DesignMatrix, FeatureColumn};
pub use error::TrainError;
pub use fit::{CvPoint, CvReport, Trained, train};
pub use lbfgs::{
    CHUNK_ROWS, LbfgsOptions, LogisticFit, StopReason, balanced_class_weights, fit_logistic_lbfgs,
    fit_logistic_lbfgs_weighted,
};
pub use lof::lof_scores;
pub use model::{
    FORMAT_VERSION, FeatureEffect, InputColumn, InputKind, Model, OLDEST_FORMAT_VERSION, Prediction, TrainingSummary,
    predict, predict_detailed,
};
pub use params::{
    Balance, CvMetric, CvParams, Derived, GridEntry, GridPoint, LofMode, LofParams, LogisticParams, MAX_BINS,
    MAX_CV_FOLDS, MAX_GRID_POINTS, MAX_LOF_K, MAX_LOGISTIC_ITER, MAX_TREE_DEPTH, MAX_TREE_ROWS, MAX_TREES, Scaling,
    Solver, ThresholdRule, TrainParams,
};
pub use scoring::EncodedRows;
pub use stage::{TrainStage, register};
