//! Occlusion masks: eyelids, eyelashes and specular reflections on the unwrapped iris.
//!
//! Masks are drawn in continuous eye geometry and then sampled on the code grid, so the same
//! parameters give the same valid fraction for any layout. Conventions (the rubber-sheet frame of
//! Daugman 2004): row 0 is the pupil boundary and the last row the limbus; column 0 is angle 0
//! (the eye's 3 o'clock), angles grow counter-clockwise, so the upper eyelid is centred on column
//! `cols / 4` and the lower one on `3 cols / 4`. Lengths are in units of the iris radius.
//!
//! A cell at row `r`, column `c` sits at radius `rho = p + (1 - p)(r + 1/2) / rows` (with `p` the
//! pupil/iris radius ratio of the capture) and angle `theta = 2 pi (c + 1/2) / cols`, i.e. at
//! `x = rho cos theta`, `y = rho sin theta`. It is masked when
//! - the upper eyelid covers it: `y > h_up - k_up x^2` (the lid margin is an arc, highest at the
//!   middle), or the lower one does: `y < -(h_low - k_low x^2)`;
//! - an eyelash hangs over it: short radial streaks just inside the upper lid margin;
//! - a specular reflection of the illuminator covers it: small blobs, mostly near the pupil.
//!
//! Eyelids are in the camera frame, so they do not follow the rotation of the iris texture; a
//! subject's lid heights have a personal offset (kept in the subject) plus per-capture variation.

use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use std::f64::consts::{FRAC_PI_2, PI, TAU};

/// Parameters of the occlusion model (see the module docs for the geometry). All lengths are in
/// units of the iris radius, angles in radians.
#[derive(Debug, Clone, PartialEq)]
pub struct OcclusionParams {
    /// Mean pupil/iris radius ratio (typical NIR enrolment: 0.4-0.5).
    pub pupil_ratio_mean: f64,
    /// Per-capture SD of the pupil/iris ratio (pupil dilation).
    pub pupil_ratio_sd: f64,
    /// Mean height of the upper lid margin above the pupil centre.
    pub upper_lid_height: f64,
    /// SD of a subject's personal offset of the upper lid height.
    pub upper_lid_subject_sd: f64,
    /// SD of the per-capture variation of the upper lid height.
    pub upper_lid_capture_sd: f64,
    /// Curvature `k_up` of the upper lid margin.
    pub upper_lid_curvature: f64,
    /// Mean depth of the lower lid margin below the pupil centre.
    pub lower_lid_height: f64,
    /// SD of a subject's personal offset of the lower lid depth.
    pub lower_lid_subject_sd: f64,
    /// SD of the per-capture variation of the lower lid depth.
    pub lower_lid_capture_sd: f64,
    /// Curvature `k_low` of the lower lid margin.
    pub lower_lid_curvature: f64,
    /// Mean number of eyelash streaks per capture (Poisson).
    pub lashes_mean: f64,
    /// Longest eyelash streak, as a fraction of the iris annulus width.
    pub lash_max_length: f64,
    /// Half-width of an eyelash streak, radians.
    pub lash_half_angle: f64,
    /// Mean number of specular reflections per capture (Poisson).
    pub reflections_mean: f64,
    /// Largest half-extent of a reflection along the angle, radians.
    pub reflection_max_half_angle: f64,
    /// Largest half-extent of a reflection across the annulus, as a fraction of its width.
    pub reflection_max_half_radial: f64,
}

/// A subject's personal eyelid offsets (added to the model's mean heights).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LidTendency {
    pub upper: f64,
    pub lower: f64,
}

impl LidTendency {
    pub(crate) fn draw<R: Rng>(rng: &mut R, p: &OcclusionParams) -> Self {
        let upper = p.upper_lid_subject_sd * rng.sample::<f64, _>(StandardNormal);
        let lower = p.lower_lid_subject_sd * rng.sample::<f64, _>(StandardNormal);
        Self { upper, lower }
    }
}

fn poisson<R: Rng>(rng: &mut R, mean: f64) -> usize {
    match Poisson::new(mean) {
        Ok(d) => d.sample(rng) as usize,
        Err(_) => 0, // mean <= 0: no events
    }
}

/// The columns whose angular extent meets `[theta - half, theta + half]`, wrapped.
fn column_span(theta: f64, half: f64, cols: usize) -> impl Iterator<Item = usize> {
    let first = ((theta - half) / TAU * cols as f64).floor() as i64;
    let last = ((theta + half) / TAU * cols as f64).floor() as i64;
    let last = last.min(first + cols as i64 - 1);
    (first..=last).map(move |c| c.rem_euclid(cols as i64) as usize)
}

