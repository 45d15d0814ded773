//! Orchestrator overhead: a no-op `esteira run` of a 10-stage pipeline with everything cached
//! (the whole process: start, parse, key, cache lookups, record, materialise), and the cost of
//! hashing a 1 GB input (cold and through the memo).
//!
//! `cargo bench -p esteira-tests --bench orchestrator` (release). Prints a small table.

use std::process::Command;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut toml = String::from("[pipeline]\nname = \"bench\"\n");
    toml.push_str("[stages.s0]\nkind = \"test.upper\"\ninputs = { in = \"file:in.txt\" }\n");
    for i in 1..10 {
        toml.push_str(&format!("[stages.s{i}]\nkind = \"test.upper\"\ninputs = {{ in = \"s{}.out\" }}\n", i - 1));
    }
    std::fs::write(dir.path().join("esteira.toml"), toml).expect("write pipeline");
    std::fs::write(dir.path().join("in.txt"), "x".repeat(1 << 20)).expect("write input");
    let bin = env!("CARGO_BIN_EXE_esteira-testbed");
    let run = || {
        let t = Instant::now();
        let st = Command::new(bin)
            .args(["run", "-q"])
            .current_dir(dir.path())
            .env("ESTEIRA_LOG", "error")
            .output()
            .expect("spawn");
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        t.elapsed()
    };
    let first = run();
    let mut times: Vec<Duration> = (0..50).map(|_| run()).collect();
    times.sort();
    println!("no-op run, 10 stages, all cached (50 runs after a {:.1} ms first run):", first.as_secs_f64() * 1e3);
    println!(
        "  min {:.2} ms  median {:.2} ms  p90 {:.2} ms",
        times[0].as_secs_f64() * 1e3,
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3
    );

    let big = dir.path().join("big.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        let block: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for _ in 0..1024 {
            f.write_all(&block).expect("write");
        }
    }
    let t = Instant::now();
    let h = esteira_core::ContentHash::of_file(&big).expect("hash");
    let secs = t.elapsed().as_secs_f64();
    println!("hash 1 GiB file (BLAKE3, one thread): {secs:.3} s = {:.0} MiB/s  ({})", 1024.0 / secs, h.short());
    let store = esteira_core::LocalStore::open(dir.path().join("store")).expect("store");
    let t = Instant::now();
    store.import_file(&big).expect("import");
    let secs = t.elapsed().as_secs_f64();
    println!("import 1 GiB into the store (hash + copy + fsync): {secs:.3} s");
    let t = Instant::now();
    store.hash_file_memo(&big).expect("memo");
    println!("re-hash via memo (unchanged file): {:.3} ms", t.elapsed().as_secs_f64() * 1e3);
}
