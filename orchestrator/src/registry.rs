//! The stage kinds shipped with esteira: the registry the `esteira` binary runs with, and the one
//! an embedding binary adds its own kinds to (see [`crate::cli::main_with`]).

use esteira_core::{CoreError, Registry};

/// Registers every stage kind shipped with esteira into `registry`.
///
/// Fails with [`CoreError::DuplicateKind`] when `registry` already has a kind of one of those
/// names: a user's kind never silently replaces a shipped one, nor the reverse.
pub fn register_builtin(registry: &mut Registry) -> Result<(), CoreError> {
    esteira_download::register(registry)?;
    esteira_checks::register(registry)?;
    esteira_preprocess::register(registry)?;
    esteira_segregate::register(registry)?;
    esteira_train::register(registry)?;
    esteira_evaluate::register(registry)?;
    esteira_command::register(registry)?;
    esteira_inference::register(registry)?;
    Ok(())
}

/// A registry holding every stage kind shipped with esteira.
pub fn builtin() -> Registry {
    let mut r = Registry::new();
    // Into an empty registry only two shipped crates claiming one name can clash: a bug in this
    // workspace, which the test below catches, never something a user's input can cause.
    register_builtin(&mut r).expect("the shipped stage kinds have distinct names");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_kinds_have_distinct_names() {
        let kinds: Vec<_> = builtin().kinds().collect();
        for k in ["fetch", "merge", "check", "preprocess", "segregate", "train", "evaluate", "command", "compare"] {
            assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
        }
    }

    #[test]
    fn a_user_kind_named_like_a_shipped_one_is_refused() {
        let mut r = builtin();
        let err = r
            .register(esteira_core::StageFactory {
                kind: "train",
                summary: "a user's train",
                build: |_| Err(CoreError::Run("never built".into())),
            })
            .err()
            .expect("a second registration is refused");
        assert!(matches!(&err, CoreError::DuplicateKind { kind } if kind == "train"), "{err:?}");
        // The shipped kind is still the one pipelines get.
        assert_ne!(r.get("train").unwrap().summary, "a user's train");
        // And the shipped kinds refuse to go into a registry that already has one of their names.
        let mut user_first = Registry::new();
        user_first
            .register(esteira_core::StageFactory {
                kind: "merge",
                summary: "",
                build: |_| Err(CoreError::Run("x".into())),
            })
            .unwrap();
        let err = register_builtin(&mut user_first).expect_err("a second registration is refused");
        assert!(err.to_string().contains("`merge`"), "{err}");
    }
}
