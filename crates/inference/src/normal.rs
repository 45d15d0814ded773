//! The standard normal distribution: tail probabilities from `erfc` (the [`libm`] crate, a port
//! of FreeBSD's msun implementation, accurate to under 1 ulp) and the quantile function by Newton
//! iterations on that tail, started from Abramowitz & Stegun 26.2.23.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// P(Z > x) for a standard normal Z, accurate far into the tail (no `1 - cdf` cancellation).
pub fn normal_sf(x: f64) -> f64 {
    0.5 * libm::erfc(x * FRAC_1_SQRT_2)
}

/// P(Z <= x) for a standard normal Z.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// The two-sided p-value of a z statistic, `2 P(Z > |z|)` (statsmodels' `2 * norm.sf(|z|)`).
pub fn two_sided_p_value(z: f64) -> f64 {
    libm::erfc(z.abs() * FRAC_1_SQRT_2)
}

fn density(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// The `p` quantile of the standard normal (`scipy.stats.norm.ppf`): `-inf` at 0, `inf` at 1,
/// NaN outside [0, 1]. Accurate to a few ulp: Newton steps on [`normal_sf`] from a rational
/// starting value, stopped when the step no longer changes the value.
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    // Solve P(Z > x) = t for x > 0 in the smaller tail, then restore the sign.
    let (t, sign) = if p < 0.5 { (p, -1.0) } else { (1.0 - p, 1.0) };
    if t == 0.0 {
        return sign * f64::INFINITY;
    }
    // Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4).
    let s = (-2.0 * t.ln()).sqrt();
    let mut x = s
        - (2.515_517 + 0.802_853 * s + 0.010_328 * s * s)
            / (1.0 + 1.432_788 * s + 0.189_269 * s * s + 0.001_308 * s * s * s);
    for _ in 0..50 {
        let step = (normal_sf(x) - t) / density(x);
        let next = x + step;
        if !next.is_finite() {
            break;
        }
        if (next - x).abs() <= 4.0 * f64::EPSILON * next.abs() {
            x = next;
            break;
        }
        x = next;
    }
    sign * x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        got == want || (got - want).abs() <= rel * want.abs()
    }

    #[test]
    fn erfc_and_tails_match_scipy() {
        // scipy.special.erfc and scipy.stats.norm.sf (scipy 1.17).
        for (x, want) in [
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_16),
            (2.0, 0.004_677_734_981_047_266),
            (5.0, 1.537_459_794_428_034_7e-12),
            (10.0, 2.088_487_583_762_544_6e-45),
        ] {
            assert!(close(libm::erfc(x), want, 1e-14), "erfc({x}) = {}", libm::erfc(x));
        }
        for (x, want) in [
            (1.96, 0.024_997_895_148_220_435),
            (5.0, 2.866_515_718_791_933e-7),
            (10.0, 7.619_853_024_160_47e-24),
            (-1.0, 0.841_344_746_068_542_9),
            (0.1, 0.460_172_162_722_971),
        ] {
            assert!(close(normal_sf(x), want, 1e-13), "sf({x}) = {}", normal_sf(x));
        }
        assert!(close(normal_cdf(-1.0), 0.158_655_253_931_457_07, 1e-13));
        assert!(close(two_sided_p_value(-1.96), 2.0 * 0.024_997_895_148_220_435, 1e-13));
        assert_eq!(two_sided_p_value(0.0), 1.0);
        assert_eq!(two_sided_p_value(40.0), 0.0);
    }

    #[test]
    fn quantiles_match_scipy() {
        // scipy.stats.norm.ppf.
        for (p, want) in [
            (0.975, 1.959_963_984_540_054),
            (0.995, 2.575_829_303_548_900_4),
            (0.95, 1.644_853_626_951_472_2),
            (1e-10, -6.361_340_902_404_056),
            (0.6, 0.253_347_103_135_799_7),
            (1e-300, -37.047_096_299_361_2),
            (0.999_999, 4.753_424_308_817_087),
        ] {
            let got = normal_quantile(p);
            assert!(close(got, want, 1e-12), "ppf({p}) = {got}, scipy {want}");
        }
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(1.5).is_nan() && normal_quantile(f64::NAN).is_nan());
        // Round trip through the tail.
        for p in [0.01, 0.2, 0.7, 0.999] {
            assert!(close(normal_cdf(normal_quantile(p)), p, 1e-13), "{p}");
        }
    }
}
