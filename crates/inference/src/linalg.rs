//! The little dense linear algebra the fit needs: a row-major matrix, weighted Gram matrices and
//! Cholesky factors of symmetric positive definite matrices. Every sum runs in a fixed order
//! (rows ascending, then columns ascending), so results are bit-for-bit reproducible.

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mat {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) data: Vec<f64>,
}

impl Mat {
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// `x . beta` for one row, columns in order.
    pub(crate) fn dot_row(&self, i: usize, beta: &[f64]) -> f64 {
        let mut s = 0.0;
        for (a, b) in self.row(i).iter().zip(beta) {
            s += a * b;
        }
        s
    }
}

/// Adds `w * x x'` to the lower triangle of `acc` (k x k, row-major).
pub(crate) fn add_outer_lower(acc: &mut [f64], x: &[f64], w: f64) {
    let k = x.len();
    for a in 0..k {
        let xa = w * x[a];
        let row = &mut acc[a * k..=a * k + a];
        for (h, xb) in row.iter_mut().zip(&x[..=a]) {
            *h += xa * xb;
        }
    }
}

/// Copies the lower triangle of a k x k matrix into its upper triangle.
pub(crate) fn symmetrize(a: &mut [f64], k: usize) {
    for i in 0..k {
        for j in 0..i {
            a[j * k + i] = a[i * k + j];
        }
    }
}

/// The lower Cholesky factor `L` of a symmetric positive definite matrix (`A = L L'`).
#[derive(Debug, Clone)]
pub(crate) struct Cholesky {
    k: usize,
    l: Vec<f64>,
}

impl Cholesky {
    /// Factorises `a` (k x k, row-major; only the lower triangle is read). `None` when the matrix
    /// is numerically singular: a pivot (the part of a diagonal entry not explained by the
    /// earlier columns) is not above `rel_tol` times that diagonal entry, or not finite.
    pub(crate) fn new(a: &[f64], k: usize, rel_tol: f64) -> Option<Self> {
        debug_assert_eq!(a.len(), k * k);
        let mut l = vec![0.0; k * k];
        for j in 0..k {
            let mut d = a[j * k + j];
            for p in 0..j {
                d -= l[j * k + p] * l[j * k + p];
            }
            let diag = a[j * k + j];
            if !(d.is_finite() && diag > 0.0 && d > rel_tol * diag) {
                return None;
            }
            let ljj = d.sqrt();
            l[j * k + j] = ljj;
            for i in j + 1..k {
                let mut s = a[i * k + j];
                for p in 0..j {
                    s -= l[i * k + p] * l[j * k + p];
                }
                l[i * k + j] = s / ljj;
            }
        }
        Some(Self { k, l })
    }

    /// Solves `A x = b`.
    pub(crate) fn solve(&self, b: &[f64]) -> Vec<f64> {
        let k = self.k;
        let mut y = b.to_vec();
        for i in 0..k {
            let mut s = y[i];
            for (lp, yp) in self.l[i * k..i * k + i].iter().zip(&y[..i]) {
                s -= lp * yp;
            }
            y[i] = s / self.l[i * k + i];
        }
        for i in (0..k).rev() {
            let mut s = y[i];
            for (p, yp) in y.iter().enumerate().skip(i + 1) {
                s -= self.l[p * k + i] * yp;
            }
            y[i] = s / self.l[i * k + i];
        }
        y
    }

    /// `A^-1`, full and symmetric (k x k, row-major).
    pub(crate) fn inverse(&self) -> Vec<f64> {
        let k = self.k;
        let mut inv = vec![0.0; k * k];
        let mut e = vec![0.0; k];
        for j in 0..k {
            e.fill(0.0);
            e[j] = 1.0;
            let col = self.solve(&e);
            for i in 0..k {
                inv[i * k + j] = col[i];
            }
        }
        // Exactly symmetric: the lower triangle's values win.
        symmetrize(&mut inv, k);
        inv
    }
}

/// `a b a'` for k x k row-major `a` and symmetric `b` (the sandwich).
pub(crate) fn sandwich(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let mut ab = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            let mut s = 0.0;
            for p in 0..k {
                s += a[i * k + p] * b[p * k + j];
            }
            ab[i * k + j] = s;
        }
    }
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = 0.0;
            for p in 0..k {
                s += ab[i * k + p] * a[j * k + p];
            }
            out[i * k + j] = s;
        }
    }
    symmetrize(&mut out, k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_inverts() {
        // A = [[4, 2, 0.4], [2, 5, 1], [0.4, 1, 3]]
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let c = Cholesky::new(&a, 3, 1e-13).unwrap();
        let x = c.solve(&[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((ax - [1.0, 2.0, 3.0][i]).abs() < 1e-14, "{x:?}");
        }
        let inv = c.inverse();
        for i in 0..3 {
            for j in 0..3 {
                let e: f64 = (0..3).map(|p| a[i * 3 + p] * inv[p * 3 + j]).sum();
                assert!((e - f64::from(u8::from(i == j))).abs() < 1e-14);
            }
        }
        assert_eq!(inv[1], inv[3]);
    }

    #[test]
    fn singular_and_indefinite_matrices_are_refused() {
        // Rank one: [[1, 2], [2, 4]].
        assert!(Cholesky::new(&[1.0, 2.0, 2.0, 4.0], 2, 1e-13).is_none());
        // Nearly singular: the second pivot is 1e-15 of its diagonal.
        let eps = 4e-15;
        assert!(Cholesky::new(&[1.0, 1.0, 1.0, 1.0 + eps], 2, 1e-13).is_none());
        assert!(Cholesky::new(&[1.0, 1.0, 1.0, 1.0 + eps], 2, 1e-16).is_some());
        assert!(Cholesky::new(&[-1.0], 1, 1e-13).is_none());
        assert!(Cholesky::new(&[f64::NAN], 1, 1e-13).is_none());
    }

    #[test]
    fn outer_products_and_the_sandwich() {
        let mut acc = vec![0.0; 4];
        add_outer_lower(&mut acc, &[1.0, 2.0], 0.5);
        add_outer_lower(&mut acc, &[3.0, -1.0], 1.0);
        symmetrize(&mut acc, 2);
        assert_eq!(acc, [9.5, -2.0, -2.0, 3.0]);
        // [[1, 2], [0, 1]] * I * [[1, 0], [2, 1]] = [[5, 2], [2, 1]]
        assert_eq!(sandwich(&[1.0, 2.0, 0.0, 1.0], &[1.0, 0.0, 0.0, 1.0], 2), [5.0, 2.0, 2.0, 1.0]);
        let m = Mat { rows: 2, cols: 2, data: vec![1.0, 2.0, 3.0, 4.0] };
        assert_eq!(m.dot_row(1, &[1.0, -1.0]), -1.0);
    }
}
