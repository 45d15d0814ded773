//! Collinearity of the design's columns, before any fitting: which columns are (numerically)
//! linear combinations of earlier ones and the intercept (aliased, dropped), and the variance
//! inflation factor of each column kept.
//!
//! Columns are taken in order, like R's `lm`/`glm` pivoting: a column whose share of variance
//! not explained by the intercept and the earlier kept columns, `1 - R²`, is below the
//! tolerance is aliased; the first of a collinear set stays. The check is a Cholesky
//! factorisation of the columns' correlation matrix (centred when there is an intercept,
//! uncentred cosines otherwise) that skips aliased columns.

/// One aliased column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aliased {
    /// Index among the checked columns.
    pub(crate) column: usize,
    /// Kept columns it is (nearly) a combination of, largest standardised weight first
    /// (empty for a column that is constant: aliased with the intercept, or all zeros).
    pub(crate) with: Vec<usize>,
    /// Its `1 - R²` on the intercept and the earlier kept columns.
    pub(crate) one_minus_r2: f64,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Collinearity {
    /// Indices of the kept columns, ascending.
    pub(crate) kept: Vec<usize>,
    pub(crate) aliased: Vec<Aliased>,
    /// Variance inflation factor of each kept column (same order as `kept`); `None` without
    /// an intercept (VIF is defined on centred columns).
    pub(crate) vif: Vec<Option<f64>>,
}

/// At most this many partner columns are named for an aliased column.
const MAX_PARTNERS: usize = 8;

