//! A finger prepared for matching: its bit cylinders and the pairwise geometry of its minutiae.
//!
//! Preparation does all the work that depends on one finger only, once (at enrolment, or once
//! per probe), so a 1:1 comparison is popcounts, table look-ups and a few small sorts:
//! - **Cylinders** (MCC, bit version). Around each minutia a cylinder of radius `RADIUS`, aligned
//!   with the minutia's direction, is cut into `NS x NS` cells times `ND` direction sections. A
//!   cell's bit is set when the neighbouring minutiae near the cell's centre (Gaussian in space,
//!   `SIGMA_S`) whose direction relative to the central minutia falls in the section (Gaussian in
//!   angle, `SIGMA_D`, integrated over the section) contribute at least `MU_PSI`. A cell is valid
//!   when its centre is within the cylinder's disc and inside the minutiae's convex hull enlarged by
//!   `OMEGA`; cylinders with too few valid cells or too few neighbours are dropped, since they
//!   carry too little evidence to be paired.
//! - **Pairwise geometry** of the kept minutiae, quantised for table look-ups in the relaxation
//!   step: distances in 1/8 pixel and radial angles (the direction of the segment to the other
//!   minutia, relative to the minutia's own direction) in 360/256-degree units.
//!
//! Coordinates are scaled from the record's resolution to 500 ppi (196.85 px/cm; a resolution of
//! 0, "not stated", is taken as 500 ppi) and the y axis is turned upwards, so ISO angles (counter-
//! clockwise from the x axis, as seen on the image) are ordinary mathematical angles. Minutia type
//! and quality are not used: extractors disagree on types far more often than on positions.

use super::hull::Hull;
use super::params::*;
use crate::finger::format::Minutia;
use std::f32::consts::PI;

/// Pixels per centimetre of 500 ppi.
const PPCM_500: f32 = 500.0 / 2.54;

/// Most minutiae a template uses: ISO 19794-2 and ANSI 378 count a view's minutiae in one byte.
pub const MAX_MINUTIAE: usize = 255;

/// One finger view ready to be compared, built by [`PreparedFinger::new`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreparedFinger {
    /// Minutiae in the view.
    minutiae: usize,
    /// Direction (360/256-degree units) of each kept cylinder's minutia; cylinders are sorted by it.
    pub(crate) angles: Vec<u8>,
    /// `WORDS` words per kept cylinder: section `k`, cell `(i, j)` is bit `k NS^2 + i NS + j`.
    pub(crate) bits: Vec<u64>,
    /// `MASK_WORDS` words per kept cylinder: the valid cells of one section.
    pub(crate) masks: Vec<u64>,
    /// `n x n` distances between kept minutiae, in 1/8 pixel (saturating).
    pub(crate) dist: Vec<u16>,
    /// `n x n` radial angles: direction of the segment `a -> b` minus the direction of `a`.
    pub(crate) radial: Vec<u8>,
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
fn normal_cdf(x: f32) -> f32 {
    let z = f64::from(x) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z < 0.0 { -erf } else { erf };
    (0.5 * (1.0 + erf)) as f32
}

/// The angle `a - b` brought into `[-pi, pi)`.
fn angle_diff(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(2.0 * PI);
    if d >= PI {
        d - 2.0 * PI
    } else {
        d
    }
}

/// An angle in radians as 360/256-degree units (rounded, wrapping).
fn to_units(a: f32) -> u8 {
    (a.rem_euclid(2.0 * PI) * (256.0 / (2.0 * PI))).round() as i64 as u8
}

/// Offsets (from the cylinder centre, cylinder frame) of the cells whose centre is in the disc.
fn disc_cells() -> Vec<(usize, [f32; 2])> {
    let half = (NS as f32 - 1.0) / 2.0;
    let mut cells = Vec::new();
    for i in 0..NS {
        for j in 0..NS {
            let u = (i as f32 - half) * DELTA_S;
            let v = (j as f32 - half) * DELTA_S;
            if u * u + v * v <= RADIUS * RADIUS {
                cells.push((i * NS + j, [u, v]));
            }
        }
    }
    cells
}

/// Number of cells of one section whose centre lies in the cylinder's disc.
pub(crate) fn disc_cell_count() -> usize {
    disc_cells().len()
}

