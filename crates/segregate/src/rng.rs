//! Seeded randomness with algorithms owned here, so a split depends only on the seed and the
//! ChaCha8 stream, never on how a `rand` release implements ranges or shuffles.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A generator for one independent stream of a seed (one per class, so adding a class does not
/// change how the others are split).
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform integer in `0..n` (n > 0), without bias (Lemire's multiply-and-reject).
pub(crate) fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

/// Fisher–Yates.
pub(crate) fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// FNV-1a: a stable hash of a class name, used as its stream number.
pub(crate) fn name_stream(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = stream(7, 0);
        let mut hits = [0u32; 3];
        for _ in 0..30_000 {
            hits[below(&mut rng, 3) as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (9_000..11_000).contains(&h)), "{hits:?}");
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |s| {
            let mut r = stream(1, s);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
        assert_eq!(name_stream(""), 0xcbf2_9ce4_8422_2325);
    }
}
