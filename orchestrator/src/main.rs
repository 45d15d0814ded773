//! The `esteira` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

// jemalloc, not glibc malloc: the stages fan out to rayon, and glibc's per-thread arenas kept what
// one thread freed from serving another. Whole DAG, release, 2 cores, cold (scripts/bench_compare.py):
// scale 100 15.6 s / 1923 MB peak → 13.9 s / 1474 MB; scale 1000 163.9 s / 19.5 GB → 157.0 s /
// 13.2 GB. (mimalloc was tried before and reverted: evaluate at scale 1000 took 2× as long.)
// The cost: ~0.6 ms more start-up on a no-op run (4.8 → 5.4 ms median).
// Its compiled-in options (one arena per CPU) are in .cargo/config.toml, with their figures.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    esteira::cli::main(&esteira::registry::builtin())
}
