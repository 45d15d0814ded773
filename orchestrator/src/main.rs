//! The `esteira` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: see the workspace manifest for the measurement.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    esteira::cli::main(&esteira::registry::builtin())
}
