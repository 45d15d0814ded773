//! Passes the target triple to the crate (cargo gives it to build scripts only): run records
//! carry it, so a run that does not reproduce on another machine says what that machine was.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=ESTEIRA_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
