//! The per-minutia work of [`PreparedFinger::new`](super::PreparedFinger::new): the
//! directional contributions of a neighbour (a table built once per process) and the cylinder
//! being built (cell centres, validity, sums, bits).
//!
//! Everything here computes exactly the floats the straightforward per-cell loop computed, only
//! fewer times: see [`Cylinder`] and [`DirectionalTable`], and the `parity` tests, which compare
//! against a copy of that loop.

use super::super::hull::{Hull, Outside};
use super::super::params::*;
use super::{angle_diff, normal_cdf, theta};
use std::f32::consts::PI;

/// `ND` directional contributions padded to a whole vector of floats, so a neighbour's
/// contributions are added to a cell's sums in one go.
const LANES: usize = 8;

/// A neighbour's directional contribution to each section: the Gaussian of its direction
/// relative to the central minutia (`rel`), integrated over the section.
fn directional(rel: f32) -> [f32; ND] {
    let mut gd = [0.0f32; ND];
    for (k, g) in gd.iter_mut().enumerate() {
        let centre = -PI + (k as f32 + 0.5) * DELTA_D;
        let a = angle_diff(centre, rel);
        *g = normal_cdf((a + DELTA_D / 2.0) / SIGMA_D) - normal_cdf((a - DELTA_D / 2.0) / SIGMA_D);
    }
    gd
}

/// [`directional`] of every pair of minutia directions, built once per process.
///
/// Directions are bytes, so the relative direction `angle_diff(theta_m, theta_t)` takes one of
/// 65536 values (955 distinct floats: the float difference of two directions is not a function
/// of their byte difference alone). The table maps each pair to its distinct value and keeps
/// the contributions of each distinct value, computed by [`directional`] itself: a look-up
/// gives the same floats the computation would, without 12 `normal_cdf` per neighbour.
pub(super) struct DirectionalTable {
    /// `index[256 m + t]`: the entry of `values` for central direction `m`, neighbour `t`.
    index: Vec<u16>,
    /// Contributions of each distinct relative direction, padded with zeros to `LANES`.
    values: Vec<[f32; LANES]>,
}

impl DirectionalTable {
    pub(super) fn get() -> &'static Self {
        static TABLE: std::sync::OnceLock<DirectionalTable> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let mut seen = std::collections::HashMap::new();
            let mut values = Vec::new();
            let index = (0..=u16::MAX)
                .map(|mt| {
                    let rel = angle_diff(theta((mt >> 8) as u8), theta(mt as u8));
                    *seen.entry(rel.to_bits()).or_insert_with(|| {
                        let mut padded = [0.0; LANES];
                        padded[..ND].copy_from_slice(&directional(rel));
                        values.push(padded);
                        (values.len() - 1) as u16
                    })
                })
                .collect();
            Self { index, values }
        })
    }

    /// [`directional`]`(angle_diff(theta(m), theta(t)))`.
    pub(super) fn lookup(&self, m: u8, t: u8) -> &[f32; LANES] {
        &self.values[usize::from(self.index[usize::from(m) << 8 | usize::from(t)])]
    }
}

/// Working state of the cylinder being built: its cells' centres, which are valid, and the
/// contributions summed so far. One per [`PreparedFinger::new`](super::PreparedFinger::new) call, reused for every minutia.
///
/// The sums run neighbour by neighbour (the outer loop) over the cells each neighbour can reach,
/// rather than cell by cell over every neighbour: each cell still adds its contributions in
/// neighbour order, so every sum is the same float, but a neighbour only visits the few cells
/// within `3 SIGMA_S` of it instead of the whole disc.
pub(super) struct Cylinder {
    /// Centre (image frame) of each in-disc cell, in [`disc_cells`](super::disc_cells) order.
    xs: Vec<f32>,
    /// As `xs`, second coordinate.
    ys: Vec<f32>,
    /// Whether each in-disc cell is valid (inside the enlarged hull).
    inside: Vec<bool>,
    /// Centre of each cell `i NS + j` that is in the disc and valid; infinite for the others,
    /// so their distance test fails without a branch.
    centres: [[f32; 2]; NS * NS],
    /// Sum of contributions to each section of each cell `i NS + j` (and zeros past `ND`).
    sums: [[f32; LANES]; NS * NS],
    /// Buffers of the validity test.
    outside: Outside,
    /// Cells (and squared distances) of the neighbour being added that are within `3 SIGMA_S`.
    near: [(u16, f32); NS * NS],
}

impl Cylinder {
    pub(super) fn new(cells: &[(usize, [f32; 2])]) -> Self {
        Self {
            xs: vec![0.0; cells.len()],
            ys: vec![0.0; cells.len()],
            inside: vec![false; cells.len()],
            centres: [[f32::INFINITY; 2]; NS * NS],
            sums: [[0.0; LANES]; NS * NS],
            near: [(0, 0.0); NS * NS],
            outside: Outside::default(),
        }
    }

