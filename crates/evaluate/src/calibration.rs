//! Calibration: do the model's probabilities mean what they say? A reliability table (predicted
//! against observed rate of the positive class in equal-width probability bins, with counts),
//! the expected calibration error with a seeded bootstrap interval, and Platt scaling fitted on
//! the training split only, for a calibrated probability `serve` can show.
//!
//! Class balancing (oversampling, `class_weight="balanced"`) fits the model as if the classes
//! were equally frequent, which pulls every probability towards one half: good for ranking and
//! for a balanced-accuracy threshold, wrong as a chance. Platt scaling maps the score's log odds
//! through `a + b·logit(p)` fitted by maximum likelihood on the training rows' own outcomes
//! (esteira-inference's `fit_logit`), which undoes that shift without touching the ranking.

use serde::{Deserialize, Serialize};

use crate::EvaluateError;
use crate::bootstrap::Interval;
use crate::metrics::{bin_of, brier_score, log_loss};

/// Equal-width bins of the reliability table and of the ECE.
pub const CALIBRATION_BINS: usize = 10;

/// The `format` of the `calibration` output (the calibrator `serve` applies).
pub const CALIBRATOR_FORMAT: &str = "esteira-calibrator/1";

/// One probability bin: rows whose P(positive) lies in `[lower, upper)` (the last bin includes 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge.
    pub lower: f64,
    /// Upper edge.
    pub upper: f64,
    /// Rows in the bin.
    pub count: usize,
    /// Mean predicted probability of its rows (`None` when empty).
    pub mean_predicted: Option<f64>,
    /// Share of its rows in the positive class (`None` when empty).
    pub observed_rate: Option<f64>,
}

pub(crate) fn check(metric: &'static str, y: &[bool], p: &[f64]) -> Result<(), EvaluateError> {
    if y.len() != p.len() {
        return Err(EvaluateError::LengthMismatch { metric, what: "scores", expected: y.len(), found: p.len() });
    }
    if y.is_empty() {
        return Err(EvaluateError::Empty { metric });
    }
    if let Some(row) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(EvaluateError::InvalidScore { metric, row, value: p[row], expected: "a probability in [0, 1]" });
    }
    Ok(())
}

/// The reliability table of probabilities `p` against outcomes `y` in `bins` equal-width bins.
pub fn reliability(y: &[bool], p: &[f64], bins: usize) -> Result<Vec<ReliabilityBin>, EvaluateError> {
    check("reliability", y, p)?;
    if bins == 0 {
        return Err(EvaluateError::Param { key: "bins", message: "at least one bin".into() });
    }
    let mut count = vec![0usize; bins];
    let mut sum_p = vec![0.0; bins];
    let mut pos = vec![0usize; bins];
    for (&t, &v) in y.iter().zip(p) {
        let b = bin_of(v, bins);
        count[b] += 1;
        sum_p[b] += v;
        pos[b] += usize::from(t);
    }
    Ok((0..bins)
        .map(|b| ReliabilityBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            count: count[b],
            mean_predicted: (count[b] > 0).then(|| sum_p[b] / count[b] as f64),
            observed_rate: (count[b] > 0).then(|| pos[b] as f64 / count[b] as f64),
        })
        .collect())
}

/// The expected calibration error of a reliability table: `Σ_b (n_b / n) |observed_b −
/// predicted_b|` (Guo et al. 2017, equal-width bins).
pub fn expected_calibration_error(table: &[ReliabilityBin]) -> f64 {
    let n: usize = table.iter().map(|b| b.count).sum();
    if n == 0 {
        return 0.0;
    }
    table.iter().filter_map(|b| Some(b.count as f64 * (b.observed_rate? - b.mean_predicted?).abs())).sum::<f64>()
        / n as f64
}

/// A 95 % percentile-bootstrap interval of the ECE ([`ece_intervals`] of one set).
pub fn ece_interval(
    y: &[bool],
    p: &[f64],
    bins: usize,
    resamples: usize,
    seed: u64,
) -> Result<Option<Interval>, EvaluateError> {
    Ok(ece_intervals(y, &[p], bins, resamples, seed)?.pop().flatten())
}