impl PreparedFinger {
    /// Prepares the minutiae of one finger view, whose coordinates are in pixels of a record with
    /// the given resolutions (pixels per centimetre, as ISO and ANSI records state them). Only
    /// the first [`MAX_MINUTIAE`] minutiae are used (the most a record can hold).
    pub fn new(minutiae: &[Minutia], x_resolution: u16, y_resolution: u16) -> Self {
        let minutiae = &minutiae[..minutiae.len().min(MAX_MINUTIAE)];
        let scale = |r: u16| if r == 0 { 1.0 } else { PPCM_500 / f32::from(r) };
        let (sx, sy) = (scale(x_resolution), scale(y_resolution));
        let pts: Vec<[f32; 2]> = minutiae
            .iter()
            .map(|m| [f32::from(m.x) * sx, -(f32::from(m.y) * sy)])
            .collect();
        let theta: Vec<f32> = minutiae
            .iter()
            .map(|m| f32::from(m.angle) * (2.0 * PI / 256.0))
            .collect();
        let hull = Hull::new(&pts);
        let cells = disc_cells();
        let min_valid = (MIN_VC * cells.len() as f32).ceil() as usize;
        let reach2 = (RADIUS + 3.0 * SIGMA_S).powi(2);
        let near2 = (3.0 * SIGMA_S).powi(2);
        let gs_norm = 1.0 / (SIGMA_S * (2.0 * PI).sqrt());

        let mut out = Self {
            minutiae: minutiae.len(),
            ..Self::default()
        };
        let mut kept: Vec<usize> = Vec::new();
        for (m, &c) in pts.iter().enumerate() {
            // Neighbours with their directional contribution to each section.
            let mut neigh: Vec<([f32; 2], [f32; ND])> = Vec::new();
            for (t, &p) in pts.iter().enumerate() {
                let d2 = (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
                if t == m || d2 > reach2 {
                    continue;
                }
                let rel = angle_diff(theta[m], theta[t]);
                let mut gd = [0.0f32; ND];
                for (k, g) in gd.iter_mut().enumerate() {
                    let centre = -PI + (k as f32 + 0.5) * DELTA_D;
                    let a = angle_diff(centre, rel);
                    *g = normal_cdf((a + DELTA_D / 2.0) / SIGMA_D)
                        - normal_cdf((a - DELTA_D / 2.0) / SIGMA_D);
                }
                neigh.push((p, gd));
            }
            if neigh.len() < MIN_M {
                continue;
            }
            let (s, co) = theta[m].sin_cos();
            let mut mask = [0u64; MASK_WORDS];
            let mut bits = [0u64; WORDS];
            let mut valid = 0;
            for &(cell, [u, v]) in &cells {
                let p = [c[0] + u * co - v * s, c[1] + u * s + v * co];
                if !hull.contains(p, OMEGA) {
                    continue;
                }
                valid += 1;
                mask[cell / 64] |= 1 << (cell % 64);
                let mut sum = [0.0f32; ND];
                for (q, gd) in &neigh {
                    let d2 = (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2);
                    if d2 > near2 {
                        continue;
                    }
                    let gs = gs_norm * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp();
                    for k in 0..ND {
                        sum[k] += gs * gd[k];
                    }
                }
                for (k, &v) in sum.iter().enumerate() {
                    if v >= MU_PSI {
                        let b = k * NS * NS + cell;
                        bits[b / 64] |= 1 << (b % 64);
                    }
                }
            }
            if valid < min_valid {
                continue;
            }
            kept.push(m);
            out.angles.push(minutiae[m].angle);
            out.bits.extend_from_slice(&bits);
            out.masks.extend_from_slice(&mask);
        }
        // Cylinders sorted by direction, so the kernels find the compatible ones as index ranges.
        let mut order: Vec<usize> = (0..kept.len()).collect();
        order.sort_by_key(|&c| (out.angles[c], c));
        let permute = |v: &[u64], w: usize| -> Vec<u64> {
            order
                .iter()
                .flat_map(|&c| v[c * w..(c + 1) * w].iter().copied())
                .collect()
        };
        out.bits = permute(&out.bits, WORDS);
        out.masks = permute(&out.masks, MASK_WORDS);
        out.angles = order.iter().map(|&c| out.angles[c]).collect();
        let kept: Vec<usize> = order.iter().map(|&c| kept[c]).collect();
        let n = kept.len();
        out.dist = Vec::with_capacity(n * n);
        out.radial = Vec::with_capacity(n * n);
        for &a in &kept {
            for &b in &kept {
                let (dx, dy) = (pts[b][0] - pts[a][0], pts[b][1] - pts[a][1]);
                let d = ((dx * dx + dy * dy).sqrt() * DIST_STEPS).round();
                out.dist.push(d.min(f32::from(u16::MAX)) as u16);
                out.radial.push(if a == b {
                    0
                } else {
                    to_units(dy.atan2(dx) - theta[a])
                });
            }
        }
        out
    }

    /// Minutiae in the view this was prepared from.
    pub fn minutiae(&self) -> usize {
        self.minutiae
    }

    /// Cylinders kept (minutiae with enough valid cells and neighbours to be paired).
    pub fn cylinders(&self) -> usize {
        self.angles.len()
    }

    /// Bytes held by this template.
    pub fn heap_bytes(&self) -> usize {
        self.angles.len()
            + 8 * (self.bits.len() + self.masks.len())
            + 2 * self.dist.len()
            + self.radial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-6);
        assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((normal_cdf(-1.959_964) - 0.025).abs() < 1e-6);
    }

    #[test]
    fn angle_helpers_wrap() {
        assert!((angle_diff(0.1, 2.0 * PI - 0.1) - 0.2).abs() < 1e-5);
        assert!((angle_diff(-0.1, 0.1) + 0.2).abs() < 1e-5);
        assert_eq!(to_units(-2.0 * PI / 256.0), 255);
        assert_eq!(to_units(PI), 128);
    }

    #[test]
    fn disc_holds_about_pi_over_four_of_the_cells() {
        let n = disc_cell_count() as f32;
        let expected = (NS * NS) as f32 * PI / 4.0;
        assert!((n - expected).abs() < 0.08 * expected, "{n} vs {expected}");
    }
}
