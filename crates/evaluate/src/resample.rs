//! Bootstrap resamples as counts: resample `b` of `n` rows is the `b`-th run of `n` draws of
//! `Uniform(0, n)` from one ChaCha8 stream seeded by the seed, and a [`Visit`] sees how often it
//! drew each row. Drawing `n` indices and reading the rows they name would be `n` random reads
//! into the data a resample; counting first makes those reads one pass in row order (or in
//! any fixed order the visitor chooses), which is what lets 1000 resamples of 250 000 rows run
//! in a second. Resamples run in parallel, each from its own position in the stream, so what a
//! visitor computes is the same bits whatever the thread count.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// How often a resample drew a row.
pub(crate) trait Count: Copy + Default + PartialEq + Into<u64> + Send {
    fn wrapping_increment(self) -> Self;
}

impl Count for u8 {
    fn wrapping_increment(self) -> Self {
        self.wrapping_add(1)
    }
}

impl Count for u32 {
    fn wrapping_increment(self) -> Self {
        self.wrapping_add(1)
    }
}

impl Count for u64 {
    fn wrapping_increment(self) -> Self {
        self.wrapping_add(1)
    }
}

/// What one resample computes from its counts.
pub(crate) trait Visit: Sync {
    /// One resample's result.
    type Out: Send;
    /// Buffers a visit reuses (one per resample in flight).
    type Scratch: Send;
    fn scratch(&self) -> Self::Scratch;
    /// The result of the resample that drew row `i` `counts[i]` times; leaves `counts` all zero.
    fn visit<T: Count>(&self, counts: &mut [T], scratch: &mut Self::Scratch) -> Self::Out;
}

/// The definition: one generator, `n` draws of `Uniform(0, n)` a resample (what [`parallel`]
/// reproduces bit for bit).
#[cfg(test)]
fn sequential<V: Visit>(visitor: &V, n: usize, resamples: usize, seed: u64) -> Vec<V::Out> {
    use rand::distr::{Distribution, Uniform};
    let Ok(rows) = Uniform::new(0, n) else {
        return Vec::new();
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0u64; n];
    let mut scratch = visitor.scratch();
    (0..resamples)
        .map(|_| {
            for _ in 0..n {
                counts[rows.sample(&mut rng)] += 1;
            }
            visitor.visit(&mut counts, &mut scratch)
        })
        .collect()
}

/// Words of the generator one task fills.
const SEGMENT_WORDS: usize = 1 << 16;
/// Resamples whose words are generated together (and then counted in parallel).
pub(crate) const WINDOW: usize = 8;

/// The draws of [`sequential`], with resamples in parallel. A draw of `Uniform(0, n)` (`n`
/// below 2^32) reads one 32-bit word of the ChaCha8 stream: `(w n) >> 32`, unless the low half
/// `(w n) mod 2^32` is below `2^32 mod n`, when the word is rejected and the next one read. So
/// the stream is generated ahead in windows of [`WINDOW`] resamples (segments in parallel, the
/// generator placed by `set_word_pos`), the rare rejected words located, and each resample
/// counts its draws from its own first word: the same draws, the same counts, the same bits.
pub(crate) fn parallel<V: Visit>(visitor: &V, n32: u32, resamples: usize, seed: u64) -> Vec<V::Out> {
    let n = n32 as usize;
    let thresh = n32.wrapping_neg() % n32;
    let mut per = Vec::with_capacity(resamples);
    let mut words: Vec<u32> = Vec::new();
    // One set of buffers per resample of a window, reused by every window (fresh large buffers
    // would be page faults and zeroing each time).
    let mut buffers: Vec<(Vec<u8>, V::Scratch)> =
        (0..WINDOW.min(resamples)).map(|_| (vec![0u8; n], visitor.scratch())).collect();
    let mut position: u128 = 0;
    for first in (0..resamples).step_by(WINDOW) {
        let count = WINDOW.min(resamples - first);
        let (starts, used) = fill_window(seed, position, n, count, thresh, &mut words);
        let window = &words;
        let results: Vec<V::Out> = starts
            .par_iter()
            .zip(buffers.par_iter_mut())
            .map(|(&start, (counts, scratch))| {
                // A row drawn 256 times wraps its count: redo that resample with wide counts.
                if draw(window, start, n32, thresh, counts) {
                    visitor.visit(counts, scratch)
                } else {
                    counts.fill(0);
                    let mut wide = vec![0u32; n];
                    draw(window, start, n32, thresh, &mut wide);
                    visitor.visit(&mut wide, scratch)
                }
            })
            .collect();
        per.extend(results);
        position += used as u128;
    }
    per
}