    /// Places the cylinder at `c` with direction `(sin, cos) = (s, co)`: cell centres, validity,
    /// cleared sums. Returns the number of valid cells.
    pub(super) fn place(
        &mut self,
        cells: &[(usize, [f32; 2])],
        hull: &Hull,
        c: [f32; 2],
        s: f32,
        co: f32,
    ) -> usize {
        for ((&(_, [u, v]), x), y) in cells.iter().zip(&mut self.xs).zip(&mut self.ys) {
            *x = c[0] + u * co - v * s;
            *y = c[1] + u * s + v * co;
        }
        let disc = (c, RADIUS);
        hull.contains_many(
            &self.xs,
            &self.ys,
            disc,
            OMEGA,
            &mut self.inside,
            &mut self.outside,
        );
        let mut valid = 0;
        for (i, &(cell, _)) in cells.iter().enumerate() {
            self.centres[cell] = if self.inside[i] {
                [self.xs[i], self.ys[i]]
            } else {
                [f32::INFINITY; 2]
            };
            self.sums[cell] = [0.0; LANES];
            valid += usize::from(self.inside[i]);
        }
        valid
    }

    /// Adds the contribution of the neighbour at `q` (directional part `gd`) to every valid cell
    /// within `3 SIGMA_S` of it. `frame` is the cylinder's centre and `(sin, cos)`.
    ///
    /// Only the cells of a box around the neighbour (in the cylinder's frame) are visited; the box
    /// is `slack` wider than `3 SIGMA_S` on every side, which covers every rounding difference
    /// between this frame change and the cell centres, so every cell it leaves out is one whose
    /// distance test below would fail. The cells visited do exactly what the per-cell loop did.
    pub(super) fn accumulate(
        &mut self,
        q: [f32; 2],
        gd: &[f32; LANES],
        frame: [[f32; 2]; 2],
        slack: f32,
    ) {
        let near2 = (3.0 * SIGMA_S).powi(2);
        let gs_norm = 1.0 / (SIGMA_S * (2.0 * PI).sqrt());
        let [c, [s, co]] = frame;
        let (dx, dy) = (q[0] - c[0], q[1] - c[1]);
        let (uq, vq) = (dx * co + dy * s, dy * co - dx * s);
        let reach = 3.0 * SIGMA_S + slack;
        let half = (NS as f32 - 1.0) / 2.0;
        // Cell indices whose centre may lie in `[w - r, w + r]` along one axis: truncation of a
        // value clamped to [-1, NS] is between its floor and its ceiling, so the range is never
        // short (but for the rounding of this position, far less than `slack`).
        let bound = |w: f32| (w * (1.0 / DELTA_S) + half).clamp(-1.0, NS as f32) as i32;
        let span = |w: f32, r: f32| {
            let (lo, hi) = (bound(w - r).max(0), bound(w + r).min(NS as i32 - 1));
            lo as usize..(hi + 1).max(lo) as usize
        };
        // First the cells that pass the distance test (no branch per cell), then their sums.
        let mut n = 0;
        let columns = span(vq, reach);
        for i in span(uq, reach) {
            for j in columns.clone() {
                let cell = i * NS + j;
                let p = self.centres[cell];
                let d2 = (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2);
                self.near[n] = (cell as u16, d2);
                // `d2` is never NaN (an invalid cell's infinite centre gives an infinite one), so
                // this keeps exactly the cells that the test `d2 > near2` did not skip.
                n += usize::from(d2 <= near2);
            }
        }
        for &(cell, d2) in &self.near[..n] {
            let gs = gs_norm * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp();
            // Lane by lane the same multiply and add (no fused multiply-add) as one at a time.
            let sum = &mut self.sums[usize::from(cell)];
            for k in 0..LANES {
                sum[k] += gs * gd[k];
            }
        }
    }

    /// The cylinder's bits (a section's bit is set where its sum reaches `MU_PSI`) and mask.
    /// Every cell outside the disc or invalid has zero sums (nothing is added to them), so the
    /// bits are read from every cell alike.
    pub(super) fn bits(&self, cells: &[(usize, [f32; 2])]) -> ([u64; WORDS], [u64; MASK_WORDS]) {
        let mut mask = [0u64; MASK_WORDS];
        for (&(cell, _), &inside) in cells.iter().zip(&self.inside) {
            mask[cell / 64] |= u64::from(inside) << (cell % 64);
        }
        // Eight cells at a time: byte `c` of `x` holds the sections set in cell `8 g + c`; each
        // section's eight bits are then gathered with one multiply (bit 0 of byte `c` lands on
        // bit `56 + c`, with no carries) into bits `8 g .. 8 g + 8` of its layer.
        let mut bits = [0u64; WORDS];
        for (g, group) in self.sums.chunks_exact(8).enumerate() {
            let mut x = 0u64;
            for (c, sums) in group.iter().enumerate() {
                for (k, &v) in sums[..ND].iter().enumerate() {
                    x |= u64::from(v >= MU_PSI) << (8 * c + k);
                }
            }
            let (word, shift) = (g / 8, 8 * (g % 8));
            for k in 0..ND {
                let layer = ((x >> k) & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080);
                // Bit `k NS^2 + 8 g + c` for each cell `c` of the group.
                bits[k * MASK_WORDS + word] |= (layer >> 56) << shift;
            }
        }
        (bits, mask)
    }
}