/// Draws one capture's occlusion into `valid` (`rows * cols` cells, row-major; `true` = usable).
pub(crate) fn draw_valid_cells<R: Rng>(
    rng: &mut R,
    p: &OcclusionParams,
    lids: LidTendency,
    rows: usize,
    cols: usize,
    valid: &mut [bool],
) {
    debug_assert_eq!(valid.len(), rows * cols);
    let normal = |rng: &mut R| rng.sample::<f64, _>(StandardNormal);
    let pupil = (p.pupil_ratio_mean + p.pupil_ratio_sd * normal(rng)).clamp(0.15, 0.75);
    let h_up = p.upper_lid_height + lids.upper + p.upper_lid_capture_sd * normal(rng);
    let h_low = p.lower_lid_height + lids.lower + p.lower_lid_capture_sd * normal(rng);

    // Eyelids, from each cell's centre.
    let (sin, cos): (Vec<f64>, Vec<f64>) = (0..cols)
        .map(|c| (TAU * (c as f64 + 0.5) / cols as f64).sin_cos())
        .unzip();
    for r in 0..rows {
        let rho = pupil + (1.0 - pupil) * (r as f64 + 0.5) / rows as f64;
        for c in 0..cols {
            let (x, y) = (rho * cos[c], rho * sin[c]);
            let upper = y > h_up - p.upper_lid_curvature * x * x;
            let lower = y < -(h_low - p.lower_lid_curvature * x * x);
            valid[r * cols + c] = !(upper || lower);
        }
    }

    // Eyelashes: radial streaks hanging inward from the upper lid margin (or from the limbus
    // where the lid leaves the iris uncovered), centred around the top of the eye.
    for _ in 0..poisson(rng, p.lashes_mean) {
        let theta = FRAC_PI_2 + 0.6 * normal(rng);
        let length = ((rng.gen::<f64>() * p.lash_max_length * rows as f64).ceil() as usize).max(1);
        for c in column_span(theta, p.lash_half_angle, cols) {
            // Outermost row not covered by the lid, scanning in from the limbus.
            let mut edge = rows;
            while edge > 0 && !valid[(edge - 1) * cols + c] {
                edge -= 1;
            }
            for r in edge.saturating_sub(length)..edge {
                valid[r * cols + c] = false;
            }
        }
    }

    // Specular reflections: small blobs, anywhere in angle, in the inner part of the annulus.
    for _ in 0..poisson(rng, p.reflections_mean) {
        let theta = rng.gen::<f64>() * TAU;
        let radial = 0.6 * rng.gen::<f64>();
        let half_angle = p.reflection_max_half_angle * (0.3 + 0.7 * rng.gen::<f64>());
        let half_radial = p.reflection_max_half_radial * (0.3 + 0.7 * rng.gen::<f64>());
        let first = (((radial - half_radial) * rows as f64).floor().max(0.0)) as usize;
        let last = (((radial + half_radial) * rows as f64).floor() as usize).min(rows - 1);
        for c in column_span(theta, half_angle.min(PI), cols) {
            for r in first..=last {
                valid[r * cols + c] = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn params() -> OcclusionParams {
        OcclusionParams {
            pupil_ratio_mean: 0.45,
            pupil_ratio_sd: 0.0,
            upper_lid_height: 0.5,
            upper_lid_subject_sd: 0.0,
            upper_lid_capture_sd: 0.0,
            upper_lid_curvature: 0.0,
            lower_lid_height: 2.0,
            lower_lid_subject_sd: 0.0,
            lower_lid_capture_sd: 0.0,
            lower_lid_curvature: 0.0,
            lashes_mean: 0.0,
            lash_max_length: 0.3,
            lash_half_angle: 0.02,
            reflections_mean: 0.0,
            reflection_max_half_angle: 0.1,
            reflection_max_half_radial: 0.1,
        }
    }

    #[test]
    fn a_flat_upper_lid_masks_the_outer_top_cells_only() {
        let (rows, cols) = (8, 128);
        let mut valid = vec![true; rows * cols];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let lids = LidTendency {
            upper: 0.0,
            lower: 0.0,
        };
        draw_valid_cells(&mut rng, &params(), lids, rows, cols, &mut valid);
        // Top of the eye (column cols/4), outermost row: covered; innermost row (radius ~0.48
        // < 0.5): free. Bottom of the eye: free everywhere (lower lid far away).
        assert!(!valid[(rows - 1) * cols + cols / 4]);
        assert!(valid[cols / 4]);
        assert!((0..rows).all(|r| valid[r * cols + 3 * cols / 4]));
        // Covered cells are exactly those with y > 0.5.
        for r in 0..rows {
            let rho = 0.45 + 0.55 * (r as f64 + 0.5) / rows as f64;
            for c in 0..cols {
                let y = rho * (TAU * (c as f64 + 0.5) / cols as f64).sin();
                assert_eq!(valid[r * cols + c], y <= 0.5, "cell {r},{c}");
            }
        }
    }

    #[test]
    fn lashes_and_reflections_only_remove_cells() {
        let (rows, cols) = (16, 200);
        let mut p = params();
        let lids = LidTendency {
            upper: 0.0,
            lower: 0.0,
        };
        let mut plain = vec![true; rows * cols];
        draw_valid_cells(
            &mut ChaCha8Rng::seed_from_u64(5),
            &p,
            lids,
            rows,
            cols,
            &mut plain,
        );
        p.lashes_mean = 8.0;
        p.reflections_mean = 3.0;
        let mut more = vec![true; rows * cols];
        draw_valid_cells(
            &mut ChaCha8Rng::seed_from_u64(5),
            &p,
            lids,
            rows,
            cols,
            &mut more,
        );
        assert!(
            plain.iter().zip(&more).all(|(a, b)| *a || !*b),
            "occlusions only add"
        );
        assert!(more.iter().filter(|v| !**v).count() > plain.iter().filter(|v| !**v).count());
    }

    #[test]
    fn column_span_wraps_and_never_repeats() {
        let cols: Vec<usize> = column_span(0.0, 0.1, 128).collect();
        assert_eq!(cols, vec![125, 126, 127, 0, 1, 2]);
        assert_eq!(column_span(1.0, 10.0, 16).count(), 16);
    }
}
