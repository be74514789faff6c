//! A calibrated synthetic iris: seeded codes and masks whose comparison statistics match
//! published ones.
//!
//! Independent random bits are not a valid iris model: their impostor Hamming distances are far
//! too concentrated (normalised to 911 bits compared: SD 0.017, i.e. 911 degrees of freedom,
//! where real codes give 0.032, i.e. 249). Real codes are signs
//! of overlapping filter responses, so we model them as such:
//! - **Subject** (one eye of one person): a latent, unit-variance Gaussian field per bit plane of
//!   the layout, correlated radially (AR(1) down the rows) and angularly (circular Gaussian
//!   smoothing along the columns), see `field.rs`; plus personal eyelid tendencies.
//! - **Capture**: the latent field plus an independent field of the same texture scaled by a
//!   capture noise level `sigma` that itself varies per capture (log-normal), circularly rotated
//!   by a few columns (head tilt), thresholded at zero into bits; and an occlusion mask (eyelids,
//!   eyelashes, reflections, see `mask.rs`), shared by all bits of a cell (so the real and
//!   imaginary bits of a wavelet always share their mask bit, as in open-iris).
//!
//! Two captures of one eye with noise levels `s1`, `s2` disagree on a bit with probability
//! `acos(1 / sqrt((1 + s1^2)(1 + s2^2))) / pi` (the sign-disagreement law of two correlated
//! Gaussians), so the genuine distance is set by the noise levels; its spread comes mostly from
//! their per-capture variation, as in real data where most of the genuine spread comes from
//! capture quality. Because noise and latent share one texture, a capture has the same bit
//! correlations as its latent field whatever its noise level.
//!
//! # Calibration
//! [`IrisParams`] documents every parameter with the published figure it reproduces (Daugman
//! 2004 and DESIGN.md: impostor HD binomial with ~249 degrees of freedom, best of 7 rotations
//! ~0.46, genuine mean 0.11-0.20 with SD ~0.06, ~911 bits compared) and the values measured with
//! the real comparator; `tests/statistics.rs` asserts them on a seed never used for tuning.

mod field;
mod mask;
mod params;

pub use mask::OcclusionParams;
pub use params::{IrisParams, WaveletTexture};

use crate::seed::{self, Stream};
use abis_matchers::iris::IrisLayout;
use anyhow::{ensure, Result};
use field::{fill_plane, pack_cells, PlaneTexture};
use mask::{draw_valid_cells, LidTendency};
use rand::Rng;
use rand_distr::StandardNormal;

/// Which eye a template comes from (part of the random stream's path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eye {
    /// The subject's left eye.
    Left,
    /// The subject's right eye.
    Right,
}

impl Eye {
    fn id(self) -> u64 {
        match self {
            Eye::Left => 0,
            Eye::Right => 1,
        }
    }
}

/// A seeded generator of iris codes and masks for one layout.
#[derive(Debug, Clone)]
pub struct IrisModel {
    layout: IrisLayout,
    params: IrisParams,
    /// One texture per bit plane (`bits_per_cell` of them).
    planes: Vec<PlaneTexture>,
}

/// One eye of one synthetic person: the latent texture every capture derives from.
#[derive(Debug, Clone)]
pub struct IrisSubject {
    seed: u64,
    subject: u64,
    eye: Eye,
    /// Latent field, plane-major `[plane][row][col]`.
    latent: Vec<f32>,
    lids: LidTendency,
}

impl IrisSubject {
    /// The subject id this eye belongs to.
    pub fn subject(&self) -> u64 {
        self.subject
    }

    /// Which eye.
    pub fn eye(&self) -> Eye {
        self.eye
    }
}

/// One acquisition of an iris: code and mask in the layout's bit order (mask bit 1 = valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrisSample {
    /// Code bits, `layout.code_bytes()` bytes.
    pub code: Vec<u8>,
    /// Mask bits, `layout.code_bytes()` bytes.
    pub mask: Vec<u8>,
    /// Ground truth: the columns this capture's texture was rotated by (cell at latent column
    /// `c` is at column `c + rotation`).
    pub rotation: i32,
}

impl IrisModel {
    /// Daugman's 2,048-bit layout with its calibrated parameters.
    pub fn daugman_2048() -> Self {
        Self::new(IrisLayout::DAUGMAN_2048, IrisParams::daugman_2048())
            .expect("built-in parameters match their layout")
    }

    /// The open-iris 12,800-bit layout with its parameters.
    pub fn open_iris_12800() -> Self {
        Self::new(IrisLayout::OPEN_IRIS_12800, IrisParams::open_iris_12800())
            .expect("built-in parameters match their layout")
    }

