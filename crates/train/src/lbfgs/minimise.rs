//! The minimiser: scipy's L-BFGS-B iteration on an unbounded problem (two-loop recursion,
//! memory `m`) with MINPACK-2's Moré–Thuente line search (`dcsrch`/`dcstep`), over any [`Loss`].

use super::{LbfgsOptions, LogisticFit, StopReason};

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, a| m.max(a.abs()))
}

fn vdot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| u * v).sum()
}

/// One correction pair `s = x_{k+1} - x_k`, `y = g_{k+1} - g_k`, `rho = 1 / s.y`.
struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// `-H g` by the two-loop recursion, `H_0 = (s.y / y.y) I` from the newest pair.
fn direction(g: &[f64], pairs: &[Pair], d: &mut [f64]) {
    for (di, gi) in d.iter_mut().zip(g) {
        *di = -gi;
    }
    let mut a = vec![0.0; pairs.len()];
    for (k, p) in pairs.iter().enumerate().rev() {
        a[k] = p.rho * vdot(&p.s, d);
        for (di, yi) in d.iter_mut().zip(&p.y) {
            *di -= a[k] * yi;
        }
    }
    if let Some(last) = pairs.last() {
        let gamma = 1.0 / (last.rho * vdot(&last.y, &last.y));
        for di in d.iter_mut() {
            *di *= gamma;
        }
    }
    for (k, p) in pairs.iter().enumerate() {
        let beta = p.rho * vdot(&p.y, d);
        for (di, si) in d.iter_mut().zip(&p.s) {
            *di += (a[k] - beta) * si;
        }
    }
}

/// An objective over `[w_0 .. w_{cols-1}, b]`: its value at a point, the gradient written into
/// `g`. The same point must give the same bits whatever the thread count.
pub(super) trait Loss {
    fn cols(&self) -> usize;
    fn eval(&self, wb: &[f64], g: &mut [f64]) -> f64;
}

/// L-BFGS from `start` (`[w.., b]`; the origin when `None`).
pub(super) fn minimise(obj: &impl Loss, opt: &LbfgsOptions, start: Option<&[f64]>) -> LogisticFit {
    let n = obj.cols() + 1;
    let mut x = start.filter(|s| s.len() == n).map_or_else(|| vec![0.0; n], <[f64]>::to_vec);
    let mut g = vec![0.0; n];
    let mut f = obj.eval(&x, &mut g);
    let mut evaluations = 1;
    let mut iterations = 0;
    let mut pairs: Vec<Pair> = Vec::with_capacity(opt.memory);
    let (mut xt, mut gt, mut d) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let stop = loop {
        if max_abs(&g) <= opt.tol {
            break StopReason::Gradient;
        }
        if iterations >= opt.max_iter {
            break StopReason::MaxIter;
        }
        direction(&g, &pairs, &mut d);
        let mut gd = vdot(&g, &d);
        if gd >= 0.0 || gd.is_nan() {
            // Not a descent direction (curvature information gone stale): steepest descent.
            pairs.clear();
            direction(&g, &pairs, &mut d);
            gd = vdot(&g, &d);
        }
        let first = if pairs.is_empty() { (1.0 / vdot(&d, &d).sqrt()).min(STEP_MAX) } else { 1.0 };
        let mut phi = |stp: f64| {
            for ((xi, &x0), &di) in xt.iter_mut().zip(&x).zip(&d) {
                *xi = x0 + stp * di;
            }
            let ft = obj.eval(&xt, &mut gt);
            (ft, vdot(&gt, &d))
        };
        let search = line_search(&mut phi, f, gd, first, opt.max_line_search);
        evaluations += search.evaluations;
        if !search.found {
            if pairs.is_empty() {
                break StopReason::LineSearch;
            }
            // As L-BFGS-B: forget the curvature pairs and retry from the same point.
            pairs.clear();
            continue;
        }
        // `xt`, `gt` hold the last point evaluated, which is the accepted one.
        iterations += 1;
        let f_old = f;
        let mut s = std::mem::take(&mut xt);
        let mut yv = std::mem::take(&mut gt);
        for (si, xi) in s.iter_mut().zip(&x) {
            *si -= xi;
        }
        for (yi, gi) in yv.iter_mut().zip(&g) {
            *yi -= gi;
        }
        for (xi, si) in x.iter_mut().zip(&s) {
            *xi += si;
        }
        for (gi, yi) in g.iter_mut().zip(&yv) {
            *gi += yi;
        }
        f = search.f;
        if max_abs(&g) <= opt.tol {
            break StopReason::Gradient;
        }
        if f_old - f <= opt.factr * f64::EPSILON * f_old.abs().max(f.abs()).max(1.0) {
            break StopReason::Function;
        }
        let sy = vdot(&s, &yv);
        // L-BFGS-B's test: skip a pair whose curvature is not clearly positive.
        if sy > f64::EPSILON * (-gd * search.step) {
            if pairs.len() == opt.memory {
                let old = pairs.remove(0);
                (xt, gt) = (old.s, old.y);
            } else {
                (xt, gt) = (vec![0.0; n], vec![0.0; n]);
            }
            pairs.push(Pair { s, y: yv, rho: 1.0 / sy });
        } else {
            (xt, gt) = (s, yv);
        }
    };
    let gradient_max = max_abs(&g);
    let intercept = x[obj.cols()];
    x.truncate(obj.cols());
    LogisticFit { coefficients: x, intercept, iterations, evaluations, stop, objective: f, gradient_max }
}

