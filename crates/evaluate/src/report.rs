//! The self-contained HTML report built from the evaluation document (`metrics.json`, in
//! `evaluation.rs`).

use std::fmt::Write as _;

use crate::bootstrap::Interval;
use crate::calibration_html::calibration_section;
use crate::effects_html::{effects_section, effects_verdict};
use crate::evaluation::MetricSet;

/// The five charts, as SVG documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charts {
    /// Confusion heat map.
    pub confusion: String,
    /// ROC curve.
    pub roc: String,
    /// Precision-recall curve.
    pub pr: String,
    /// Odds-ratio chart (a forest plot with the inference model's intervals).
    pub effects: String,
    /// Reliability diagram.
    pub reliability: String,
}

pub use esteira_core::escape_html;

pub use crate::evaluation::{Evaluation, METRICS_FORMAT, OddsRatio, effect_label};
use crate::fmt::f3;

/// An SVG document ready to inline in HTML5: no XML namespace URL (HTML parsers put `<svg>` in
/// the SVG namespace themselves), so the page holds no external reference at all.
fn inline_svg(svg: &str) -> String {
    svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1)
}

fn opt3(v: Option<f64>) -> String {
    v.map_or_else(|| "undefined".to_owned(), f3)
}

fn interval_text(i: Option<&Interval>) -> String {
    i.map_or_else(String::new, |i| format!("{} – {}", f3(i.lower), f3(i.upper)))
}

/// The verdict: what the headline numbers mean against the baseline, without overselling.
pub fn verdict(e: &Evaluation) -> String {
    let s = &e.scores;
    let (pos, neg) = (&e.positive_class, &e.negative_class);
    let majority = if s.baseline.predicts_positive { pos } else { neg };
    let model_name = e.algorithm.replace('_', " ");
    let mut out = format!(
        "On {} test rows ({:.1} % {pos}), the {model_name} model reaches a balanced accuracy of {}",
        s.rows,
        100.0 * s.prevalence,
        f3(s.model.balanced_accuracy)
    );
    if let Some(i) = &s.intervals.balanced_accuracy {
        let _ = write!(out, " (95 % interval {})", interval_text(Some(i)));
    }
    let _ = write!(
        out,
        ", where the majority-class baseline, which predicts {majority} for everyone, scores {}. \
         Balanced accuracy is the mean of the share of {pos} and the share of {neg} rows recognised, \
         so any constant guess scores 0.5.",
        f3(s.baseline.metrics.balanced_accuracy)
    );
    if let Some(auc) = s.model.roc_auc {
        let _ = write!(out, " Its ROC AUC is {}", f3(auc));
        if let Some(i) = &s.intervals.roc_auc {
            let _ = write!(out, " ({})", interval_text(Some(i)));
        }
        let _ = write!(
            out,
            " against 0.500 for the baseline: given one {pos} and one {neg} row at random, it gives the {pos} \
             row the higher probability {:.0} % of the time.",
            100.0 * auc
        );
    }
    let ba_lower = s.intervals.balanced_accuracy.map_or(s.model.balanced_accuracy, |i| i.lower);
    let auc_lower = s.intervals.roc_auc.map(|i| i.lower).or(s.model.roc_auc);
    let auc = s.model.roc_auc.unwrap_or(0.5);
    let strength = if ba_lower <= s.baseline.metrics.balanced_accuracy || auc_lower.is_none_or(|l| l <= 0.5) {
        format!(
            " The interval reaches the baseline's score: on this test set the model is not reliably better than \
             always predicting {majority}."
        )
    } else if auc < 0.65 {
        " The signal is weak: the features separate the classes only a little better than chance, so read \
         the model as a description of associations in the data, not as a tool to judge individual students."
            .to_owned()
    } else if auc < 0.75 {
        " The signal is modest: the model ranks the classes better than chance, but many individual \
         predictions are wrong."
            .to_owned()
    } else {
        " The signal is clear, though individual predictions still err; check the confusion matrix for the \
         kind of errors made."
            .to_owned()
    };
    out.push_str(&strength);
    if let Some(fx) = &e.effects {
        out.push(' ');
        out.push_str(&effects_verdict(fx, pos));
    }
    if s.model.accuracy < s.baseline.metrics.accuracy {
        let _ = write!(
            out,
            " Plain accuracy ({}) is below the baseline's ({}): when most rows are {majority}, guessing {majority} \
             is usually right, which is why balanced accuracy and ROC AUC are the numbers to judge by.",
            f3(s.model.accuracy),
            f3(s.baseline.metrics.accuracy)
        );
    }
    out
}