/// 95 % percentile-bootstrap intervals of the ECE of each set of probabilities in `sets`
/// against the one `y`, all from the same resamples: those of
/// [`bootstrap_intervals`](crate::bootstrap_intervals) with the same seed (resample `b` is the
/// `b`-th run of `n` draws from one ChaCha8 stream seeded by `seed`), the same bits whatever the
/// thread count. The bootstrap ECE is biased upwards (noise adds to every bin's gap), so an
/// interval says how much the figure moves, not where the truth lies.
pub fn ece_intervals(
    y: &[bool],
    sets: &[&[f64]],
    bins: usize,
    resamples: usize,
    seed: u64,
) -> Result<Vec<Option<Interval>>, EvaluateError> {
    for p in sets {
        check("ece_interval", y, p)?;
    }
    let Some(&first) = sets.first() else {
        return Ok(Vec::new());
    };
    let decisions = vec![false; y.len()];
    Ok(crate::bootstrap::bootstrap_with_ece(y, first, &decisions, sets, bins, resamples, seed)?.1)
}

/// How well one set of probabilities is calibrated on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSet {
    /// Mean predicted probability of the positive class.
    pub mean_predicted: f64,
    /// Observed share of the positive class.
    pub observed_rate: f64,
    /// Expected calibration error (equal-width bins).
    pub ece: f64,
    /// Its 95 % bootstrap interval; `None` without resamples.
    pub ece_interval: Option<Interval>,
    /// Brier score (mean squared error of the probability).
    pub brier_score: f64,
    /// Log loss.
    pub log_loss: f64,
    /// The reliability table.
    pub reliability: Vec<ReliabilityBin>,
}

/// [`CalibrationSet`] of `p` against `y`.
pub fn calibration_set(
    y: &[bool],
    p: &[f64],
    bins: usize,
    resamples: usize,
    seed: u64,
) -> Result<CalibrationSet, EvaluateError> {
    let mut sets = calibration_sets(y, &[p], bins, resamples, seed)?;
    Ok(sets.remove(0))
}

/// [`CalibrationSet`] of each of `sets` against `y`, the ECE intervals from the same resamples
/// ([`ece_intervals`]).
pub fn calibration_sets(
    y: &[bool],
    sets: &[&[f64]],
    bins: usize,
    resamples: usize,
    seed: u64,
) -> Result<Vec<CalibrationSet>, EvaluateError> {
    let intervals = ece_intervals(y, sets, bins, resamples, seed)?;
    calibration_sets_with(y, sets, bins, intervals)
}

/// [`calibration_sets`] with the ECE intervals already drawn.
pub(crate) fn calibration_sets_with(
    y: &[bool],
    sets: &[&[f64]],
    bins: usize,
    intervals: Vec<Option<Interval>>,
) -> Result<Vec<CalibrationSet>, EvaluateError> {
    let tables = sets.iter().map(|p| reliability(y, p, bins)).collect::<Result<Vec<_>, _>>()?;
    sets.iter()
        .zip(tables)
        .zip(intervals)
        .map(|((p, table), ece_interval)| {
            Ok(CalibrationSet {
                mean_predicted: p.iter().sum::<f64>() / p.len() as f64,
                observed_rate: y.iter().filter(|&&t| t).count() as f64 / y.len() as f64,
                ece: expected_calibration_error(&table),
                ece_interval,
                brier_score: brier_score(y, p)?,
                log_loss: log_loss(y, p)?,
                reliability: table,
            })
        })
        .collect()
}

/// Platt scaling: `P_calibrated = 1 / (1 + exp(−(intercept + slope · logit(p))))`, with `p`
/// clipped to `[1e-12, 1 − 1e-12]` so a score of exactly 0 or 1 stays finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// `a`.
    pub intercept: f64,
    /// `b` (1 and `a = 0` leave the probability unchanged).
    pub slope: f64,
}

