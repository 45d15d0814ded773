//! Runs side by side: the params that differ between them and their metrics with intervals, as
//! a table, JSON or a self-contained HTML page with one chart per swept param and metric
//! (`esteira runs compare`, `esteira sweep`, the run browser's `/sweeps/NAME`).
//!
//! A metric `M` with `M_lower` and `M_upper` beside it (the evaluate stage's bootstrap
//! intervals) is one metric with an interval. Paired differences ([`paired`]) compare the
//! variants of one param's level with those of a baseline level that agree on every other param.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::{RunRecord, escape_html};

mod paired;

pub use paired::{MeanDifference, PairedDifference, StageDifference, against, paired, t_quantile_975};

/// One metric of one run, with its interval when the run recorded one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricValue {
    /// The value.
    pub value: f64,
    /// The interval's lower end (`M_lower`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// The interval's upper end (`M_upper`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
}

/// One run of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ComparedRun {
    /// The run id.
    pub run: String,
    /// `succeeded`, `failed`, …
    pub status: String,
    /// The sweep variant's index, for a sweep's runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<usize>,
    /// The compared params' values (`stage.key` -> value; absent where the run has none).
    pub params: BTreeMap<String, Value>,
    /// Numeric metrics, `stage.metric` -> value (and interval).
    pub metrics: BTreeMap<String, MetricValue>,
    /// The first failed stage's error, for a run that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The sweep compared, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<String>,
    /// The params shown: a sweep's swept params, else every param that differs between the runs.
    pub params: Vec<String>,
    /// The metrics with an interval (the headline ones), `stage.metric`.
    pub headline: Vec<String>,
    /// The runs, in the order asked for (or sorted, see [`Comparison::sort_by`]).
    pub runs: Vec<ComparedRun>,
}

/// The runs of sweep `name` among `runs`: the latest run of each variant, in variant order
/// (a sweep run again under the same name replaces its variants' earlier runs).
pub fn sweep_variants(runs: Vec<RunRecord>, name: &str) -> Vec<RunRecord> {
    let mut by_variant: BTreeMap<usize, RunRecord> = BTreeMap::new();
    for r in runs {
        if let Some(v) = r.sweep.as_ref().filter(|s| s.name == name).and_then(|s| s.variant) {
            match by_variant.get(&v) {
                Some(old) if old.id > r.id => {}
                _ => {
                    by_variant.insert(v, r);
                }
            }
        }
    }
    by_variant.into_values().collect()
}

/// Every param of a run's stages, flattened to `stage.key.sub`.
fn flat_params(r: &RunRecord) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    for (name, s) in &r.stages {
        walk(name, &s.params, &mut out);
    }
    out
}

/// A run's numeric metrics, with `_lower`/`_upper` folded into their metric.
fn metrics_of(r: &RunRecord) -> BTreeMap<String, MetricValue> {
    let mut out = BTreeMap::new();
    for (name, s) in &r.stages {
        let num = |k: &str| s.metrics.get(k).and_then(Value::as_f64);
        for (k, v) in &s.metrics {
            let Some(value) = v.as_f64() else { continue };
            if v.is_boolean() {
                continue;
            }
            let is_bound = |suffix: &str| k.strip_suffix(suffix).is_some_and(|base| num(base).is_some());
            if is_bound("_lower") || is_bound("_upper") {
                continue;
            }
            let lower = num(&format!("{k}_lower"));
            let upper = num(&format!("{k}_upper"));
            out.insert(format!("{name}.{k}"), MetricValue { value, lower, upper });
        }
    }
    out
}

