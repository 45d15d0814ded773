//! esteira-testkit: what esteira's tests and benchmarks share and no library needs. A dev
//! dependency only.
//!
//! - [`XorShift`]: the seeded generator behind the fixtures of the pinned-output tests and the
//!   benchmark tables. Its sequence is part of those fixtures: changing it changes the pinned
//!   hashes, so it never changes.
//! - [`pairwise_auc`]: ROC AUC by its definition, to check models in tests without the code
//!   under test.
//! - [`bench_rows`], [`Phase`], [`used_bytes`], [`mb`]: how the table benchmarks pick their size,
//!   measure one phase (wall and thread CPU time, resident memory) and print it.
//! - [`procstat`]: this process's memory and this thread's CPU time from `/proc`, for the
//!   benchmarks' figures (a test kit's tool, not a library's).
//! - [`s3`]: the S3 server the remote-cache tests talk to (loopback only) and its keys.
//! - [`slurm`]: whether the Slurm the executor tests submit to is there.
//!
//! ```
//! use esteira_testkit::XorShift;
//!
//! let mut rng = XorShift(0x1234_5678_9abc_def1);
//! let a = rng.next_u64();
//! assert_eq!(XorShift(0x1234_5678_9abc_def1).next_u64(), a);
//! assert!((0.0..1.0).contains(&rng.next_f64()));
//! assert!(["F", "M"].contains(&rng.pick(&["F", "M"])));
//! assert_eq!(esteira_testkit::pairwise_auc(&[true, false, true], &[0.9, 0.5, 0.5]), 0.75);
//! ```
#![forbid(unsafe_code)]

pub mod procstat;
pub mod s3;
pub mod slurm;

use std::time::{Duration, Instant};

use crate::procstat::{memory, reset_peak_rss, thread_cpu_ns};
use arrow::array::RecordBatch;

/// xorshift64*: a tiny deterministic generator for fixture data (not for anything statistical).
/// The state must not be 0.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform number in [0, 1) from the top 53 bits of [`XorShift::next_u64`].
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One of `items` (`next_u64` modulo the length).
    ///
    /// # Panics
    /// If `items` is empty.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// ROC AUC by its definition: the share of (positive, negative) pairs the scores `p` order
/// right, ties counting half. O(n²): for test-sized inputs.
pub fn pairwise_auc(labels: &[bool], p: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                pairs += 1.0;
                wins += match p[i].partial_cmp(&p[j]) {
                    Some(std::cmp::Ordering::Greater) => 1.0,
                    Some(std::cmp::Ordering::Equal) => 0.5,
                    _ => 0.0,
                };
            }
        }
    }
    wins / pairs
}

/// Bytes of the Arrow buffers the rows of `batches` use (not builders' spare capacity).
pub fn used_bytes(batches: &[RecordBatch]) -> u64 {
    batches.iter().flat_map(RecordBatch::columns).map(|c| c.to_data().get_slice_memory_size().unwrap_or(0) as u64).sum()
}

/// Bytes in megabytes (10^6), as the benchmarks print them.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Rows for a table benchmark: `ROWS` from the environment, else `full` under `cargo bench`
/// (which passes `--bench`) and 100 000 otherwise (a smoke run, e.g. `cargo test --benches`).
pub fn bench_rows(full: usize) -> usize {
    let bench = std::env::args().any(|a| a == "--bench");
    std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(if bench { full } else { 100_000 })
}

/// One measured phase of a benchmark, started after its input is built.
#[derive(Debug)]
pub struct Phase {
    baseline: u64,
    before: u64,
    reset: bool,
    cpu_start: u64,
    start: Instant,
}

/// What a [`Phase`] measured.
#[derive(Debug, Clone, Copy)]
pub struct PhaseReport {
    /// Wall time.
    pub wall: Duration,
    /// CPU seconds of the measuring thread.
    pub cpu: f64,
    /// Resident bytes before the input was built, before and after the phase, and at the peak.
    pub baseline: u64,
    /// Resident bytes when the phase started.
    pub before: u64,
    /// Resident bytes when it ended.
    pub after: u64,
    /// Peak resident bytes (of the phase alone when `reset`).
    pub peak: u64,
    /// Whether the peak could be reset at the start, so it is the phase's own.
    pub reset: bool,
}

impl Phase {
    /// Starts measuring; `baseline` is the resident memory read before the input was built.
    pub fn start(baseline: u64) -> Self {
        let reset = reset_peak_rss();
        let (before, _) = memory();
        Self { baseline, before, reset, cpu_start: thread_cpu_ns(), start: Instant::now() }
    }

    /// Stops measuring.
    pub fn finish(self) -> PhaseReport {
        let wall = self.start.elapsed();
        let cpu = thread_cpu_ns().saturating_sub(self.cpu_start) as f64 / 1e9;
        let (after, peak) = memory();
        PhaseReport { wall, cpu, baseline: self.baseline, before: self.before, after, peak, reset: self.reset }
    }
}

impl PhaseReport {
    /// The time line: wall time, per row, and CPU time.
    pub fn print_time(&self, rows: usize) {
        println!(
            "  wall time       {:.3} s ({:.0} ns/row); CPU time on this thread {:.3} s",
            self.wall.as_secs_f64(),
            self.wall.as_nanos() as f64 / rows.max(1) as f64,
            self.cpu
        );
    }

    /// The memory lines, the peak as a multiple of the input table's `table_bytes`.
    pub fn print_memory(&self, table_bytes: u64) {
        println!("  RSS baseline    {:.1} MB (before generating the table)", mb(self.baseline));
        println!("  RSS before      {:.1} MB", mb(self.before));
        println!(
            "  peak RSS        {:.1} MB; above baseline {:.2}x the input table{}",
            mb(self.peak),
            self.peak.saturating_sub(self.baseline) as f64 / table_bytes.max(1) as f64,
            if self.reset { "" } else { " (high-water mark not reset: includes generating the table)" }
        );
        println!("  RSS after       {:.1} MB", mb(self.after));
    }
}
