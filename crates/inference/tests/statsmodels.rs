//! esteira-inference against statsmodels: the fixtures in `data/statsmodels_fixtures.json` were
//! written by `scripts/inference_fixtures.py` (statsmodels' `Logit(y, X).fit(cov_type="cluster",
//! cov_kwds={"groups": g})` and the plain fit, with its defaults). Coefficients, standard errors,
//! p-values, intervals, the log-likelihood and the adjusted p-values must agree to 1e-6; where
//! statsmodels warns or prints meaningless numbers (aliased columns, separation) esteira must
//! say so and match statsmodels' fit of the identified part.

use esteira_inference::{
    Adjustment, Clusters, CoefficientStatus, Covariance, Design, Direction, FitWarning, INTERCEPT, LogitOptions,
    LogitReport, fit_logit,
};
use serde::Deserialize;

const TOL: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixtures {
    statsmodels: String,
    datasets: Vec<Dataset>,
}

#[derive(Deserialize)]
struct Dataset {
    name: String,
    columns: Vec<String>,
    rows: usize,
    x: Vec<f64>,
    y: Vec<u8>,
    groups: Vec<u64>,
    statsmodels_warnings: Vec<String>,
    full: Fit,
    reference: Option<Reference>,
}

#[derive(Deserialize)]
struct Fit {
    params: Vec<f64>,
    bse_cluster: Vec<Option<f64>>,
    bse_naive: Vec<Option<f64>>,
    pvalues_cluster: Vec<Option<f64>>,
    pvalues_naive: Vec<Option<f64>>,
    conf_int_cluster: Vec<[Option<f64>; 2]>,
    conf_int_naive: Vec<[Option<f64>; 2]>,
    llf: f64,
    converged: bool,
    n_groups: usize,
    holm_cluster: Vec<Option<f64>>,
    fdr_bh_cluster: Vec<Option<f64>>,
}

#[derive(Deserialize)]
struct Reference {
    row_mask: Option<Vec<u8>>,
    columns: Vec<String>,
    fit: Fit,
    warnings: Vec<String>,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(include_str!("data/statsmodels_fixtures.json")).expect("fixture JSON")
}

fn dataset<'a>(f: &'a Fixtures, name: &str) -> &'a Dataset {
    f.datasets.iter().find(|d| d.name == name).unwrap_or_else(|| panic!("no dataset {name}"))
}

fn fit(d: &Dataset) -> LogitReport {
    let design = Design::new(&d.x, d.rows, &d.columns).unwrap();
    let y: Vec<bool> = d.y.iter().map(|&v| v == 1).collect();
    fit_logit(&design, &y, Some(&Clusters::from_keys(&d.groups)), &LogitOptions::default()).unwrap()
}

/// Largest absolute differences, per quantity, over the compared coefficients.
#[derive(Debug, Default)]
struct MaxDiff {
    params: f64,
    bse_cluster: f64,
    bse_naive: f64,
    pvalues: f64,
    conf_int: f64,
    adjusted: f64,
}

fn diff(a: f64, b: Option<f64>, what: &str) -> f64 {
    let b = b.unwrap_or_else(|| panic!("{what}: statsmodels has no value"));
    let d = (a - b).abs();
    assert!(d <= TOL, "{what}: esteira {a}, statsmodels {b} (|diff| {d:e})");
    d
}

