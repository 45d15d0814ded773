//! Where something is written in the pipeline file: a param's position from TOML's own spans
//! (`toml::de::DeTable` keeps one for every key and value), and line/column of a byte offset.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// One step of a param path: a table key or an array index.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `joins[1].input` -> `joins`, `[1]`, `input`.
fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(Step::Key(name));
        }
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']').unwrap_or((rest, ""));
            match index.parse() {
                Ok(i) => out.push(Step::Index(i)),
                Err(_) => return out,
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

fn member<'t, 'i>(
    table: &'t DeTable<'i>,
    name: &str,
) -> Option<(&'t Spanned<toml::de::DeString<'i>>, &'t Spanned<DeValue<'i>>)> {
    table.iter().find(|(k, _)| k.get_ref().as_ref() == name)
}

/// The byte offset of param `key` of stage `stage` in `text`: of its key, or of the element for
/// a final index; of the deepest step found when the rest is not there (a missing field is
/// reported at its table). `None` when the stage's params are not in the file at all (or the
/// text is not TOML).
pub(crate) fn param_offset(text: &str, stage: &str, key: &str) -> Option<usize> {
    let doc = DeTable::parse(text).ok()?;
    let DeValue::Table(stages) = member(doc.get_ref(), "stages")?.1.get_ref() else { return None };
    let DeValue::Table(decl) = member(stages, stage)?.1.get_ref() else { return None };
    let (params_key, params) = member(decl, "params")?;
    let mut at = params_key.span().start;
    let mut value = params;
    for step in steps(key) {
        let next = match (step, value.get_ref()) {
            (Step::Key(name), DeValue::Table(t)) => member(t, name).map(|(k, v)| (k.span().start, v)),
            (Step::Index(i), DeValue::Array(a)) => a.get(i).map(|v| (v.span().start, v)),
            _ => None,
        };
        let Some((offset, v)) = next else { break };
        at = offset;
        value = v;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"[stages.merge]
kind = "merge"
[[stages.merge.params.joins]]
input = "a"
on = { column = "x" }
[[stages.merge.params.joins]]
input = "b"
on = { column = "y" }

[stages.train.params]
lof = { k = 10, column = "z" }
"#;

    fn at(stage: &str, key: &str) -> (usize, usize) {
        line_column(FILE, param_offset(FILE, stage, key).unwrap())
    }

    #[test]
    fn a_repeated_key_is_found_in_its_own_table() {
        assert_eq!(at("merge", "joins[1].on.column"), (8, 8));
        assert_eq!(at("merge", "joins[0].on.column"), (5, 8));
        assert_eq!(at("merge", "joins[1].input"), (7, 1));
        assert_eq!(at("train", "lof.column"), (11, 17));
        assert_eq!(at("train", "lof.k"), (11, 9));
    }

    #[test]
    fn what_is_not_there_is_located_at_the_deepest_step_found() {
        assert_eq!(at("train", "lof.missing"), (11, 1));
        assert_eq!(at("merge", "joins[5].input"), at("merge", "joins"));
        assert_eq!(param_offset(FILE, "nope", "x"), None);
    }

    #[test]
    fn paths_and_positions() {
        assert_eq!(
            steps("joins[1].on.column"),
            [Step::Key("joins"), Step::Index(1), Step::Key("on"), Step::Key("column")]
        );
        assert_eq!(steps("m[0][2]"), [Step::Key("m"), Step::Index(0), Step::Index(2)]);
        assert_eq!(line_column("ab\ncdé f", 8), (2, 5));
    }
}
