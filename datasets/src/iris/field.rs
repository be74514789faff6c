//! Correlated Gaussian fields on the iris grid, and their thresholding into code bits.
//!
//! An iris code bit is the sign of a band-pass filter response, and neighbouring responses
//! overlap, so real codes are strongly correlated (Daugman: 2,048 bits carry ~249 degrees of
//! freedom). We reproduce that with one stationary Gaussian field per bit plane (per cell bit),
//! built in two separable, O(cells) steps:
//! 1. **radial (rows)**: a first-order autoregression down the rows,
//!    `x[r] = a x[r-1] + sqrt(1 - a^2) w[r]`, which is exactly stationary with correlation
//!    `a^|dr|` and needs no padding rows;
//! 2. **angular (columns)**: a circular convolution with a sampled Gaussian kernel of standard
//!    deviation `sigma` columns, normalised to unit energy so the field keeps unit variance. The
//!    iris is a ring, so the wrap-around is exact and a column shift is a true rotation.
//!
//! Fields are stored plane-major (`[plane][row][col]`, columns contiguous) so both steps are
//! straight loops over contiguous `f32` that the compiler vectorises. Only `R x C x planes`
//! standard normals are drawn per field, which dominates the cost.

use rand::Rng;
use rand_distr::StandardNormal;

/// The correlation structure of one bit plane's latent field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlaneTexture {
    /// AR(1) coefficient between adjacent rows.
    row_ar: f32,
    /// `sqrt(1 - row_ar^2)`.
    row_innovation: f32,
    /// Symmetric column kernel, `2 * radius + 1` taps, unit energy.
    col_taps: Vec<f32>,
}

impl PlaneTexture {
    /// A texture with row correlation `row_ar` and Gaussian column smoothing of `col_sigma`.
    pub(crate) fn new(row_ar: f32, col_sigma: f32) -> Self {
        let radius = if col_sigma > 0.0 {
            (3.0 * col_sigma).ceil() as usize
        } else {
            0
        };
        let mut col_taps: Vec<f32> = (0..=2 * radius)
            .map(|t| {
                let d = t as f32 - radius as f32;
                if col_sigma > 0.0 {
                    (-d * d / (2.0 * col_sigma * col_sigma)).exp()
                } else {
                    1.0
                }
            })
            .collect();
        let energy = col_taps.iter().map(|k| k * k).sum::<f32>().sqrt();
        col_taps.iter_mut().for_each(|k| *k /= energy);
        Self {
            row_ar,
            row_innovation: (1.0 - row_ar * row_ar).max(0.0).sqrt(),
            col_taps,
        }
    }
}

/// Fills `out` (`rows * cols` values, row-major) with one plane of a unit-variance field.
/// `scratch` is reused between calls to avoid allocation.
pub(crate) fn fill_plane<R: Rng>(
    rng: &mut R,
    texture: &PlaneTexture,
    rows: usize,
    cols: usize,
    out: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    debug_assert_eq!(out.len(), rows * cols);
    let radius = texture.col_taps.len() / 2;
    // Step 1: white noise, AR(1) down the rows, into `scratch` laid out with `radius` wrapped
    // columns on each side so the circular convolution below is a plain sliding window.
    let stride = cols + 2 * radius;
    scratch.clear();
    scratch.resize(rows * stride, 0.0);
    for r in 0..rows {
        let (done, rest) = scratch.split_at_mut(r * stride);
        let line = &mut rest[radius..radius + cols];
        for v in line.iter_mut() {
            *v = rng.sample::<f32, _>(StandardNormal);
        }
        if r > 0 {
            let previous = &done[(r - 1) * stride + radius..(r - 1) * stride + radius + cols];
            for (v, p) in line.iter_mut().zip(previous) {
                *v = texture.row_ar * p + texture.row_innovation * *v;
            }
        }
        let row = &mut rest[..stride];
        for k in 0..radius {
            row[k] = row[cols + k];
            row[radius + cols + k] = row[radius + k];
        }
    }
    // Step 2: circular convolution along the columns.
    for r in 0..rows {
        let src = &scratch[r * stride..(r + 1) * stride];
        let dst = &mut out[r * cols..(r + 1) * cols];
        dst.iter_mut().for_each(|v| *v = 0.0);
        for (t, &k) in texture.col_taps.iter().enumerate() {
            for (d, s) in dst.iter_mut().zip(&src[t..t + cols]) {
                *d += k * s;
            }
        }
    }
}

