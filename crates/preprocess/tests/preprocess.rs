//! esteira-preprocess' integration tests, one binary: pinned outputs, the stage, the steps.

#[path = "preprocess/pinned.rs"]
mod pinned;
#[path = "preprocess/stage.rs"]
mod stage;
#[path = "preprocess/steps.rs"]
mod steps;
