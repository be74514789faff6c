//! The minutiae's convex hull, enlarged by a margin: the region where a cylinder's cells are valid.
//!
//! MCC marks a cell invalid when its centre lies outside the fingerprint's foreground, so that
//! two cylinders are compared only where both impressions could have shown minutiae. ISO
//! templates carry no foreground mask, so (as in the MCC paper) the convex hull of the minutiae,
//! enlarged by `OMEGA` pixels, stands for it. Andrew's monotone chain builds the hull in
//! O(n log n); a point is inside the enlarged hull when it is inside the hull or within the margin
//! of one of its edges. Degenerate hulls (one point, or collinear points) work the same way: the
//! region is then the margin around a point or a segment.

/// A convex polygon, counter-clockwise, without repeated or collinear vertices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hull {
    vertices: Vec<[f32; 2]>,
    /// Distance (pixels) by which [`Hull::contains_many`] widens its bounds: far more than the
    /// rounding (a few ulps of the vertices' coordinates) of any cross product or distance.
    slack: f32,
}

fn cross(o: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Squared distance from `p` to the segment `a`-`b`.
fn segment_dist2(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    ex * ex + ey * ey
}

/// Buffers of [`Hull::contains_many`], kept between calls.
#[derive(Debug, Default)]
pub(crate) struct Outside {
    /// Edges near the disc.
    near: Vec<usize>,
    /// The points found outside the hull, first coordinate.
    x: Vec<f32>,
    /// As `x`, second coordinate.
    y: Vec<f32>,
    /// Index in the caller's slices of each point outside.
    at: Vec<usize>,
    /// Whether each point outside is within the margin of an edge.
    within: Vec<bool>,
}

/// [`segment_dist2`] in double precision (to bound it, not to decide a point).
fn segment_dist2_f64(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f64 {
    let [p, a, b] = [p, a, b].map(|q| q.map(f64::from));
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    ex * ex + ey * ey
}

impl Hull {
    /// The convex hull of `points` (any number, duplicates allowed).
    pub(crate) fn new(points: &[[f32; 2]]) -> Self {
        let mut pts: Vec<[f32; 2]> = points.to_vec();
        pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        pts.dedup();
        if pts.len() < 3 {
            return Self {
                vertices: pts,
                ..Self::default()
            };
        }
        let mut lower: Vec<[f32; 2]> = Vec::with_capacity(pts.len());
        for &p in &pts {
            while lower.len() >= 2
                && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0
            {
                lower.pop();
            }
            lower.push(p);
        }
        let mut upper: Vec<[f32; 2]> = Vec::with_capacity(pts.len());
        for &p in pts.iter().rev() {
            while upper.len() >= 2
                && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0
            {
                upper.pop();
            }
            upper.push(p);
        }
        lower.pop();
        upper.pop();
        lower.extend(upper);
        let vmax = lower.iter().flatten().fold(0.0f32, |m, &x| m.max(x.abs()));
        Self {
            vertices: lower,
            slack: 1e-3 + 1e-5 * vmax,
        }
    }

    /// Whether `p` lies inside the hull or within `margin` of it.
    pub(crate) fn contains(&self, p: [f32; 2], margin: f32) -> bool {
        let v = &self.vertices;
        match v.len() {
            0 => false,
            1 => segment_dist2(p, v[0], v[0]) <= margin * margin,
            2 => segment_dist2(p, v[0], v[1]) <= margin * margin,
            n => {
                let inside = (0..n).all(|i| cross(v[i], v[(i + 1) % n], p) >= 0.0);
                inside || (0..n).any(|i| segment_dist2(p, v[i], v[(i + 1) % n]) <= margin * margin)
            }
        }
    }

    /// [`Hull::contains`] for many points at once: `out[i]` is whether `(xs[i], ys[i])` lies
    /// inside the hull or within `margin` of it. Every point must lie in the disc `(centre,
    /// radius)` (up to the rounding of its coordinates). The answers are exactly those of
    /// `contains`: every cross product and distance that decides one is computed with the same
    /// operations. Only fewer of them are computed: an edge whose line leaves the whole disc
    /// well inside (by `slack`, in double precision) cannot turn any cross product negative and
    /// is skipped; the others run edge by edge over all the points, which the compiler
    /// vectorises; the margin test only runs for the points found outside, edge by edge too, and
    /// only on the edges that come near the disc. `scratch` holds buffers reused between calls.
    pub(crate) fn contains_many(
        &self,
        xs: &[f32],
        ys: &[f32],
        (centre, radius): ([f32; 2], f32),
        margin: f32,
        out: &mut [bool],
        scratch: &mut Outside,
    ) {
        let v = &self.vertices;
        let n = v.len();
        let (xs, ys, out) = (&xs[..out.len()], &ys[..out.len()], out);
        if n < 3 {
            for ((&x, &y), o) in xs.iter().zip(ys).zip(out.iter_mut()) {
                *o = self.contains([x, y], margin);
            }
            return;
        }
        out.fill(true);
        let cmax = f64::from(centre[0].abs().max(centre[1].abs()) + radius);
        let clear = f64::from(radius) + 1.0 + 1e-5 * cmax + f64::from(self.slack);
        for i in 0..n {
            let (o, a) = (v[i], v[(i + 1) % n]);
            let (ex, ey) = (a[0] - o[0], a[1] - o[1]);
            let (ex64, ey64) = (f64::from(ex), f64::from(ey));
            let side = ex64 * (f64::from(centre[1]) - f64::from(o[1]))
                - ey64 * (f64::from(centre[0]) - f64::from(o[0]));
            if side >= clear * (ex64 * ex64 + ey64 * ey64).sqrt() {
                continue;
            }
            for ((&x, &y), inside) in xs.iter().zip(ys).zip(out.iter_mut()) {
                // `cross(o, a, p)`, term for term.
                *inside &= ex * (y - o[1]) - ey * (x - o[0]) >= 0.0;
            }
        }
        if out.iter().all(|&inside| inside) {
            return;
        }
        // The edges within reach of the disc: a segment farther than `radius + margin + clear`
        // from the centre is farther than `margin + 1` from every point, and rounding cannot
        // bring `segment_dist2` down to `margin^2` from there.
        let reach = f64::from(radius) + f64::from(margin) + clear;
        let Outside {
            near,
            x: px,
            y: py,
            at,
            within,
        } = scratch;
        near.clear();
        near.extend(
            (0..n).filter(|&i| segment_dist2_f64(centre, v[i], v[(i + 1) % n]) <= reach * reach),
        );
        // The points outside, gathered; then edge by edge over them (vectorised, no branch per
        // point), the same `segment_dist2` as `contains`.
        px.clear();
        py.clear();
        at.clear();
        for (k, ((&x, &y), &inside)) in xs.iter().zip(ys).zip(out.iter()).enumerate() {
            if !inside {
                px.push(x);
                py.push(y);
                at.push(k);
            }
        }
        within.clear();
        within.resize(px.len(), false);
        for &i in near.iter() {
            let (a, b) = (v[i], v[(i + 1) % n]);
            for ((&x, &y), w) in px.iter().zip(py.iter()).zip(within.iter_mut()) {
                *w |= segment_dist2([x, y], a, b) <= margin * margin;
            }
        }
        for (&k, &w) in at.iter().zip(within.iter()) {
            out[k] = w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_hull_drops_inner_points_and_tests_the_margin() {
        let pts = [
            [0.0, 0.0],
            [10.0, 0.0],
            [10.0, 10.0],
            [0.0, 10.0],
            [5.0, 5.0],
            [5.0, 0.0],
        ];
        let h = Hull::new(&pts);
        assert_eq!(h.vertices.len(), 4);
        assert!(h.contains([5.0, 5.0], 0.0));
        assert!(!h.contains([12.0, 5.0], 1.0));
        assert!(h.contains([12.0, 5.0], 2.0));
        assert!(h.contains([12.0, 12.0], 3.0));
        assert!(!h.contains([12.0, 12.0], 2.5));
    }

    #[test]
    fn degenerate_hulls_are_points_and_segments() {
        assert!(!Hull::new(&[]).contains([0.0, 0.0], 100.0));
        let one = Hull::new(&[[1.0, 1.0], [1.0, 1.0]]);
        assert!(one.contains([1.0, 4.0], 3.0) && !one.contains([1.0, 4.5], 3.0));
        let line = Hull::new(&[[0.0, 0.0], [5.0, 0.0], [10.0, 0.0]]);
        assert!(line.contains([5.0, 2.0], 2.0) && !line.contains([5.0, 2.5], 2.0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

        /// `contains_many` answers exactly as `contains`, for points on and around the disc
        /// (cells near the hull's edges and corners, outside it, inside it), for hulls of every
        /// size (0, 1, 2 points, collinear points, many points) and coordinate scale.
        #[test]
        fn contains_many_answers_as_contains(
            pts in proptest::collection::vec((0u16..400, 0u16..450), 0..40),
            centre in (0u16..400, 0u16..450),
            scale in proptest::sample::select(vec![1.0f32, 0.37, 196.85, 2.5]),
            turn in 0.0f32..6.3,
            margin in proptest::sample::select(vec![0.0f32, 7.5, 50.0]),
        ) {
            let at = |(x, y): (u16, u16)| [f32::from(x) * scale, -(f32::from(y) * scale)];
            let hull = Hull::new(&pts.iter().map(|&p| at(p)).collect::<Vec<_>>());
            let c = at(centre);
            let (s, co) = turn.sin_cos();
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for i in 0..16 {
                for j in 0..16 {
                    let (u, v) = ((i as f32 - 7.5) * 8.75, (j as f32 - 7.5) * 8.75);
                    if u * u + v * v <= 4900.0 {
                        xs.push(c[0] + u * co - v * s);
                        ys.push(c[1] + u * s + v * co);
                    }
                }
            }
            let mut got = vec![false; xs.len()];
            hull.contains_many(&xs, &ys, (c, 70.0), margin, &mut got, &mut Outside::default());
            for ((&x, &y), &g) in xs.iter().zip(&ys).zip(&got) {
                proptest::prop_assert_eq!(g, hull.contains([x, y], margin), "{:?}", (x, y));
            }
        }
    }
}
