//! The run browser: the list of runs and one run's DAG, stages, outputs and reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use esteira_core::{RunRecord, StageRecord, StageStatus};

use crate::html::{Nav, duration, esc, metric_value, page, status};
use crate::record::{EVALUATE_KIND, model_output, stages_in_order};

/// Metrics shown in the run list, from the evaluate stage.
const HEADLINE: [(&str, &str); 3] =
    [("balanced_accuracy", "Bal. acc."), ("roc_auc", "ROC AUC"), ("accuracy", "Accuracy")];

/// Wall time of a run, from its stages' end offsets.
fn run_ms(run: &RunRecord) -> f64 {
    run.stages.values().map(|s| s.end_ms).fold(0.0, f64::max)
}

fn evaluate_stage(run: &RunRecord) -> Option<&StageRecord> {
    stages_in_order(run).into_iter().map(|(_, s)| s).find(|s| s.kind == EVALUATE_KIND && !s.metrics.is_empty())
}

/// The `/runs` page, newest first.
pub(crate) fn list_page(runs: &[RunRecord], served_run: Option<&str>) -> String {
    let mut b = String::from("<h1>Runs</h1>");
    if runs.is_empty() {
        b.push_str("<div class=\"card\"><p>No runs in this store yet: <code>esteira run</code> records one.</p></div>");
        return page("Runs", Nav::Runs, &b);
    }
    b.push_str(
        "<div class=\"card\"><table id=\"runs\"><tr><th>Run</th><th>Started (UTC)</th><th>Status</th><th>Time</th>\
         <th>Stages</th>",
    );
    for (key, name) in HEADLINE {
        let _ = write!(b, "<th title=\"{}\">{}</th>", esc(key), esc(name));
    }
    b.push_str("<th>Model</th></tr>");
    for run in runs.iter().rev() {
        let counts: Vec<String> = ["ran", "cached", "failed", "skipped"]
            .iter()
            .filter_map(|k| run.counts().get(k).map(|n| format!("{n}&nbsp;{k}")))
            .collect();
        let served = if served_run == Some(run.id.as_str()) { " <span class=\"notes\">(served)</span>" } else { "" };
        let _ = write!(
            b,
            "<tr><td class=\"nowrap\"><a class=\"mono run-link\" href=\"/runs/{0}\">{0}</a>{served}</td>\
             <td class=\"nowrap\">{1}</td><td>{2}</td><td class=\"num\">{3}</td><td class=\"stage-counts\">{4}</td>",
            esc(&run.id),
            esc(&run.started_at.replace('T', " ").replace('Z', "")),
            status(run.status.as_str()),
            duration(run_ms(run)),
            counts.join(", "),
        );
        let ev = evaluate_stage(run);
        for (m, _) in HEADLINE {
            let v = ev.and_then(|s| s.metrics.get(m)).map_or_else(|| "–".to_owned(), metric_value);
            let _ = write!(b, "<td class=\"num\">{}</td>", esc(&v));
        }
        let model = stages_in_order(run)
            .into_iter()
            .find_map(|(_, s)| model_output(s))
            .map_or_else(|| "–".to_owned(), |h| format!("<code>{}</code>", h.short()));
        let _ = write!(b, "<td>{model}</td></tr>");
    }
    b.push_str("</table></div>");
    page("Runs", Nav::Runs, &b)
}

/// The stage a `stage.output` input source points at, if it is a stage of this run.
fn upstream<'a>(run: &RunRecord, source: &'a str) -> Option<&'a str> {
    let (stage, _) = source.rsplit_once('.')?;
    run.stages.contains_key(stage).then_some(stage)
}