/// Packs one bit per (cell, plane) into `out`, MSB first in layout order: bit
/// `i = cell * planes + b` (bit `7 - i % 8` of byte `i / 8`) is `bit(cell, b)`, for the
/// `8 * out.len() / planes` cells `out` holds.
pub(crate) fn pack_cells(planes: usize, out: &mut [u8], bit: impl Fn(usize, usize) -> bool) {
    let cells = 8 * out.len() / planes;
    let (mut acc, mut filled, mut byte) = (0u8, 0, 0);
    for cell in 0..cells {
        for b in 0..planes {
            acc = acc << 1 | bit(cell, b) as u8;
            filled += 1;
            if filled == 8 {
                out[byte] = acc;
                (acc, filled, byte) = (0, 0, byte + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Bit `i` of an MSB-first packed buffer.
    fn get_bit(buf: &[u8], i: usize) -> bool {
        buf[i / 8] & (0x80 >> (i % 8)) != 0
    }

    /// Empirical correlation between the field and itself shifted by (dr, dc).
    fn correlation(field: &[Vec<f32>], rows: usize, cols: usize, dr: usize, dc: usize) -> f64 {
        let (mut sxy, mut sxx, mut n) = (0.0f64, 0.0f64, 0.0f64);
        for f in field {
            for r in 0..rows - dr {
                for c in 0..cols {
                    let x = f[r * cols + c] as f64;
                    let y = f[(r + dr) * cols + (c + dc) % cols] as f64;
                    sxy += x * y;
                    sxx += x * x;
                    n += 1.0;
                }
            }
        }
        (sxy / n) / (sxx / n)
    }

    #[test]
    fn field_has_unit_variance_and_the_requested_correlations() {
        let (rows, cols) = (8, 128);
        let texture = PlaneTexture::new(0.8, 1.5);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut scratch = Vec::new();
        let fields: Vec<Vec<f32>> = (0..300)
            .map(|_| {
                let mut out = vec![0.0; rows * cols];
                fill_plane(&mut rng, &texture, rows, cols, &mut out, &mut scratch);
                out
            })
            .collect();
        let var: f64 = fields
            .iter()
            .flatten()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            / (fields.len() * rows * cols) as f64;
        assert!((var - 1.0).abs() < 0.03, "variance {var}");
        // Rows: AR(1) gives a^|dr|.
        assert!((correlation(&fields, rows, cols, 1, 0) - 0.8).abs() < 0.02);
        assert!((correlation(&fields, rows, cols, 2, 0) - 0.64).abs() < 0.03);
        // Columns: a Gaussian kernel of sd s gives exp(-d^2 / (4 s^2)), also across the wrap.
        let expected = (-1.0f64 / (4.0 * 1.5 * 1.5)).exp();
        assert!((correlation(&fields, rows, cols, 0, 1) - expected).abs() < 0.02);
    }

    #[test]
    fn column_smoothing_is_an_exact_circular_convolution() {
        // With no row correlation the field is the white noise convolved with the taps; redo
        // that convolution with explicit modular indexing on the same draws.
        let (rows, cols) = (3, 17);
        let texture = PlaneTexture::new(0.0, 2.0);
        let radius = texture.col_taps.len() / 2;
        assert!(radius >= 6, "kernel wider than a third of the ring");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut white = rng.clone();
        let mut out = vec![0.0; rows * cols];
        fill_plane(&mut rng, &texture, rows, cols, &mut out, &mut Vec::new());
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| white.sample::<f32, _>(StandardNormal))
            .collect();
        for r in 0..rows {
            for c in 0..cols {
                let expected: f32 = (0..texture.col_taps.len())
                    .map(|t| texture.col_taps[t] * w[r * cols + (c + cols * 2 + t - radius) % cols])
                    .sum();
                assert!((out[r * cols + c] - expected).abs() < 1e-5, "cell {r},{c}");
            }
        }
    }

    #[test]
    fn packing_is_msb_first_in_layout_order() {
        // 4 cells x 4 planes: set (cell 0, plane 0) = bit 0 and (cell 2, plane 1) = bit 9.
        let mut buf = [0u8; 2];
        pack_cells(4, &mut buf, |cell, b| {
            (cell, b) == (0, 0) || (cell, b) == (2, 1)
        });
        assert_eq!(buf, [0x80, 0x40]);
        assert!(get_bit(&buf, 0) && get_bit(&buf, 9) && !get_bit(&buf, 1));
    }
}
