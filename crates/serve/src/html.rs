//! The HTML shell shared by every page: inline CSS, navigation, escaping and number formats.
//! Pages load nothing from elsewhere (no CDN, no fonts, no scripts).

use std::fmt::Write as _;

pub(crate) use esteira_core::escape_html as esc;

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Predict,
    Runs,
    None,
}

const CSS: &str = r"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Ubuntu,sans-serif;color:#1d2430;background:#f4f6f9}
header{background:#12344d;color:#fff;padding:.7rem 1.5rem;display:flex;gap:1.5rem;align-items:baseline;flex-wrap:wrap}
header .brand{font-weight:700;font-size:1.15rem;letter-spacing:.02em}
header a{color:#cfe3f5;text-decoration:none}header a.on{color:#fff;border-bottom:2px solid #7cc0ff}
main{max-width:1200px;margin:1.2rem auto;padding:0 1.2rem}
h1{font-size:1.45rem;margin:.3rem 0 .8rem}h2{font-size:1.15rem;margin:1.2rem 0 .6rem}
.card{background:#fff;border:1px solid #dfe4ea;border-radius:8px;padding:1rem 1.2rem;margin-bottom:1rem;overflow-x:auto}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem}
@media(max-width:800px){.grid{grid-template-columns:1fr}}
form .fields{display:grid;grid-template-columns:1fr 1fr;gap:.7rem 1rem}
@media(max-width:600px){form .fields{grid-template-columns:1fr}}
label{display:block;font-weight:600;font-size:.9rem;margin-bottom:.2rem}
select,input{width:100%;padding:.4rem .5rem;border:1px solid #b8c2cc;border-radius:5px;font:inherit;background:#fff}
.hint{color:#5b6773;font-size:.8rem}
.err{color:#b3261e;font-size:.85rem;font-weight:600}
.field.bad select,.field.bad input{border-color:#b3261e;background:#fff5f4}
button{margin-top:1rem;background:#1565c0;color:#fff;border:0;border-radius:5px;padding:.55rem 1.3rem;font:inherit;font-weight:600;cursor:pointer}
.bar{display:grid;grid-template-columns:9.5rem 1fr 4.5rem;align-items:center;gap:.6rem;margin:.45rem 0}
.track{background:#e7ebef;border-radius:4px;height:1.4rem;overflow:hidden}
.fill{height:100%}.fill.pos{background:#2e7d32}.fill.neg{background:#c62828}.fill.cal{background:#1565c0}
.value{font-weight:700;text-align:right;font-variant-numeric:tabular-nums}
.decision{font-size:1.05rem}.caveat{color:#5b4a00;background:#fff8e1;border-left:4px solid #f0b400;padding:.45rem .7rem;font-size:.88rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e7ec;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.nowrap{white-space:nowrap}
code,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.85em}
.st{display:inline-block;padding:.05rem .45rem;border-radius:9px;font-size:.8rem;font-weight:600;color:#fff}
.st-succeeded,.st-ran{background:#2e7d32}.st-cached{background:#1565c0}.st-failed{background:#c62828}
.st-skipped{background:#78848f}.st-running,.st-interrupted{background:#ef6c00}
.notes{color:#5b6773;font-size:.85rem}
iframe{width:100%;height:640px;border:1px solid #dfe4ea;border-radius:6px;background:#fff}
.dag{overflow-x:auto}.dag svg{display:block}
.timeline{position:relative;height:.7rem;background:#eef1f4;border-radius:3px;min-width:120px}
.timeline span{position:absolute;top:0;bottom:0;border-radius:3px}
pre.error{white-space:pre-wrap;color:#b3261e;margin:.3rem 0 0;font-size:.8rem}
a{color:#1565c0}
";

/// A whole page around `body`.
pub(crate) fn page(title: &str, nav: Nav, body: &str) -> String {
    let on = |n: Nav| if n == nav { " class=\"on\"" } else { "" };
    let mut s = String::with_capacity(body.len() + CSS.len() + 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"pt-BR\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · esteira</title><style>{CSS}</style></head><body>\
         <header><span class=\"brand\">esteira</span>\
         <a href=\"/\"{}>Previsão</a><a href=\"/runs\"{}>Runs</a>\
         <a href=\"/api/model\">Model card (JSON)</a></header><main>{body}</main></body></html>\n",
        esc(title),
        on(Nav::Predict),
        on(Nav::Runs),
    );
    s
}

/// A probability or share in Portuguese style: `73,4 %`.
pub(crate) fn pct_pt(p: f64) -> String {
    format!("{:.1} %", p * 100.0).replace('.', ",")
}

/// A decimal in Portuguese style with `digits` decimals.
pub(crate) fn num_pt(x: f64, digits: usize) -> String {
    format!("{x:.digits$}").replace('.', ",")
}

/// A metric value from a run record for display (numbers with 3 decimals).
pub(crate) fn metric_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f:.3}"),
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "–".to_owned(),
        other => other.to_string(),
    }
}

/// Milliseconds as `350 ms`, `4.2 s` or `3 min 05 s`.
pub(crate) fn duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        "–".to_owned()
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// A status pill.
pub(crate) fn status(s: &str) -> String {
    format!("<span class=\"st st-{0}\">{0}</span>", esc(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(pct_pt(0.7345), "73,5 %");
        assert_eq!(num_pt(0.5, 2), "0,50");
        assert_eq!(duration(350.4), "350 ms");
        assert_eq!(duration(4200.0), "4.2 s");
        assert_eq!(duration(185_000.0), "3 min 05 s");
        assert_eq!(metric_value(&serde_json::json!(12)), "12");
        assert_eq!(metric_value(&serde_json::json!(0.12345)), "0.123");
        let p = page("T<", Nav::Runs, "<p>x</p>");
        assert!(p.contains("<title>T&lt; · esteira</title>") && p.contains("href=\"/runs\" class=\"on\""));
        assert!(!p.contains("http://") && !p.contains("https://"));
    }
}
