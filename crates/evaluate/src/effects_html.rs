//! The report's effects: the inference model's odds ratios with their intervals, as a table, a
//! forest plot and the sentence the verdict adds.

use std::fmt::Write as _;

use esteira_inference::{CoefficientStatus, Covariance, Direction};

use crate::effects::{Effect, Effects};
use esteira_core::escape_html;

/// Effects named in the verdict, at most.
const VERDICT_NAMED: usize = 5;

fn ratio(v: f64) -> String {
    if (0.01..100.0).contains(&v) { format!("{v:.3}") } else { format!("{v:.3e}") }
}

fn p_text(p: f64) -> String {
    if p < 0.001 { "&lt; 0.001".to_owned() } else { format!("{p:.3}") }
}

fn covariance_words(fx: &Effects) -> String {
    match (fx.covariance, &fx.group) {
        (Covariance::Clustered, Some(g)) => format!("clustered by <code>{}</code>", escape_html(g)),
        _ => "naive (rows taken as independent)".to_owned(),
    }
}

/// `name (OR x, a – b)` of an estimated effect.
fn named(e: &Effect, covariance: Covariance) -> Option<String> {
    let u = e.interval(covariance)?;
    Some(format!(
        "{} (odds ratio {}, {} – {})",
        e.label(),
        ratio(e.odds_ratio?),
        ratio(u.odds_ratio_low),
        ratio(u.odds_ratio_high)
    ))
}

/// The verdict's sentence on the effects (plain text; the caller escapes it).
pub(crate) fn effects_verdict(fx: &Effects, pos: &str) -> String {
    let estimated = fx.effects.iter().filter(|e| e.interval(fx.covariance).is_some()).count();
    let mut clear: Vec<&Effect> = fx.distinguishable().collect();
    clear.sort_by(|a, b| {
        let size = |e: &Effect| e.estimate.map_or(0.0, f64::abs);
        size(b).total_cmp(&size(a)).then_with(|| a.name.cmp(&b.name))
    });
    let errors = match (fx.covariance, &fx.group, fx.clusters) {
        (Covariance::Clustered, Some(g), Some(n)) => format!("standard errors clustered by {g} ({n} clusters)"),
        _ => "naive standard errors".to_owned(),
    };
    let mut out = format!(
        "An unpenalised logistic regression on the {} training rows, with {errors}, estimates {estimated} \
         characteristic effects; ",
        fx.rows_used
    );
    if clear.is_empty() {
        let _ = write!(
            out,
            "none has a {:.0} % interval that excludes an odds ratio of 1, so on this data no characteristic is \
             distinguishable from no association with {pos}.",
            100.0 * fx.confidence
        );
    } else {
        let names: Vec<String> = clear.iter().take(VERDICT_NAMED).filter_map(|e| named(e, fx.covariance)).collect();
        let more = clear.len().saturating_sub(VERDICT_NAMED);
        let _ = write!(
            out,
            "{} of them {} a {:.0} % interval that excludes 1 (associations with {pos}, not causes): {}{}. The \
             others are compatible with no association.",
            clear.len(),
            if clear.len() == 1 { "has" } else { "have" },
            100.0 * fx.confidence,
            names.join("; "),
            if more > 0 { format!("; and {more} more") } else { String::new() }
        );
        let holm = fx.effects.iter().filter(|e| e.p_holm.is_some_and(|p| p < 1.0 - fx.confidence)).count();
        let _ = write!(
            out,
            " Corrected for the {estimated} comparisons (Holm), {holm} remain below {:.2}.",
            1.0 - fx.confidence
        );
    }
    if !fx.warnings.is_empty() {
        let _ = write!(
            out,
            " The fit reported {} warning(s), listed in the effects section: separated coefficients are withheld, \
             near-collinear ones keep their (inflated) intervals.",
            fx.warnings.len()
        );
    }
    out
}

fn status_text(e: &Effect) -> &'static str {
    match e.status {
        CoefficientStatus::Estimated => "",
        CoefficientStatus::Aliased => "dropped: a combination of other columns",
        CoefficientStatus::Separated { direction: Direction::Positive } => "not estimated: separation (+inf)",
        CoefficientStatus::Separated { direction: Direction::Negative } => "not estimated: separation (-inf)",
        CoefficientStatus::NotEstimated => "not estimated",
    }
}

