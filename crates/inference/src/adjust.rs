//! Multiple-comparison adjustments of p-values, as statsmodels' `multipletests` computes them.

use serde::{Deserialize, Serialize};

use crate::InferenceError;

/// How a family of p-values is adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// Holm's step-down method: controls the family-wise error rate (`method="holm"`).
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate under independence or positive
    /// dependence (`method="fdr_bh"`).
    BenjaminiHochberg,
}

/// Adjusted p-values, in the order given. Ties and order do not change the result (the sort is
/// by value, then position). Every value must be a number in [0, 1].
pub fn adjust_p_values(p: &[f64], method: Adjustment) -> Result<Vec<f64>, InferenceError> {
    if let Some((index, &value)) = p.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
        return Err(InferenceError::InvalidPValue { index, value });
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut out = vec![0.0; m];
    match method {
        Adjustment::Holm => {
            // (m - rank) * p, made non-decreasing from the smallest up.
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max((m - rank) as f64 * p[i]);
                out[i] = running.min(1.0);
            }
        }
        Adjustment::BenjaminiHochberg => {
            // m / (rank + 1) * p, made non-increasing from the largest down.
            let mut running = f64::INFINITY;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min(p[i] / ((rank + 1) as f64 / m as f64));
                out[i] = running.min(1.0);
            }
        }
    }
    Ok(out)
}

/// [`adjust_p_values`] with [`Adjustment::Holm`].
pub fn holm(p: &[f64]) -> Result<Vec<f64>, InferenceError> {
    adjust_p_values(p, Adjustment::Holm)
}

/// [`adjust_p_values`] with [`Adjustment::BenjaminiHochberg`].
pub fn benjamini_hochberg(p: &[f64]) -> Result<Vec<f64>, InferenceError> {
    adjust_p_values(p, Adjustment::BenjaminiHochberg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_and_bh_match_statsmodels() {
        // multipletests([0.01, 0.04, 0.03, 0.005, 0.5], method="holm" / "fdr_bh")
        let p = [0.01, 0.04, 0.03, 0.005, 0.5];
        let h = holm(&p).unwrap();
        let want_h = [0.04, 0.09, 0.09, 0.025, 0.5];
        let bh = benjamini_hochberg(&p).unwrap();
        let want_bh = [0.025, 0.05, 0.05, 0.025, 0.5];
        for i in 0..5 {
            assert!((h[i] - want_h[i]).abs() < 1e-15, "{h:?}");
            assert!((bh[i] - want_bh[i]).abs() < 1e-15, "{bh:?}");
        }
        // Capped at 1; ties get one value whatever their order.
        assert_eq!(holm(&[0.6, 0.6]).unwrap(), [1.0, 1.0]);
        // statsmodels: [0.030000000000000002, 0.030000000000000002, 0.9] (0.02 / (2 / 3)).
        assert_eq!(
            benjamini_hochberg(&[0.02, 0.02, 0.9]).unwrap(),
            [0.030_000_000_000_000_002, 0.030_000_000_000_000_002, 0.9]
        );
        assert!(holm(&[]).unwrap().is_empty());
    }

    #[test]
    fn invalid_p_values_are_named() {
        let e = holm(&[0.1, f64::NAN]).unwrap_err().to_string();
        assert!(e.contains("p-value 1"), "{e}");
        assert!(matches!(benjamini_hochberg(&[1.5]), Err(InferenceError::InvalidPValue { index: 0, .. })));
    }
}
