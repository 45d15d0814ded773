//! The `esteira` CLI with the test stage kinds registered, for end-to-end tests.

use std::process::ExitCode;

fn main() -> ExitCode {
    esteira::cli::main(&esteira_tests::registry())
}
