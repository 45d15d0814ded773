//! The stage kinds this binary knows.

use esteira_core::Registry;

/// Every stage kind shipped with esteira.
pub fn default_registry() -> Registry {
    let mut r = Registry::new();
    esteira_download::register(&mut r);
    esteira_checks::register(&mut r);
    esteira_preprocess::register(&mut r);
    esteira_segregate::register(&mut r);
    esteira_train::register(&mut r);
    esteira_evaluate::register(&mut r);
    esteira_command::register(&mut r);
    esteira_inference::register(&mut r);
    r
}
