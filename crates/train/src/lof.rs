//! Local Outlier Factor, with scikit-learn's definitions (`LocalOutlierFactor.fit`):
//! reach-dist(a, b) = max(d(a, b), k-distance(b)); lrd(a) = 1 / (mean reach-dist + 1e-10);
//! LOF(a) = mean over neighbours b of lrd(b) / lrd(a). Duplicates are ordinary neighbours at
//! distance 0 (a point is never its own neighbour), which is what scikit-learn does.
//!
//! A point's `k` neighbours are its own duplicates first, then the nearest other points; of
//! points at the same distance across the k-th neighbour, the lower indices (rows) are taken
//! (scikit-learn leaves that choice to its tree). Identical points then have identical
//! neighbourhoods, so the work is done once per distinct point, with its multiplicity: the
//! training table's numeric columns (integer ages, whole incomes) repeat a lot.

use rayon::prelude::*;

use crate::neighbors::KdTree;

/// Rows grouped by distinct point: the rows of point `u` are `rows[starts[u]..starts[u + 1]]`,
/// increasing.
struct Members {
    starts: Vec<usize>,
    rows: Vec<usize>,
}

impl Members {
    fn of(&self, u: usize) -> &[usize] {
        &self.rows[self.starts[u]..self.starts[u + 1]]
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Groups rows by the point each stands at (`point[row]`, below `points`), dropping points
    /// no row stands at: the kept points' old numbers, and the groups.
    fn group(point: impl Fn(usize) -> usize, rows: usize, points: usize) -> (Vec<usize>, Self) {
        let mut count = vec![0usize; points];
        for r in 0..rows {
            count[point(r)] += 1;
        }
        let kept: Vec<usize> = (0..points).filter(|&u| count[u] > 0).collect();
        let mut new_id = vec![usize::MAX; points];
        let mut starts = Vec::with_capacity(kept.len() + 1);
        starts.push(0);
        for (id, &u) in kept.iter().enumerate() {
            new_id[u] = id;
            starts.push(starts[id] + count[u]);
        }
        let mut next = starts.clone();
        let mut members = vec![0usize; rows];
        for r in 0..rows {
            let id = new_id[point(r)];
            members[next[id]] = r;
            next[id] += 1;
        }
        (kept, Self { starts, rows: members })
    }
}

/// Distinct points of `points` (`dim` coordinates each, row-major): their coordinates and the
/// point of each row. -0.0 and 0.0 are one coordinate (their distances are equal).
fn distinct(points: &[f64], dim: usize, n: usize) -> (Vec<f64>, Vec<usize>) {
    let key = |i: usize| &points[i * dim..(i + 1) * dim];
    let mut order: Vec<usize> = (0..n).collect();
    order.par_sort_unstable_by(|&a, &b| {
        key(a)
            .iter()
            .zip(key(b))
            .map(|(x, y)| (x + 0.0).total_cmp(&(y + 0.0)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let same = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x == y);
    let (mut coords, mut point) = (Vec::new(), vec![0usize; n]);
    let mut distinct_points = 0;
    for (k, &i) in order.iter().enumerate() {
        if k == 0 || !same(key(order[k - 1]), key(i)) {
            coords.extend(key(i).iter().map(|&x| x + 0.0));
            distinct_points += 1;
        }
        point[i] = distinct_points - 1;
    }
    (coords, point)
}

/// One distinct point's neighbours: (distinct point, rows taken from it, distance).
type Neighbours = Vec<(u32, u32, f64)>;

/// The `k` neighbours of every row of distinct point `u` and its k-distance.
fn neighbourhood(tree: &KdTree<'_>, members: &Members, mult: &[u32], u: usize, k: usize) -> (Neighbours, f64) {
    let own = (members.of(u).len() - 1).min(k);
    let mut list: Neighbours = Vec::new();
    if own > 0 {
        list.push((u as u32, own as u32, 0.0));
    }
    let need = k - own;
    if need == 0 {
        return (list, 0.0);
    }
    let mut found = Vec::new();
    tree.covering(u, need, mult, &mut found);
    let mut left = need;
    let mut g = 0;
    while g < found.len() && left > 0 {
        // Points at one distance; all of them fit, or the lowest rows among them are taken.
        let d2 = found[g].0;
        let end = g + found[g..].iter().take_while(|c| c.0 == d2).count();
        let group = &found[g..end];
        let rows: usize = group.iter().map(|c| mult[c.1] as usize).sum();
        let dist = d2.sqrt();
        if rows <= left {
            list.extend(group.iter().map(|c| (c.1 as u32, mult[c.1], dist)));
            left -= rows;
        } else {
            let mut lowest: Vec<(usize, usize)> =
                group.iter().flat_map(|c| members.of(c.1).iter().take(left).map(move |&r| (r, c.1))).collect();
            lowest.sort_unstable();
            let mut taken: Vec<(usize, u32)> = Vec::new();
            for &(_, v) in &lowest[..left] {
                match taken.iter_mut().find(|t| t.0 == v) {
                    Some(t) => t.1 += 1,
                    None => taken.push((v, 1)),
                }
            }
            taken.sort_unstable();
            list.extend(taken.into_iter().map(|(v, c)| (v as u32, c, dist)));
            left = 0;
        }
        g = end;
    }
    let kdist = list.last().map_or(0.0, |l| l.2);
    (list, kdist)
}

/// LOF scores of `n` points of `dim` coordinates (row-major), with `k` neighbours
/// (reduced to `n - 1` when there are fewer points, as scikit-learn does). Higher is more
/// outlying; about 1 means as dense as the neighbours. The same for any thread count.
pub fn lof_scores(points: &[f64], dim: usize, k: usize) -> Vec<f64> {
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n < 2 || k == 0 {
        return vec![1.0; n];
    }
    let (coords, point) = distinct(points, dim, n);
    lof_scores_at(&coords, dim, |r| point[r], n, k)
}

/// [`lof_scores`] of `n` rows where row `r` stands at distinct point `point(r)` of `coords`
/// (`dim` coordinates each; points no row stands at are ignored; no two may be equal).
pub(crate) fn lof_scores_at(
    coords: &[f64],
    dim: usize,
    point: impl Fn(usize) -> usize,
    n: usize,
    k: usize,
) -> Vec<f64> {
    if n < 2 || k == 0 {
        return vec![1.0; n];
    }
    let k = k.min(n - 1);
    let (kept, members) = Members::group(&point, n, coords.len() / dim.max(1));
    let coords: Vec<f64> = kept.iter().flat_map(|&u| coords[u * dim..(u + 1) * dim].iter().copied()).collect();
    let mult: Vec<u32> = (0..members.len()).map(|u| members.of(u).len() as u32).collect();
    let tree = KdTree::new(&coords, dim);
    let hoods: Vec<(Neighbours, f64)> =
        (0..members.len()).into_par_iter().map(|u| neighbourhood(&tree, &members, &mult, u, k)).collect();
    let kf = k as f64;
    let lrd: Vec<f64> = hoods
        .par_iter()
        .map(|(list, _)| {
            let sum: f64 = list.iter().map(|&(v, c, d)| f64::from(c) * d.max(hoods[v as usize].1)).sum();
            1.0 / (sum / kf + 1e-10)
        })
        .collect();
    let lof: Vec<f64> = hoods
        .par_iter()
        .zip(&lrd)
        .map(|((list, _), &own)| list.iter().map(|&(v, c, _)| f64::from(c) * (lrd[v as usize] / own)).sum::<f64>() / kf)
        .collect();
    let mut out = vec![0.0; n];
    for (u, &score) in lof.iter().enumerate() {
        for &r in members.of(u) {
            out[r] = score;
        }
    }
    out
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

    /// The definitions row by row: own duplicates first (by row), then the others by (squared
    /// distance, row); the first `k` are the neighbours.
    fn brute_force(points: &[f64], dim: usize, k: usize) -> Vec<f64> {
        let n = points.len() / dim;
        let k = k.min(n - 1);
        let p = |i: usize| &points[i * dim..(i + 1) * dim];
        let hoods: Vec<Vec<(f64, usize)>> = (0..n)
            .map(|i| {
                let mut all: Vec<(bool, f64, usize)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let d2: f64 = p(i).iter().zip(p(j)).map(|(a, b)| (a - b) * (a - b)).sum();
                        (p(i) != p(j), d2, j)
                    })
                    .collect();
                all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
                all.into_iter().take(k).map(|(_, d2, j)| (d2.sqrt(), j)).collect()
            })
            .collect();
        let kdist: Vec<f64> = hoods.iter().map(|h| h[k - 1].0).collect();
        let lrd: Vec<f64> = hoods
            .iter()
            .map(|h| 1.0 / (h.iter().map(|&(d, j)| d.max(kdist[j])).sum::<f64>() / k as f64 + 1e-10))
            .collect();
        (0..n).map(|i| hoods[i].iter().map(|&(_, j)| lrd[j] / lrd[i]).sum::<f64>() / k as f64).collect()
    }

    #[test]
    fn distinct_points_with_multiplicities_give_the_row_by_row_scores() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (n, grid, k) in [(300, 6.0, 20), (400, 12.0, 7), (250, 3.0, 30), (60, 30.0, 3)] {
            // Integer coordinates: many duplicates and many ties at the k-th distance.
            let pts: Vec<f64> = (0..2 * n).map(|_| (rng.random::<f64>() * grid).round()).collect();
            let got = lof_scores(&pts, 2, k);
            let expected = brute_force(&pts, 2, k);
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert!((g - e).abs() <= 1e-12 * e.abs().max(1.0), "n {n} k {k} point {i}: {g} vs {e}");
            }
        }
    }

