//! The Stage contract: what every stage crate implements, and the registry the orchestrator
//! builds stages from.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{CoreError, StageContext};

/// One declared output of a stage: a name, and the file extension people see when the output
/// is materialised under `artifacts/latest/<stage>/<name>.<ext>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OutputSpec {
    /// The output's name, unique within the stage (`table`, `report`, `model`).
    pub name: String,
    /// File extension without the dot (`parquet`, `json`, `html`, `csv`).
    pub ext: String,
    /// What the output is, when that is more than its file type ([`media::MODEL`]): consumers
    /// such as `esteira serve` find it by this, whatever stage kind produced it. Recorded in the
    /// run record's `output_media`.
    pub media: Option<String>,
}

impl OutputSpec {
    /// An output named `name` with extension `ext`.
    pub fn new(name: impl Into<String>, ext: impl Into<String>) -> Self {
        Self { name: name.into(), ext: ext.into(), media: None }
    }

    /// The same output, declared to be a `media` ([`media::MODEL`], …).
    #[must_use]
    pub fn with_media(mut self, media: impl Into<String>) -> Self {
        self.media = Some(media.into());
        self
    }

    /// `name.ext`: the file name used when materialising.
    pub fn file_name(&self) -> String {
        if self.ext.is_empty() { self.name.clone() } else { format!("{}.{}", self.name, self.ext) }
    }
}

/// Media kinds: what an output is, for the consumers that look for one (see [`OutputSpec::media`]).
pub mod media {
    /// A fitted model in `esteira-train`'s model JSON: what `esteira serve` and `predict` load.
    pub const MODEL: &str = "model";
}

/// The error a stage returns: any error of the stage's own crate, boxed.
///
/// Like `anyhow::Error`, it deliberately does not implement `std::error::Error` itself, so that
/// `?` converts every crate's error into it.
pub struct StageError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl StageError {
    /// A plain message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string().into())
    }

    /// The boxed error.
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self.0
    }

    /// The error and its sources, joined with `: `.
    pub fn chain(&self) -> String {
        let mut s = self.0.to_string();
        let mut cur = self.0.source();
        while let Some(e) = cur {
            let next = e.to_string();
            if !s.contains(&next) {
                s.push_str(": ");
                s.push_str(&next);
            }
            cur = e.source();
        }
        s
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for StageError {
    fn from(e: E) -> Self {
        Self(Box::new(e))
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain())
    }
}

impl fmt::Debug for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// One step of a pipeline.
///
/// Invariants (see ARCHITECTURE.md): outputs are a pure function of (kind, version, params,
/// input contents); a stage reads and writes only through its [`StageContext`]; `run` is
/// synchronous and is called on a blocking thread, so CPU-bound work never stalls the async
/// executor. The trait is object safe: the DAG holds `Box<dyn Stage>`.
pub trait Stage: Send + Sync {
    /// The stage kind, e.g. `"segregate"`: the key in the [`Registry`].
    fn kind(&self) -> &'static str;

    /// The implementation version. Bump it when the same params and inputs would now produce
    /// different bytes: it is part of the cache key.
    fn version(&self) -> &'static str;

    /// The named inputs this stage needs (may depend on params, e.g. a merge of N tables).
    fn inputs(&self) -> Vec<String>;

    /// The outputs this stage writes; every one must be written by a successful `run`.
    fn outputs(&self) -> Vec<OutputSpec>;

    /// The params as canonical JSON, defaults filled in: part of the cache key.
    fn params(&self) -> serde_json::Value;

    /// Whether the stage reads something outside its declared inputs (a URL, a file named in
    /// a param), so it must run even on a cache hit. Such a stage sees its previous record via
    /// [`StageContext::previous`] and may call [`StageContext::reuse_previous`].
    fn volatile(&self) -> bool {
        false
    }

    /// Does the work.
    fn run(&self, ctx: &mut StageContext) -> Result<(), StageError>;
}

/// Deserialises a stage's params table into its typed form. Errors name the offending key
/// path and what was expected.
pub fn parse_params<P: DeserializeOwned>(kind: &str, value: serde_json::Value) -> Result<P, CoreError> {
    let value = if value.is_null() { serde_json::Value::Object(serde_json::Map::new()) } else { value };
    serde_path_to_error::deserialize::<_, P>(value).map_err(|e| {
        // serde repeats the offending value: a huge string must not become a huge message.
        let key = crate::excerpt(&e.path().to_string(), crate::MAX_EXCERPT_CHARS).into_owned();
        let message = crate::excerpt(&e.into_inner().to_string(), 2 * crate::MAX_EXCERPT_CHARS).into_owned();
        CoreError::Param { kind: kind.to_owned(), key, message }
    })
}

/// Serialises typed params back to JSON (for [`Stage::params`]); `null` when they cannot be,
/// which [`Registry::build`] refuses. [`crate::Params`] does this once, when the stage is
/// built, and names the key that failed.
pub fn params_json<P: Serialize>(params: &P) -> serde_json::Value {
    serde_json::to_value(params).unwrap_or(serde_json::Value::Null)
}

/// Builds a stage of one kind from its params.
pub type BuildFn = fn(serde_json::Value) -> Result<Box<dyn Stage>, CoreError>;

/// How to build one stage kind.
#[derive(Clone)]
pub struct StageFactory {
    /// The kind, as written in pipeline files.
    pub kind: &'static str,
    /// One line saying what the stage does (shown by `esteira exec --list`).
    pub summary: &'static str,
    /// The constructor.
    pub build: BuildFn,
}

