//! Small samplers over a `rand` RNG: categorical tables, quantile interpolation, normal and Poisson
//! draws. `rand_distr` is not a dependency; these few are all the generator needs.

use rand::Rng;

/// A discrete distribution over labels, sampled by inverse CDF.
#[derive(Debug, Clone)]
pub(crate) struct Categorical<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
    total: f64,
}

impl<T> Categorical<T> {
    /// Builds from (item, weight) pairs; non-positive weights are dropped. Returns `None` when no
    /// weight is positive.
    pub(crate) fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Option<Self> {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            if weight > 0.0 && weight.is_finite() {
                total += weight;
                items.push(item);
                cumulative.push(total);
            }
        }
        (total > 0.0).then_some(Self { items, cumulative, total })
    }

    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> &T {
        let u = rng.random::<f64>() * self.total;
        let index = self.cumulative.partition_point(|&c| c <= u).min(self.items.len() - 1);
        &self.items[index]
    }
}

/// A continuous distribution given by quantile knots, interpolated linearly between knots (or
/// log-linearly, for heavy upper tails where a straight line would overweight huge values).
#[derive(Debug, Clone)]
pub(crate) struct QuantileFn {
    knots: Vec<(f64, f64)>,
    log_tail_from: f64,
}

impl QuantileFn {
    /// `knots` are (probability, value) pairs sorted by probability, covering 0 and 1, with
    /// non-decreasing values. Segments starting at probability >= `log_tail_from` whose ends are
    /// both positive are interpolated on the log scale.
    pub(crate) fn new(knots: Vec<(f64, f64)>, log_tail_from: f64) -> Result<Self, String> {
        if knots.len() < 2 {
            return Err("need at least two quantile knots".into());
        }
        if knots[0].0 != 0.0 || knots[knots.len() - 1].0 != 1.0 {
            return Err("quantile knots must include 0 and 1".into());
        }
        for pair in knots.windows(2) {
            if pair[1].0 <= pair[0].0 || pair[1].1 < pair[0].1 {
                return Err(format!("quantile knots not increasing at p = {}", pair[1].0));
            }
        }
        Ok(Self { knots, log_tail_from })
    }

    pub(crate) fn value_at(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let upper = self.knots.partition_point(|&(p, _)| p < u).clamp(1, self.knots.len() - 1);
        let (p0, v0) = self.knots[upper - 1];
        let (p1, v1) = self.knots[upper];
        let t = (u - p0) / (p1 - p0);
        if p0 >= self.log_tail_from && v0 > 0.0 && v1 > 0.0 {
            (v0.ln() + t * (v1.ln() - v0.ln())).exp()
        } else {
            v0 + t * (v1 - v0)
        }
    }

    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.value_at(rng.random::<f64>())
    }
}

/// A standard normal draw (Box–Muller; one of the pair is discarded to keep the stream simple).
pub(crate) fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw by Knuth's multiplication method; fine for the small means used here.
pub(crate) fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit && count < 1000 {
        count += 1;
        product *= rng.random::<f64>();
    }
    count
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub(crate) fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn categorical_frequencies_follow_weights() {
        let cat = Categorical::new([("a", 3.0), ("b", 1.0), ("zero", 0.0)]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 40_000;
        let a = (0..n).filter(|_| *cat.sample(&mut rng) == "a").count();
        assert!((a as f64 / f64::from(n) - 0.75).abs() < 0.01, "share of a = {a}");
        assert_eq!(cat.items.len(), 2, "zero weights are dropped");
        assert!(Categorical::<&str>::new([("x", 0.0)]).is_none());
    }

    #[test]
    fn quantile_fn_hits_its_knots_and_uses_log_tail() {
        let q = QuantileFn::new(vec![(0.0, 0.0), (0.5, 10.0), (0.9, 100.0), (1.0, 10_000.0)], 0.9).unwrap();
        assert_eq!(q.value_at(0.5), 10.0);
        assert_eq!(q.value_at(0.25), 5.0);
        // Log interpolation: the midpoint of [100, 10000] is the geometric mean.
        assert!((q.value_at(0.95) - 1000.0).abs() < 1e-6);
        assert!(QuantileFn::new(vec![(0.0, 5.0), (1.0, 1.0)], 1.0).is_err());
        assert!(QuantileFn::new(vec![(0.1, 5.0), (1.0, 6.0)], 1.0).is_err());
    }

    #[test]
    fn normal_and_poisson_have_the_right_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 50_000;
        let draws: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / f64::from(n);
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "mean {mean} var {var}");
        let total: u64 = (0..n).map(|_| u64::from(poisson(&mut rng, 1.5))).sum();
        assert!((total as f64 / f64::from(n) - 1.5).abs() < 0.03);
    }
}