/// L-BFGS-B's bound on a step for an unbounded problem.
const STEP_MAX: f64 = 1e10;

struct Search {
    found: bool,
    step: f64,
    f: f64,
    evaluations: usize,
}

/// Moré–Thuente line search (MINPACK-2 `dcsrch`) with L-BFGS-B's constants: finds a step
/// satisfying the strong Wolfe conditions `f(t) <= f(0) + 1e-3 t f'(0)` and
/// `|f'(t)| <= 0.9 |f'(0)|`. As in L-BFGS-B, a step is also accepted when the search
/// interval collapses to rounding level (MINPACK's warnings). `phi(t)` evaluates the point
/// and returns `(f(t), f'(t))`; the last call is always at the returned step.
fn line_search(phi: &mut impl FnMut(f64) -> (f64, f64), f0: f64, g0: f64, first: f64, max_evals: usize) -> Search {
    const FTOL: f64 = 1e-3;
    const GTOL: f64 = 0.9;
    const XTOL: f64 = 0.1;
    const XTRAPL: f64 = 1.1;
    const XTRAPU: f64 = 4.0;
    let (stpmin, stpmax) = (0.0, STEP_MAX);
    let mut stp = first.clamp(stpmin, stpmax);
    let gtest = FTOL * g0;
    let mut width = stpmax - stpmin;
    let mut width1 = width / 0.5;
    let mut st = StepState { brackt: false, stx: 0.0, fx: f0, gx: g0, sty: 0.0, fy: f0, gy: g0 };
    let (mut stmin, mut stmax) = (0.0, stp + XTRAPU * stp);
    let mut stage1 = true;
    let mut evaluations = 0;
    loop {
        let (f, g) = phi(stp);
        evaluations += 1;
        let ftest = f0 + stp * gtest;
        if stage1 && f <= ftest && g >= 0.0 {
            stage1 = false;
        }
        let accepted = Search { found: true, step: stp, f, evaluations };
        if f <= ftest && g.abs() <= GTOL * -g0 {
            return accepted;
        }
        let warning = (st.brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax))
            || (stp >= stpmax && f <= ftest && g <= gtest)
            || (stp <= stpmin && (f > ftest || g >= gtest));
        if warning && f.is_finite() {
            return accepted;
        }
        if evaluations >= max_evals || !f.is_finite() && stp <= f64::MIN_POSITIVE {
            return Search { found: false, ..accepted };
        }
        if !f.is_finite() {
            // Overflow far out along the direction: pull back towards the best point.
            st.brackt = true;
            st.sty = stp;
            st.fy = f64::INFINITY;
            stp = st.stx + 0.5 * (stp - st.stx);
            stmin = st.stx.min(stp);
            stmax = st.stx.max(st.sty);
            continue;
        }
        // Stage 1 works on the modified function f(t) - f(0) - ftol t f'(0) until a step
        // with a lower modified value and a non-negative derivative is found.
        if stage1 && f <= st.fx && f > ftest {
            let mut m = StepState {
                brackt: st.brackt,
                stx: st.stx,
                fx: st.fx - st.stx * gtest,
                gx: st.gx - gtest,
                sty: st.sty,
                fy: st.fy - st.sty * gtest,
                gy: st.gy - gtest,
            };
            stp = m.step(stp, f - stp * gtest, g - gtest, stmin, stmax);
            st = StepState {
                brackt: m.brackt,
                stx: m.stx,
                fx: m.fx + m.stx * gtest,
                gx: m.gx + gtest,
                sty: m.sty,
                fy: m.fy + m.sty * gtest,
                gy: m.gy + gtest,
            };
        } else {
            stp = st.step(stp, f, g, stmin, stmax);
        }
        if st.brackt {
            // Force sufficient shrinkage of the interval.
            if (st.sty - st.stx).abs() >= 0.66 * width1 {
                stp = st.stx + 0.5 * (st.sty - st.stx);
            }
            width1 = width;
            width = (st.sty - st.stx).abs();
            stmin = st.stx.min(st.sty);
            stmax = st.stx.max(st.sty);
        } else {
            stmin = stp + XTRAPL * (stp - st.stx);
            stmax = stp + XTRAPU * (stp - st.stx);
        }
        stp = stp.clamp(stpmin, stpmax);
        if st.brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax) {
            stp = st.stx;
        }
    }
}

