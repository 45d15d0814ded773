//! The stage kinds this binary knows.

use esteira_core::Registry;

/// Every stage kind shipped with esteira.
pub fn default_registry() -> Registry {
    let r = Registry::new();
    // Stage crates register here as they land.
    r
}
