//! The study's effects with honest intervals: the inference model (esteira-inference's
//! unpenalised, unweighted maximum-likelihood logistic regression) fitted on the training split
//! on the predictive model's own design, with standard errors clustered by student.
//!
//! The predictive model's odds ratios are shrunk by its penalty and tilted by class balancing,
//! and have no standard errors; these are the numbers to read an association from. A student's
//! enrolments are not independent rows, so the intervals come from the cluster-robust
//! covariance (the naive errors are kept beside them so the difference shows).

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use esteira_inference::{
    Adjustment, CoefficientStatus, Covariance, FitWarning, INTERCEPT, LogitOptions, Uncertainty, design_from_model,
};
use esteira_train::Model;
use serde::{Deserialize, Serialize};

use crate::EvaluateError;

/// One design column's effect in the inference model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The design column (`renda`, `sexo=M`, `idade >= 25`).
    pub name: String,
    /// The feature it belongs to (`renda`, `sexo`, `idade`).
    pub feature: String,
    /// The category or bin of a one-hot column.
    pub category: Option<String>,
    /// The reference category or bin it is compared with.
    pub reference: Option<String>,
    /// What became of the coefficient; the numbers are `None` unless it was estimated.
    #[serde(flatten)]
    pub status: CoefficientStatus,
    /// The maximum-likelihood log odds ratio (per scaled unit for a numeric feature).
    pub estimate: Option<f64>,
    /// `exp(estimate)`.
    pub odds_ratio: Option<f64>,
    /// Under the cluster-robust covariance (CRV1, statsmodels' correction).
    pub clustered: Option<Uncertainty>,
    /// Under the naive covariance (rows independent), for comparison.
    pub naive: Option<Uncertainty>,
    /// The p-value of the interval's covariance adjusted by Holm over the effects.
    pub p_holm: Option<f64>,
    /// The same adjusted by Benjamini–Hochberg.
    pub p_bh: Option<f64>,
    /// Variance inflation factor among the kept columns.
    pub vif: Option<f64>,
}

impl Effect {
    /// The uncertainty the report reads ([`Effects::covariance`]).
    pub fn interval(&self, covariance: Covariance) -> Option<&Uncertainty> {
        match covariance {
            Covariance::Clustered => self.clustered.as_ref(),
            Covariance::Naive => self.naive.as_ref(),
        }
    }

    /// Whether the odds ratio's interval under `covariance` lies wholly above or below 1.
    pub fn excludes_one(&self, covariance: Covariance) -> Option<bool> {
        self.interval(covariance).map(|u| u.odds_ratio_low > 1.0 || u.odds_ratio_high < 1.0)
    }

    /// A short label: `column: category vs reference`, or the feature.
    pub fn label(&self) -> String {
        match (&self.category, &self.reference) {
            (Some(c), Some(r)) => format!("{}: {c} vs {r}", self.feature),
            (Some(c), None) => format!("{}: {c}", self.feature),
            _ => self.name.clone(),
        }
    }
}

/// The inference model's results, as `metrics.json` and the `inference` output carry them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    /// What was fitted, in words.
    pub method: String,
    /// The column the standard errors are clustered by; `None`: rows taken as independent.
    pub group: Option<String>,
    /// Which covariance the intervals, `excludes_one` and the adjusted p-values use: clustered
    /// when there is a group and it gave errors, else naive.
    pub covariance: Covariance,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Training rows given.
    pub rows: usize,
    /// Rows of the final fit (fewer after setting separated rows aside).
    pub rows_used: usize,
    /// Clusters among the rows used.
    pub clusters: Option<usize>,
    /// Whether the Newton fit converged.
    pub converged: bool,
    /// Newton iterations.
    pub iterations: usize,
    /// Log-likelihood of the final fit.
    pub log_likelihood: Option<f64>,
    /// The intercept (log odds of the reference profile).
    pub intercept: Option<Effect>,
    /// One per design column, in design order.
    pub effects: Vec<Effect>,
    /// Separation, collinearity, non-convergence: what makes some numbers meaningless (those
    /// numbers are withheld).
    pub warnings: Vec<FitWarning>,
    /// Feature -> training rows whose category the model had not seen (none, normally).
    pub unseen_categories: BTreeMap<String, u64>,
}

impl Effects {
    /// The effects whose interval excludes 1, in design order.
    pub fn distinguishable(&self) -> impl Iterator<Item = &Effect> {
        self.effects.iter().filter(|e| e.excludes_one(self.covariance) == Some(true))
    }
}