/// The effects section: what was fitted, the forest plot (`svg`, ready to inline), the table
/// and the warnings.
pub(crate) fn effects_section(fx: &Effects, positive: &str, svg: &str) -> String {
    let h = escape_html;
    let pos = h(positive);
    let level = format!("{:.0} %", 100.0 * fx.confidence);
    let mut o = format!(
        "<p>The <strong>inference model</strong>: a logistic regression without penalty or class weights, fitted by \
         maximum likelihood on the training split ({rows} rows{clusters}) on the predictive model's own design \
         (one-hot columns against the same reference categories, numeric columns scaled as the model scales \
         them, so a numeric ratio is per standard deviation). Each odds ratio says how the odds of {pos} \
         multiply for the category against its reference, other characteristics held equal. Standard errors \
         are {cov}: a student's enrolments are not independent rows. A <strong>&#10033;</strong> marks an \
         interval that excludes 1; the p-values are adjusted for the number of effects (Holm, and \
         Benjamini&ndash;Hochberg). Associations in this sample, not causes.</p>\n<figure>{svg}<figcaption>Each \
         row: the odds ratio (square) and its {level} interval; grey when the interval includes 1.</figcaption>\
         </figure>\n",
        rows = fx.rows_used,
        clusters = fx.clusters.map_or_else(String::new, |g| format!(", {g} students")),
        cov = covariance_words(fx),
    );
    if !fx.converged {
        o.push_str("<p class=\"note\"><strong>The fit did not converge</strong>; read the numbers with care.</p>\n");
    }
    if !fx.warnings.is_empty() {
        o.push_str("<p class=\"note\">Warnings of the fit:</p>\n<ul class=\"note\">\n");
        for w in &fx.warnings {
            let _ = writeln!(o, "<li>{}</li>", h(&w.to_string()));
        }
        o.push_str("</ul>\n");
    }
    let _ = write!(
        o,
        "<table>\n<tr><th>characteristic</th><th>category</th><th>reference</th><th>odds ratio</th>\
         <th>{level} interval</th><th></th><th>p</th><th>p (Holm)</th><th>p (BH)</th><th>std. error \
         clustered</th><th>std. error naive</th></tr>\n"
    );
    for e in &fx.effects {
        let u = e.interval(fx.covariance);
        let mark = if e.excludes_one(fx.covariance) == Some(true) { "&#10033;" } else { "" };
        let cell = |v: Option<String>| v.unwrap_or_default();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{mark}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td></tr>",
            h(&e.feature),
            h(e.category.as_deref().unwrap_or("(per unit)")),
            h(e.reference.as_deref().unwrap_or("")),
            e.odds_ratio.map_or_else(|| status_text(e).to_owned(), ratio),
            cell(u.map(|u| format!("{} – {}", ratio(u.odds_ratio_low), ratio(u.odds_ratio_high)))),
            cell(u.map(|u| p_text(u.p_value))),
            cell(e.p_holm.map(p_text)),
            cell(e.p_bh.map(p_text)),
            cell(e.clustered.map(|u| format!("{:.4}", u.std_error))),
            cell(e.naive.map(|u| format!("{:.4}", u.std_error))),
        );
    }
    o.push_str("</table>\n");
    if let Some(i) = &fx.intercept
        && let (Some(or), Some(u)) = (i.odds_ratio, i.interval(fx.covariance))
    {
        let _ = writeln!(
            o,
            "<p class=\"note\">Intercept: the odds of {pos} of the reference profile (every one-hot column at its \
             reference, numeric columns at their training mean) are {} ({level} interval {} – {}).</p>",
            ratio(or),
            ratio(u.odds_ratio_low),
            ratio(u.odds_ratio_high)
        );
    }
    if !fx.unseen_categories.is_empty() {
        let list: Vec<String> = fx.unseen_categories.iter().map(|(f, n)| format!("{} ({n})", h(f))).collect();
        let _ = writeln!(
            o,
            "<p class=\"note\">Training rows with a category the model had not kept, encoded as the reference: {}.</p>",
            list.join(", ")
        );
    }
    o
}
