//! esteira-segregate: seeded, stratified, optionally grouped train/test splits and k-fold
//! indices, on plain slices or Arrow tables.
//!
//! - [`train_test_split`] / [`group_train_test_split`]: row indices of each side, for any
//!   labels (and group keys).
//! - [`split_table`]: the same on record batches, giving train and test tables with a
//!   [`SplitReport`] (rows, classes and groups per side).
//! - [`stratified_kfold`] / [`stratified_group_kfold`]: folds for model selection (at most
//!   [`MAX_FOLDS`]). The stage has no size-like params: `test_fraction` must be in (0, 1).
//! - [`SegregateStage`] (kind `segregate`, input `table`, outputs `train`, `test`).
//!
//! Guarantees: each class sends `fraction × rows` rows to the test side, rounded to a
//! neighbouring integer (never more than one row off) and at least one row to each side; the
//! total is `round(fraction × rows)` whenever those bounds allow. Rows keep their input order
//! on both sides. The split depends only on the seed and the input: it is single-threaded and
//! uses its own range and shuffle algorithms over ChaCha8 streams (one per class, keyed by the
//! class name), so it does not change with thread counts or `rand` releases. With a group
//! column, rows sharing a key land on one side; each group is stratified by its majority
//! class, so per-class shares are as close as whole groups allow.
//!
//! In a pipeline file (the UFRN split: enrolments grouped by student):
//!
//! ```toml
//! [stages.segregate]
//! kind = "segregate"
//! inputs = { table = "check_clean.table" }
//! [stages.segregate.params]
//! target = "descricao"
//! test_fraction = 0.3   # default 0.3
//! seed = 42             # default 0
//! stratify = true       # default true
//! group = "id_discente" # optional
//! ```
//!
//! Metrics: `train.rows`, `test.rows`, `train.class.<class>`, `test.class.<class>`, and with a
//! group column `train.groups`, `test.groups`.
//!
//! # Example
//!
//! ```
//! use esteira_segregate::{SplitOptions, stratified_kfold, train_test_split};
//!
//! let labels: Vec<&str> = (0..100).map(|i| if i % 5 == 0 { "FALHOU" } else { "APROVADO" }).collect();
//! let split = train_test_split(&labels, &SplitOptions { test_fraction: 0.3, seed: 42, stratify: true }).unwrap();
//! assert_eq!(split.test.len(), 30);
//! assert_eq!(split.test.iter().filter(|&&i| labels[i] == "FALHOU").count(), 6); // 30 % of 20
//! assert!(split.train.windows(2).all(|w| w[0] < w[1])); // input order kept
//!
//! let folds = stratified_kfold(&labels, 5, 42).unwrap();
//! assert!(folds.iter().all(|f| f.test.len() == 20));
//! ```

#![forbid(unsafe_code)]

mod error;
mod kfold;
mod rng;
mod split;
mod stage;
mod table;

pub use error::SegregateError;
pub use kfold::{Fold, MAX_FOLDS, stratified_group_kfold, stratified_kfold};
pub use split::{Split, SplitOptions, group_train_test_split, train_test_split};
pub use stage::{KIND, SegregateStage, register};
pub use table::{SegregateParams, SideCounts, SplitReport, SplitTables, split_table};