const CLIP: f64 = 1e-12;

fn logit(p: f64) -> f64 {
    let p = p.clamp(CLIP, 1.0 - CLIP);
    (p / (1.0 - p)).ln()
}

impl Platt {
    /// The calibrated probability of a model probability.
    pub fn apply(&self, p: f64) -> f64 {
        let z = self.intercept + self.slope * logit(p);
        1.0 / (1.0 + (-z).exp())
    }
}

/// Fits Platt scaling by maximum likelihood on `(y, p)` (the training rows' outcomes and the
/// model's probabilities of them). `Ok(None)` with the reason when it is not identified (one
/// class, or scores that separate the classes perfectly).
pub fn fit_platt(y: &[bool], p: &[f64]) -> Result<Result<Platt, String>, EvaluateError> {
    check("fit_platt", y, p)?;
    let x: Vec<f64> = p.iter().map(|&v| logit(v)).collect();
    let names = vec!["logit_p".to_owned()];
    let design = esteira_inference::Design::new(&x, x.len(), &names)?;
    let report = match esteira_inference::fit_logit(&design, y, None, &esteira_inference::LogitOptions::default()) {
        Ok(r) => r,
        Err(
            e @ (esteira_inference::InferenceError::SingleClass { .. }
            | esteira_inference::InferenceError::TooFewRows { .. }),
        ) => {
            return Ok(Err(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let estimate = |k: usize| report.coefficients.get(k).and_then(|c| c.estimate);
    match (report.converged, estimate(0), estimate(1)) {
        (true, Some(intercept), Some(slope)) => Ok(Ok(Platt { intercept, slope })),
        _ => Ok(Err(report.warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))),
    }
}

/// The `calibration` output: what `serve` needs to show a calibrated chance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrator {
    /// [`CALIBRATOR_FORMAT`].
    pub format: String,
    /// `platt`.
    pub method: String,
    /// The map; `None` when withheld (then `serve` shows the model's probability only).
    pub platt: Option<Platt>,
    /// Why it is withheld.
    pub withheld: Option<String>,
    /// The class the probabilities are of.
    pub positive_class: String,
    /// Training rows it was fitted on.
    pub fitted_rows: usize,
}

/// Calibration of the model on the test split, before and after Platt scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Bins of the tables and of the ECE.
    pub bins: usize,
    /// The model's own probabilities.
    pub model: CalibrationSet,
    /// Platt scaling fitted on the training split; `None` when not offered (see `withheld`).
    pub platt: Option<Platt>,
    /// Training rows Platt scaling was fitted on.
    pub platt_rows: usize,
    /// The calibrated probabilities on the test split.
    pub calibrated: Option<CalibrationSet>,
    /// Why no calibrated probability is offered, when it is not.
    pub withheld: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_by_hand() {
        // Bin [0.1, 0.2): 0.1, 0.1 with one positive -> gap |0.5 - 0.1| = 0.4, weight 2/5.
        // Bin [0.8, 0.9): 0.8, 0.8, 0.8 with three positives -> gap 0.2, weight 3/5.
        let y = [true, false, true, true, true];
        let p = [0.1, 0.1, 0.8, 0.8, 0.8];
        let t = reliability(&y, &p, 10).unwrap();
        assert_eq!(t.iter().map(|b| b.count).collect::<Vec<_>>(), [0, 2, 0, 0, 0, 0, 0, 0, 3, 0]);
        assert_eq!(t[1].observed_rate, Some(0.5));
        assert_eq!(t[0].mean_predicted, None);
        let ece = expected_calibration_error(&t);
        assert!((ece - (0.4 * 2.0 / 5.0 + 0.2 * 3.0 / 5.0)).abs() < 1e-12, "{ece}");
        // A probability of exactly 1 lies in the last bin, 0 in the first.
        let t = reliability(&[true, false], &[1.0, 0.0], 10).unwrap();
        assert_eq!((t[9].count, t[0].count), (1, 1));
        assert_eq!(expected_calibration_error(&t), 0.0);
        assert!(reliability(&[true], &[1.5], 10).is_err());
    }

    #[test]
    fn ece_intervals_refuse_bad_input_with_an_error_not_a_panic() {
        let y = [true, false, true];
        let p = [0.9, 0.2, 0.6];
        // No bins (this panicked before: `bins - 1` underflowed) and more bins than a u16 holds.
        for bins in [0, 70_000] {
            let e = ece_interval(&y, &p, bins, 20, 1).unwrap_err().to_string();
            assert!(e.contains("bins"), "{bins}: {e}");
        }
        // A probability outside [0, 1], NaN, a length that does not match: each named.
        for bad in [[0.9, 1.5, 0.6], [0.9, f64::NAN, 0.6]] {
            let e = ece_intervals(&y, &[&p, &bad], 10, 20, 1).unwrap_err().to_string();
            assert!(e.contains("row 1"), "{e}");
        }
        assert!(matches!(
            ece_intervals(&y, &[&p[..2]], 10, 20, 1),
            Err(EvaluateError::LengthMismatch { expected: 3, found: 2, .. })
        ));
        assert!(matches!(ece_interval(&[], &[], 10, 20, 1), Err(EvaluateError::Empty { .. })));
        assert!(ece_interval(&y, &p, 10, crate::MAX_BOOTSTRAP + 1, 1).is_err());
        assert!(ece_intervals(&y, &[], 10, 20, 1).unwrap().is_empty());
    }

    #[test]
    fn ece_interval_is_thread_independent_and_covers_the_estimate() {
        let y: Vec<bool> = (0..500).map(|i| i % 3 != 0).collect();
        let p: Vec<f64> = (0..500).map(|i| f64::from(i % 10) / 10.0 + 0.05).collect();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let a = one.install(|| ece_interval(&y, &p, 10, 200, 7).unwrap().unwrap());
        let b = ece_interval(&y, &p, 10, 200, 7).unwrap().unwrap();
        assert_eq!(a, b);
        let ece = expected_calibration_error(&reliability(&y, &p, 10).unwrap());
        assert!(a.lower <= ece + 0.05 && ece <= a.upper + 0.05, "{a:?} {ece}");
        assert!(ece_interval(&y, &p, 10, 0, 7).unwrap().is_none());
    }

    #[test]
    fn platt_undoes_a_shift_of_the_log_odds() {
        // Outcomes drawn from q; the "model" reports p with logit(p) = (logit(q) - 1) / 2, so
        // logit(q) = 1 + 2 logit(p).
        let mut y = Vec::new();
        let mut p = Vec::new();
        for k in 0..40 {
            let q = 0.05 + 0.9 * f64::from(k) / 39.0;
            let reported = 1.0 / (1.0 + (-(logit(q) - 1.0) / 2.0).exp());
            for j in 0..100 {
                y.push(f64::from(j) < q * 100.0);
                p.push(reported);
            }
        }
        let platt = fit_platt(&y, &p).unwrap().unwrap();
        assert!((platt.slope - 2.0).abs() < 0.1 && (platt.intercept - 1.0).abs() < 0.1, "{platt:?}");
        let before = calibration_set(&y, &p, 10, 0, 0).unwrap();
        let cal: Vec<f64> = p.iter().map(|&v| platt.apply(v)).collect();
        let after = calibration_set(&y, &cal, 10, 0, 0).unwrap();
        assert!(after.ece < before.ece / 3.0 && after.brier_score < before.brier_score, "{before:?} {after:?}");
        assert!((Platt { intercept: 0.0, slope: 1.0 }.apply(0.3) - 0.3).abs() < 1e-12);
        // One class only: not identified, said so.
        assert!(fit_platt(&[true; 5], &[0.2, 0.4, 0.6, 0.8, 0.9]).unwrap().is_err());
    }
}
