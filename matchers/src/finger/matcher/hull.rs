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

impl Hull {
    /// The convex hull of `points` (any number, duplicates allowed).
    pub(crate) fn new(points: &[[f32; 2]]) -> Self {
        let mut pts: Vec<[f32; 2]> = points.to_vec();
        pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        pts.dedup();
        if pts.len() < 3 {
            return Self { vertices: pts };
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
        Self { vertices: lower }
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
}
