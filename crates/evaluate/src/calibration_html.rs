//! The report's calibration section: does P(positive) mean what it says, before and after
//! Platt scaling, with the reliability diagram and table.

use std::fmt::Write as _;

use crate::bootstrap::Interval;
use crate::calibration::CalibrationSet;
use esteira_core::escape_html;

use crate::evaluation::Evaluation;
use crate::fmt::f3;

fn ece_text(c: &CalibrationSet) -> String {
    match c.ece_interval {
        Some(Interval { lower, upper, .. }) => format!("{} ({} – {})", f3(c.ece), f3(lower), f3(upper)),
        None => f3(c.ece),
    }
}

/// Why the probabilities may sit off the diagonal: class balancing, said from the training
/// summary and the test split's figures.
fn balancing_note(e: &Evaluation) -> String {
    let c = &e.calibration.model;
    let pos = escape_html(&e.positive_class);
    let weighted = e.training.metrics.contains_key("class_weight_positive");
    let gap = c.mean_predicted - c.observed_rate;
    let how = if weighted {
        "The model was fitted with class weights (as <code>class_weight=\"balanced\"</code>)"
    } else {
        "If the model was fitted on balanced classes (oversampling or class weights), it was"
    };
    format!(
        "{how}: fitting as if both classes were equally frequent pulls every probability towards one half, which \
         helps ranking and a balanced decision but makes P({pos}) wrong as a chance. Here the mean predicted \
         P({pos}) is {} against an observed share of {} ({} by {}).",
        f3(c.mean_predicted),
        f3(c.observed_rate),
        if gap < 0.0 { "under" } else { "over" },
        f3(gap.abs())
    )
}

/// The calibration section; `svg` is the reliability diagram, ready to inline.
pub(crate) fn calibration_section(e: &Evaluation, svg: &str) -> String {
    let c = &e.calibration;
    let pos = escape_html(&e.positive_class);
    let mut o = format!(
        "<h2>Are the probabilities calibrated?</h2>\n<p>A calibrated model's P({pos}) = 0.7 rows pass 70 % of the \
         time. The test rows are put in {} equal-width bins of the predicted probability; the expected \
         calibration error (ECE) is the row-weighted mean gap between each bin's observed share of {pos} and its \
         mean prediction (0 = perfect). {}</p>\n",
        c.bins,
        balancing_note(e)
    );
    match (&c.platt, &c.calibrated) {
        (Some(p), Some(_)) => {
            let _ = writeln!(
                o,
                "<p><strong>Platt scaling</strong>, fitted by maximum likelihood on the {} training rows only \
                 (P<sub>calibrated</sub> = 1 / (1 + e<sup>&minus;({:.4} + {:.4}&middot;logit P)</sup>)), maps the \
                 model's probability to a calibrated chance without changing the order of the rows (ROC AUC and \
                 the ranking are unchanged). <code>serve</code> shows both.</p>",
                c.platt_rows, p.intercept, p.slope
            );
        }
        _ => {
            let _ = writeln!(
                o,
                "<p class=\"note\">No calibrated probability is offered: {}.</p>",
                escape_html(c.withheld.as_deref().unwrap_or("not fitted"))
            );
        }
    }
    o.push_str("<table>\n<tr><th>probability</th><th>mean predicted</th><th>observed share</th><th>ECE (95 % interval)</th><th>Brier score</th><th>log loss</th></tr>\n");
    let mut row = |name: &str, s: &CalibrationSet| {
        let _ = writeln!(
            o,
            "<tr><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            f3(s.mean_predicted),
            f3(s.observed_rate),
            ece_text(s),
            f3(s.brier_score),
            f3(s.log_loss)
        );
    };
    row("model", &c.model);
    if let Some(cal) = &c.calibrated {
        row("Platt-calibrated", cal);
    }
    let _ = write!(
        o,
        "</table>\n<p class=\"note\">ECE intervals: bootstrap resamples of the test rows (percentile method); the \
         bootstrap ECE is biased upwards, so read the interval as how much the figure moves.</p>\n\
         <figure>{svg}<figcaption>Observed share of {pos} against the mean predicted probability per bin; the \
         diagonal is perfect calibration, the bars the rows per bin.</figcaption></figure>\n\
         <details><summary>Reliability table</summary>\n<table>\n<tr><th>bin</th><th>rows</th>\
         <th>mean predicted</th><th>observed share</th>{}</tr>\n",
        if c.calibrated.is_some() {
            "<th>rows (calibrated)</th><th>mean calibrated</th><th>observed share</th>"
        } else {
            ""
        }
    );
    let opt = |v: Option<f64>| v.map_or_else(String::new, f3);
    for (k, b) in c.model.reliability.iter().enumerate() {
        let _ = write!(
            o,
            "<tr><td>[{:.1}, {:.1}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            b.lower,
            b.upper,
            if k + 1 == c.model.reliability.len() { "]" } else { ")" },
            b.count,
            opt(b.mean_predicted),
            opt(b.observed_rate)
        );
        if let Some(cb) = c.calibrated.as_ref().and_then(|cal| cal.reliability.get(k)) {
            let _ = write!(
                o,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                cb.count,
                opt(cb.mean_predicted),
                opt(cb.observed_rate)
            );
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n</details>\n");
    o
}
