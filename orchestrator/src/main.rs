//! The `esteira` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    esteira::cli::main(&esteira::registry::builtin())
}
