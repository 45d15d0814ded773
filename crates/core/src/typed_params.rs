//! [`Params`]: a stage's typed params, parsed and serialised in one place, so the JSON in its
//! cache key is made once, when the stage is built, and a value that cannot be serialised is an
//! error then, never a `null` in the key.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CoreError;

/// A stage's params: the typed value the stage reads (through `Deref`) and its canonical JSON
/// ([`Stage::params`](crate::Stage::params) returns [`Params::json`]).
///
/// ```
/// use esteira_core::Params;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Upper { #[serde(default)] suffix: String }
///
/// let p: Params<Upper> = Params::parse("my.upper", serde_json::json!({ "suffix": "!" }))?;
/// assert_eq!(p.suffix, "!");
/// assert_eq!(p.json(), serde_json::json!({ "suffix": "!" }));
/// let e = Params::<Upper>::parse("my.upper", serde_json::json!({ "suffix": 3 })).err().unwrap();
/// assert!(e.to_string().contains("suffix"), "{e}");
/// # Ok::<(), esteira_core::CoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Params<P> {
    typed: P,
    json: serde_json::Value,
}

impl<P: Serialize> Params<P> {
    /// Params a stage settled on (after defaults or normalisation): serialised now; a value
    /// serde cannot write as JSON (a map with non-string keys, a float that is not finite) is a
    /// [`CoreError::Param`] naming its key.
    pub fn new(kind: &str, typed: P) -> Result<Self, CoreError> {
        let json = serde_path_to_error::serialize(&typed, serde_json::value::Serializer).map_err(|e| {
            let key = crate::excerpt(&e.path().to_string(), crate::MAX_EXCERPT_CHARS).into_owned();
            let message = format!("cannot be written into the cache key: {}", e.into_inner());
            CoreError::Param { kind: kind.to_owned(), key, message }
        })?;
        if json.is_null() {
            return Err(CoreError::Param {
                kind: kind.to_owned(),
                key: ".".into(),
                message: "the params serialise to null: a stage's params are a table".into(),
            });
        }
        Ok(Self { typed, json })
    }

    /// The canonical JSON, defaults filled in: part of the cache key.
    pub fn json(&self) -> serde_json::Value {
        self.json.clone()
    }

    /// The typed value.
    pub fn get(&self) -> &P {
        &self.typed
    }
}

impl<P: Serialize + DeserializeOwned> Params<P> {
    /// Parses a params table ([`crate::parse_params`]: errors name the bad key) and serialises
    /// it back ([`Params::new`]).
    pub fn parse(kind: &str, value: serde_json::Value) -> Result<Self, CoreError> {
        Self::new(kind, crate::parse_params(kind, value)?)
    }
}

impl<P> std::ops::Deref for Params<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.typed
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    struct Bad {
        ok: u32,
        by_pair: BTreeMap<(u8, u8), u8>,
    }

    #[test]
    fn params_that_cannot_be_serialised_are_an_error_naming_the_key() {
        let bad = Bad { ok: 1, by_pair: BTreeMap::from([((1, 2), 3)]) };
        let e = Params::new("k", bad).err().unwrap();
        let CoreError::Param { key, message, .. } = e else { panic!("{e}") };
        assert_eq!(key, "by_pair");
        assert!(message.contains("cannot be written into the cache key"), "{message}");
        assert!(Params::new("k", ()).is_err(), "unit serialises to null");
    }
}
