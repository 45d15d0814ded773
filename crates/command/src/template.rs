//! Placeholders in `run`, `env` and `version_cmd`: `{inputs.NAME}`, `{outputs.NAME}`, and `{{` /
//! `}}` for literal braces (the rules of Rust's `format!` and Python's `str.format`).

use esteira_core::{MAX_EXCERPT_CHARS, excerpt, name_problem};

/// One piece of a parsed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text copied as is (braces already unescaped).
    Lit(String),
    /// `{inputs.NAME}`: the input's path in the scratch directory.
    Input(String),
    /// `{outputs.NAME}`: where the program must write the output.
    Output(String),
}

/// A string with its placeholders found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `s`. The error says what is wrong without repeating more than an excerpt of it.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                lit.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                lit.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err("a lone `}`: write `}}` for a literal `}`".into());
            } else {
                let Some(end) = tail.find('}') else {
                    return Err(format!(
                        "`{}` is not closed: write `{{{{` for a literal `{{`",
                        excerpt(tail, MAX_EXCERPT_CHARS)
                    ));
                };
                let inner = &tail[1..end];
                let piece = placeholder(inner)?;
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(piece);
                rest = &tail[end + 1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Self { pieces })
    }

    /// The pieces, in order.
    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Whether the string has no placeholder.
    pub(crate) fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }

    /// The string with each placeholder replaced by `path(piece)`.
    pub(crate) fn render(&self, path: impl Fn(&Piece) -> String) -> String {
        let mut s = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(t) => s.push_str(t),
                other => s.push_str(&path(other)),
            }
        }
        s
    }
}

fn placeholder(inner: &str) -> Result<Piece, String> {
    let shown = || format!("{{{}}}", excerpt(inner, MAX_EXCERPT_CHARS));
    let (what, name) = inner.split_once('.').unwrap_or((inner, ""));
    let piece = match what {
        "inputs" => Piece::Input(name.to_owned()),
        "outputs" => Piece::Output(name.to_owned()),
        _ => {
            return Err(format!(
                "unknown placeholder `{}`: the placeholders are `{{inputs.NAME}}` and `{{outputs.NAME}}`; \
                 write `{{{{` and `}}}}` for literal braces",
                shown()
            ));
        }
    };
    if let Some(problem) = name_problem(name) {
        return Err(format!("placeholder `{}`: the name {problem}", shown()));
    }
    Ok(piece)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Piece {
        Piece::Lit(s.into())
    }

    #[test]
    fn placeholders_and_escapes() {
        let t = Template::parse("--in={inputs.table}:{outputs.out}").unwrap();
        assert_eq!(t.pieces(), [lit("--in="), Piece::Input("table".into()), lit(":"), Piece::Output("out".into())]);
        let t = Template::parse("awk '{{print $1}}' {inputs.a}").unwrap();
        assert_eq!(t.pieces(), [lit("awk '{print $1}' "), Piece::Input("a".into())]);
        assert!(Template::parse("plain").unwrap().is_literal());
        assert!(Template::parse("").unwrap().pieces().is_empty());
        let r = t.render(|p| match p {
            Piece::Input(n) => format!("in/{n}"),
            _ => String::new(),
        });
        assert_eq!(r, "awk '{print $1}' in/a");
    }

    #[test]
    fn bad_placeholders_are_named() {
        let e = Template::parse("{params.x}").unwrap_err();
        assert!(e.contains("unknown placeholder `{params.x}`"), "{e}");
        let e = Template::parse("{inputs}").unwrap_err();
        assert!(e.contains("`{inputs}`") && e.contains("must not be empty"), "{e}");
        let e = Template::parse("{inputs.../etc}").unwrap_err();
        assert!(e.contains("only ASCII letters"), "{e}");
        let e = Template::parse("a { b").unwrap_err();
        assert!(e.contains("not closed"), "{e}");
        let e = Template::parse("a } b").unwrap_err();
        assert!(e.contains("lone `}`"), "{e}");
        let huge = format!("{{{}}}", "x".repeat(1 << 20));
        assert!(Template::parse(&huge).unwrap_err().len() < 1_000);
    }
}
