//! The self-contained HTML report: inline CSS and SVG, no scripts, no network.

use std::fmt::Write as _;

use serde_json::Value;

use crate::profile::{Chart, ColumnProfile};
use crate::result::{ExpectationResult, ValidationResult};

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}\
h1{margin:0 0 .3rem 0}h2{margin-top:2rem}\
.verdict{padding:1rem 1.2rem;border-radius:6px;color:#fff}.pass{background:#2e7d32}.fail{background:#c62828}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}\
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#eee}tr.bad td{background:#fdecea}\
.ok{color:#2e7d32;font-weight:600}.ko{color:#c62828;font-weight:600}\
code{font-size:.82rem;word-break:break-word}.muted{color:#777}\
.cols{display:flex;flex-wrap:wrap;gap:1rem}\
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}\
figcaption{font-size:.85rem;margin-bottom:.3rem}svg text{font-size:10px;fill:#444}";

pub use esteira_core::escape_html as escape;

fn short(v: &Value, max: usize) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn expected_text(r: &ExpectationResult) -> String {
    let kw = &r.expectation_config.kwargs;
    let parts: Vec<String> = kw
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "column" | "result_format" | "include_config" | "catch_exceptions" | "meta")
        })
        .map(|(k, v)| format!("{k}={}", short(v, 160)))
        .collect();
    parts.join("; ")
}

fn observed_text(r: &ExpectationResult) -> String {
    if r.exception_info.raised_exception {
        return format!("error: {}", r.exception_info.exception_message.as_deref().unwrap_or("?"));
    }
    if let Some(v) = r.observed_value() {
        return short(v, 200);
    }
    match (r.unexpected_count(), r.result.get("element_count").and_then(Value::as_u64)) {
        (Some(u), Some(n)) => {
            let pct = r.result.get("unexpected_percent").and_then(Value::as_f64).map(fmt_num).unwrap_or_default();
            format!("{u} unexpected of {n} ({pct} %)")
        }
        _ => String::new(),
    }
}

fn unexpected_text(r: &ExpectationResult) -> String {
    match r.result.get("partial_unexpected_counts") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .take(10)
            .map(|i| {
                format!(
                    "{} ×{}",
                    short(i.get("value").unwrap_or(&Value::Null), 40),
                    i.get("count").unwrap_or(&Value::Null)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

fn histogram_svg(min: f64, max: f64, counts: &[u64]) -> String {
    let (w, h, base) = (260.0, 90.0, 72.0);
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = w / counts.len().max(1) as f64;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">");
    for (i, &c) in counts.iter().enumerate() {
        let bh = c as f64 / top * (base - 4.0);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1976d2\"><title>{c}</title></rect>",
            i as f64 * bw + 0.5,
            base - bh,
            (bw - 1.0).max(0.5),
            bh
        );
    }
    let _ = write!(
        s,
        "<line x1=\"0\" y1=\"{base}\" x2=\"{w}\" y2=\"{base}\" stroke=\"#999\"/>\
         <text x=\"0\" y=\"86\">{}</text><text x=\"{w}\" y=\"86\" text-anchor=\"end\">{}</text></svg>",
        escape(&fmt_num(min)),
        escape(&fmt_num(max))
    );
    s
}

fn bars_svg(values: &[(String, u64)], other: u64) -> String {
    let mut rows: Vec<(String, u64)> = values.to_vec();
    if other > 0 {
        rows.push(("(other)".into(), other));
    }
    let top = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let (w, label_w, row_h) = (260.0, 100.0, 14.0);
    let h = rows.len() as f64 * row_h + 2.0;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">");
    for (i, (label, c)) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let bw = *c as f64 / top * (w - label_w - 40.0);
        let shown: String = label.chars().take(16).collect();
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#1976d2\"><title>{}: {c}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\">{c}</text>",
            label_w - 4.0,
            y + 10.5,
            escape(&shown),
            y + 2.0,
            row_h - 3.0,
            escape(label),
            label_w + bw + 3.0,
            y + 10.5
        );
    }
    s.push_str("</svg>");
    s
}

/// Renders a validation result as one self-contained HTML page: the verdict, one row per
/// expectation (expected, observed, unexpected samples) and a small chart per profiled column
/// (see [`crate::profile_columns`]; pass `&[]` for none). Deterministic: same inputs, same bytes.
pub fn render_html(result: &ValidationResult, columns: &[ColumnProfile]) -> String {
    let st = &result.statistics;
    let (class, verdict) = if result.success { ("pass", "PASSED") } else { ("fail", "FAILED") };
    let suite = escape(result.suite_name());
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{verdict}: {suite}</title><style>{CSS}</style></head><body>\n\
         <header class=\"verdict {class}\"><h1>{verdict} — {suite}</h1>\
         <p>{} of {} expectations met ({}){}</p></header>\n",
        st.successful_expectations,
        st.evaluated_expectations,
        st.success_percent.map_or_else(|| "n/a".to_owned(), |p| format!("{} %", fmt_num(p))),
        match (result.meta.get("table_rows"), result.meta.get("table_columns")) {
            (Some(r), Some(c)) => format!(" · table of {r} rows × {c} columns"),
            _ => String::new(),
        }
    );
    h.push_str(
        "<h2>Expectations</h2>\n<table><thead><tr><th>#</th><th>Status</th><th>Expectation</th><th>Column</th>\
         <th>Expected</th><th>Observed</th><th>Unexpected (sample)</th></tr></thead><tbody>\n",
    );
    for (i, r) in result.results.iter().enumerate() {
        let (row_class, status) = if r.success {
            ("", "<span class=\"ok\">✓ pass</span>")
        } else {
            (" class=\"bad\"", "<span class=\"ko\">✗ fail</span>")
        };
        let _ = writeln!(
            h,
            "<tr{row_class}><td>{i}</td><td>{status}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td>\
             <td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(&r.expectation_config.expectation_type),
            escape(r.expectation_config.column().unwrap_or("")),
            escape(&expected_text(r)),
            escape(&observed_text(r)),
            escape(&unexpected_text(r)),
        );
    }
    h.push_str("</tbody></table>\n");
    if !columns.is_empty() {
        h.push_str("<h2>Columns</h2>\n<div class=\"cols\">\n");
        for c in columns {
            let chart = match &c.chart {
                Chart::Histogram { min, max, counts } => histogram_svg(*min, *max, counts),
                Chart::Bars { values, other } => bars_svg(values, *other),
                Chart::Empty => "<p class=\"muted\">no values to chart</p>".to_owned(),
            };
            let _ = writeln!(
                h,
                "<figure><figcaption><strong>{}</strong> <span class=\"muted\">{} · {} rows · {} missing{}</span>\
                 </figcaption>{chart}</figure>",
                escape(&c.name),
                escape(&c.type_name),
                c.rows,
                c.missing,
                c.distinct.map(|d| format!(" · {d} distinct")).unwrap_or_default(),
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str(
        "<p class=\"muted\">Generated by esteira-checks (Great Expectations-compatible results).</p>\n</body></html>\n",
    );
    h
}
