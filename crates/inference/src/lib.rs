//! esteira-inference: the study's *inference* model beside the predictive one. An unpenalised,
//! unweighted logistic regression fitted by maximum likelihood on the same design the predictive
//! model sees, reported per coefficient with its standard error, z, p-value, confidence interval
//! and odds ratio (with interval), under two covariances:
//!
//! - **naive**: the inverse of the observed information, as if rows were independent;
//! - **clustered** by a group (a student, whose enrolments are the rows): the CRV1 sandwich
//!   with statsmodels' default small-sample correction, so the numbers are those of
//!   `statsmodels.api.Logit(y, X).fit(cov_type="cluster", cov_kwds={"groups": g})`:
//!
//! ```text
//! V = c · H⁻¹ (Σ_g s_g s_gᵀ) H⁻¹,   s_g = Σ_{i∈g} (y_i − p_i) x_i,   c = G/(G−1) · (N−1)/(N−K)
//! ```
//!
//! with `H` the information `Xᵀ diag(p(1−p)) X`, `G` clusters, `N` rows and `K` parameters
//! (statsmodels' `sandwich_covariance.cov_cluster` with `use_correction=True`, the default
//! `covtype.get_robustcov_results` passes for `cov_type="cluster"`). p-values and intervals
//! use the normal distribution, as statsmodels' Logit does (`use_t=False`). The match is tested
//! to 1e-6 against fixtures that `scripts/inference_fixtures.py` generates with statsmodels.
//!
//! What makes a coefficient meaningless is reported, never printed as a huge number:
//!
//! - **aliased columns** (`1 − R²` on the intercept and earlier columns below
//!   [`LogitOptions::alias_tol`]) are dropped before fitting, the later of a collinear set, with a
//!   [`FitWarning::Aliased`] naming the columns it combines; near-collinear kept columns (VIF
//!   above [`LogitOptions::vif_warn`]) keep their estimate and get a [`FitWarning::NearCollinear`];
//! - **separation**: a fit that does not converge while rows are being pushed to fitted
//!   probabilities of 0 or 1 sets those rows aside, withholds the diverging coefficients
//!   ([`CoefficientStatus::Separated`], with the direction) and refits the rest on the remaining
//!   rows: the limit of the maximum likelihood fit, and what statsmodels gives on those rows
//!   without those columns ([`FitWarning::QuasiSeparation`]); with nothing left,
//!   [`FitWarning::CompleteSeparation`] withholds everything;
//! - **non-convergence** for any other reason is a [`FitWarning::NotConverged`].
//!
//! The fit is Newton–Raphson with step halving from zero, converged when both the largest
//! relative step and the largest mean score are below their tolerances; every sum runs in a
//! fixed order, so equal inputs give bit-identical reports. [`adjust_p_values`] (Holm,
//! Benjamini–Hochberg) adjusts a family of p-values as statsmodels' `multipletests` does.
//!
//! The core API takes a dense design ([`Design`]), outcomes and [`Clusters`]; [`design_from_model`]
//! builds that design from an `esteira-train` model's fitted feature pipeline and a table.
//!
//! ```
//! use esteira_inference::{Clusters, Design, LogitOptions, fit_logit, INTERCEPT};
//!
//! # fn main() -> Result<(), esteira_inference::InferenceError> {
//! // 240 enrolments of 80 students (3 each); x is a 0/1 characteristic of the student.
//! let rows = 240;
//! let x: Vec<f64> = (0..rows).map(|i| f64::from(u8::from((i / 3) % 2 == 0))).collect();
//! let y: Vec<bool> = (0..rows).map(|i| if x[i] == 1.0 { i % 4 != 0 } else { i % 5 < 2 }).collect();
//! let students: Vec<usize> = (0..rows).map(|i| i / 3).collect();
//! let names = vec!["bolsista".to_owned()];
//!
//! let design = Design::new(&x, rows, &names)?;
//! let report = fit_logit(&design, &y, Some(&Clusters::from_keys(&students)), &LogitOptions::default())?;
//! assert!(report.converged && report.warnings.is_empty());
//! assert_eq!(report.coefficients[0].name, INTERCEPT);
//! let b = report.coefficient("bolsista").unwrap();
//! let (naive, clustered) = (b.naive.unwrap(), b.clustered.unwrap());
//! assert!(b.odds_ratio.unwrap() > 1.0 && clustered.odds_ratio_low > 1.0);
//! // Clustering by student changes the standard error.
//! assert_ne!(naive.std_error, clustered.std_error);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod adjust;
mod collinear;
mod compare_stage;
mod error;
mod linalg;
mod logit;
mod model_design;
mod normal;

pub use adjust::{Adjustment, adjust_p_values, benjamini_hochberg, holm};
pub use compare_stage::{
    Characteristic, CompareParams, CompareScaling, CompareStage, Comparison, ExcludedLevel, Labels, OddsRatio,
    PassRates, compare_tables, register, render_html,
};
pub use error::InferenceError;
pub use logit::{
    Clusters, Coefficient, CoefficientStatus, Covariance, Design, Direction, FitWarning, INTERCEPT, LogitOptions,
    LogitReport, SeparatedColumn, Uncertainty, fit_logit,
};
pub use model_design::{DesignColumn, ModelDesign, design_from_model};
pub use normal::{normal_cdf, normal_quantile, normal_sf, two_sided_p_value};
