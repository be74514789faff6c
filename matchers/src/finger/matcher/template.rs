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
//! Preparation is on the enrolment and re-rank paths, so it is written for speed, yet computes
//! bit for bit what the plain per-cell loop of the MCC paper computes (the `parity` tests keep a
//! copy of that loop and compare on every FVC2002 template and on random minutiae): each
//! neighbour adds to the cells within `3 SIGMA_S` of it only, found in the cylinder's frame
//! (a cell still adds its neighbours in their order); the hull test runs for all cells of a
//! cylinder at once ([`Hull::contains_many`]); directional contributions come from a table of
//! every pair of directions; cylinders with too few valid cells are dropped before any sum. See
//! [`cylinder`].
//!
//! Coordinates are scaled from the record's resolution to 500 ppi (196.85 px/cm; a resolution of
//! 0, "not stated", is taken as 500 ppi) and the y axis is turned upwards, so ISO angles (counter-
//! clockwise from the x axis, as seen on the image) are ordinary mathematical angles. Minutia type
//! and quality are not used: extractors disagree on types far more often than on positions.

use super::hull::Hull;
use super::params::*;
use crate::finger::format::Minutia;
use cylinder::{Cylinder, DirectionalTable};
use std::f32::consts::PI;

mod cylinder;

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
    round(rem_2pi(a) * (256.0 / (2.0 * PI))) as i64 as u8
}

/// `a.rem_euclid(2 pi)`, without the `fmod` call for `|a| < 2 pi` (the angles here), where the
/// remainder is `a` itself.
fn rem_2pi(a: f32) -> f32 {
    if a.abs() < 2.0 * PI {
        if a < 0.0 {
            a + 2.0 * PI
        } else {
            a
        }
    } else {
        a.rem_euclid(2.0 * PI)
    }
}

/// `x.round()` (half away from zero) without the library call, except that a result of zero
/// may be `+0.0` where `round` gives `-0.0` (the callers convert it to an integer).
fn round(x: f32) -> f32 {
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return x.round(); // Already an integer (or not finite).
    }
    let t = x as i32 as f32; // `x.trunc()`: exact below 2^23.
                             // `x - t` is exact, and so are integers below 2^24: this is `t + 1`, `t - 1` or `t`, without
                             // a branch.
    let f = x - t;
    t + f32::from(u8::from(f >= 0.5)) - f32::from(u8::from(f <= -0.5))
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

/// A minutia direction (360/256-degree units) in radians.
fn theta(angle: u8) -> f32 {
    f32::from(angle) * (2.0 * PI / 256.0)
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
        let theta: Vec<f32> = minutiae.iter().map(|m| theta(m.angle)).collect();
        let hull = Hull::new(&pts);
        let cells = disc_cells();
        let min_valid = (MIN_VC * cells.len() as f32).ceil() as usize;
        let reach2 = (RADIUS + 3.0 * SIGMA_S).powi(2);
        // Slack of the neighbour culling (see `Cylinder::accumulate`): far more than the few
        // ulps of the coordinates by which rounding can move a cell centre or a distance.
        let cmax = pts.iter().flatten().fold(0.0f32, |m, &x| m.max(x.abs()));
        let slack = 0.5 + cmax * 1e-5;

        let mut out = Self {
            minutiae: minutiae.len(),
            ..Self::default()
        };
        let mut kept: Vec<usize> = Vec::new();
        let mut neigh: Vec<usize> = Vec::new();
        let mut cyl = Box::new(Cylinder::new(&cells));
        let directions = DirectionalTable::get();
        for (m, &c) in pts.iter().enumerate() {
            // Neighbours within reach of the cylinder, in index order (the order of the sums).
            neigh.clear();
            for (t, &p) in pts.iter().enumerate() {
                let d2 = (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
                if t != m && d2 <= reach2 {
                    neigh.push(t);
                }
            }
            if neigh.len() < MIN_M {
                continue;
            }
            let (s, co) = theta[m].sin_cos();
            if cyl.place(&cells, &hull, c, s, co) < min_valid {
                continue;
            }
            for &t in &neigh {
                let gd = directions.lookup(minutiae[m].angle, minutiae[t].angle);
                cyl.accumulate(pts[t], gd, [c, [s, co]], slack);
            }
            let (bits, mask) = cyl.bits(&cells);
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
        out.dist = vec![0; n * n];
        out.radial = vec![0; n * n];
        for (ia, &a) in kept.iter().enumerate() {
            for (ib, &b) in kept.iter().enumerate() {
                let (dx, dy) = (pts[b][0] - pts[a][0], pts[b][1] - pts[a][1]);
                // Distances are symmetric to the bit (`b - a` is exactly `-(a - b)`).
                if ib > ia {
                    let d = round((dx * dx + dy * dy).sqrt() * DIST_STEPS);
                    let d = d.min(f32::from(u16::MAX)) as u16;
                    out.dist[ia * n + ib] = d;
                    out.dist[ib * n + ia] = d;
                }
                if a != b {
                    out.radial[ia * n + ib] = to_units(dy.atan2(dx) - theta[a]);
                }
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
mod parity;

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
    fn round_and_rem_2pi_match_the_library() {
        // Every float of some binades, plus a sweep of the ranges the callers use.
        let mut xs: Vec<f32> = (0..1 << 20)
            .map(|i| f32::from_bits(0x3e80_0000 + i))
            .collect();
        xs.extend((0..2_000_000).map(|i| (i as f32 - 1e6) * 1.3e-5 * 37.0));
        xs.extend([
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            8_388_607.5,
            8_388_608.0,
            1e9,
            -1e9,
            0.499_999_97,
        ]);
        xs.extend([
            2.0 * PI,
            -2.0 * PI,
            3.0 * PI,
            -3.0 * PI,
            -1e-30,
            1e-30,
            0.0,
            -0.0,
        ]);
        for x in xs.iter().flat_map(|&x| [x, -x, x * 300.0]) {
            let (r, want) = (round(x), x.round());
            assert!(r == want, "round({x}) = {r}, not {want}");
            let (m, want) = (rem_2pi(x), x.rem_euclid(2.0 * PI));
            assert_eq!(m.to_bits(), want.to_bits(), "rem_2pi({x})");
        }
    }

    #[test]
    fn disc_holds_about_pi_over_four_of_the_cells() {
        let n = disc_cell_count() as f32;
        let expected = (NS * NS) as f32 * PI / 4.0;
        assert!((n - expected).abs() < 0.08 * expected, "{n} vs {expected}");
    }
}
