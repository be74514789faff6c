//! Circles and eyelid parabolas, and the robust circle fit.

/// A circle in image coordinates (pixels; x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    /// Centre column.
    pub x: f32,
    /// Centre row.
    pub y: f32,
    /// Radius.
    pub r: f32,
}

impl Circle {
    /// The point at angle `theta` (radians, counter-clockwise from +x with y up).
    pub fn point(&self, theta: f32) -> (f32, f32) {
        (self.x + self.r * theta.cos(), self.y - self.r * theta.sin())
    }

    /// Distance from the centre to (`x`, `y`).
    pub fn distance(&self, x: f32, y: f32) -> f32 {
        ((x - self.x).powi(2) + (y - self.y).powi(2)).sqrt()
    }
}

/// An eyelid boundary: `y = vertex_y + curvature * (x - vertex_x)^2` (image coordinates). An upper
/// eyelid has `curvature >= 0` (it falls towards the eye corners), a lower one `<= 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parabola {
    /// Column of the vertex.
    pub vertex_x: f32,
    /// Row of the vertex.
    pub vertex_y: f32,
    /// Second-order coefficient, per pixel.
    pub curvature: f32,
}

impl Parabola {
    /// The boundary's row at column `x`.
    pub fn y(&self, x: f32) -> f32 {
        self.vertex_y + self.curvature * (x - self.vertex_x).powi(2)
    }
}

/// Least-squares circle through points (Kasa's algebraic fit), then refitted without the points
/// farther than `max(1.5 px, 2.5 x the median residual)` from it, three times. `None` with fewer
/// than `min_points` points left or a degenerate fit.
pub(crate) fn robust_circle(points: &[(f32, f32)], min_points: usize) -> Option<Circle> {
    let mut inliers: Vec<(f32, f32)> = points.to_vec();
    let mut circle = kasa(&inliers)?;
    for _ in 0..3 {
        let mut residuals: Vec<f32> = points
            .iter()
            .map(|&(x, y)| (circle.distance(x, y) - circle.r).abs())
            .collect();
        let mut sorted = residuals.clone();
        sorted.sort_by(f32::total_cmp);
        let tolerance = (2.5 * sorted[sorted.len() / 2]).max(1.5);
        inliers = points
            .iter()
            .zip(residuals.drain(..))
            .filter(|(_, r)| *r <= tolerance)
            .map(|(p, _)| *p)
            .collect();
        if inliers.len() < min_points {
            return None;
        }
        circle = kasa(&inliers)?;
    }
    Some(circle)
}

/// The algebraic least-squares circle: minimises sum (x^2 + y^2 + D x + E y + F)^2.
fn kasa(points: &[(f32, f32)]) -> Option<Circle> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + f64::from(x) / n, b + f64::from(y) / n)
    });
    // Centred coordinates keep the normal equations well conditioned.
    let (mut suu, mut svv, mut suv, mut suuu, mut svvv, mut suvv, mut svuu) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y) in points {
        let (u, v) = (f64::from(x) - mx, f64::from(y) - my);
        suu += u * u;
        svv += v * v;
        suv += u * v;
        suuu += u * u * u;
        svvv += v * v * v;
        suvv += u * v * v;
        svuu += v * u * u;
    }
    let det = suu * svv - suv * suv;
    if det.abs() < 1e-9 {
        return None;
    }
    let (b1, b2) = (0.5 * (suuu + suvv), 0.5 * (svvv + svuu));
    let uc = (b1 * svv - b2 * suv) / det;
    let vc = (b2 * suu - b1 * suv) / det;
    let r = (uc * uc + vc * vc + (suu + svv) / n).sqrt();
    r.is_finite().then_some(Circle {
        x: (uc + mx) as f32,
        y: (vc + my) as f32,
        r: r as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_robust_fit_ignores_outliers() {
        let truth = Circle {
            x: 40.0,
            y: 30.0,
            r: 12.0,
        };
        let mut points: Vec<(f32, f32)> = (0..48)
            .map(|k| truth.point(k as f32 * std::f32::consts::TAU / 48.0))
            .collect();
        for p in points.iter_mut().step_by(5) {
            p.1 -= 9.0; // an eyelid's edges instead of the pupil's
        }
        let fit = robust_circle(&points, 12).unwrap();
        assert!(
            (fit.x - 40.0).abs() < 0.1 && (fit.y - 30.0).abs() < 0.1,
            "{fit:?}"
        );
        assert!((fit.r - 12.0).abs() < 0.1, "{fit:?}");
        assert!(robust_circle(&points[..2], 2).is_none());
    }
}
