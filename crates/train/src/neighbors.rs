//! Exact k-nearest-neighbour search with a k-d tree (Euclidean), for the low-dimensional
//! numeric space LOF works in. Build is O(n log n); a query visits only boxes that can still
//! hold a closer point, so the whole search is far from quadratic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

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

#[derive(PartialEq)]
struct Cand(f64, usize);
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
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

    /// The `k` nearest points to point `i` other than `i` itself, nearest first, as
    /// (Euclidean distance, index). Duplicates of `i` count as neighbours at distance 0, as in
    /// scikit-learn.
    pub(crate) fn neighbours_of(&self, i: usize, k: usize) -> Vec<(f64, usize)> {
        let q = &self.points[i * self.dim..(i + 1) * self.dim];
        let mut heap: BinaryHeap<Cand> = BinaryHeap::with_capacity(k + 1);
        if k > 0 && !self.nodes.is_empty() {
            self.search(0, q, i, k, &mut heap);
        }
        let mut v: Vec<(f64, usize)> = heap.into_iter().map(|c| (c.0.sqrt(), c.1)).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        v
    }

    fn search(&self, node: usize, q: &[f64], skip: usize, k: usize, heap: &mut BinaryHeap<Cand>) {
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
                let c = Cand(d2, j);
                if heap.len() < k {
                    heap.push(c);
                } else if heap.peek().is_some_and(|w| c < *w) {
                    heap.pop();
                    heap.push(c);
                }
            }
            return;
        }
        let (dl, dr) = (self.box_distance2(n.left, q), self.box_distance2(n.right, q));
        let (first, df, second, ds) = if dl <= dr { (n.left, dl, n.right, dr) } else { (n.right, dr, n.left, dl) };
        for (child, dist) in [(first, df), (second, ds)] {
            if heap.len() < k || heap.peek().is_some_and(|w| dist < w.0) {
                self.search(child, q, skip, k, heap);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn matches_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let dim = 2;
        // Rounded coordinates make many exact duplicates and ties.
        let pts: Vec<f64> = (0..600 * dim).map(|_| (rng.random::<f64>() * 20.0).round()).collect();
        let tree = KdTree::new(&pts, dim);
        for i in (0..600).step_by(7) {
            let got = tree.neighbours_of(i, 20);
            let mut all: Vec<f64> = (0..600)
                .filter(|&j| j != i)
                .map(|j| ((pts[2 * i] - pts[2 * j]).powi(2) + (pts[2 * i + 1] - pts[2 * j + 1]).powi(2)).sqrt())
                .collect();
            all.sort_by(f64::total_cmp);
            let got_d: Vec<f64> = got.iter().map(|p| p.0).collect();
            assert_eq!(got_d, all[..20].to_vec(), "point {i}");
            assert!(got.iter().all(|p| p.1 != i));
        }
    }
}