/// Compares the report's coefficients named `names` (statsmodels' order: const first) with `s`.
fn compare(r: &LogitReport, names: &[String], s: &Fit, label: &str) -> MaxDiff {
    let mut m = MaxDiff::default();
    let mut p_cluster = Vec::new();
    for (j, name) in std::iter::once(INTERCEPT).chain(names.iter().map(String::as_str)).enumerate() {
        let c = r.coefficient(name).unwrap_or_else(|| panic!("{label}: no coefficient {name}"));
        assert_eq!(c.status, CoefficientStatus::Estimated, "{label} {name}");
        let what = |q: &str| format!("{label} {name} {q}");
        m.params = m.params.max(diff(c.estimate.unwrap(), Some(s.params[j]), &what("coefficient")));
        let (cl, nv) = (c.clustered.unwrap(), c.naive.unwrap());
        m.bse_cluster = m.bse_cluster.max(diff(cl.std_error, s.bse_cluster[j], &what("clustered SE")));
        m.bse_naive = m.bse_naive.max(diff(nv.std_error, s.bse_naive[j], &what("naive SE")));
        // Standard errors also to 1e-6 relative (some are large).
        for (a, b) in [(cl.std_error, s.bse_cluster[j]), (nv.std_error, s.bse_naive[j])] {
            let b = b.unwrap();
            assert!((a - b).abs() <= TOL * b, "{}: {a} vs {b}", what("SE (relative)"));
        }
        m.pvalues = m.pvalues.max(diff(cl.p_value, s.pvalues_cluster[j], &what("clustered p")));
        m.pvalues = m.pvalues.max(diff(nv.p_value, s.pvalues_naive[j], &what("naive p")));
        for (u, ci) in [(cl, s.conf_int_cluster[j]), (nv, s.conf_int_naive[j])] {
            m.conf_int = m.conf_int.max(diff(u.ci_low, ci[0], &what("CI low")));
            m.conf_int = m.conf_int.max(diff(u.ci_high, ci[1], &what("CI high")));
            assert!((u.odds_ratio_low - u.ci_low.exp()).abs() <= 1e-12 * u.odds_ratio_low);
        }
        assert!((c.odds_ratio.unwrap() - s.params[j].exp()).abs() <= TOL * s.params[j].exp());
        if j > 0 {
            p_cluster.push(cl.p_value);
        }
    }
    let llf = r.log_likelihood.unwrap();
    assert!((llf - s.llf).abs() <= TOL, "{label} llf {llf} vs {}", s.llf);
    assert_eq!(r.clusters_used, Some(s.n_groups), "{label}");
    for (method, want) in [(Adjustment::Holm, &s.holm_cluster), (Adjustment::BenjaminiHochberg, &s.fdr_bh_cluster)] {
        let got = r.adjusted_p_values(Covariance::Clustered, method, false).unwrap();
        let got: Vec<f64> = got.into_iter().flatten().collect();
        assert_eq!(got.len(), want.len(), "{label} {method:?}");
        for (g, w) in got.iter().zip(want) {
            m.adjusted = m.adjusted.max(diff(*g, *w, &format!("{label} {method:?}")));
        }
    }
    eprintln!("{label}: max |diff| {m:?}");
    m
}