/// Fits the inference model on `train` (the training split) with `model`'s design, clustered
/// by `group` (`None`: the model's group column). Deterministic: the fit sums in a fixed order.
pub fn fit_effects(model: &Model, train: &[RecordBatch], group: Option<&str>) -> Result<Effects, EvaluateError> {
    let design = design_from_model(model, train, group)?;
    let report = design.fit(&LogitOptions::default())?;
    let clustered = report.coefficients.iter().any(|c| c.clustered.is_some());
    let covariance = if clustered { Covariance::Clustered } else { Covariance::Naive };
    let holm = report.adjusted_p_values(covariance, Adjustment::Holm, false)?;
    let bh = report.adjusted_p_values(covariance, Adjustment::BenjaminiHochberg, false)?;
    let mut intercept = None;
    let mut effects = Vec::with_capacity(design.columns.len());
    for (k, c) in report.coefficients.iter().enumerate() {
        let column = design.columns.iter().find(|d| d.name == c.name);
        let effect = Effect {
            name: c.name.clone(),
            feature: column.map_or_else(|| c.name.clone(), |d| d.feature.clone()),
            category: column.and_then(|d| d.category.clone()),
            reference: column.and_then(|d| d.reference.clone()),
            status: c.status,
            estimate: c.estimate,
            odds_ratio: c.odds_ratio,
            clustered: c.clustered,
            naive: c.naive,
            p_holm: holm[k],
            p_bh: bh[k],
            vif: c.vif,
        };
        if c.name == INTERCEPT {
            intercept = Some(effect);
        } else {
            effects.push(effect);
        }
    }
    for w in &report.warnings {
        tracing::warn!(warning = %w, "inference model");
    }
    tracing::debug!(rows = report.rows, converged = report.converged, "fitted the inference model");
    let method = format!(
        "unpenalised, unweighted logistic regression (maximum likelihood, Newton) on the training split, on the \
         predictive model's design; {}",
        match (&design.group, covariance) {
            (Some(g), Covariance::Clustered) => format!(
                "standard errors clustered by `{g}` (CRV1 with statsmodels' small-sample correction); normal \
                 intervals"
            ),
            _ => "naive standard errors (rows taken as independent); normal intervals".to_owned(),
        }
    );
    Ok(Effects {
        method,
        group: design.group.clone(),
        covariance,
        confidence: report.confidence,
        rows: report.rows,
        rows_used: report.rows_used,
        clusters: report.clusters_used,
        converged: report.converged,
        iterations: report.iterations,
        log_likelihood: report.log_likelihood,
        intercept,
        effects,
        warnings: report.warnings,
        unseen_categories: design.unseen,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, StringArray};
    use esteira_train::{GridEntry, LofMode, LofParams, TrainParams, train};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// 900 students with 3 enrolments each. A student's sex (M: −0.8 on the log odds against F)
    /// and a shared random effect (sd 1) enter every enrolment; race has no effect.
    fn enrolments(seed: u64) -> RecordBatch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut id, mut sexo, mut raca, mut renda, mut descricao) = (vec![], vec![], vec![], vec![], vec![]);
        for s in 0..900 {
            let m = rng.random_bool(0.5);
            let r = ["Branca", "Parda"][rng.random_range(0..2)];
            let income: f64 = rng.random_range(0.0..4.0);
            // Box–Muller: the student's own effect.
            let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
            let student = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            for _ in 0..3 {
                let logit = 0.5 + if m { -0.8 } else { 0.0 } + student;
                id.push(format!("s{s}"));
                sexo.push(if m { "M" } else { "F" });
                raca.push(r);
                renda.push(income);
                descricao.push(if rng.random_bool(1.0 / (1.0 + (-logit).exp())) { "APROVADO" } else { "FALHOU" });
            }
        }
        RecordBatch::try_from_iter([
            ("id_discente", Arc::new(StringArray::from(id)) as ArrayRef),
            ("sexo", Arc::new(StringArray::from(sexo)) as ArrayRef),
            ("raca", Arc::new(StringArray::from(raca)) as ArrayRef),
            ("renda", Arc::new(Float64Array::from(renda)) as ArrayRef),
            ("descricao", Arc::new(StringArray::from(descricao)) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn planted_effects_lie_in_their_clustered_intervals() {
        let data = enrolments(11);
        let params = TrainParams {
            group: Some("id_discente".into()),
            derived: BTreeMap::default(),
            categorical: vec!["sexo".into(), "raca".into()],
            numeric: vec!["renda".into()],
            lof: LofParams { enabled: LofMode::Off, ..LofParams::default() },
            grid: vec![GridEntry::LogisticRegression { alpha: vec![1.0] }],
            ..TrainParams::default()
        };
        let model = train(&params, std::slice::from_ref(&data), "t").unwrap().model;
        let fx = fit_effects(&model, std::slice::from_ref(&data), None).unwrap();
        assert_eq!(fx.group.as_deref(), Some("id_discente"));
        assert_eq!((fx.covariance, fx.clusters, fx.rows), (Covariance::Clustered, Some(900), 2700));
        assert!(fx.converged && fx.warnings.is_empty(), "{:?}", fx.warnings);
        let by = |name: &str| fx.effects.iter().find(|e| e.name == name).unwrap();
        // The marginal effect of a shared random effect is attenuated (about 1/sqrt(1 + 0.35 σ²)
        // of −0.8 for σ = 1, −0.69): the interval covers the population-averaged value.
        let m = by("sexo=M");
        let u = m.clustered.unwrap();
        assert!(u.ci_low < -0.69 && -0.69 < u.ci_high, "{m:?}");
        assert_eq!(m.excludes_one(fx.covariance), Some(true));
        // Three correlated enrolments per student: the clustered errors are the larger.
        assert!(u.std_error > 1.1 * m.naive.unwrap().std_error, "{m:?}");
        for null in [by("raca=Parda"), by("renda")] {
            let u = null.clustered.unwrap();
            assert!(u.ci_low < 0.0 && 0.0 < u.ci_high, "{null:?}");
        }
        assert_eq!(fx.distinguishable().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["sexo=M"]);
        assert!(m.p_holm.unwrap() >= u.p_value && m.p_bh.unwrap() >= u.p_value);
        assert_eq!(m.label(), "sexo: M vs F");
        // The same inputs, the same bits.
        assert_eq!(fx, fit_effects(&model, std::slice::from_ref(&data), None).unwrap());
        // Asked for no grouping column that exists: a clear error.
        assert!(fit_effects(&model, std::slice::from_ref(&data), Some("matricula")).is_err());
    }
}
