//! A join's figures: the fan-out counts from the rows per key on each side, the error of a
//! declared cardinality that does not hold, and shares for log lines.

use super::{Cardinality, JoinStats};
use crate::DownloadError;
use crate::keys::Group;

/// Fills the fan-out figures of `stats` (and adds the unmatched right rows) from the rows per key
/// on each side: the right table's key groups, and `unmatched[u]` rows for each left key with no
/// match.
pub(super) fn fan_out_stats<'a>(stats: &mut JoinStats, groups: impl Iterator<Item = &'a Group>, unmatched: &[u32]) {
    let (mut extra, mut multiplied, mut matched, mut repeated, mut max) = (0usize, 0usize, 0usize, 0usize, 0u32);
    for g in groups {
        if g.left == 0 {
            stats.unmatched_right_rows += g.rows as usize;
            continue;
        }
        matched += 1;
        repeated += usize::from(g.left > 1);
        max = max.max(g.left);
        if g.rows > 1 {
            multiplied += g.left as usize;
            extra += g.left as usize * (g.rows as usize - 1);
        }
    }
    for &u in unmatched {
        repeated += usize::from(u > 1);
        max = max.max(u);
    }
    stats.matched_keys = matched;
    stats.left_keys = matched + unmatched.len();
    stats.left_keys_repeated = repeated;
    stats.max_left_rows_per_key = max as usize;
    stats.multiplied_left_rows = multiplied;
    stats.extra_rows = extra;
    stats.multiplied = extra > 0;
}

/// A declared cardinality broken on one side: the join, the side, an example key and its rows.
pub(super) fn cardinality_error(
    context: &str,
    validate: Cardinality,
    side: &str,
    table: &str,
    (key, rows): &(String, u32),
    stats: &JoinStats,
) -> DownloadError {
    let (repeated, max) = if side == "left" {
        (stats.left_keys_repeated, stats.max_left_rows_per_key)
    } else {
        (stats.right_keys_repeated, stats.max_right_rows_per_key)
    };
    DownloadError::Join {
        context: context.to_owned(),
        message: format!(
            "validate = \"{}\" needs each key at most once in the {side} table (`{table}`), but {key} has {rows} \
             rows there ({repeated} key(s) repeat, up to {max} rows){}",
            validate.as_str(),
            if side == "right" { "; collapse the input to one row per key with [joins.aggregate]" } else { "" }
        ),
    }
}

/// `part` of `whole` as a percentage with one decimal, for log lines.
pub(super) fn share(part: usize, whole: usize) -> String {
    if whole == 0 { "0 %".to_owned() } else { format!("{:.1} %", 100.0 * part as f64 / whole as f64) }
}