/// Checks the columns `cols` of the rows `rows` of `value(row, col)`.
pub(crate) fn check(
    rows: &[usize],
    cols: &[usize],
    value: impl Fn(usize, usize) -> f64,
    intercept: bool,
    alias_tol: f64,
) -> Collinearity {
    let k = cols.len();
    let n = rows.len() as f64;
    let mut means = vec![0.0; k];
    if intercept {
        for &i in rows {
            for (m, &c) in means.iter_mut().zip(cols) {
                *m += value(i, c);
            }
        }
        for m in &mut means {
            *m /= n;
        }
    }
    // Cross-products (lower triangle) of the centred columns, and the uncentred sums of squares.
    let mut cross = vec![0.0; k * k];
    let mut raw_ss = vec![0.0; k];
    let mut centred = vec![0.0; k];
    for &i in rows {
        for (a, &c) in cols.iter().enumerate() {
            let v = value(i, c);
            raw_ss[a] += v * v;
            centred[a] = v - means[a];
        }
        crate::linalg::add_outer_lower(&mut cross, &centred, 1.0);
    }
    let diag: Vec<f64> = (0..k).map(|a| cross[a * k + a]).collect();
    let corr = |a: usize, b: usize| {
        let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
        cross[hi * k + lo] / (diag[a] * diag[b]).sqrt()
    };

    let mut kept: Vec<usize> = Vec::new(); // positions in `cols`
    let mut l_rows: Vec<Vec<f64>> = Vec::new(); // Cholesky rows of the kept columns' correlations
    let mut aliased = Vec::new();
    for j in 0..k {
        // Share of the raw sum of squares left after the intercept (1 for no intercept).
        let after_intercept = if raw_ss[j] > 0.0 { diag[j] / raw_ss[j] } else { 0.0 };
        if after_intercept.is_nan() || after_intercept <= alias_tol || !diag[j].is_finite() {
            aliased.push(Aliased { column: cols[j], with: Vec::new(), one_minus_r2: after_intercept.max(0.0) });
            continue;
        }
        let mut row = Vec::with_capacity(kept.len() + 1);
        let mut d = 1.0;
        for (p, &kp) in kept.iter().enumerate() {
            let mut s = corr(j, kp);
            for q in 0..p {
                s -= row[q] * l_rows[p][q];
            }
            let v = s / l_rows[p][p];
            d -= v * v;
            row.push(v);
        }
        if d < alias_tol {
            // Standardised weights of the kept columns: solve L' b = row.
            let m = kept.len();
            let mut b = row.clone();
            for i in (0..m).rev() {
                let mut s = b[i];
                for p in i + 1..m {
                    s -= l_rows[p][i] * b[p];
                }
                b[i] = s / l_rows[i][i];
            }
            let top = b.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
            let mut with: Vec<(usize, f64)> =
                b.iter().enumerate().filter(|(_, v)| v.abs() >= 1e-3 * top).map(|(p, v)| (p, v.abs())).collect();
            with.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            with.truncate(MAX_PARTNERS);
            aliased.push(Aliased {
                column: cols[j],
                with: with.into_iter().map(|(p, _)| cols[kept[p]]).collect(),
                one_minus_r2: (d * after_intercept).max(0.0),
            });
            continue;
        }
        row.push(d.sqrt());
        l_rows.push(row);
        kept.push(j);
    }

    // VIF_j = (R^-1)_jj = sum_i (L^-1)_ij^2, with L^-1 by forward substitution.
    let m = kept.len();
    let vif = if intercept {
        let mut linv = vec![0.0; m * m];
        for c in 0..m {
            for i in c..m {
                let mut s = if i == c { 1.0 } else { 0.0 };
                for p in c..i {
                    s -= l_rows[i][p] * linv[p * m + c];
                }
                linv[i * m + c] = s / l_rows[i][i];
            }
        }
        (0..m).map(|j| Some((j..m).map(|i| linv[i * m + j] * linv[i * m + j]).sum())).collect()
    } else {
        vec![None; m]
    };
    Collinearity { kept: kept.into_iter().map(|p| cols[p]).collect(), aliased, vif }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(x: &[Vec<f64>], intercept: bool) -> Collinearity {
        let rows: Vec<usize> = (0..x[0].len()).collect();
        let cols: Vec<usize> = (0..x.len()).collect();
        check(&rows, &cols, |i, c| x[c][i], intercept, 1e-10)
    }

    #[test]
    fn an_exact_combination_is_aliased_with_its_parts() {
        let a: Vec<f64> = (0..50).map(|i| f64::from(i % 7) - 3.0).collect();
        let b: Vec<f64> = (0..50).map(|i| f64::from((i * 13) % 11)).collect();
        let c: Vec<f64> = (0..50).map(|i| f64::from((i * 5) % 3)).collect();
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| 2.0 * x - y + 4.0).collect();
        let r = run(&[a, b.clone(), d, c], true);
        assert_eq!(r.kept, [0, 1, 3]);
        assert_eq!(r.aliased.len(), 1);
        assert_eq!(r.aliased[0].column, 2);
        assert_eq!(r.aliased[0].with, [0, 1]);
        assert!(r.aliased[0].one_minus_r2 < 1e-12);
        // Without an intercept, d = 2a - b + 4 is not a combination of a and b.
        let a: Vec<f64> = (0..50).map(|i| f64::from(i % 7) - 3.0).collect();
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| 2.0 * x - y + 4.0).collect();
        let r = run(&[a, b, d], false);
        assert_eq!(r.kept, [0, 1, 2]);
        assert!(r.vif.iter().all(Option::is_none));
    }

    #[test]
    fn constant_and_zero_columns_are_aliased_with_the_intercept() {
        let a: Vec<f64> = (0..20).map(f64::from).collect();
        let r = run(&[vec![3.0; 20], a.clone(), vec![0.0; 20]], true);
        assert_eq!(r.kept, [1]);
        assert_eq!(r.aliased.iter().map(|x| x.column).collect::<Vec<_>>(), [0, 2]);
        assert!(r.aliased.iter().all(|x| x.with.is_empty()));
        // With no intercept a constant column is a regressor, a zero column is not.
        let r = run(&[vec![3.0; 20], a, vec![0.0; 20]], false);
        assert_eq!(r.kept, [0, 1]);
    }

    #[test]
    fn vif_is_one_over_one_minus_r2() {
        // Two columns with correlation rho: VIF = 1 / (1 - rho^2) for both.
        let a = vec![1.0, -1.0, 1.0, -1.0, 0.0, 0.0];
        let b = vec![1.0, -1.0, 0.0, 0.0, 1.0, -1.0];
        // rho = 2 / 4 = 0.5 -> VIF 4/3.
        let r = run(&[a, b], true);
        for v in &r.vif {
            assert!((v.unwrap() - 4.0 / 3.0).abs() < 1e-12, "{:?}", r.vif);
        }
    }
}
