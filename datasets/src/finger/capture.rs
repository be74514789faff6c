//! One impression of a master finger: what an extractor would report from one plain capture.
//!
//! Two impressions of a finger differ in the ways that make minutiae matching hard, each drawn
//! per impression:
//! - **contact area**: a plain impression touches only part of the finger, an ellipse scaled
//!   down from the finger's and shifted; master minutiae outside it are lost;
//! - **elastic distortion**: skin stretches non-linearly under pressure. The displacement field
//!   is a sum of a few Gaussian bumps (random centres in the finger, random displacement
//!   vectors), smooth like real distortion: neighbouring minutiae move together, distant ones
//!   independently. Directions are carried through the field's local Jacobian;
//! - **placement**: a global rotation (normal, clamped to +-`rotation_max_deg`) and a
//!   translation of the finger on the sensor; the capture window (the canvas) crops it;
//! - **extraction errors**: a share of the minutiae dropped (missed by the extractor) and a
//!   share of spurious ones added (following the ridge flow, like real false minutiae, at a
//!   distance from true ones), small position and angle noise, occasional type confusions.
//!
//! Everything is drawn from the impression's own stream, so impressions are independent given
//! the master. The defaults were tuned for the matcher's EER to land in the FVC2002 range
//! (module docs of `finger`); the distortion is on the strong side of physical plain-impression
//! distortion because it stands in for every cause of hard mates the model lacks (smudged
//! regions, extractor disagreement on ridge structure).

use super::master::MasterFinger;
use abis_matchers::finger::{Minutia, MinutiaKind};
use rand::Rng;
use rand_distr::StandardNormal;
use std::f32::consts::PI;

/// Parameters of an impression (see the module docs). Lengths in pixels at 500 ppi.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureParams {
    /// Canvas (capture window) width (300, like the FVC2002 templates' 300 x 400).
    pub width: u16,
    /// Canvas height (400).
    pub height: u16,
    /// SD of the global rotation, degrees (8).
    pub rotation_sd_deg: f32,
    /// Largest global rotation, degrees (20).
    pub rotation_max_deg: f32,
    /// SD of the finger centre's offset from the canvas centre, per axis (25; clamped at 2 SD).
    pub translation_sd: f32,
    /// Range of the contact ellipse's size relative to the finger area ((0.75, 1.0)).
    pub contact_scale: (f32, f32),
    /// SD of the contact ellipse centre's offset from the finger centre, per axis (20; clamped
    /// at 2 SD).
    pub contact_offset_sd: f32,
    /// Number of Gaussian bumps of the distortion field (3).
    pub distortion_bumps: u32,
    /// SD of a bump's displacement, per axis (12).
    pub distortion_sd: f32,
    /// Radius (Gaussian SD) of a bump (90).
    pub distortion_radius: f32,
    /// Range of the share of minutiae dropped, drawn per impression ((0.10, 0.20)).
    pub drop_rate: (f32, f32),
    /// Range of spurious minutiae added, relative to the kept count ((0.05, 0.15)).
    pub spurious_rate: (f32, f32),
    /// SD of position noise, per axis (3).
    pub position_sd: f32,
    /// SD of direction noise, degrees (5).
    pub angle_sd_deg: f32,
    /// Probability that an ending is reported as a bifurcation or the reverse (0.1).
    pub type_swap: f32,
}

impl Default for CaptureParams {
    /// A 300 x 400 px plain live-scan capture at 500 ppi with moderate distortion and
    /// extraction errors (module docs).
    fn default() -> Self {
        Self {
            width: 300,
            height: 400,
            rotation_sd_deg: 8.0,
            rotation_max_deg: 20.0,
            translation_sd: 25.0,
            contact_scale: (0.75, 1.0),
            contact_offset_sd: 20.0,
            distortion_bumps: 3,
            distortion_sd: 12.0,
            distortion_radius: 90.0,
            drop_rate: (0.10, 0.20),
            spurious_rate: (0.05, 0.15),
            position_sd: 3.0,
            angle_sd_deg: 5.0,
            type_swap: 0.1,
        }
    }
}

/// A uniform draw from a range given in either order (an empty range gives its bound).
fn uniform<R: Rng>(rng: &mut R, (a, b): (f32, f32)) -> f32 {
    a.min(b) + (a - b).abs() * rng.gen::<f32>()
}

fn gauss<R: Rng>(rng: &mut R) -> f32 {
    rng.sample::<f32, _>(StandardNormal)
}

/// A standard normal draw clamped to +-2, for placements: a finger far off the sensor is a
/// failed capture, not a hard one.
fn gauss2<R: Rng>(rng: &mut R) -> f32 {
    gauss(rng).clamp(-2.0, 2.0)
}