/// An SVG drawing of the DAG: one column per depth, boxes coloured by status, links to the
/// stage rows below.
fn dag_svg(run: &RunRecord) -> String {
    let stages = stages_in_order(run);
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    // Longest path from a source; passes until stable so a record whose order is not
    // topological still gets a layout (bounded by the stage count).
    for _ in 0..=stages.len() {
        let mut changed = false;
        for (name, s) in &stages {
            let d = s
                .input_sources
                .values()
                .filter_map(|src| upstream(run, src))
                .map(|u| depth.get(u).map_or(1, |d| d + 1))
                .max()
                .unwrap_or(0);
            let d = d.min(stages.len());
            if depth.get(name) != Some(&d) {
                depth.insert(name, d);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let (bw, bh, gx, gy, pad) = (150.0, 40.0, 46.0, 14.0, 8.0);
    let mut rows_in: BTreeMap<usize, usize> = BTreeMap::new();
    let mut pos: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (name, _) in &stages {
        let d = depth.get(name).copied().unwrap_or(0);
        let r = rows_in.entry(d).or_insert(0);
        pos.insert(name, (pad + d as f64 * (bw + gx), pad + *r as f64 * (bh + gy)));
        *r += 1;
    }
    let width = pad * 2.0 + rows_in.len() as f64 * (bw + gx) - gx;
    let height = pad * 2.0 + rows_in.values().copied().max().unwrap_or(1) as f64 * (bh + gy) - gy;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" \
         role=\"img\" aria-label=\"pipeline DAG\" font-family=\"system-ui,sans-serif\" font-size=\"12\">"
    );
    for (name, st) in &stages {
        let Some(&(x2, y2)) = pos.get(name) else { continue };
        let mut seen = Vec::new();
        for src in st.input_sources.values() {
            let Some(u) = upstream(run, src) else { continue };
            if seen.contains(&u) {
                continue;
            }
            seen.push(u);
            let Some(&(x1, y1)) = pos.get(u) else { continue };
            let (ax, ay, bx, by) = (x1 + bw, y1 + bh / 2.0, x2, y2 + bh / 2.0);
            let mx = f64::midpoint(ax, bx);
            let _ = write!(
                s,
                "<path d=\"M{ax:.1} {ay:.1} C{mx:.1} {ay:.1} {mx:.1} {by:.1} {bx:.1} {by:.1}\" fill=\"none\" stroke=\"#8a96a3\" stroke-width=\"1.5\"/>"
            );
        }
    }
    for (name, st) in &stages {
        let Some(&(x, y)) = pos.get(name) else { continue };
        let fill = match st.status.as_str() {
            "ran" => "#2e7d32",
            "cached" => "#1565c0",
            "failed" => "#c62828",
            _ => "#78848f",
        };
        let short: String = name.chars().take(20).collect();
        let _ = write!(
            s,
            "<a href=\"#stage-{0}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw}\" height=\"{bh}\" rx=\"6\" fill=\"{fill}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty1:.1}\" fill=\"#fff\" font-weight=\"600\">{1}</text>\
             <text x=\"{tx:.1}\" y=\"{ty2:.1}\" fill=\"#e8eef4\" font-size=\"10.5\">{2} · {3}</text><title>{0}: {3}</title></a>",
            esc(name),
            esc(&short),
            esc(&st.kind),
            st.status.as_str(),
            tx = x + 8.0,
            ty1 = y + 17.0,
            ty2 = y + 32.0,
        );
    }
    s.push_str("</svg>");
    s
}

fn viewable(file: &str) -> bool {
    [".html", ".svg", ".json", ".txt", ".csv"].iter().any(|e| file.ends_with(e))
}

/// The `/runs/{id}` page.
pub(crate) fn run_page(run: &RunRecord, served_model: Option<&str>) -> String {
    let total = run_ms(run);
    let mut b = format!(
        "<h1>Run <span class=\"mono\" id=\"run-id\">{}</span> {}</h1>",
        esc(&run.id),
        status(run.status.as_str())
    );
    let counts = run.counts();
    let count_text: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = write!(
        b,
        "<div class=\"card\"><table>\
         <tr><th>Pipeline</th><td><code>{}</code> <span class=\"notes\">config <code>{}</code></span></td></tr>\
         <tr><th>Command</th><td><code>{}</code></td></tr>\
         <tr><th>Started / ended (UTC)</th><td>{} / {}</td></tr>\
         <tr><th>Wall time</th><td>{}</td></tr>\
         <tr><th>Stages</th><td>{}</td></tr>\
         <tr><th>Host, esteira version</th><td>{}, {}</td></tr></table></div>",
        esc(&run.pipeline),
        run.config_hash.short(),
        esc(&run.command),
        esc(&run.started_at),
        esc(run.ended_at.as_deref().unwrap_or("–")),
        duration(total),
        esc(&count_text.join(", ")),
        esc(&run.host),
        esc(&run.esteira_version),
    );
    if let Some(sweep) = &run.sweep {
        let which = sweep
            .variant
            .map_or_else(|| "the sweep's own run (every variant)".to_owned(), |v| format!("variant {}", v + 1));
        let _ = write!(b, "<p>Part of sweep <a href=\"/sweeps/{n}\">{n}</a>: {which}.</p>", n = esc(&sweep.name));
    }
    let _ = write!(b, "<h2>DAG</h2><div class=\"card dag\">{}</div>", dag_svg(run));
    b.push_str(
        "<h2>Stages</h2><div class=\"card\"><table id=\"stages\"><tr><th>Stage</th><th>Kind</th><th>Status</th>\
         <th>Time</th><th>Timeline</th><th>Inputs</th><th>Outputs</th><th>Metrics</th></tr>",
    );
    let scale = if total > 0.0 { 100.0 / total } else { 0.0 };
    for (name, s) in stages_in_order(run) {
        let _ = write!(
            b,
            "<tr id=\"stage-{0}\"><td><strong>{0}</strong></td><td><code>{1}</code></td><td>{2}</td><td class=\"num\">{3}</td>\
             <td><div class=\"timeline\"><span class=\"st-{4}\" style=\"left:{5:.2}%;width:{6:.2}%\"></span></div></td><td>",
            esc(name),
            esc(&s.kind),
            status(s.status.as_str()),
            duration(s.end_ms - s.start_ms),
            s.status.as_str(),
            (s.start_ms * scale).clamp(0.0, 100.0),
            ((s.end_ms - s.start_ms) * scale).clamp(0.3, 100.0),
        );
        for (input, src) in &s.input_sources {
            let target = upstream(run, src)
                .map_or_else(|| esc(src), |u| format!("<a href=\"#stage-{}\">{}</a>", esc(u), esc(src)));
            let _ = write!(b, "<div><code>{}</code> ← {target}</div>", esc(input));
        }
        b.push_str("</td><td>");
        if s.status == StageStatus::Failed && !s.outputs.is_empty() {
            b.push_str("<div class=\"notes kept\">written before the stage failed</div>");
        }
        for (out, hash) in &s.outputs {
            let file = s.output_files.get(out).cloned().unwrap_or_else(|| out.clone());
            let view = if viewable(&file) { format!(" <a href=\"/artifacts/{hash}\">view</a>") } else { String::new() };
            let model = if served_model == Some(hash.to_hex().as_str()) {
                " <span class=\"notes\">(served)</span>"
            } else {
                ""
            };
            let _ = write!(
                b,
                "<div><a href=\"/artifacts/{hash}?download=1\" download=\"{0}\">{0}</a>{view} <code title=\"{hash}\">{1}</code>{model}</div>",
                esc(&file),
                hash.short(),
            );
        }
        b.push_str("</td><td class=\"notes\">");
        for (k, v) in s.metrics.iter().take(8) {
            let _ = write!(b, "<div>{} = {}</div>", esc(k), esc(&metric_value(v)));
        }
        if s.metrics.len() > 8 {
            let _ = write!(b, "<div>… {} more</div>", s.metrics.len() - 8);
        }
        b.push_str("</td></tr>");
        if let Some(e) = &s.error {
            let _ = write!(b, "<tr><td></td><td colspan=\"7\"><pre class=\"error\">{}</pre></td></tr>", esc(e));
        }
    }
    b.push_str("</table></div>");
    for (name, s) in stages_in_order(run) {
        let Some(hash) = s.outputs.get("report") else { continue };
        let _ = write!(
            b,
            "<h2>Report of <code>{0}</code> ({1})</h2><iframe class=\"report\" src=\"/artifacts/{hash}\" sandbox title=\"report of {0}\" loading=\"lazy\"></iframe>",
            esc(name),
            esc(&s.kind),
        );
    }
    page(&format!("Run {}", run.id), Nav::Runs, &b)
}

/// A 404 page.
pub(crate) fn not_found_page(what: &str) -> String {
    page(
        "Not found",
        Nav::None,
        &format!(
            "<h1>Not found</h1><div class=\"card\"><p id=\"not-found\">{}</p><p><a href=\"/runs\">All runs</a> · <a href=\"/\">Previsão</a></p></div>",
            esc(what)
        ),
    )
}
