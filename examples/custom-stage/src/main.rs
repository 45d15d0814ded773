//! `custom-esteira`: the whole `esteira` command line, with the `wordcount` kind added to the
//! shipped ones. This file is all a project of yours needs beside its stages.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    esteira::cli::main_with(esteira_example_custom_stage::register)
}