/// The geometric part of one impression: finger frame (image convention) to canvas pixels.
struct Placement {
    /// Gaussian bumps: centre and displacement.
    bumps: Vec<([f32; 2], [f32; 2])>,
    inv_two_r2: f32,
    /// Rotation (cos, sin), counter-clockwise as seen on the image, and its angle.
    rot: (f32, f32),
    angle: f32,
    /// Where the finger centre lands on the canvas.
    offset: [f32; 2],
}

impl Placement {
    /// Distorted position of `p` (finger frame).
    fn distort(&self, p: [f32; 2]) -> [f32; 2] {
        let mut q = p;
        for (c, d) in &self.bumps {
            let w = (-((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)) * self.inv_two_r2).exp();
            q[0] += w * d[0];
            q[1] += w * d[1];
        }
        q
    }

    /// Canvas position and direction of a finger-frame point with direction `angle` (ISO
    /// convention, radians).
    fn map(&self, p: [f32; 2], angle: f32) -> ([f32; 2], f32) {
        // Carry the direction through the distortion with a short step along it (y down).
        const STEP: f32 = 4.0;
        let q = self.distort(p);
        let ahead = self.distort([p[0] + STEP * angle.cos(), p[1] - STEP * angle.sin()]);
        let distorted = (-(ahead[1] - q[1])).atan2(ahead[0] - q[0]);
        let (c, s) = self.rot;
        let x = q[0] * c + q[1] * s + self.offset[0];
        let y = -q[0] * s + q[1] * c + self.offset[1];
        ([x, y], distorted + self.angle)
    }
}

/// Draws one impression of `master` (see the module docs).
pub(super) fn draw_capture<R: Rng>(
    rng: &mut R,
    params: &CaptureParams,
    master: &MasterFinger,
    finger_size: [f32; 2],
) -> Vec<Minutia> {
    let [a, b] = finger_size;
    let scale = uniform(rng, params.contact_scale);
    let contact_centre = [
        params.contact_offset_sd * gauss2(rng),
        params.contact_offset_sd * gauss2(rng),
    ];
    let (ca, cb) = ((a * scale).max(1.0), (b * scale).max(1.0));
    let bumps = (0..params.distortion_bumps)
        .map(|_| {
            let (u, v) = (uniform(rng, (-1.0, 1.0)), uniform(rng, (-1.0, 1.0)));
            let d = [
                params.distortion_sd * gauss(rng),
                params.distortion_sd * gauss(rng),
            ];
            ([u * a, v * b], d)
        })
        .collect();
    let max_rot = params.rotation_max_deg.abs().to_radians();
    let angle = (params.rotation_sd_deg.to_radians() * gauss(rng)).clamp(-max_rot, max_rot);
    let (w, h) = (f32::from(params.width), f32::from(params.height));
    let placement = Placement {
        bumps,
        inv_two_r2: 1.0 / (2.0 * params.distortion_radius.powi(2)).max(1e-6),
        rot: (angle.cos(), angle.sin()),
        angle,
        offset: [
            w / 2.0 + params.translation_sd * gauss2(rng),
            h / 2.0 + params.translation_sd * gauss2(rng),
        ],
    };
    let drop_rate = uniform(rng, params.drop_rate);
    let spurious_rate = uniform(rng, params.spurious_rate);
    let angle_sd = params.angle_sd_deg.to_radians();
    let in_contact = |p: [f32; 2]| {
        ((p[0] - contact_centre[0]) / ca).powi(2) + ((p[1] - contact_centre[1]) / cb).powi(2) <= 1.0
    };
    let in_canvas = |q: [f32; 2]| q[0] >= 0.0 && q[1] >= 0.0 && q[0] <= w - 1.0 && q[1] <= h - 1.0;
    let to_minutia = |q: [f32; 2], angle: f32, kind, quality: f32| Minutia {
        x: q[0].round() as u16,
        y: q[1].round() as u16,
        angle: (angle.rem_euclid(2.0 * PI) * (256.0 / (2.0 * PI))).round() as u32 as u8,
        kind,
        quality: quality.clamp(1.0, 100.0).round() as u8,
    };

    let mut out = Vec::with_capacity(master.minutiae.len() + 8);
    let mut kept_master = Vec::with_capacity(master.minutiae.len());
    for m in &master.minutiae {
        let p = [m.x, m.y];
        if !in_contact(p) || rng.gen::<f32>() < drop_rate {
            continue;
        }
        let (q, dir) = placement.map(p, m.angle);
        let q = [
            q[0] + params.position_sd * gauss(rng),
            q[1] + params.position_sd * gauss(rng),
        ];
        let dir = dir + angle_sd * gauss(rng);
        let swap = rng.gen::<f32>() < params.type_swap;
        let kind = match (m.kind, swap) {
            (MinutiaKind::RidgeEnding, true) => MinutiaKind::Bifurcation,
            (MinutiaKind::Bifurcation, true) => MinutiaKind::RidgeEnding,
            (kind, _) => kind,
        };
        let quality = f32::from(m.quality) + 6.0 * gauss(rng);
        if in_canvas(q) {
            out.push(to_minutia(q, dir, kind, quality));
            kept_master.push(p);
        }
    }

    // Spurious minutiae: in the contact area, away from true ones, along the ridge flow.
    let spurious = (kept_master.len() as f32 * spurious_rate).round() as usize;
    let mut added = 0;
    let mut attempts = 0;
    let spacing2 = 8.0f32 * 8.0;
    while added < spurious && attempts < 50 * spurious {
        attempts += 1;
        let (u, v) = (uniform(rng, (-1.0, 1.0)), uniform(rng, (-1.0, 1.0)));
        if u * u + v * v > 1.0 {
            continue;
        }
        let p = [contact_centre[0] + u * ca, contact_centre[1] + v * cb];
        if kept_master
            .iter()
            .any(|k| (k[0] - p[0]).powi(2) + (k[1] - p[1]).powi(2) < spacing2)
        {
            continue;
        }
        let flip = if rng.gen::<bool>() { PI } else { 0.0 };
        let dir = master.field.at([p[0], -p[1]]) + flip + 2.0 * angle_sd * gauss(rng);
        let (q, dir) = placement.map(p, dir);
        let kind = if rng.gen::<bool>() {
            MinutiaKind::RidgeEnding
        } else {
            MinutiaKind::Bifurcation
        };
        let quality = uniform(rng, (15.0, 60.0));
        if in_canvas(q) {
            out.push(to_minutia(q, dir, kind, quality));
            added += 1;
        }
    }
    // Report order carries no correspondence: top to bottom, left to right.
    out.sort_unstable_by_key(|m| (m.y, m.x, m.angle));
    out
}

