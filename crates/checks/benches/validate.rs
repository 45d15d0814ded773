//! Benchmark placeholder: the crate author replaces it.
fn main() {}