/// The interval of uncertainty of `dcsrch`: `stx` is the best step so far, `sty` the other
/// end; `f*`, `g*` the function values and derivatives there.
struct StepState {
    brackt: bool,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
}

impl StepState {
    /// MINPACK-2 `dcstep`: a safeguarded cubic/quadratic step from the trial `(stp, fp, dp)`,
    /// updating the interval. Returns the next trial step.
    fn step(&mut self, stp: f64, fp: f64, dp: f64, stpmin: f64, stpmax: f64) -> f64 {
        let (stx, fx, dx, sty, fy, dy) = (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy);
        let sgnd = dp * dx.signum();
        let cubic_gamma =
            |theta: f64, s: f64, da: f64, db: f64| s * ((theta / s).powi(2) - (da / s) * (db / s)).max(0.0).sqrt();
        let stpf = if fp > fx {
            // Higher value: the minimum is bracketed; cubic or quadratic step, the closer.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dx, dp);
            if stp < stx {
                gamma = -gamma;
            }
            let p = (gamma - dx) + theta;
            let q = ((gamma - dx) + gamma) + dp;
            let stpc = stx + p / q * (stp - stx);
            let stpq = stx + (dx / ((fx - fp) / (stp - stx) + dx)) / 2.0 * (stp - stx);
            self.brackt = true;
            if (stpc - stx).abs() < (stpq - stx).abs() { stpc } else { stpc + (stpq - stpc) / 2.0 }
        } else if sgnd < 0.0 {
            // Derivatives of opposite sign: bracketed; the step farther from stp.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dx, dp);
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dx;
            let stpc = stp + p / q * (stx - stp);
            let stpq = stp + dp / (dp - dx) * (stx - stp);
            self.brackt = true;
            if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq }
        } else if dp.abs() < dx.abs() {
            // Same sign, derivative decreasing in magnitude.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let s = theta.abs().max(dx.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dx, dp);
            if stp > stx {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = (gamma + (dx - dp)) + gamma;
            let r = p / q;
            let stpc = if r < 0.0 && gamma != 0.0 {
                stp + r * (stx - stp)
            } else if stp > stx {
                stpmax
            } else {
                stpmin
            };
            let stpq = stp + dp / (dp - dx) * (stx - stp);
            if self.brackt {
                let mut t = if (stpc - stp).abs() < (stpq - stp).abs() { stpc } else { stpq };
                t = if stp > stx { t.min(stp + 0.66 * (sty - stp)) } else { t.max(stp + 0.66 * (sty - stp)) };
                t
            } else {
                let t = if (stpc - stp).abs() > (stpq - stp).abs() { stpc } else { stpq };
                t.clamp(stpmin, stpmax)
            }
        } else if self.brackt {
            // Same sign, derivative not decreasing: cubic step inside the bracket.
            let theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dy, dp);
            if stp > sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dy;
            stp + p / q * (sty - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
        if fp > fx {
            (self.sty, self.fy, self.gy) = (stp, fp, dp);
        } else {
            if sgnd < 0.0 {
                (self.sty, self.fy, self.gy) = (stx, fx, dx);
            }
            (self.stx, self.fx, self.gx) = (stp, fp, dp);
        }
        stpf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_search_meets_the_strong_wolfe_conditions() {
        // f(t) = (t - 3)^2 + t^4 / 50 from t = 0, first trial far too short.
        let mut phi = |t: f64| ((t - 3.0).powi(2) + t.powi(4) / 50.0, 2.0 * (t - 3.0) + 4.0 * t.powi(3) / 50.0);
        let (f0, g0) = phi(0.0);
        for first in [1e-3, 1.0, 100.0] {
            let s = line_search(&mut phi, f0, g0, first, 50);
            assert!(s.found);
            let (f, g) = phi(s.step);
            assert!(f <= f0 + 1e-3 * s.step * g0, "first {first}: sufficient decrease at {}", s.step);
            assert!(g.abs() <= 0.9 * g0.abs(), "first {first}: curvature at {}", s.step);
        }
    }
}
