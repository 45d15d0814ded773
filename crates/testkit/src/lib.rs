//! esteira-testkit: what esteira's tests and benchmarks share and no library needs. A dev
//! dependency only.
//!
//! - [`XorShift`]: the seeded generator behind the fixtures of the pinned-output tests and the
//!   benchmark tables. Its sequence is part of those fixtures: changing it changes the pinned
//!   hashes, so it never changes.
//! - [`pairwise_auc`]: ROC AUC by its definition, to check models in tests without the code
//!   under test.
//! - [`used_bytes`] and [`mb`]: how benchmarks report table sizes.
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
