//! Paired differences with Student t intervals: between the levels of a swept param
//! ([`paired`]: runs that agree on every other param are a pair), and between two stages'
//! metrics of the same name within each run ([`against`]: esteira's model against a reference
//! stage fitted on the same split).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{ComparedRun, Comparison, value_text};

/// The mean of paired differences, their standard deviation and the 95 % interval of the mean,
/// Student's t with `n − 1` degrees of freedom (sd and interval absent with one pair).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanDifference {
    /// The mean difference.
    pub mean: f64,
    /// Standard deviation of the differences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sd: Option<f64>,
    /// The interval's lower end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// Its upper end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
}

impl MeanDifference {
    /// `[lo, hi]` with signs and four decimals, or `-` without an interval.
    pub fn interval_text(&self) -> String {
        match (self.lower, self.upper) {
            (Some(lo), Some(hi)) => format!("[{lo:+.4}, {hi:+.4}]"),
            _ => "-".into(),
        }
    }

    /// Of `d`, which is not empty.
    fn of(d: &[f64]) -> Self {
        let n = d.len();
        let mean = d.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Self { mean, sd: None, lower: None, upper: None };
        }
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let half = t_quantile_975(n - 1) * sd / (n as f64).sqrt();
        Self { mean, sd: Some(sd), lower: Some(mean - half), upper: Some(mean + half) }
    }
}

/// The paired differences of one metric between each level of a param and its baseline level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedDifference {
    /// The param compared.
    pub param: String,
    /// Its baseline value.
    pub baseline: Value,
    /// The other value.
    pub level: Value,
    /// The metric.
    pub metric: String,
    /// Pairs found: runs at `level` and at `baseline` that agree on every other compared param.
    pub pairs: usize,
    /// `level − baseline` over the pairs.
    #[serde(flatten)]
    pub difference: MeanDifference,
}

/// Paired differences of `metric` between every level of `param` and `baseline`: each run at a
/// level is paired with the succeeded run at the baseline that has the same value of every other
/// compared param (for a split sweep: the same seed). Failed runs and runs without the metric
/// are left out. Levels come in the order of their first run.
pub fn paired(cmp: &Comparison, param: &str, baseline: &Value, metric: &str) -> Vec<PairedDifference> {
    let others = |r: &ComparedRun| -> Vec<(String, String)> {
        cmp.params
            .iter()
            .filter(|p| *p != param)
            .map(|p| (p.clone(), r.params.get(p).map_or_else(String::new, value_text)))
            .collect()
    };
    let ok: Vec<&ComparedRun> =
        cmp.runs.iter().filter(|r| r.status == "succeeded" && r.metrics.contains_key(metric)).collect();
    let base: BTreeMap<Vec<(String, String)>, f64> = ok
        .iter()
        .filter(|r| r.params.get(param) == Some(baseline))
        .filter_map(|r| Some((others(r), r.metrics.get(metric)?.value)))
        .collect();
    let mut levels: Vec<Value> = Vec::new();
    let mut diffs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &ok {
        let Some(level) = r.params.get(param) else { continue };
        if level == baseline {
            continue;
        }
        let Some(b) = base.get(&others(r)) else { continue };
        let Some(v) = r.metrics.get(metric).map(|m| m.value) else { continue };
        if !levels.contains(level) {
            levels.push(level.clone());
        }
        diffs.entry(value_text(level)).or_default().push(v - b);
    }
    levels
        .into_iter()
        .map(|level| {
            let d = &diffs[&value_text(&level)];
            PairedDifference {
                param: param.to_owned(),
                baseline: baseline.clone(),
                level,
                metric: metric.to_owned(),
                pairs: d.len(),
                difference: MeanDifference::of(d),
            }
        })
        .collect()
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom: the table's values (R's
/// `qt(0.975, df)` to 6 decimals) up to 30, the Cornish–Fisher expansion around the normal
/// quantile above (within 1e-5 there).
pub fn t_quantile_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706_205, 4.302_653, 3.182_446, 2.776_445, 2.570_582, 2.446_912, 2.364_624, 2.306_004, 2.262_157, 2.228_139,
        2.200_985, 2.178_813, 2.160_369, 2.144_787, 2.131_450, 2.119_905, 2.109_816, 2.100_922, 2.093_024, 2.085_963,
        2.079_614, 2.073_873, 2.068_658, 2.063_899, 2.059_539, 2.055_529, 2.051_831, 2.048_407, 2.045_230, 2.042_272,
    ];
    const Z: f64 = 1.959_963_984_540_054;
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let v = df as f64;
            let z = Z;
            let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
            z + (z3 + z) / (4.0 * v)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v.powi(3))
                + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92_160.0 * v.powi(4))
        }
    }
}

/// The paired differences between one metric of two stages of the same runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageDifference {
    /// The metric, `stage.name` (e.g. `evaluate.roc_auc`).
    pub metric: String,
    /// What it is compared against: the same name in the other stage (`reference.roc_auc`).
    pub against: String,
    /// Runs that have both.
    pub pairs: usize,
    /// `metric − against` over them.
    #[serde(flatten)]
    pub difference: MeanDifference,
    /// Runs in which `metric` is at least `against`.
    pub at_least: usize,
}