#[cfg(test)]
mod tests {
    use crate::finger::FingerModel;
    use std::f32::consts::PI;

    /// A model whose impressions keep every minutia on a large canvas, undistorted.
    fn clean_model() -> FingerModel {
        let mut model = FingerModel::default();
        let c = &mut model.capture;
        (c.width, c.height) = (1000, 1000);
        c.contact_scale = (3.0, 3.0);
        c.distortion_sd = 0.0;
        c.drop_rate = (0.0, 0.0);
        c.spurious_rate = (0.0, 0.0);
        c.position_sd = 0.0;
        c.angle_sd_deg = 0.0;
        model
    }

    /// Direction of the segment `a -> b` relative to `a`'s direction, radians in `[0, 2 pi)`,
    /// with ISO conventions (y down, angles counter-clockwise as seen).
    fn radial(a: (f32, f32, f32), b: (f32, f32, f32)) -> f32 {
        ((-(b.1 - a.1)).atan2(b.0 - a.0) - a.2).rem_euclid(2.0 * PI)
    }

    fn circular_gap(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(2.0 * PI);
        d.min(2.0 * PI - d)
    }

    #[test]
    fn rigid_placement_keeps_the_geometry_between_minutiae() {
        // Rotation and translation only: distances and relative angles are invariant, which
        // checks that positions and directions are turned the same way.
        let model = clean_model();
        for subject in 0..20 {
            let master = model.master(11, subject, 2);
            let c = model.capture(&master, 0);
            assert_eq!(c.len(), master.minutiae().len());
            let pts: Vec<(f32, f32, f32)> = c
                .iter()
                .map(|m| (m.x as f32, m.y as f32, m.angle as f32 * (2.0 * PI / 256.0)))
                .collect();
            let src: Vec<(f32, f32, f32)> = master
                .minutiae()
                .iter()
                .map(|m| (m.x, m.y, m.angle))
                .collect();
            // Captures are re-ordered, so look each master pair up by its own geometry.
            for (i, a) in src.iter().enumerate().take(5) {
                for b in src.iter().skip(i + 1).take(5) {
                    let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
                    let r = radial(*a, *b);
                    // Some pair of captured minutiae shows the same distance and radial angle.
                    let found = pts.iter().any(|p| {
                        pts.iter().any(|q| {
                            let dq = ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt();
                            (dq - d).abs() < 1.5 && circular_gap(radial(*p, *q), r) < 0.08
                        })
                    });
                    assert!(found, "subject {subject}: pair lost its geometry");
                }
            }
        }
    }

    #[test]
    fn drop_and_spurious_rates_hold_on_average() {
        let mut model = clean_model();
        model.capture.drop_rate = (0.15, 0.15);
        model.capture.spurious_rate = (0.10, 0.10);
        let (mut master_total, mut capture_total) = (0usize, 0usize);
        for subject in 0..300 {
            let master = model.master(12, subject, 0);
            master_total += master.minutiae().len();
            capture_total += model.capture(&master, 1).len();
        }
        let ratio = capture_total as f64 / master_total as f64;
        let expected = 0.85 * 1.10;
        assert!((ratio - expected).abs() < 0.02, "{ratio} vs {expected}");
    }
}
