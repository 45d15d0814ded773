//! Exact nearest-neighbour search with a k-d tree (Euclidean), for the low-dimensional numeric
//! space LOF works in, over distinct points that each stand for several identical rows. Build is
//! O(n log n); a query visits only boxes that can still hold a closer point (or one as close),
//! so the whole search is far from quadratic.

const LEAF: usize = 16;
const NONE: usize = usize::MAX;

struct Node {
    start: usize,
    end: usize,
    left: usize,
    right: usize,
}

/// A k-d tree over `n` points of `dim` coordinates stored row-major.
pub(crate) struct KdTree<'a> {
    points: &'a [f64],
    dim: usize,
    order: Vec<usize>,
    nodes: Vec<Node>,
    /// Per node: `dim` lower bounds then `dim` upper bounds.
    bounds: Vec<f64>,
}

impl<'a> KdTree<'a> {
    pub(crate) fn new(points: &'a [f64], dim: usize) -> Self {
        let n = points.len().checked_div(dim).unwrap_or(0);
        let mut tree = Self { points, dim, order: (0..n).collect(), nodes: Vec::new(), bounds: Vec::new() };
        if n > 0 {
            tree.build(0, n);
        }
        tree
    }

    fn coord(&self, i: usize, d: usize) -> f64 {
        self.points[i * self.dim + d]
    }

    fn build(&mut self, start: usize, end: usize) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node { start, end, left: NONE, right: NONE });
        let mut lo = vec![f64::INFINITY; self.dim];
        let mut hi = vec![f64::NEG_INFINITY; self.dim];
        for &i in &self.order[start..end] {
            for d in 0..self.dim {
                let x = self.coord(i, d);
                lo[d] = lo[d].min(x);
                hi[d] = hi[d].max(x);
            }
        }
        let split = (0..self.dim).max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])).then(b.cmp(&a)));
        self.bounds.extend_from_slice(&lo);
        self.bounds.extend_from_slice(&hi);
        // Boxes of identical points are split too (by index): a query inside a large cluster of
        // duplicates then stops after k zero distances instead of scanning the whole cluster.
        if end - start > LEAF {
            let d = split.unwrap_or(0);
            let mid = start + (end - start) / 2;
            let (points, dim) = (self.points, self.dim);
            self.order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                points[a * dim + d].total_cmp(&points[b * dim + d]).then(a.cmp(&b))
            });
            let left = self.build(start, mid);
            let right = self.build(mid, end);
            self.nodes[id].left = left;
            self.nodes[id].right = right;
        }
        id
    }

    fn box_distance2(&self, node: usize, q: &[f64]) -> f64 {
        let b = &self.bounds[node * 2 * self.dim..(node + 1) * 2 * self.dim];
        let mut s = 0.0;
        for (d, &x) in q.iter().enumerate() {
            let (lo, hi) = (b[d], b[self.dim + d]);
            let gap = if x < lo {
                lo - x
            } else if x > hi {
                x - hi
            } else {
                0.0
            };
            s += gap * gap;
        }
        s
    }

    /// The points nearest to point `i` (other than `i` itself) when point `j` stands for
    /// `mult[j]` identical rows: every point closer than the `need`-th nearest row, and every
    /// point at that row's distance (ties are all returned; the caller breaks them), as
    /// (squared Euclidean distance, index) sorted by distance then index, in `out`.
    pub(crate) fn covering(&self, i: usize, need: usize, mult: &[u32], out: &mut Vec<(f64, usize)>) {
        out.clear();
        let q = &self.points[i * self.dim..(i + 1) * self.dim];
        let mut covered = 0usize;
        if need > 0 && !self.nodes.is_empty() {
            self.search(0, q, i, need, mult, &mut covered, out);
        }
    }

    /// The largest squared distance still worth looking at: any while fewer than `need` rows
    /// are covered.
    fn worst(out: &[(f64, usize)], covered: usize, need: usize) -> f64 {
        if covered < need { f64::INFINITY } else { out.last().map_or(f64::INFINITY, |c| c.0) }
    }

    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        node: usize,
        q: &[f64],
        skip: usize,
        need: usize,
        mult: &[u32],
        covered: &mut usize,
        out: &mut Vec<(f64, usize)>,
    ) {
        let n = &self.nodes[node];
        if n.left == NONE {
            for &j in &self.order[n.start..n.end] {
                if j == skip {
                    continue;
                }
                let mut d2 = 0.0;
                for (d, &x) in q.iter().enumerate() {
                    let t = x - self.coord(j, d);
                    d2 += t * t;
                }
                if d2 > Self::worst(out, *covered, need) {
                    continue;
                }
                let c = (d2, j);
                let at = out.partition_point(|o| o.0.total_cmp(&c.0).then(o.1.cmp(&c.1)).is_lt());
                out.insert(at, c);
                *covered += mult[j] as usize;
                // Drop the farthest distance while the closer points still cover `need` rows.
                while let Some(&(far, _)) = out.last() {
                    let first = out.partition_point(|o| o.0 < far);
                    let group: usize = out[first..].iter().map(|o| mult[o.1] as usize).sum();
                    if *covered - group < need {
                        break;
                    }
                    *covered -= group;
                    out.truncate(first);
                }
            }
            return;
        }
        let (dl, dr) = (self.box_distance2(n.left, q), self.box_distance2(n.right, q));
        let (first, df, second, ds) = if dl <= dr { (n.left, dl, n.right, dr) } else { (n.right, dr, n.left, dl) };
        for (child, dist) in [(first, df), (second, ds)] {
            // `<=`: a box at exactly the worst distance can hold a tie.
            if dist <= Self::worst(out, *covered, need) {
                self.search(child, q, skip, need, mult, covered, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn covering_matches_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let dim = 2;
        // Rounded coordinates make many distance ties.
        let n = 600;
        let pts: Vec<f64> = (0..n * dim).map(|_| (rng.random::<f64>() * 20.0).round()).collect();
        let mult: Vec<u32> = (0..n).map(|_| rng.random_range(1..4)).collect();
        let tree = KdTree::new(&pts, dim);
        let mut got = Vec::new();
        for i in (0..n).step_by(7) {
            for need in [1, 5, 20] {
                tree.covering(i, need, &mult, &mut got);
                let mut all: Vec<(f64, usize)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| ((pts[2 * i] - pts[2 * j]).powi(2) + (pts[2 * i + 1] - pts[2 * j + 1]).powi(2), j))
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                // The distance of the need-th row, then everything up to and at it.
                let mut rows = 0;
                let boundary = all
                    .iter()
                    .find(|c| {
                        rows += mult[c.1] as usize;
                        rows >= need
                    })
                    .unwrap()
                    .0;
                let expected: Vec<(f64, usize)> = all.into_iter().filter(|c| c.0 <= boundary).collect();
                assert_eq!(got, expected, "point {i}, need {need}");
            }
        }
    }
}
