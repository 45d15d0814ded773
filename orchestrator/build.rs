//! Link options for the `esteira` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // A position-independent executable is relocated by the dynamic loader at every start: for
    // this binary that is 69 k relocations, and a copy-on-write fault on each of the ~250 pages of
    // vtables and constants they write. A fully cached run of a 12-stage pipeline does little
    // else, so linking at a fixed address takes it from 3.5 to 2.6 ms (679 -> 427 page faults,
    // `perf stat -r 30`). The cost is that the binary's own code has no address randomisation
    // (shared libraries, stack and heap still do), as with Go's default builds. Packed relative
    // relocations (`-z pack-relative-relocs`) were measured too and gained nothing: the faults,
    // not the relocation records, are the cost.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target == "x86_64-unknown-linux-gnu" {
        println!("cargo:rustc-link-arg-bin=esteira=-no-pie");
    }
}