/// For each of `metrics` (`stage.name`), its difference from `other.name` in each succeeded run
/// that has both: e.g. `evaluate.roc_auc − reference.roc_auc` over a split sweep, where a
/// `reference` command stage fits another model on each variant's split. Metrics that `other`
/// does not have, or that are `other`'s own, are left out.
pub fn against(cmp: &Comparison, other: &str, metrics: &[String]) -> Vec<StageDifference> {
    let ok: Vec<&ComparedRun> = cmp.runs.iter().filter(|r| r.status == "succeeded").collect();
    let mut out = Vec::new();
    for metric in metrics {
        let Some((stage, name)) = metric.split_once('.') else { continue };
        if stage == other {
            continue;
        }
        let theirs = format!("{other}.{name}");
        let d: Vec<f64> =
            ok.iter().filter_map(|r| Some(r.metrics.get(metric)?.value - r.metrics.get(&theirs)?.value)).collect();
        if d.is_empty() {
            continue;
        }
        let at_least = d.iter().filter(|x| **x >= 0.0).count();
        out.push(StageDifference {
            metric: metric.clone(),
            against: theirs,
            pairs: d.len(),
            difference: MeanDifference::of(&d),
            at_least,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::run;
    use super::*;
    use crate::compare::Comparison;

    #[test]
    fn paired_differences_match_on_the_other_params() {
        // Level 1.0 is better than 0.1 by 0.01, 0.03, 0.02 on seeds 1..3; seed 4 has no pair.
        let runs = [
            run("a1", 0, 0.1, 1, Some(0.70)),
            run("a2", 1, 0.1, 2, Some(0.60)),
            run("a3", 2, 0.1, 3, Some(0.65)),
            run("b1", 3, 1.0, 1, Some(0.71)),
            run("b2", 4, 1.0, 2, Some(0.63)),
            run("b3", 5, 1.0, 3, Some(0.67)),
            run("b4", 6, 1.0, 4, Some(0.99)),
        ];
        let c = Comparison::of(&runs);
        let d = paired(&c, "train.alpha", &json!(0.1), "evaluate.roc_auc");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].pairs, 3);
        assert!((d[0].difference.mean - 0.02).abs() < 1e-12);
        let sd = d[0].difference.sd.unwrap();
        assert!((sd - 0.01).abs() < 1e-12);
        let half = 4.302_653 * 0.01 / 3f64.sqrt();
        assert!((d[0].difference.lower.unwrap() - (0.02 - half)).abs() < 1e-12);
        assert!((d[0].difference.upper.unwrap() - (0.02 + half)).abs() < 1e-12);
    }

    #[test]
    fn t_quantiles_are_close_to_exact() {
        // Exact values (R: qt(0.975, df)).
        for (df, exact) in [(31, 2.039_513), (40, 2.021_075), (60, 2.000_298), (100, 1.983_972), (1000, 1.962_339)] {
            let t = t_quantile_975(df);
            assert!((t - exact).abs() < 1e-5, "df {df}: {t} vs {exact}");
        }
        // The table meets the expansion without a jump.
        assert!(t_quantile_975(30) > t_quantile_975(31) && t_quantile_975(31) > t_quantile_975(32));
        assert!(t_quantile_975(0).is_nan());
    }

    #[test]
    fn a_stage_is_compared_with_another_stages_metric_of_the_same_name() {
        // esteira beats the reference by 0.02, 0.00, 0.04 on three splits; a failed run and a run
        // without the reference stage are left out.
        let mut runs = Vec::new();
        for (i, (ours, theirs)) in [(0.70, 0.68), (0.60, 0.60), (0.65, 0.61)].into_iter().enumerate() {
            let mut r = run(&format!("r{i}"), i, 1.0, i as i64, Some(ours));
            let mut reference = r.stages["evaluate"].clone();
            reference.metrics = BTreeMap::from([("roc_auc".to_owned(), json!(theirs))]);
            r.stages.insert("reference".into(), reference);
            runs.push(r);
        }
        runs.push(run("lone", 3, 1.0, 3, Some(0.99)));
        runs.push(run("failed", 4, 1.0, 4, None));
        let c = Comparison::of(&runs);
        let metrics = vec!["evaluate.roc_auc".to_owned(), "reference.roc_auc".to_owned(), "evaluate.rows".to_owned()];
        let d = against(&c, "reference", &metrics);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].metric.as_str(), d[0].against.as_str()), ("evaluate.roc_auc", "reference.roc_auc"));
        assert_eq!((d[0].pairs, d[0].at_least), (3, 3));
        assert!((d[0].difference.mean - 0.02).abs() < 1e-12);
        let half = 4.302_653 * 0.02 / 3f64.sqrt();
        assert!((d[0].difference.lower.unwrap() - (0.02 - half)).abs() < 1e-12, "{d:?}");
        assert!(against(&c, "nope", &metrics).is_empty());
    }
}