/// Fills `words` with the stream from word `position` until it holds `count` runs of `n`
/// accepted words; returns where each run starts in `words` and how many words the runs use.
pub(crate) fn fill_window(
    seed: u64,
    position: u128,
    n: usize,
    count: usize,
    thresh: u32,
    words: &mut Vec<u32>,
) -> (Vec<usize>, usize) {
    let n64 = n as u64;
    let rejected = |w: u32| ((u64::from(w) * n64) as u32) < thresh;
    let want = count * n;
    words.clear();
    let mut rejected_at: Vec<usize> = Vec::new();
    loop {
        let accepted = words.len() - rejected_at.len();
        if accepted >= want {
            break;
        }
        // A few words to spare: about one word in 2^32 / n is rejected.
        let missing = want - accepted;
        let old = words.len();
        words.resize(old + missing + missing / 1024 + 16, 0);
        let found: Vec<Vec<usize>> = words[old..]
            .par_chunks_mut(SEGMENT_WORDS)
            .enumerate()
            .map(|(s, out)| {
                let first = old + s * SEGMENT_WORDS;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_word_pos(position + first as u128);
                let mut at = Vec::new();
                for (k, w) in out.iter_mut().enumerate() {
                    *w = rng.next_u32();
                    if rejected(*w) {
                        at.push(first + k);
                    }
                }
                at
            })
            .collect();
        rejected_at.extend(found.into_iter().flatten());
    }
    // Run j starts at accepted word j n: the position p = j n + (rejections before p).
    let mut skipped = 0;
    let mut at = |accepted: usize| {
        while skipped < rejected_at.len() && rejected_at[skipped] <= accepted + skipped {
            skipped += 1;
        }
        accepted + skipped
    };
    let starts = (0..count).map(|j| at(j * n)).collect();
    (starts, at(want))
}

/// Counts the `counts.len()` draws that start at `words[start]` into `counts` (which must be
/// all zero); false if a count wrapped around.
pub(crate) fn draw<T: Count>(words: &[u32], start: usize, n: u32, thresh: u32, counts: &mut [T]) -> bool {
    let mut wrapped = false;
    let mut left = counts.len();
    for &w in &words[start..] {
        if left == 0 {
            break;
        }
        let product = u64::from(w) * u64::from(n);
        if (product as u32) >= thresh {
            let slot = &mut counts[(product >> 32) as usize];
            *slot = slot.wrapping_increment();
            wrapped |= *slot == T::default();
            left -= 1;
        }
    }
    !wrapped
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::distr::{Distribution, Uniform};

    /// The counts themselves, weighted by position so that any difference shows.
    struct Fingerprint;

    impl Visit for Fingerprint {
        type Out = u64;
        type Scratch = ();
        fn scratch(&self) {}
        fn visit<T: Count>(&self, counts: &mut [T], (): &mut ()) -> u64 {
            let mut h = 0u64;
            for (i, c) in counts.iter_mut().enumerate() {
                h = h.wrapping_mul(0x100_0000_01b3).wrapping_add((i as u64 + 1) * (*c).into());
                *c = T::default();
            }
            h
        }
    }

    #[test]
    fn windows_start_where_the_sequential_draws_begin() {
        for (n, resamples, seed) in [(1usize, 3usize, 0u64), (7, 50, 1), (1000, 40, 2), (99_991, 30, 3)] {
            let rows = Uniform::new(0, n).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut expected = Vec::new();
            for _ in 0..resamples {
                expected.push(rng.get_word_pos());
                for _ in 0..n {
                    rows.sample(&mut rng);
                }
            }
            expected.push(rng.get_word_pos());
            let n32 = n as u32;
            let thresh = n32.wrapping_neg() % n32;
            let (mut got, mut words, mut position) = (Vec::new(), Vec::new(), 0u128);
            for first in (0..resamples).step_by(WINDOW) {
                let (starts, used) = fill_window(seed, position, n, WINDOW.min(resamples - first), thresh, &mut words);
                got.extend(starts.iter().map(|&s| position + s as u128));
                position += used as u128;
            }
            got.push(position);
            assert_eq!(got, expected, "n {n}");
        }
    }

    #[test]
    fn parallel_counts_are_the_sequential_ones_whatever_the_threads() {
        // 120k rows: about 2 draws in 100 000 are rejected, so later resamples start past some.
        let n = 120_000;
        let expected = sequential(&Fingerprint, n, 12, 9);
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            assert_eq!(pool.install(|| parallel(&Fingerprint, n as u32, 12, 9)), expected, "{threads} threads");
        }
        for n in [1, 7] {
            assert_eq!(parallel(&Fingerprint, n as u32, 40, 1), sequential(&Fingerprint, n, 40, 1), "n {n}");
        }
        assert_ne!(sequential(&Fingerprint, n, 2, 9), sequential(&Fingerprint, n, 2, 10));
        assert!(sequential(&Fingerprint, 0, 5, 1).is_empty());
    }

    #[test]
    fn a_count_that_wraps_is_noticed() {
        // n = 512 rejects no word (2^32 mod 512 = 0); word 0 draws row 0 every time.
        let words = vec![0u32; 512];
        let mut narrow = vec![0u8; 512];
        assert!(!draw(&words, 0, 512, 0, &mut narrow));
        let mut wide = vec![0u32; 512];
        assert!(draw(&words, 0, 512, 0, &mut wide));
        assert_eq!(wide[0], 512);
        let mut fine = vec![0u8; 512];
        let spread: Vec<u32> = (0..512u32).map(|i| i << 23).collect();
        assert!(draw(&spread, 0, 512, 0, &mut fine));
        assert!(fine.iter().all(|&c| c == 1));
    }
}
