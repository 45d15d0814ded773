//! Local Outlier Factor, with scikit-learn's definitions (`LocalOutlierFactor.fit`):
//! reach-dist(a, b) = max(d(a, b), k-distance(b)); lrd(a) = 1 / (mean reach-dist + 1e-10);
//! LOF(a) = mean over neighbours b of lrd(b) / lrd(a). Duplicates are ordinary neighbours at
//! distance 0 (a point is never its own neighbour), which is what scikit-learn does.

use crate::neighbors::KdTree;

/// LOF scores of `n` points of `dim` coordinates (row-major), with `k` neighbours
/// (reduced to `n - 1` when there are fewer points, as scikit-learn does). Higher is more
/// outlying; about 1 means as dense as the neighbours.
pub fn lof_scores(points: &[f64], dim: usize, k: usize) -> Vec<f64> {
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n < 2 || k == 0 {
        return vec![1.0; n];
    }
    let k = k.min(n - 1);
    let tree = KdTree::new(points, dim);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8);
    let chunk = n.div_ceil(threads);
    // Neighbour lists, flattened n x k: each thread fills its own disjoint slice.
    let mut dist = vec![0.0f64; n * k];
    let mut idx = vec![0usize; n * k];
    std::thread::scope(|s| {
        for (t, (dchunk, ichunk)) in dist.chunks_mut(chunk * k).zip(idx.chunks_mut(chunk * k)).enumerate() {
            let tree = &tree;
            s.spawn(move || {
                for (r, (drow, irow)) in dchunk.chunks_mut(k).zip(ichunk.chunks_mut(k)).enumerate() {
                    let i = t * chunk + r;
                    for (slot, (d, j)) in tree.neighbours_of(i, k).into_iter().enumerate() {
                        drow[slot] = d;
                        irow[slot] = j;
                    }
                }
            });
        }
    });
    let kdist: Vec<f64> = (0..n).map(|i| dist[i * k + k - 1]).collect();
    let lrd: Vec<f64> = (0..n)
        .map(|i| {
            let sum: f64 = (0..k).map(|s| dist[i * k + s].max(kdist[idx[i * k + s]])).sum();
            1.0 / (sum / k as f64 + 1e-10)
        })
        .collect();
    (0..n)
        .map(|i| {
            let sum: f64 = (0..k).map(|s| lrd[idx[i * k + s]] / lrd[i]).sum();
            sum / k as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(points: &[(f64, f64)]) -> Vec<f64> {
        points.iter().flat_map(|&(x, y)| [x, y]).collect()
    }

    fn assert_close(got: &[f64], expected: &[f64]) {
        assert_eq!(got.len(), expected.len());
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "point {i}: {g} vs {e}");
        }
    }

    // Expected values from tests/data/lof_fixture.py (scikit-learn 1.9.1:
    // -LocalOutlierFactor(n_neighbors=k).fit(X).negative_outlier_factor_).
    const DISTINCT: [(f64, f64); 15] = [
        (0.0, 0.0),
        (1.0, 0.3),
        (0.4, 1.1),
        (1.7, 1.2),
        (2.3, 0.1),
        (0.9, 2.2),
        (3.1, 1.9),
        (2.6, 3.3),
        (1.4, 3.9),
        (4.2, 0.7),
        (3.8, 2.8),
        (0.2, 3.1),
        (5.0, 4.6),
        (2.0, 2.05),
        (12.0, 9.5),
    ];

    #[test]
    fn scores_equal_scikit_learn_k3() {
        let expected = [
            1.008_245_887_983_100_7,
            1.042_417_594_960_244_3,
            0.999_489_619_793_394_3,
            0.975_997_724_291_838_1,
            1.024_171_876_721_018_2,
            0.980_331_392_740_938_6,
            0.994_810_488_460_541_2,
            1.113_852_312_743_974_1,
            1.080_511_969_912_453_2,
            1.243_039_363_091_043_7,
            1.075_537_576_364_906,
            1.081_685_635_527_503_3,
            1.701_738_708_281_059_6,
            0.905_287_211_258_352_5,
            5.320_211_814_677_639,
        ];
        assert_close(&lof_scores(&flat(&DISTINCT), 2, 3), &expected);
    }

    #[test]
    fn scores_equal_scikit_learn_k5() {
        let expected = [
            1.101_114_202_417_009_7,
            0.966_753_315_567_739_1,
            0.964_657_302_471_889,
            1.000_993_018_803_468_1,
            1.009_251_772_012_623,
            1.038_043_509_447_387_9,
            1.007_564_423_935_897_8,
            1.007_986_631_183_143_8,
            1.083_410_292_720_17,
            1.105_167_147_103_505_2,
            1.130_898_855_883_535_6,
            1.120_910_751_573_227,
            1.538_468_264_407_913_7,
            0.875_405_675_841_203_8,
            4.659_398_954_072_748,
        ];
        let got = lof_scores(&flat(&DISTINCT), 2, 5);
        assert_close(&got, &expected);
        // scikit-learn's "auto" contamination flags exactly these two.
        let flagged: Vec<usize> = (0..got.len()).filter(|&i| got[i] > 1.5).collect();
        assert_eq!(flagged, [12, 14]);
    }

    #[test]
    fn duplicates_behave_as_scikit_learn() {
        let mut pts = vec![(0.0, 0.0); 6];
        pts.extend([(1.0, 1.0); 5]);
        pts.extend([(0.5, 0.25), (3.0, 0.5), (0.0, 2.0), (2.5, 2.5)]);
        let mut expected = vec![1.0; 11];
        expected.extend([5_590_169_944.749_475, 20_615_528_129.088_303, 14_142_135_624.730_951, 15_797_838_457.544_98]);
        assert_close(&lof_scores(&flat(&pts), 2, 4), &expected);
    }

    #[test]
    fn fewer_points_than_k_uses_n_minus_one() {
        let got = lof_scores(&flat(&DISTINCT[..4]), 2, 20);
        let again = lof_scores(&flat(&DISTINCT[..4]), 2, 3);
        assert_eq!(got, again);
    }
}