    /// A model for any layout; `params.wavelets` must hold `ceil(bits_per_cell / 2)` textures
    /// with correlations in `[0, 1)` and non-negative smoothing.
    pub fn new(layout: IrisLayout, params: IrisParams) -> Result<Self> {
        let bits = layout.bits_per_cell() as usize;
        ensure!(
            params.wavelets.len() == bits.div_ceil(2),
            "{} bits per cell need {} wavelet textures, got {}",
            bits,
            bits.div_ceil(2),
            params.wavelets.len()
        );
        let widest = layout.cols() as f32 / 3.0;
        for w in &params.wavelets {
            ensure!(
                (0.0..1.0).contains(&w.row_correlation) && (0.0..=widest).contains(&w.col_sigma),
                "invalid wavelet texture {w:?}: row correlation in [0, 1), col_sigma in [0, cols/3]"
            );
        }
        ensure!(
            params.noise_median >= 0.0 && params.noise_log_sd >= 0.0,
            "invalid noise"
        );
        ensure!(
            params.max_rotation < layout.cols() / 2,
            "max_rotation must stay below half the columns"
        );
        let planes = (0..bits)
            .map(|b| {
                let w = params.wavelets[b / 2];
                PlaneTexture::new(w.row_correlation, w.col_sigma)
            })
            .collect();
        Ok(Self {
            layout,
            params,
            planes,
        })
    }

    /// The layout of the codes this model generates.
    pub fn layout(&self) -> IrisLayout {
        self.layout
    }

    /// The model's parameters.
    pub fn params(&self) -> &IrisParams {
        &self.params
    }

    fn dims(&self) -> (usize, usize, usize) {
        let l = &self.layout;
        (
            l.rows() as usize,
            l.cols() as usize,
            l.bits_per_cell() as usize,
        )
    }

    /// The latent iris of `eye` of person `subject` in the population `seed` (deterministic).
    pub fn subject(&self, seed: u64, subject: u64, eye: Eye) -> IrisSubject {
        let (rows, cols, bits) = self.dims();
        let mut rng = seed::rng(seed, Stream::IRIS_SUBJECT, &[subject, eye.id()]);
        let mut latent = vec![0.0f32; bits * rows * cols];
        let mut scratch = Vec::new();
        for (plane, texture) in latent.chunks_exact_mut(rows * cols).zip(&self.planes) {
            fill_plane(&mut rng, texture, rows, cols, plane, &mut scratch);
        }
        let lids = LidTendency::draw(&mut rng, &self.params.occlusion);
        IrisSubject {
            seed,
            subject,
            eye,
            latent,
            lids,
        }
    }

    /// Capture number `capture` of an eye (deterministic in seed, subject, eye and capture).
    /// `subject` must come from this model's [`subject`](Self::subject) (same layout).
    pub fn capture(&self, subject: &IrisSubject, capture: u64) -> IrisSample {
        let (rows, cols, bits) = self.dims();
        debug_assert_eq!(
            subject.latent.len(),
            rows * cols * bits,
            "subject of another layout"
        );
        let p = &self.params;
        let path = [subject.subject, subject.eye.id(), capture];
        let mut rng = seed::rng(subject.seed, Stream::IRIS_CAPTURE, &path);
        let sigma =
            (p.noise_median * (p.noise_log_sd * rng.sample::<f64, _>(StandardNormal)).exp()) as f32;
        let max = p.max_rotation as f64;
        let rotation = (p.rotation_sd * rng.sample::<f64, _>(StandardNormal))
            .round()
            .clamp(-max, max) as i32;

        let mut valid = vec![true; rows * cols];
        draw_valid_cells(&mut rng, &p.occlusion, subject.lids, rows, cols, &mut valid);

        // All noise planes first (plane-major, like the latent), then the rotated latent added in
        // place: code column c shows latent column c - rotation.
        let plane_len = rows * cols;
        let shift = rotation.rem_euclid(cols as i32) as usize;
        let mut values = vec![0.0f32; bits * plane_len];
        let mut scratch = Vec::new();
        for (plane, texture) in values.chunks_exact_mut(plane_len).zip(&self.planes) {
            fill_plane(&mut rng, texture, rows, cols, plane, &mut scratch);
        }
        for (val, lat) in values
            .chunks_exact_mut(cols)
            .zip(subject.latent.chunks_exact(cols))
        {
            let (head, tail) = val.split_at_mut(shift);
            let (lat_head, lat_tail) = lat.split_at(cols - shift);
            for (v, l) in tail
                .iter_mut()
                .zip(lat_head)
                .chain(head.iter_mut().zip(lat_tail))
            {
                *v = l + sigma * *v;
            }
        }
        let mut code = vec![0u8; self.layout.code_bytes()];
        let mut mask = vec![0u8; self.layout.code_bytes()];
        pack_cells(bits, &mut code, |cell, b| {
            values[b * plane_len + cell] > 0.0
        });
        pack_cells(bits, &mut mask, |cell, _| valid[cell]);
        IrisSample {
            code,
            mask,
            rotation,
        }
    }
}