impl Comparison {
    /// Compares `runs`. For a sweep's runs (all tagged with one sweep name) the params shown are
    /// the swept ones; otherwise every param whose value is not the same in all of them.
    pub fn of(runs: &[RunRecord]) -> Self {
        let sweep_names: BTreeSet<&str> =
            runs.iter().filter_map(|r| r.sweep.as_ref().map(|s| s.name.as_str())).collect();
        let sweep = match (sweep_names.len(), runs.iter().all(|r| r.sweep.is_some())) {
            (1, true) => sweep_names.first().map(|s| (*s).to_owned()),
            _ => None,
        };
        let flat: Vec<BTreeMap<String, Value>> = runs.iter().map(flat_params).collect();
        let params: Vec<String> = if sweep.is_some() {
            let keys: BTreeSet<String> =
                runs.iter().filter_map(|r| r.sweep.as_ref()).flat_map(|s| s.params.keys().cloned()).collect();
            keys.into_iter().collect()
        } else {
            let keys: BTreeSet<&String> = flat.iter().flat_map(BTreeMap::keys).collect();
            keys.into_iter().filter(|k| flat.iter().any(|f| f.get(*k) != flat[0].get(*k))).cloned().collect()
        };
        let compared: Vec<ComparedRun> = runs
            .iter()
            .zip(&flat)
            .map(|(r, f)| {
                let swept = r.sweep.as_ref().filter(|s| s.variant.is_some());
                let params = params
                    .iter()
                    .filter_map(|p| {
                        swept.and_then(|s| s.params.get(p)).or_else(|| f.get(p)).map(|v| (p.clone(), v.clone()))
                    })
                    .collect();
                let error = r
                    .order
                    .iter()
                    .filter_map(|n| r.stages.get(n).map(|s| (n, s)))
                    .find(|(_, s)| s.status == crate::StageStatus::Failed)
                    .map(|(n, s)| format!("{n}: {}", s.error.as_deref().unwrap_or("failed")));
                ComparedRun {
                    run: r.id.clone(),
                    status: r.status.as_str().to_owned(),
                    variant: swept.and_then(|s| s.variant),
                    params,
                    metrics: metrics_of(r),
                    error,
                }
            })
            .collect();
        let headline: BTreeSet<String> = compared
            .iter()
            .flat_map(|c| {
                c.metrics.iter().filter(|(_, m)| m.lower.is_some() && m.upper.is_some()).map(|(k, _)| k.clone())
            })
            .collect();
        Self { sweep, params, headline: headline.into_iter().collect(), runs: compared }
    }

