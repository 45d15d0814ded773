//! Numbers as the report and its sections print them.

/// Three decimals: what every metric, interval and odds ratio on the page shows.
pub(crate) fn f3(v: f64) -> String {
    format!("{v:.3}")
}
