//! 2-D Gabor phase encoding into `IrisLayout::OPEN_IRIS_12800`.
//!
//! Two complex Gabor wavelets oriented along the angle, with open-iris's published parameters
//! (`ConvFilterBank` defaults and `pipeline.yaml`, MIT licence; sizes in pixels of its 128 x 512
//! normalised iris): kernel 41 (angle) x 21 (radius), sigma_phi 7, sigma_rho 6.13, wavelength
//! lambda_phi 28; and kernel 17 x 21, sigma_phi 2, sigma_rho 5.86, lambda_phi 8. Along the angle
//! they are scaled here by 600 / 512 (this crate's strip is 600 columns wide, see
//! [`crate::STRIP_COLS`]). The real part has its mean removed (a Gabor wavelet must not answer to
//! the mean grey level), over the rows the kernel keeps at the strip's top and bottom edges,
//! where it is cut rather than run into the pupil or the sclera.
//!
//! Each wavelet is evaluated at 16 radii (strip rows 4, 12, .., 124) x 200 angles (every third
//! strip column, wrapping around): cell (row, col) gets 4 bits, `b = 0, 1` the signs (`> 0`) of
//! the first wavelet's real and imaginary parts, `b = 2, 3` the second's, at bit
//! `i = (row * 200 + col) * 4 + b`, most significant bit first (the layout's order). A cell's mask
//! bits (both parts alike) are 1 when at least 90% of the wavelet's Gaussian-weighted support is
//! usable iris and its response is not fragile (magnitude under a tenth of the median: signs
//! decided by noise; Hollingsworth, Bowyer and Flynn, "The best bits in an iris code", 2009).
//! Unusable strip samples are replaced by the mean usable grey level before filtering, so eyelids
//! and highlights do not leak into neighbouring cells.

use crate::normalise::{NormalisedIris, STRIP_COLS, STRIP_ROWS};
use abis_matchers::iris::IrisLayout;
use std::sync::OnceLock;

/// Radial rows of the code.
pub const CODE_ROWS: usize = 16;
/// Angular columns of the code.
pub const CODE_COLS: usize = 200;
/// Least usable weight of a cell's support.
const MIN_SUPPORT: f32 = 0.9;
/// Responses weaker than this fraction of the median are fragile.
const FRAGILE: f32 = 0.1;

/// One wavelet's published parameters (open-iris units: its 512-column strip).
struct Wavelet {
    half_phi: usize,
    half_rho: usize,
    sigma_phi: f32,
    sigma_rho: f32,
    lambda_phi: f32,
}

const WAVELETS: [Wavelet; 2] = [
    Wavelet {
        half_phi: 20,
        half_rho: 10,
        sigma_phi: 7.0,
        sigma_rho: 6.13,
        lambda_phi: 28.0,
    },
    Wavelet {
        half_phi: 8,
        half_rho: 10,
        sigma_phi: 2.0,
        sigma_rho: 5.86,
        lambda_phi: 8.0,
    },
];

/// A wavelet cut to the rows available around one code row: taps (row offset, column offset,
/// real, imaginary, envelope).
struct Kernel {
    taps: Vec<(i32, i32, f32, f32, f32)>,
    envelope_sum: f32,
}

/// Code row `i`'s strip row.
fn strip_row(i: usize) -> usize {
    (2 * i + 1) * STRIP_ROWS / (2 * CODE_ROWS)
}

/// Kernels per wavelet and code row, built once.
fn kernels() -> &'static Vec<[Kernel; 2]> {
    static KERNELS: OnceLock<Vec<[Kernel; 2]>> = OnceLock::new();
    KERNELS.get_or_init(|| {
        let scale = STRIP_COLS as f32 / 512.0;
        (0..CODE_ROWS)
            .map(|i| {
                let row = strip_row(i) as i32;
                WAVELETS.each_ref().map(|w| {
                    let half_phi = (w.half_phi as f32 * scale).round() as i32;
                    let (sp, sr, lambda) = (w.sigma_phi * scale, w.sigma_rho, w.lambda_phi * scale);
                    let lo = (-(w.half_rho as i32)).max(-row);
                    let hi = (w.half_rho as i32).min(STRIP_ROWS as i32 - 1 - row);
                    let mut taps = Vec::new();
                    for v in lo..=hi {
                        for u in -half_phi..=half_phi {
                            let (uf, vf) = (u as f32, v as f32);
                            let env =
                                (-(uf * uf) / (2.0 * sp * sp) - vf * vf / (2.0 * sr * sr)).exp();
                            let phase = std::f32::consts::TAU * uf / lambda;
                            taps.push((v, u, env * phase.cos(), env * phase.sin(), env));
                        }
                    }
                    // Zero mean for the real part: subtract the envelope scaled to its sum.
                    let envelope_sum: f32 = taps.iter().map(|t| t.4).sum();
                    let real_sum: f32 = taps.iter().map(|t| t.2).sum();
                    let k = real_sum / envelope_sum;
                    for t in &mut taps {
                        t.2 -= k * t.4;
                    }
                    Kernel { taps, envelope_sum }
                })
            })
            .collect()
    })
}

