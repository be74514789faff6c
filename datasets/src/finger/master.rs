//! A finger's master minutiae: every minutia the finger has, in the finger's own frame.
//!
//! A master is what an ideal rolled impression of the whole finger would show. Captures
//! (`capture.rs`) see a distorted, cropped, noisy part of it. Drawing a master:
//! - the pattern class with its natural frequency and an orientation field (`orientation.rs`);
//! - a minutiae count, uniform in `[min_minutiae, max_minutiae]`;
//! - positions by Poisson-disc dart throwing inside the finger's elliptical area: uniform
//!   candidates, rejected when closer than `min_spacing` to an accepted one (minutiae are never
//!   closer than about one ridge period, ~10 px at 500 ppi), so positions are spread like real
//!   ones rather than clumped like a Poisson process;
//! - direction: the local ridge orientation with the 180-degree ambiguity resolved at random
//!   (an ending points one way along its ridge, a bifurcation the other), plus a few degrees of
//!   natural deviation;
//! - type: ridge ending or bifurcation, 50/50;
//! - quality: high in the centre of the finger, lower towards its edge, with noise.

use super::orientation::{FingerClass, OrientationField};
use abis_matchers::finger::MinutiaKind;
use rand::Rng;
use rand_distr::StandardNormal;
use std::f32::consts::PI;

/// Parameters of a master finger (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MasterParams {
    /// Half-width of the elliptical finger area, pixels at 500 ppi (150: a 300 px wide finger).
    pub half_width: f32,
    /// Half-height of the finger area, pixels (200: 400 px tall).
    pub half_height: f32,
    /// Fewest minutiae of a finger (30).
    pub min_minutiae: u32,
    /// Most minutiae of a finger (60).
    pub max_minutiae: u32,
    /// Least distance between two minutiae, pixels (11: about one ridge period at 500 ppi).
    pub min_spacing: f32,
    /// SD of a minutia's direction around the ridge orientation, degrees (6).
    pub direction_sd_deg: f32,
}

impl Default for MasterParams {
    /// A 300 x 400 px finger with 30 to 60 minutiae at least 11 px apart.
    fn default() -> Self {
        Self {
            half_width: 150.0,
            half_height: 200.0,
            min_minutiae: 30,
            max_minutiae: 60,
            min_spacing: 11.0,
            direction_sd_deg: 6.0,
        }
    }
}

/// One minutia of a master finger, in the finger's own frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MasterMinutia {
    /// Pixels right of the finger centre (500 ppi).
    pub x: f32,
    /// Pixels below the finger centre (image convention: y down).
    pub y: f32,
    /// Direction in radians, counter-clockwise as seen on the image (the ISO convention),
    /// in `[0, 2 pi)`.
    pub angle: f32,
    /// Ridge ending or bifurcation.
    pub kind: MinutiaKind,
    /// Quality 1..=100.
    pub quality: u8,
}

/// Draws the minutiae of a finger with orientation field `field`.
pub(super) fn draw_minutiae<R: Rng>(
    rng: &mut R,
    params: &MasterParams,
    field: &OrientationField,
) -> Vec<MasterMinutia> {
    let (lo, hi) = (
        params.min_minutiae.min(params.max_minutiae),
        params.min_minutiae.max(params.max_minutiae),
    );
    let target = rng.gen_range(lo..=hi) as usize;
    let (a, b) = (params.half_width.abs(), params.half_height.abs());
    let spacing2 = params.min_spacing * params.min_spacing;
    let direction_sd = params.direction_sd_deg.to_radians();
    let mut out: Vec<MasterMinutia> = Vec::with_capacity(target);
    // Dart throwing; the attempt cap only matters for parameters that cannot fit the count.
    let mut attempts = 0;
    while out.len() < target && attempts < 200 * target.max(1) {
        attempts += 1;
        let (u, v) = (rng.gen::<f32>() * 2.0 - 1.0, rng.gen::<f32>() * 2.0 - 1.0);
        let rho2 = u * u + v * v;
        if rho2 > 1.0 {
            continue;
        }
        let (x, y) = (u * a, v * b);
        if out
            .iter()
            .any(|m| (m.x - x).powi(2) + (m.y - y).powi(2) < spacing2)
        {
            continue;
        }
        let flip = if rng.gen::<bool>() { PI } else { 0.0 };
        let deviation = direction_sd * rng.sample::<f32, _>(StandardNormal);
        let angle = (field.at([x, -y]) + flip + deviation).rem_euclid(2.0 * PI);
        let kind = if rng.gen::<bool>() {
            MinutiaKind::RidgeEnding
        } else {
            MinutiaKind::Bifurcation
        };
        let quality = 95.0 - 35.0 * rho2 + 8.0 * rng.sample::<f32, _>(StandardNormal);
        out.push(MasterMinutia {
            x,
            y,
            angle,
            kind,
            quality: quality.clamp(1.0, 100.0).round() as u8,
        });
    }
    out
}

/// A synthetic finger: its class, orientation field and master minutiae (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct MasterFinger {
    pub(super) seed: u64,
    pub(super) subject: u64,
    pub(super) finger: u8,
    pub(super) field: OrientationField,
    pub(super) minutiae: Vec<MasterMinutia>,
}

impl MasterFinger {
    /// The population seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The subject id.
    pub fn subject(&self) -> u64 {
        self.subject
    }

    /// The finger index (0..=9: right thumb to right little, then left thumb to left little).
    pub fn finger(&self) -> u8 {
        self.finger
    }

    /// The pattern class.
    pub fn class(&self) -> FingerClass {
        self.field.class()
    }

    /// The orientation field.
    pub fn field(&self) -> &OrientationField {
        &self.field
    }

    /// Every minutia of the finger, in its own frame.
    pub fn minutiae(&self) -> &[MasterMinutia] {
        &self.minutiae
    }
}