struct Row {
    name: String,
    model: String,
    interval: String,
    baseline: String,
    note: &'static str,
}

fn metric_rows(e: &Evaluation) -> Vec<Row> {
    let (m, b) = (&e.scores.model, &e.scores.baseline.metrics);
    let row = |name: String, get: &dyn Fn(&MetricSet) -> String, interval: String, note: &'static str| Row {
        name,
        model: get(m),
        interval,
        baseline: get(b),
        note,
    };
    let (pos, neg) = (&e.positive_class, &e.negative_class);
    vec![
        row(
            "Balanced accuracy".into(),
            &|s| f3(s.balanced_accuracy),
            interval_text(e.scores.intervals.balanced_accuracy.as_ref()),
            "mean recall of the two classes; 0.5 = constant guess",
        ),
        row(
            "ROC AUC".into(),
            &|s| opt3(s.roc_auc),
            interval_text(e.scores.intervals.roc_auc.as_ref()),
            "chance of ranking a random pair right; 0.5 = chance",
        ),
        row("Accuracy".into(), &|s| f3(s.accuracy), String::new(), "share of correct decisions"),
        row(
            format!("Average precision ({pos})"),
            &|s| opt3(s.average_precision),
            String::new(),
            "area under the step-wise PR curve; prevalence = chance",
        ),
        row("Log loss".into(), &|s| f3(s.log_loss), String::new(), "lower is better"),
        row("Brier score".into(), &|s| f3(s.brier_score), String::new(), "lower is better"),
        row(format!("Precision {pos}"), &|s| f3(s.classes.positive.precision), String::new(), ""),
        row(format!("Recall {pos}"), &|s| f3(s.classes.positive.recall), String::new(), ""),
        row(format!("F1 {pos}"), &|s| f3(s.classes.positive.f1), String::new(), ""),
        row(format!("Precision {neg}"), &|s| f3(s.classes.negative.precision), String::new(), ""),
        row(format!("Recall {neg}"), &|s| f3(s.classes.negative.recall), String::new(), ""),
        row(format!("F1 {neg}"), &|s| f3(s.classes.negative.f1), String::new(), ""),
        row("Macro precision".into(), &|s| f3(s.classes.macro_avg.precision), String::new(), ""),
        row("Macro recall".into(), &|s| f3(s.classes.macro_avg.recall), String::new(), ""),
        row("Macro F1".into(), &|s| f3(s.classes.macro_avg.f1), String::new(), "unweighted mean over classes"),
        row("Weighted precision".into(), &|s| f3(s.classes.weighted_avg.precision), String::new(), ""),
        row("Weighted recall".into(), &|s| f3(s.classes.weighted_avg.recall), String::new(), ""),
        row("Weighted F1".into(), &|s| f3(s.classes.weighted_avg.f1), String::new(), "mean weighted by support"),
    ]
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f7f9;color:#1d232b}\
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px;background:#fff}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #dde1e6;padding-bottom:.2em}\
.verdict{font-size:1.08em;line-height:1.55;background:#eef4fb;border-left:4px solid #1f77b4;padding:12px 16px}\
table{border-collapse:collapse;margin:.6em 0;font-size:.93em}th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f2f5}\
tr.head td{font-weight:600}.note{color:#5b6570;font-size:.9em}\
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{color:#5b6570;font-size:.9em;max-width:520px}\
svg{max-width:100%;height:auto}details{margin:.5em 0}footer{margin-top:2em;color:#5b6570;font-size:.85em}";

/// The self-contained HTML report: inline CSS, inline SVG charts, no scripts, no external
/// reference. Equal inputs give equal bytes.
pub fn render_html(e: &Evaluation, charts: &Charts) -> String {
    let h = escape_html;
    let (pos, neg) = (h(&e.positive_class), h(&e.negative_class));
    let s = &e.scores;
    let mut o = String::with_capacity(64 * 1024 + charts.roc.len() + charts.pr.len() + charts.effects.len());
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Evaluation: {target}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Evaluation of the {algo} model for <code>{target}</code></h1>\n\
         <p class=\"note\">Test split: {rows} rows, {positives} {pos} ({prev:.1} %). Decision: {pos} when \
         P({pos}) &ge; {threshold}.</p>\n<p class=\"verdict\">{verdict}</p>\n",
        target = h(&e.target),
        algo = h(&e.algorithm.replace('_', " ")),
        rows = s.rows,
        positives = s.positives,
        prev = 100.0 * s.prevalence,
        threshold = f3(s.threshold),
        verdict = h(&verdict(e)),
    );

    let majority = if s.baseline.predicts_positive { &pos } else { &neg };
    let _ = write!(
        o,
        "<h2>Metrics</h2>\n<table>\n<tr><th>metric</th><th>model</th><th>95 % interval</th>\
         <th>majority baseline</th><th>meaning</th></tr>\n"
    );
    for (k, r) in metric_rows(e).iter().enumerate() {
        let class = if k < 2 { " class=\"head\"" } else { "" };
        let _ = writeln!(
            o,
            "<tr{class}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"note\">{}</td></tr>",
            h(&r.name),
            r.model,
            r.interval,
            r.baseline,
            r.note
        );
    }
    let _ = write!(
        o,
        "</table>\n<p class=\"note\">The baseline predicts {majority} for every row with P({pos}) = {prob} \
         (sklearn's <code>DummyClassifier(strategy=\"prior\")</code>); its prior comes from {source}. \
         Intervals: {n} bootstrap resamples of the test rows (percentile method, seed {seed}).</p>\n",
        prob = f3(s.baseline.probability),
        source = h(s.baseline.prior_source.describe()),
        n = s.bootstrap_resamples,
        seed = s.bootstrap_seed,
    );

    let cm = s.model.confusion.counts();
    let _ = write!(
        o,
        "<h2>Errors</h2>\n<table>\n<tr><th>true \\ predicted</th><th>{neg}</th><th>{pos}</th></tr>\n\
         <tr><td>{neg}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n\
         <tr><td>{pos}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n</table>\n\
         <div class=\"charts\">\n<figure>{}<figcaption>Each row shows how the rows of one true class were \
         classified (rows sum to 1).</figcaption></figure>\n\
         <figure>{}<figcaption>The diagonal is what a constant score (the baseline) achieves.</figcaption></figure>\n\
         <figure>{}<figcaption>Precision against recall of {pos}, step-wise as average precision sums it; the \
         grey line is the prevalence, what a constant score achieves.</figcaption></figure>\n</div>\n",
        cm[0][0],
        cm[0][1],
        cm[1][0],
        cm[1][1],
        inline_svg(&charts.confusion),
        inline_svg(&charts.roc),
        inline_svg(&charts.pr),
    );

    let _ = writeln!(o, "<h2>Which characteristics are associated with {pos}?</h2>");
    if let Some(fx) = &e.effects {
        o.push_str(&effects_section(fx, &e.positive_class, &inline_svg(&charts.effects)));
    }
    match &e.odds_ratios {
        Some(effects) if !effects.is_empty() => {
            let intro = format!(
                "<p>The logistic regression's coefficients as odds ratios: how the odds of {pos} multiply for a \
                 row in the category compared with a row in the reference category (one-hot features), or per \
                 unit of the scaled feature (one standard deviation with standard scaling) for numeric features, \
                 other features held equal. Associations, not causes; \
                 with a weak model, small ratios are within noise.{}</p>\n",
                binned_note(effects),
            );
            if e.effects.is_some() {
                // The predictive model's own ratios are penalised and class-balanced, with no
                // uncertainty: kept for reference, below the inference model's.
                let _ = write!(
                    o,
                    "<details><summary>The predictive model's own odds ratios (penalised and class-balanced, no \
                     intervals)</summary>\n{intro}"
                );
                o.push_str(&effects_table(effects));
                o.push_str("</details>\n");
            } else {
                let _ = writeln!(o, "{intro}<figure>{}</figure>", inline_svg(&charts.effects));
                o.push_str(&effects_table(effects));
            }
        }
        _ if e.effects.is_some() => {}
        _ => {
            let _ = writeln!(
                o,
                "<p>The {} model has no coefficients to read as odds ratios; the permutation importance \
                 below says which inputs it relies on.</p>",
                h(&e.algorithm.replace('_', " "))
            );
        }
    }
    o.push_str(&importance_table(e));
    o.push_str(&calibration_section(e, &inline_svg(&charts.reliability)));
    o.push_str(&training_table(e));
    if !e.unseen_categories.is_empty() {
        o.push_str(
            "<h2>Categories unseen in training</h2>\n<p class=\"note\">These test rows held a category the model \
             never saw; it scored them as the reference category.</p>\n<table>\n<tr><th>feature</th><th>rows</th></tr>\n",
        );
        for (feature, rows) in &e.unseen_categories {
            let _ = writeln!(o, "<tr><td>{}</td><td class=\"n\">{rows}</td></tr>", h(feature));
        }
        o.push_str("</table>\n");
    }
    let _ = write!(
        o,
        "<footer>Metrics follow scikit-learn's definitions (average precision step-wise; log loss with \
         probabilities clipped to [&epsilon;, 1 &minus; &epsilon;]). Written by esteira-evaluate; the same \
         model, test split and params always give this same file.</footer>\n</main>\n</body>\n</html>\n"
    );
    o
}

const EFFECTS_SHOWN: usize = 40;

/// A sentence on binned numeric columns (`numeric_bins`), when the model has any: their rows
/// are read against the column's lowest bin, on top of the per-unit ratio.
fn binned_note(effects: &[OddsRatio]) -> String {
    let binned: std::collections::BTreeSet<&str> = effects
        .iter()
        .filter(|e| e.category.is_some() && effects.iter().any(|n| n.column == e.column && n.category.is_none()))
        .map(|e| e.column.as_str())
        .collect();
    if binned.is_empty() {
        return String::new();
    }
    let names: Vec<String> = binned.iter().map(|c| format!("<code>{}</code>", escape_html(c))).collect();
    format!(
        " The numeric {} {} also cut into bins at training quantiles: each bin's ratio compares it with the \
         lowest bin, on top of the per-unit ratio, so together they trace a curve rather than a straight line; \
         read the rows of one column together.",
        if names.len() == 1 { "column" } else { "columns" },
        if names.len() == 1 { format!("{} is", names[0]) } else { format!("{} are", names.join(" and ")) }
    )
}

fn effects_table(effects: &[OddsRatio]) -> String {
    let h = escape_html;
    let row = |e: &OddsRatio| {
        format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{:.3}</td></tr>\n",
            h(&e.column),
            h(e.category.as_deref().unwrap_or("(numeric)")),
            h(e.reference.as_deref().unwrap_or("")),
            e.coefficient,
            e.odds_ratio
        )
    };
    let head = "<table>\n<tr><th>column</th><th>category</th><th>reference category</th><th>coefficient</th>\
                <th>odds ratio</th></tr>\n";
    let mut o = String::from(head);
    for e in effects.iter().take(EFFECTS_SHOWN) {
        o.push_str(&row(e));
    }
    o.push_str("</table>\n");
    if effects.len() > EFFECTS_SHOWN {
        let _ = write!(o, "<details><summary>{} smaller effects</summary>\n{head}", effects.len() - EFFECTS_SHOWN);
        for e in &effects[EFFECTS_SHOWN..] {
            o.push_str(&row(e));
        }
        o.push_str("</table>\n</details>\n");
    }
    o
}

/// What the model artifact says about its training, all of it measured on training rows only.
fn training_table(e: &Evaluation) -> String {
    let t = &e.training;
    let h = escape_html;
    let m = |k: &str| t.metrics.get(k).copied();
    let counts: Vec<String> = t.class_counts.iter().map(|(c, n)| format!("{n} {}", h(c))).collect();
    let cv_key = format!("cv_best_{}", t.cv_metric.as_str());
    let lof = match (m("lof_applied"), t.outliers_removed) {
        (Some(a), n) if a > 0.5 => format!("Local Outlier Factor removed {n} rows"),
        (Some(_), _) => "none (Local Outlier Factor off)".to_owned(),
        (None, 0) => "none".to_owned(),
        (None, n) => format!("{n} rows removed"),
    };
    let mut rows = vec![
        (
            "training rows",
            if t.outliers_removed > 0 {
                format!("{} ({} after outlier removal)", t.rows, counts.join(", "))
            } else {
                format!("{} ({})", t.rows, counts.join(", "))
            },
        ),
        ("outliers", lof),
        (
            "model chosen",
            format!(
                "<code>{}</code> by {}-fold cross-validation on {}{}",
                h(&t.selected.label()),
                m("cv_folds").map_or_else(|| "k".to_owned(), |f| format!("{f}")),
                t.cv_metric.as_str().replace('_', " "),
                m(&cv_key).map_or_else(String::new, |v| format!(" (mean {})", f3(v)))
            ),
        ),
    ];
    if let (Some(p), Some(n)) = (m("class_weight_positive"), m("class_weight_negative")) {
        rows.push((
            "class weights",
            format!(
                "{} {}, {} {} (as class_weight=\"balanced\")",
                h(&e.positive_class),
                f3(p),
                h(&e.negative_class),
                f3(n)
            ),
        ));
    }
    if let Some(v) = m("validation_roc_auc") {
        rows.push(("held-out validation ROC AUC", f3(v)));
    }
    rows.push(("seed", t.seed.to_string()));
    rows.push(("training data", format!("<code>{}</code>", h(&t.data_hash.chars().take(12).collect::<String>()))));
    let mut o = String::from(
        "<h2>How the model was trained</h2>\n<p class=\"note\">From the model artifact; everything here was \
         fitted or measured on the training split only.</p>\n<table>\n",
    );
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    o.push_str("</table>\n");
    o
}

fn importance_table(e: &Evaluation) -> String {
    let mut o = format!(
        "<h3>Permutation importance</h3>\n<p>How much the test ROC AUC drops when one input column is shuffled \
         ({} shuffles per column, seed {}): the model's reliance on that column, whatever its encoding. A drop \
         near zero, or smaller than its spread, means the column hardly matters.</p>\n",
        e.permutation_repeats, e.permutation_seed
    );
    if e.permutation_importance.is_empty() {
        o.push_str("<p class=\"note\">Not computed (ROC AUC is undefined on this test set, or repeats = 0).</p>\n");
        return o;
    }
    o.push_str("<table>\n<tr><th>input column</th><th>mean AUC drop</th><th>std</th></tr>\n");
    for c in &e.permutation_importance {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{:.4}</td></tr>",
            escape_html(&c.column),
            c.mean_drop,
            c.std_drop
        );
    }
    o.push_str("</table>\n");
    o
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::calibration::Calibration;
    use crate::evaluation::evaluate_scores;
    use crate::importance::ColumnImportance;

    pub(crate) fn sample_evaluation() -> Evaluation {
        let y: Vec<bool> = (0..200).map(|i| i % 5 != 0).collect();
        let s: Vec<f64> =
            (0..200).map(|i| f64::from((i * 13) % 10) / 12.0 + if i % 5 != 0 { 0.1 } else { 0.0 }).collect();
        Evaluation {
            format: METRICS_FORMAT.into(),
            target: "descricao".into(),
            positive_class: "APROVADO".into(),
            negative_class: "FALHOU".into(),
            algorithm: "logistic_regression".into(),
            scores: evaluate_scores(&y, &s, 0.6, None, 200, 1).unwrap(),
            odds_ratios: Some(vec![OddsRatio {
                feature: "raca=Parda".into(),
                column: "raca".into(),
                category: Some("Parda".into()),
                reference: Some("Branca <&>".into()),
                coefficient: 0.2,
                odds_ratio: 0.2f64.exp(),
            }]),
            permutation_importance: vec![ColumnImportance {
                column: "renda".into(),
                mean_drop: 0.01,
                std_drop: 0.002,
                drops: vec![0.01],
            }],
            permutation_repeats: 1,
            permutation_seed: 0,
            unseen_categories: BTreeMap::from([("cidade_origem".into(), 3)]),
            calibration: Calibration {
                bins: 10,
                model: crate::calibration::calibration_set(
                    &y,
                    &s.iter().map(|v| v.min(1.0)).collect::<Vec<_>>(),
                    10,
                    0,
                    0,
                )
                .unwrap(),
                platt: None,
                platt_rows: 0,
                calibrated: None,
                withheld: Some("no training split was given to fit it on".into()),
            },
            effects: None,
            training: esteira_train::TrainingSummary {
                data_hash: "ab12cd34ef56ab12cd34".into(),
                rows: 1000,
                outliers_removed: 12,
                class_counts: BTreeMap::from([("APROVADO".into(), 790), ("FALHOU".into(), 198)]),
                selected: esteira_train::GridPoint::LogisticRegression { alpha: 1.0 },
                cv_metric: esteira_train::CvMetric::RocAuc,
                seed: 42,
                metrics: BTreeMap::from([("lof_applied".into(), 1.0), ("cv_best_roc_auc".into(), 0.61)]),
            },
        }
    }

    fn charts() -> Charts {
        let svg = r#"<svg width="10" height="10" viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg"><rect/></svg>"#;
        Charts { confusion: svg.into(), roc: svg.into(), pr: svg.into(), effects: svg.into(), reliability: svg.into() }
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let e = sample_evaluation();
        let html = render_html(&e, &charts());
        assert!(!html.contains("http://") && !html.contains("https://"), "external reference in the report");
        assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("Branca &lt;&amp;&gt;"));
        assert!(html.contains("cidade_origem"));
        assert!(html.contains("majority baseline"));
        assert_eq!(html, render_html(&e, &charts()));
    }

    #[test]
    fn verdict_compares_with_the_baseline() {
        let e = sample_evaluation();
        let v = verdict(&e);
        assert!(v.contains("predicts APROVADO for everyone"), "{v}");
        assert!(v.contains(&f3(e.scores.model.balanced_accuracy)), "{v}");
        assert!(v.contains("ROC AUC is"), "{v}");
    }

    #[test]
    fn metrics_json_round_trips() {
        let e = sample_evaluation();
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"balanced_accuracy\""));
        let back: Evaluation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn report_says_how_the_model_was_trained() {
        let mut e = sample_evaluation();
        let html = render_html(&e, &charts());
        assert!(html.contains("<h2>How the model was trained</h2>"));
        assert!(html.contains("1000 (790 APROVADO, 198 FALHOU after outlier removal)"), "{html}");
        assert!(html.contains("Local Outlier Factor removed 12 rows"));
        assert!(
            html.contains(
                "<code>logistic_regression_alpha_1</code> by k-fold cross-validation on roc auc (mean 0.610)"
            )
        );
        assert!(html.contains("<code>ab12cd34ef56</code>"));
        e.training.metrics.insert("lof_applied".into(), 0.0);
        e.training.metrics.insert("cv_folds".into(), 5.0);
        let html = render_html(&e, &charts());
        assert!(html.contains("none (Local Outlier Factor off)") && html.contains("by 5-fold"));
    }
}
