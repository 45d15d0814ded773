//! Small real stages used to test the orchestrator end to end, and the `esteira-testbed`
//! binary: the real `esteira` CLI with these kinds added to its registry.
//!
//! ```
//! let registry = esteira_tests::registry();
//! assert!(registry.kinds().any(|k| k == "test.upper"));
//! ```

#![forbid(unsafe_code)]

use std::time::Duration;

use esteira_core::{OutputSpec, Registry, Stage, StageContext, StageError, StageFactory, params_json, parse_params};
use serde::{Deserialize, Serialize};

/// The shipped registry plus the test kinds.
pub fn registry() -> Registry {
    let mut r = esteira::registry::builtin();
    register(&mut r).expect("the test kinds' names differ from the shipped ones");
    r
}

/// Adds the test kinds to `r`.
pub fn register(r: &mut Registry) -> Result<(), esteira_core::CoreError> {
    r.register(StageFactory {
        kind: "test.source",
        summary: "writes params.text (test)",
        build: |p| build::<Source>(p),
    })?;
    r.register(StageFactory {
        kind: "test.upper",
        summary: "upper-cases its input (test)",
        build: |p| build::<Upper>(p),
    })?;
    r.register(StageFactory {
        kind: "test.concat",
        summary: "joins inputs a and b (test)",
        build: |p| build::<Concat>(p),
    })?;
    r.register(StageFactory {
        kind: "test.sleep",
        summary: "sleeps, then copies (test)",
        build: |p| build::<Sleep>(p),
    })?;
    r.register(StageFactory {
        kind: "test.nondet",
        summary: "writes the clock: nondeterministic on purpose (test)",
        build: |p| build::<Nondet>(p),
    })?;
    r.register(StageFactory {
        kind: "test.fail",
        summary: "always fails, optionally after writing its output (test)",
        build: |p| build::<Fail>(p),
    })?;
    Ok(())
}

trait TestStage: Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static {
    const KIND: &'static str;
    fn inputs(&self) -> Vec<String>;
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError>;
    fn version() -> &'static str {
        "1"
    }
}

struct Wrap<T>(T);

fn build<T: TestStage>(p: serde_json::Value) -> Result<Box<dyn Stage>, esteira_core::CoreError> {
    Ok(Box::new(Wrap(parse_params::<T>(T::KIND, p)?)))
}

impl<T: TestStage> Stage for Wrap<T> {
    fn kind(&self) -> &'static str {
        T::KIND
    }
    fn version(&self) -> &'static str {
        T::version()
    }
    fn inputs(&self) -> Vec<String> {
        self.0.inputs()
    }
    fn outputs(&self) -> Vec<OutputSpec> {
        vec![OutputSpec::new("out", "txt")]
    }
    fn params(&self) -> serde_json::Value {
        params_json(&self.0)
    }
    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        self.0.go(ctx)
    }
}

/// Writes `text`; `note` does not change the output (for early-cutoff tests).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    text: String,
    #[serde(default)]
    note: String,
}

impl TestStage for Source {
    const KIND: &'static str = "test.source";
    fn inputs(&self) -> Vec<String> {
        vec![]
    }
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        ctx.write_bytes("out", self.text.as_bytes())?;
        ctx.metric("chars", self.text.chars().count());
        Ok(())
    }
}

/// Upper-cases input `in`, appending `suffix`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upper {
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    times: u32,
}

/// `ESTEIRA_TEST_UPPER_VERSION=2` makes `test.upper` version 2, and `ESTEIRA_TEST_UPPER_BANG=1`
/// makes it append `!`: another esteira's stage, as `reproduce --bundle` meets it elsewhere.
fn upper_env(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

impl TestStage for Upper {
    const KIND: &'static str = "test.upper";
    fn version() -> &'static str {
        if std::env::var("ESTEIRA_TEST_UPPER_VERSION").is_ok_and(|v| v == "2") { "2" } else { "1" }
    }
    fn inputs(&self) -> Vec<String> {
        vec!["in".into()]
    }
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let text = String::from_utf8(ctx.read_bytes("in")?)?;
        let mut out = format!("{}{}", text.to_uppercase(), self.suffix.repeat(self.times.max(1) as usize));
        if upper_env("ESTEIRA_TEST_UPPER_BANG") {
            out.push('!');
        }
        ctx.write_bytes("out", out.as_bytes())?;
        Ok(())
    }
}

/// Joins inputs `a` and `b` with a newline.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Concat {}

impl TestStage for Concat {
    const KIND: &'static str = "test.concat";
    fn inputs(&self) -> Vec<String> {
        vec!["a".into(), "b".into()]
    }
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let mut a = ctx.read_bytes("a")?;
        a.push(b'\n');
        a.extend(ctx.read_bytes("b")?);
        ctx.write_bytes("out", &a)?;
        Ok(())
    }
}

/// Sleeps `ms`, then copies input `in`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sleep {
    ms: u64,
    /// Fail after sleeping (a sweep's failing variant); left out of the params when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    fail: bool,
}

impl TestStage for Sleep {
    const KIND: &'static str = "test.sleep";
    fn inputs(&self) -> Vec<String> {
        vec!["in".into()]
    }
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let data = ctx.read_bytes("in")?;
        let mut w = ctx.create_output("out")?;
        // Write half, sleep, write the rest: a kill in between leaves a partial temp file.
        let half = data.len() / 2;
        std::io::Write::write_all(&mut w, &data[..half])?;
        std::thread::sleep(Duration::from_millis(self.ms));
        if self.fail {
            return Err(StageError::msg("asked to fail (fail = true)"));
        }
        std::io::Write::write_all(&mut w, &data[half..])?;
        ctx.commit_output(w)?;
        Ok(())
    }
}

/// Writes the current time: a deliberately nondeterministic stage.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nondet {}

impl TestStage for Nondet {
    const KIND: &'static str = "test.nondet";
    fn inputs(&self) -> Vec<String> {
        vec!["in".into()]
    }
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        ctx.write_bytes("out", nanos.to_string().as_bytes())?;
        Ok(())
    }
}

/// Fails with `message`, after writing `write` to its output when given (a stage that fails
/// after writing some of its outputs, like a failed `check`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fail {
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    write: Option<String>,
}

impl TestStage for Fail {
    const KIND: &'static str = "test.fail";
    fn inputs(&self) -> Vec<String> {
        vec!["in".into()]
    }
    fn go(&self, ctx: &mut StageContext) -> Result<(), StageError> {
        if let Some(text) = &self.write {
            ctx.write_bytes("out", text.as_bytes())?;
        }
        Err(StageError::msg(&self.message))
    }
}
