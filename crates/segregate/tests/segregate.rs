//! esteira-segregate's integration tests, one binary: pinned outputs, properties, the stage.

#[path = "segregate/pinned.rs"]
mod pinned;
#[path = "segregate/properties.rs"]
mod properties;
#[path = "segregate/stage.rs"]
mod stage;