/// The set of stage kinds an orchestrator knows.
#[derive(Default, Clone)]
pub struct Registry {
    kinds: BTreeMap<&'static str, StageFactory>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a kind. A kind that is already registered is refused ([`CoreError::DuplicateKind`])
    /// and the registry is left as it was: silently replacing it would let a user's stage shadow
    /// a shipped one (or the reverse) and change what every pipeline using the name runs.
    pub fn register(&mut self, factory: StageFactory) -> Result<&mut Self, CoreError> {
        match self.kinds.entry(factory.kind) {
            std::collections::btree_map::Entry::Occupied(_) => {
                Err(CoreError::DuplicateKind { kind: factory.kind.to_owned() })
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(factory);
                Ok(self)
            }
        }
    }

    /// Builds a stage. An unknown kind is an error listing the known ones.
    pub fn build(&self, kind: &str, params: serde_json::Value) -> Result<Box<dyn Stage>, CoreError> {
        match self.kinds.get(kind) {
            Some(f) => {
                let stage = (f.build)(params)?;
                // The key is made of these: a stage whose params did not serialise (a
                // `params_json` that fell back to null) must not run under a key that ignores
                // them.
                if !stage.params().is_object() {
                    return Err(CoreError::Param {
                        kind: kind.to_owned(),
                        key: ".".to_owned(),
                        message: "the stage's params did not serialise to a table (a value JSON cannot hold?); \
                                  build them with esteira_core::Params, which names the key"
                            .to_owned(),
                    });
                }
                Ok(stage)
            }
            None => Err(CoreError::Param {
                kind: kind.to_owned(),
                key: "kind".to_owned(),
                message: format!("unknown stage kind (known kinds: {})", self.kinds().collect::<Vec<_>>().join(", ")),
            }),
        }
    }

    /// The known kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }

    /// The factory of one kind.
    pub fn get(&self, kind: &str) -> Option<&StageFactory> {
        self.kinds.get(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct P {
        #[allow(dead_code, reason = "only deserialised")]
        fraction: f64,
    }

    #[test]
    fn a_huge_param_value_is_cut_in_the_message() {
        let huge = "x".repeat(1 << 20);
        let e = parse_params::<P>("k", serde_json::json!({ "fraction": huge })).unwrap_err().to_string();
        assert!(e.contains("fraction") && e.len() < 2_000, "{} bytes", e.len());
        let e = parse_params::<P>("k", serde_json::json!({ huge.clone(): 1 })).unwrap_err().to_string();
        assert!(e.len() < 2_000, "{} bytes", e.len());
    }

    #[test]
    fn param_errors_name_the_key() {
        let err = parse_params::<P>("segregate", serde_json::json!({"fraction": "x"})).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("param `fraction`"), "{msg}");
        assert!(msg.contains("expected f64"), "{msg}");
    }

    #[test]
    fn unknown_kind_lists_known() {
        let mut r = Registry::new();
        r.register(StageFactory { kind: "a", summary: "", build: |_| Err(CoreError::Run("x".into())) }).unwrap();
        let msg = r.build("zzz", serde_json::Value::Null).err().unwrap().to_string();
        assert!(msg.contains("known kinds: a"), "{msg}");
    }

    #[test]
    fn a_kind_registered_twice_is_refused_naming_it() {
        let mut r = Registry::new();
        r.register(StageFactory { kind: "a", summary: "first", build: |_| Err(CoreError::Run("first".into())) })
            .unwrap();
        let err = r
            .register(StageFactory { kind: "a", summary: "second", build: |_| Err(CoreError::Run("second".into())) })
            .err()
            .expect("a second registration is refused");
        assert!(matches!(&err, CoreError::DuplicateKind { kind } if kind == "a"), "{err:?}");
        assert!(err.to_string().contains("`a`"), "{err}");
        // The first registration is kept.
        assert_eq!(r.get("a").unwrap().summary, "first");
        assert_eq!(r.kinds().count(), 1);
    }

    /// A stage whose params fell back to `null` (`params_json` of a value JSON cannot hold).
    struct NullParams;

    impl Stage for NullParams {
        fn kind(&self) -> &'static str {
            "n"
        }
        fn version(&self) -> &'static str {
            "1"
        }
        fn inputs(&self) -> Vec<String> {
            Vec::new()
        }
        fn outputs(&self) -> Vec<OutputSpec> {
            Vec::new()
        }
        fn params(&self) -> serde_json::Value {
            let by_pair = BTreeMap::from([((1u8, 2u8), 3u8)]);
            params_json(&by_pair)
        }
        fn run(&self, _: &mut StageContext) -> Result<(), StageError> {
            Ok(())
        }
    }

    #[test]
    fn a_stage_whose_params_do_not_serialise_is_refused() {
        let mut r = Registry::new();
        r.register(StageFactory { kind: "n", summary: "", build: |_| Ok(Box::new(NullParams)) }).unwrap();
        let err = r.build("n", serde_json::json!({})).err().expect("refused");
        assert!(err.to_string().contains("did not serialise to a table"), "{err}");
    }

    #[test]
    fn stage_error_chains_sources() {
        let io = std::io::Error::other("disk full");
        let e: StageError = CoreError::io("/x", io).into();
        assert!(e.to_string().contains("disk full"));
    }
}