/// The complex responses of both wavelets at every cell, and the usable weight of each support.
pub(crate) fn responses(strip: &NormalisedIris) -> Vec<[(f32, f32, f32); 2]> {
    assert_eq!(
        (strip.rows(), strip.cols()),
        (STRIP_ROWS, STRIP_COLS),
        "strip size"
    );
    let (pixels, valid) = (strip.pixels(), strip.valid());
    let usable: Vec<f32> = pixels
        .iter()
        .zip(valid)
        .filter(|(_, &v)| v)
        .map(|(&p, _)| p)
        .collect();
    let mean = usable.iter().sum::<f32>() / usable.len().max(1) as f32;
    let clean: Vec<f32> = pixels
        .iter()
        .zip(valid)
        .map(|(&p, &v)| if v { p } else { mean })
        .collect();
    let cols = STRIP_COLS as i32;
    let kernels = kernels();
    let mut out = Vec::with_capacity(CODE_ROWS * CODE_COLS);
    for (i, row_kernels) in kernels.iter().enumerate() {
        let row = strip_row(i) as i32;
        for j in 0..CODE_COLS {
            let col = (j * STRIP_COLS / CODE_COLS) as i32;
            out.push(row_kernels.each_ref().map(|k| {
                let (mut re, mut im, mut ok) = (0f32, 0f32, 0f32);
                for &(v, u, kr, ki, env) in &k.taps {
                    let idx = ((row + v) * cols + (col + u).rem_euclid(cols)) as usize;
                    let p = clean[idx];
                    re += kr * p;
                    im += ki * p;
                    if valid[idx] {
                        ok += env;
                    }
                }
                (re, im, ok / k.envelope_sum)
            }));
        }
    }
    out
}

/// The iris code and mask of a normalised iris (see the module docs), each
/// `IrisLayout::OPEN_IRIS_12800.code_bytes()` long.
///
/// # Panics
/// If `strip` is not [`STRIP_ROWS`] x [`STRIP_COLS`] (as [`crate::normalise`] makes it).
pub fn encode(strip: &NormalisedIris) -> (Vec<u8>, Vec<u8>) {
    let layout = IrisLayout::OPEN_IRIS_12800;
    debug_assert_eq!(layout.code_bits(), CODE_ROWS * CODE_COLS * 4);
    let cells = responses(strip);
    let mut medians = [0f32; 2];
    for (f, median) in medians.iter_mut().enumerate() {
        let mut mags: Vec<f32> = cells
            .iter()
            .filter(|c| c[f].2 >= MIN_SUPPORT)
            .map(|c| c[f].0.hypot(c[f].1))
            .collect();
        if !mags.is_empty() {
            let mid = mags.len() / 2;
            *median = *mags.select_nth_unstable_by(mid, f32::total_cmp).1;
        }
    }
    let mut code = vec![0u8; layout.code_bytes()];
    let mut mask = vec![0u8; layout.code_bytes()];
    for (cell, responses) in cells.iter().enumerate() {
        for (f, &(re, im, support)) in responses.iter().enumerate() {
            let bit = cell * 4 + 2 * f;
            if re > 0.0 {
                set(&mut code, bit);
            }
            if im > 0.0 {
                set(&mut code, bit + 1);
            }
            if support >= MIN_SUPPORT && re.hypot(im) >= FRAGILE * medians[f] && medians[f] > 0.0 {
                set(&mut mask, bit);
                set(&mut mask, bit + 1);
            }
        }
    }
    (code, mask)
}

/// Sets bit `bit` of a most-significant-bit-first buffer.
fn set(buf: &mut [u8], bit: usize) {
    buf[bit / 8] |= 0x80 >> (bit % 8);
}
