//! The stage kinds this binary knows.

use esteira_core::Registry;

/// Every stage kind shipped with esteira.
pub fn default_registry() -> Registry {
    let mut r = Registry::new();
    esteira_checks::register(&mut r);
    r
}
