//! `-S/--set STAGE.KEY=VALUE`: params overridden from the command line, applied to the parsed
//! pipeline before the DAG is built, so they are validated by the stage like the file's params
//! and are part of the cache key.

use serde_json::Value;

use super::Pipeline;
use crate::EngineError;

/// One parsed `STAGE.KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The stage name.
    pub stage: String,
    /// The param's path under the stage's params (`lof.k` is `["lof", "k"]`).
    pub path: Vec<String>,
    /// The value, as JSON (the file's TOML params are JSON to the stages too).
    pub value: Value,
}

impl Override {
    /// Parses `STAGE.KEY[.KEY…]=VALUE`; VALUE is a TOML value (`0.1`, `true`, `"text"`,
    /// `[1, 2]`, `{ k = 10 }`), and a bare word that is not one (`latin1`) is taken as text.
    pub fn parse(arg: &str) -> Result<Self, EngineError> {
        let bad = |why: String| EngineError::Usage(format!("--set {}: {why}", esteira_core::excerpt(arg, 120)));
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(bad("expected STAGE.KEY=VALUE".into()));
        };
        let mut parts = key.trim().split('.');
        let stage = parts.next().unwrap_or_default().to_owned();
        let path: Vec<String> = parts.map(str::to_owned).collect();
        if stage.is_empty() || path.is_empty() || path.iter().any(String::is_empty) {
            return Err(bad("expected STAGE.KEY=VALUE (a stage name, then the param's dotted path)".into()));
        }
        let raw = raw.trim();
        let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => {
                let v = t.remove("v").unwrap_or(toml::Value::Boolean(false));
                serde_json::to_value(v).map_err(|e| bad(format!("value: {e}")))?
            }
            Err(_) if is_bare_word(raw) => Value::String(raw.to_owned()),
            Err(e) => return Err(bad(format!("the value is not TOML: {}", e.message().trim()))),
        };
        Ok(Self { stage, path, value })
    }
}

/// A word a user would not think to quote: letters, digits and `-_./:`.
fn is_bare_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "-_./:".contains(c))
}

impl Pipeline {
    /// Applies `--set` overrides to the stages' params, in order (a later one wins). The stage
    /// must be declared; intermediate tables are created; a key under a value that is not a
    /// table is an error naming it.
    pub fn apply_overrides(&mut self, overrides: &[Override]) -> Result<(), EngineError> {
        for o in overrides {
            let shown = format!("{}.{}", o.stage, o.path.join("."));
            let Some(decl) = self.stages.get_mut(&o.stage) else {
                let known: Vec<&str> = self.stages.keys().map(String::as_str).collect();
                return Err(EngineError::Usage(format!(
                    "--set {shown}: no stage `{}` in {} (stages: {})",
                    o.stage,
                    self.path.display(),
                    known.join(", ")
                )));
            };
            let mut at = &mut decl.params;
            for (i, key) in o.path.iter().enumerate() {
                let Value::Object(map) = at else {
                    let parent = o.path[..i].join(".");
                    return Err(EngineError::Usage(format!(
                        "--set {shown}: `{}.{parent}` is not a table, so it has no key `{key}`",
                        o.stage
                    )));
                };
                if i + 1 == o.path.len() {
                    map.insert(key.clone(), o.value.clone());
                    break;
                }
                at = map.entry(key.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;

    const TEXT: &str = r#"
[stages.train]
kind = "train"
[stages.train.params]
alpha = 1.0
lof = { k = 5 }
"#;

    fn pipeline() -> Pipeline {
        Pipeline::parse(Path::new("p.toml"), TEXT.to_owned()).unwrap()
    }

    #[test]
    fn values_are_toml_and_bare_words_are_text() {
        let o = |s: &str| Override::parse(s).unwrap().value;
        assert_eq!(o("train.alpha=0.1"), json!(0.1));
        assert_eq!(o("train.alpha=10"), json!(10));
        assert_eq!(o("train.on=true"), json!(true));
        assert_eq!(o("train.grid=[0.1, 1]"), json!([0.1, 1]));
        assert_eq!(o("merge.encoding=latin1"), json!("latin1"));
        assert_eq!(o(r#"merge.encoding="a b""#), json!("a b"));
        assert_eq!(Override::parse("train.lof.k=10").unwrap().path, ["lof", "k"]);
    }

    #[test]
    fn malformed_overrides_say_what_is_expected() {
        for bad in ["train", "train=1", ".alpha=1", "train.=1", "train..k=1", "train.alpha=[1,", "train.a=x y"] {
            let e = Override::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("--set "), "{bad}: {e}");
        }
    }

    #[test]
    fn overrides_replace_nest_and_name_what_is_wrong() {
        let mut p = pipeline();
        let sets: Vec<Override> = ["train.alpha=0.1", "train.lof.k=10", "train.new.deep=1"]
            .iter()
            .map(|s| Override::parse(s).unwrap())
            .collect();
        p.apply_overrides(&sets).unwrap();
        assert_eq!(p.stages["train"].params, json!({"alpha": 0.1, "lof": {"k": 10}, "new": {"deep": 1}}));

        let e = p.apply_overrides(&[Override::parse("nope.alpha=1").unwrap()]).unwrap_err().to_string();
        assert!(e.contains("no stage `nope`") && e.contains("train"), "{e}");
        let e = p.apply_overrides(&[Override::parse("train.alpha.x=1").unwrap()]).unwrap_err().to_string();
        assert!(e.contains("`train.alpha` is not a table"), "{e}");
    }
}