#[test]
fn converged_fits_match_statsmodels() {
    let f = fixtures();
    eprintln!("fixtures from statsmodels {}", f.statsmodels);
    for name in ["basic", "wide", "collinear"] {
        let d = dataset(&f, name);
        assert!(d.full.converged && d.statsmodels_warnings.is_empty(), "{name}");
        let r = fit(d);
        assert!(r.converged, "{name}");
        assert_eq!((r.rows, r.rows_used, r.parameters), (d.rows, d.rows, d.columns.len() + 1));
        let g = d.full.n_groups as f64;
        let (n, k) = (d.rows as f64, (d.columns.len() + 1) as f64);
        assert_eq!(r.cluster_correction, Some(g / (g - 1.0) * ((n - 1.0) / (n - k))));
        compare(&r, &d.columns, &d.full, name);
        // The clustered errors are not the naive ones.
        assert!(r.coefficients.iter().any(|c| {
            let (a, b) = (c.clustered.unwrap().std_error, c.naive.unwrap().std_error);
            (a - b).abs() > 0.05 * b
        }));
        if name == "collinear" {
            // x2 = x1 + 0.002 noise: both fitted (statsmodels' huge values), both flagged.
            let flagged: Vec<&str> = r
                .warnings
                .iter()
                .map(|w| match w {
                    FitWarning::NearCollinear { column, vif } => {
                        assert!(*vif > 1e4, "{vif}");
                        column.as_str()
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(flagged, ["x1", "x2"]);
            assert!(r.coefficient("x3").unwrap().vif.unwrap() < 1.1);
        } else {
            assert!(r.warnings.is_empty(), "{name}: {:?}", r.warnings);
        }
    }
}

#[test]
fn an_aliased_column_is_dropped_and_the_rest_is_statsmodels_without_it() {
    let f = fixtures();
    let d = dataset(&f, "aliased");
    // statsmodels "converges" with no warning, but prints NaN naive and ~1e6 clustered errors.
    assert!(d.full.converged && d.statsmodels_warnings.is_empty());
    assert!(d.full.bse_naive[1..4].iter().all(Option::is_none));
    assert!(d.full.bse_cluster[1..4].iter().all(|v| v.unwrap() > 1e5));
    let r = fit(d);
    assert_eq!(
        r.warnings,
        [FitWarning::Aliased {
            column: "x3".into(),
            with: vec!["x1".into(), "x2".into()],
            one_minus_r2: match &r.warnings[0] {
                FitWarning::Aliased { one_minus_r2, .. } => {
                    assert!(*one_minus_r2 < 1e-14, "{one_minus_r2}");
                    *one_minus_r2
                }
                other => panic!("{other:?}"),
            },
        }]
    );
    let x3 = r.coefficient("x3").unwrap();
    assert_eq!(x3.status, CoefficientStatus::Aliased);
    assert!(x3.estimate.is_none() && x3.naive.is_none() && x3.clustered.is_none());
    assert_eq!(r.parameters, 4);
    let reference = d.reference.as_ref().unwrap();
    assert!(reference.warnings.is_empty() && reference.fit.converged);
    compare(&r, &reference.columns, &reference.fit, "aliased (x3 dropped)");
}

#[test]
fn quasi_separation_withholds_the_diverging_coefficient_and_fits_the_rest() {
    let f = fixtures();
    let d = dataset(&f, "quasi");
    // statsmodels runs out of iterations with a huge coefficient for d.
    assert!(!d.full.converged);
    assert!(d.statsmodels_warnings.iter().any(|w| w == "ConvergenceWarning"));
    assert!(d.statsmodels_warnings.iter().any(|w| w.contains("quasi-separation")));
    assert!(d.full.params[2] > 20.0);
    let r = fit(d);
    let rows_with_d = (0..d.rows).filter(|&i| d.x[i * 3 + 1] == 1.0).count();
    assert!(rows_with_d > 50);
    match &r.warnings[..] {
        [FitWarning::QuasiSeparation { rows, columns }] => {
            assert_eq!(*rows, rows_with_d);
            assert_eq!(columns.len(), 1);
            assert_eq!((columns[0].column.as_str(), columns[0].direction), ("d", Direction::Positive));
        }
        other => panic!("{other:?}"),
    }
    let dcoef = r.coefficient("d").unwrap();
    assert_eq!(dcoef.status, CoefficientStatus::Separated { direction: Direction::Positive });
    assert!(dcoef.estimate.is_none() && dcoef.odds_ratio.is_none() && dcoef.clustered.is_none());
    // The rest is statsmodels' fit on the rows with d = 0, without d.
    let reference = d.reference.as_ref().unwrap();
    let mask = reference.row_mask.as_ref().unwrap();
    assert_eq!(r.rows_used, mask.iter().filter(|&&m| m == 1).count());
    assert!(r.converged && reference.fit.converged && reference.warnings.is_empty());
    compare(&r, &reference.columns, &reference.fit, "quasi (d = 0 rows, without d)");
}

#[test]
fn complete_separation_estimates_nothing() {
    let f = fixtures();
    let d = dataset(&f, "complete");
    assert!(d.statsmodels_warnings.iter().any(|w| w.contains("Complete Separation")));
    // statsmodels still prints a "significant" coefficient of several hundred.
    assert!(d.full.params[1] > 100.0 && d.full.pvalues_cluster[1].unwrap() < 1e-6);
    let r = fit(d);
    assert!(r.warnings.contains(&FitWarning::CompleteSeparation { rows: d.rows }), "{:?}", r.warnings);
    assert!(r.coefficients.iter().all(|c| c.estimate.is_none() && c.naive.is_none() && c.clustered.is_none()));
    assert!(r.log_likelihood.is_none() && !r.converged);
    assert_eq!(r.coefficient("x1").unwrap().status, CoefficientStatus::Separated { direction: Direction::Positive });
    // The report still serialises (no NaN).
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"complete_separation\""), "{json}");
}

#[test]
fn reports_are_deterministic() {
    let f = fixtures();
    let d = dataset(&f, "wide");
    let (a, b) = (fit(d), fit(d));
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(json, serde_json::to_string(&b).unwrap());
    // The JSON reads back to the same report, bit for bit.
    let back: LogitReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
}