    #[test]
    fn rows_at_shared_points_score_as_their_coordinates_do() {
        // Five distinct points (one no row stands at), twelve rows taken in a scrambled order.
        let coords = [0.0, 0.0, 1.0, 0.0, 0.0, 9.0, 2.0, 1.0, 5.0, 5.0];
        let at = [3usize, 0, 1, 0, 3, 1, 1, 0, 4, 3, 0, 1];
        let rows: Vec<f64> = at.iter().flat_map(|&u| [coords[2 * u], coords[2 * u + 1]]).collect();
        for k in [1, 3, 6] {
            let got = lof_scores_at(&coords, 2, |r| at[r], at.len(), k);
            assert_eq!(got, lof_scores(&rows, 2, k), "k {k}");
        }
    }

    #[test]
    fn thread_count_does_not_change_a_bit() {
        let pts: Vec<f64> = (0..4000).map(|i| f64::from((i * 7919) % 97) / 7.0).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| lof_scores(&pts, 2, 20))
        };
        let one = run(1);
        assert_eq!(
            one.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            run(3).iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn fewer_points_than_k_uses_n_minus_one() {
        let got = lof_scores(&flat(&DISTINCT[..4]), 2, 20);
        let again = lof_scores(&flat(&DISTINCT[..4]), 2, 3);
        assert_eq!(got, again);
    }
}