    /// The full name of a metric given by its full (`evaluate.roc_auc`) or short (`roc_auc`)
    /// name, if some run has it (a short name must name one metric only).
    pub fn metric_named(&self, name: &str) -> Result<String, String> {
        let all: BTreeSet<&String> = self.runs.iter().flat_map(|r| r.metrics.keys()).collect();
        if all.contains(&name.to_owned()) {
            return Ok(name.to_owned());
        }
        let matches: Vec<&&String> =
            all.iter().filter(|k| k.rsplit_once('.').is_some_and(|(_, m)| m == name)).collect();
        match matches.as_slice() {
            [one] => Ok((**one).clone()),
            [] => Err(format!(
                "no run has a metric `{name}` (headline metrics: {})",
                if self.headline.is_empty() { "none".to_owned() } else { self.headline.join(", ") }
            )),
            _ => Err(format!(
                "`{name}` is ambiguous: {}",
                matches.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Sorts the runs by `metric` (a full name), best first: highest first, or lowest first when
    /// `ascending`. Runs without it go last, in their order; ties keep their order.
    pub fn sort_by(&mut self, metric: &str, ascending: bool) {
        self.runs.sort_by(|a, b| {
            let (x, y) = (a.metrics.get(metric).map(|m| m.value), b.metrics.get(metric).map(|m| m.value));
            match (x, y) {
                (Some(x), Some(y)) if ascending => x.total_cmp(&y),
                (Some(x), Some(y)) => y.total_cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }

    /// The metrics a table shows: `chosen` (full names) or else the headline ones.
    fn shown<'a>(&'a self, chosen: &'a [String]) -> &'a [String] {
        if chosen.is_empty() { &self.headline } else { chosen }
    }

    /// A plain-text table: one row per run, the params, then each metric as `value [lo, hi]`.
    pub fn render_text(&self, metrics: &[String]) -> String {
        let shown = self.shown(metrics);
        let mut header: Vec<String> = vec!["RUN".into(), "STATUS".into()];
        header.extend(self.params.iter().cloned());
        header.extend(column_names(shown));
        let rows: Vec<Vec<String>> = self
            .runs
            .iter()
            .map(|r| {
                let mut row = vec![r.run.clone(), r.status.clone()];
                row.extend(self.params.iter().map(|p| r.params.get(p).map_or_else(|| "-".into(), value_text)));
                row.extend(shown.iter().map(|m| r.metrics.get(m).map_or_else(|| "-".into(), metric_text)));
                row
            })
            .collect();
        let mut out = render_table(&header, &rows);
        for r in self.runs.iter().filter(|r| r.error.is_some()) {
            let _ = writeln!(out, "run {} failed: {}", r.run, crate::excerpt(r.error.as_deref().unwrap_or(""), 300));
        }
        out
    }

    /// A self-contained HTML page: the table, and for each compared param and shown metric an
    /// SVG chart of the metric against the param with the intervals as error bars.
    pub fn render_html(&self, title: &str, metrics: &[String]) -> String {
        let shown = self.shown(metrics);
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
             body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
             td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}th{{background:#f3f3f3}}\
             td.l,th.l{{text-align:left}}.charts{{display:flex;flex-wrap:wrap;gap:1em}}figure{{margin:0}}\
             </style></head><body><h1>{t}</h1>",
            t = escape_html(title)
        );
        let _ = write!(out, "<p>{} runs", self.runs.len());
        if let Some(s) = &self.sweep {
            let _ = write!(out, " of sweep <code>{}</code>", escape_html(s));
        }
        out.push_str(". Intervals are the runs' own (bootstrap) 95 % intervals.</p><table><tr><th class=\"l\">run</th><th class=\"l\">status</th>");
        for p in &self.params {
            let _ = write!(out, "<th>{}</th>", escape_html(p));
        }
        for m in shown {
            let _ = write!(out, "<th>{}</th>", escape_html(m));
        }
        out.push_str("</tr>");
        for r in &self.runs {
            let _ = write!(
                out,
                "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td>",
                escape_html(&r.run),
                escape_html(&r.status)
            );
            for p in &self.params {
                let _ =
                    write!(out, "<td>{}</td>", escape_html(&r.params.get(p).map_or_else(|| "-".into(), value_text)));
            }
            for m in shown {
                let _ =
                    write!(out, "<td>{}</td>", escape_html(&r.metrics.get(m).map_or_else(|| "-".into(), metric_text)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        for r in self.runs.iter().filter(|r| r.error.is_some()) {
            let _ = write!(
                out,
                "<p>run <code>{}</code> failed: {}</p>",
                escape_html(&r.run),
                escape_html(&crate::excerpt(r.error.as_deref().unwrap_or(""), 600))
            );
        }
        if shown.is_empty() {
            out.push_str("<p>No metric with an interval to chart (choose one with <code>--metric</code>).</p>");
        }
        for p in self.params.iter().filter(|_| !shown.is_empty()) {
            let _ = write!(out, "<h2>{}</h2><div class=\"charts\">", escape_html(p));
            for m in shown {
                out.push_str(&self.chart(p, m));
            }
            out.push_str("</div>");
        }
        out.push_str("</body></html>\n");
        out
    }

    /// One chart: `metric` against `param`, a point per run with its interval as an error bar.
    /// Numbers are placed on a numeric axis; any other values on an axis of their sorted texts.
    fn chart(&self, param: &str, metric: &str) -> String {
        const W: f64 = 360.0;
        const H: f64 = 240.0;
        const L: f64 = 56.0;
        const R: f64 = 16.0;
        const T: f64 = 16.0;
        const B: f64 = 40.0;
        let points: Vec<(&Value, &MetricValue)> =
            self.runs.iter().filter_map(|r| Some((r.params.get(param)?, r.metrics.get(metric)?))).collect();
        let mut svg = format!(
            "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
             role=\"img\" aria-label=\"{m} against {p}\">",
            m = escape_html(metric),
            p = escape_html(param)
        );
        if points.is_empty() {
            svg.push_str("<text x=\"20\" y=\"40\">no run has both</text></svg></figure>");
            return svg;
        }
        let numeric = points.iter().all(|(v, _)| v.is_number());
        let labels: Vec<String> = {
            let set: BTreeSet<String> = points.iter().map(|(v, _)| value_text(v)).collect();
            set.into_iter().collect()
        };
        let xs: Vec<f64> = points
            .iter()
            .map(|(v, _)| {
                if numeric {
                    v.as_f64().unwrap_or(0.0)
                } else {
                    labels.iter().position(|l| *l == value_text(v)).unwrap_or(0) as f64
                }
            })
            .collect();
        let (x0, x1) = span(xs.iter().copied());
        let (y0, y1) =
            span(points.iter().flat_map(|(_, m)| [m.value, m.lower.unwrap_or(m.value), m.upper.unwrap_or(m.value)]));
        let px = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
        let py = |y: f64| H - B - (y - y0) / (y1 - y0) * (H - T - B);
        let _ = write!(
            svg,
            "<line x1=\"{L}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{b}\" stroke=\"#888\"/>",
            b = H - B,
            r = W - R
        );
        for y in [y0, f64::midpoint(y0, y1), y1] {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                L - 4.0,
                py(y) + 3.0,
                fmt_num(y)
            );
        }
        let ticks: Vec<(f64, String)> = if numeric {
            let set: BTreeSet<String> = points.iter().map(|(v, _)| value_text(v)).collect();
            set.into_iter().filter_map(|t| Some((t.parse::<f64>().ok()?, t))).collect()
        } else {
            labels.iter().enumerate().map(|(i, l)| (i as f64, l.clone())).collect()
        };
        for (x, t) in &ticks {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                px(*x),
                H - B + 14.0,
                escape_html(&crate::excerpt(t, 12))
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            L + (W - L - R) / 2.0,
            H - 6.0,
            escape_html(param)
        );
        // Runs that share an x are spread a little, so their bars stay apart.
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for ((_, m), x) in points.iter().zip(&xs) {
            let k = seen.entry(x.to_bits()).or_insert(0);
            let dx = (*k as f64) * 3.0 - 6.0 * f64::from(u8::from(*k > 0));
            *k += 1;
            let cx = px(*x) + dx;
            if let (Some(lo), Some(hi)) = (m.lower, m.upper) {
                let _ = write!(
                    svg,
                    "<line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#36c\"/>",
                    py(lo),
                    py(hi)
                );
            }
            let _ = write!(svg, "<circle cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#36c\"/>", py(m.value));
        }
        let _ = write!(svg, "</svg><figcaption>{}</figcaption></figure>", escape_html(metric));
        svg
    }
}

/// A range to plot `values` in, padded, never empty.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.08 } else { lo.abs().max(1.0) * 0.05 };
    (lo - pad, hi + pad)
}

/// Each metric's column header: its short name, or its full one where two shown metrics share it.
fn column_names(shown: &[String]) -> Vec<String> {
    let short = |m: &str| m.rsplit_once('.').map_or(m, |(_, s)| s).to_owned();
    shown
        .iter()
        .map(|m| {
            let s = short(m);
            if shown.iter().filter(|o| short(o) == s).count() > 1 { m.clone() } else { s }
        })
        .collect()
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v:.4}") }
}

pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            n.as_f64().map_or_else(|| n.to_string(), |f| if n.is_f64() { format!("{f}") } else { n.to_string() })
        }
        other => other.to_string(),
    }
}

fn metric_text(m: &MetricValue) -> String {
    match (m.lower, m.upper) {
        (Some(lo), Some(hi)) => format!("{} [{}, {}]", fmt_num(m.value), fmt_num(lo), fmt_num(hi)),
        _ => fmt_num(m.value),
    }
}

/// A plain table: columns padded to their widest cell.
fn render_table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c}{}  ", " ".repeat(w - c.chars().count()));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContentHash, RunStatus, StageRecord, StageStatus, SweepTag};
    use serde_json::json;

    pub(super) fn run(id: &str, variant: usize, alpha: f64, seed: i64, auc: Option<f64>) -> RunRecord {
        let mut metrics = BTreeMap::new();
        if let Some(a) = auc {
            metrics.insert("roc_auc".to_owned(), json!(a));
            metrics.insert("roc_auc_lower".to_owned(), json!(a - 0.01));
            metrics.insert("roc_auc_upper".to_owned(), json!(a + 0.01));
            metrics.insert("rows".to_owned(), json!(100));
            metrics.insert("converged".to_owned(), json!(true));
        }
        let stage = |params: Value, metrics: BTreeMap<String, Value>, ok: bool| StageRecord {
            kind: "k".into(),
            version: "1".into(),
            params,
            key: Some(ContentHash::of_bytes(id.as_bytes())),
            status: if ok { StageStatus::Ran } else { StageStatus::Failed },
            input_sources: BTreeMap::new(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            output_files: BTreeMap::new(),
            output_media: BTreeMap::new(),
            metrics,
            start_ms: 0.0,
            end_ms: 1.0,
            error: (!ok).then(|| "boom".to_owned()),
            remote_hit: false,
            job: None,
        };
        RunRecord {
            id: id.into(),
            status: if auc.is_some() { RunStatus::Succeeded } else { RunStatus::Failed },
            pipeline: "p.toml".into(),
            config_hash: ContentHash::of_bytes(b"p"),
            esteira_version: "0".into(),
            build: crate::store::BuildInfo::default(),
            command: "esteira sweep".into(),
            host: "h".into(),
            started_at: "2026-12-03T00:00:00Z".into(),
            ended_at: None,
            order: vec!["train".into(), "evaluate".into()],
            overrides: Vec::new(),
            sweep: Some(SweepTag {
                name: "s".into(),
                variant: Some(variant),
                params: BTreeMap::from([("train.alpha".into(), json!(alpha)), ("segregate.seed".into(), json!(seed))]),
            }),
            stages: BTreeMap::from([
                ("train".into(), stage(json!({"alpha": alpha, "lof": {"k": 20}}), BTreeMap::new(), true)),
                ("evaluate".into(), stage(json!({}), metrics, auc.is_some())),
            ]),
        }
    }

    #[test]
    fn a_sweep_compares_its_swept_params_and_folds_intervals() {
        let runs = [run("r1", 0, 0.1, 1, Some(0.70)), run("r2", 1, 1.0, 1, Some(0.75)), run("r3", 2, 10.0, 1, None)];
        let mut c = Comparison::of(&runs);
        assert_eq!(c.sweep.as_deref(), Some("s"));
        assert_eq!(c.params, ["segregate.seed", "train.alpha"]);
        assert_eq!(c.headline, ["evaluate.roc_auc"]);
        let m = c.runs[1].metrics["evaluate.roc_auc"];
        assert_eq!((m.value, m.lower, m.upper), (0.75, Some(0.74), Some(0.76)));
        assert!(!c.runs[0].metrics.contains_key("evaluate.roc_auc_lower"));
        assert!(!c.runs[0].metrics.contains_key("evaluate.converged"), "booleans are not metrics");
        assert_eq!(c.runs[2].error.as_deref(), Some("evaluate: boom"));
        c.sort_by(&c.metric_named("roc_auc").unwrap(), false);
        let order: Vec<&str> = c.runs.iter().map(|r| r.run.as_str()).collect();
        assert_eq!(order, ["r2", "r1", "r3"], "best first, the failed run last");
        let text = c.render_text(&[]);
        assert!(text.contains("0.7500 [0.7400, 0.7600]"), "{text}");
        assert!(text.contains("run r3 failed: evaluate: boom"), "{text}");
        let html = c.render_html("sweep s", &[]);
        assert_eq!(html.matches("<svg").count(), 2, "one chart per swept param and headline metric");
        assert_eq!(html.matches("<circle").count(), 4, "a point per run that has the metric, in each chart");
        assert!(html.contains("r3") && html.contains("boom"));
        assert!(c.metric_named("nope").unwrap_err().contains("evaluate.roc_auc"));
    }

    #[test]
    fn plain_runs_compare_the_params_that_differ() {
        let mut a = run("a", 0, 0.1, 1, Some(0.7));
        let mut b = run("b", 1, 1.0, 1, Some(0.7));
        a.sweep = None;
        b.sweep = None;
        let c = Comparison::of(&[a, b]);
        assert_eq!(c.sweep, None);
        assert_eq!(c.params, ["train.alpha"], "lof.k is the same in both");
    }

    #[test]
    fn a_column_header_is_the_short_name_unless_two_shown_metrics_share_it() {
        let shown = ["evaluate.roc_auc".to_owned(), "reference.roc_auc".to_owned(), "evaluate.rows".to_owned()];
        assert_eq!(column_names(&shown), ["evaluate.roc_auc", "reference.roc_auc", "rows"]);
    }
}
