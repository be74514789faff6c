//! A finger's ridge orientation field: the Sherlock-Monro zero-pole model per pattern class.
//!
//! Minutiae directions follow the ridge flow, so neighbouring minutiae have related directions
//! (up to the 180-degree ambiguity of a ridge). A matcher's impostor scores depend on that
//! coherence, so the generator draws directions from a plausible orientation field rather than
//! uniformly. Sherlock and Monro ("A model for interpreting fingerprint topology", Pattern
//! Recognition 26(7), 1993) model the orientation at a point `z` of the plane from the singular
//! points alone: `O(z) = O_inf + 1/2 (sum_k arg(z - core_k) - sum_k arg(z - delta_k))`, which
//! turns by +180 degrees around a core and -180 degrees around a delta. Each class places its
//! singular points at randomised, typical positions:
//! - **loops**: one core near the centre, one delta below it to the side (right of the core for
//!   a left loop, left for a right loop);
//! - **whorl**: two cores a few ridges apart, two deltas low on either side;
//! - **tented arch**: a core with a delta straight below it;
//! - **plain arch** (no singular point): the zero-pole model has no arch of its own, so an
//!   analytic field of hump-shaped ridges, flattening towards the finger tip's base, is used.
//!
//! A low-frequency perturbation (one random plane wave of a few degrees) keeps the fields of
//! fingers of one class from being copies of each other. Coordinates here are in the
//! mathematical frame (x right, y up, pixels from the finger centre), so an orientation is an
//! ISO angle directly (counter-clockwise as seen on the image).

use rand::Rng;
use rand_distr::StandardNormal;
use std::f32::consts::PI;

/// The Henry pattern class of a finger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FingerClass {
    /// Plain arch: ridges enter on one side and leave on the other, no singular point.
    Arch,
    /// Tented arch: an arch with a core and a delta aligned vertically.
    TentedArch,
    /// Left loop: ridges enter and leave on the left (as seen on the image); delta on the right.
    LeftLoop,
    /// Right loop: ridges enter and leave on the right; delta on the left.
    RightLoop,
    /// Whorl: circular ridges around two close cores, two deltas.
    Whorl,
}

impl FingerClass {
    /// Every class, in the order of [`FingerClass::FREQUENCIES`].
    pub const ALL: [FingerClass; 5] = [
        FingerClass::Arch,
        FingerClass::TentedArch,
        FingerClass::LeftLoop,
        FingerClass::RightLoop,
        FingerClass::Whorl,
    ];

    /// Natural frequencies of the classes (Wilson, Candela and Watson, "Neural network
    /// fingerprint classification", 1994, over NIST data): arch 3.7%, tented arch 2.9%, left
    /// loop 33.8%, right loop 31.7%, whorl 27.9%.
    pub const FREQUENCIES: [f64; 5] = [0.037, 0.029, 0.338, 0.317, 0.279];

    /// A class drawn with the natural frequencies.
    pub fn draw<R: Rng>(rng: &mut R) -> FingerClass {
        let mut u = rng.gen::<f64>() * Self::FREQUENCIES.iter().sum::<f64>();
        for (class, f) in Self::ALL.iter().zip(Self::FREQUENCIES) {
            if u < f {
                return *class;
            }
            u -= f;
        }
        FingerClass::Whorl
    }
}

/// A finger's orientation field (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct OrientationField {
    class: FingerClass,
    /// Cores, mathematical frame.
    cores: Vec<[f32; 2]>,
    /// Deltas, mathematical frame.
    deltas: Vec<[f32; 2]>,
    /// Background orientation `O_inf`, radians.
    base: f32,
    /// Plain arch: hump height scale (radians of slope at the steepest point).
    arch_slope: f32,
    /// Plain arch: hump width, pixels.
    arch_width: f32,
    /// Perturbation: amplitude (radians), wave vector (radians per pixel), phase.
    wave: [f32; 4],
}

/// A normal draw scaled and shifted.
fn normal<R: Rng>(rng: &mut R, mean: f32, sd: f32) -> f32 {
    mean + sd * rng.sample::<f32, _>(StandardNormal)
}

impl OrientationField {
    /// A random field of `class` for a finger whose area has half-width `half_width` and
    /// half-height `half_height` pixels (the typical singular point positions scale with it).
    pub fn draw<R: Rng>(
        rng: &mut R,
        class: FingerClass,
        half_width: f32,
        half_height: f32,
    ) -> Self {
        let (sx, sy) = (half_width / 150.0, half_height / 200.0);
        // The core sits a little above the centre (mathematical frame: y up).
        let core = [normal(rng, 0.0, 15.0) * sx, normal(rng, 20.0, 20.0) * sy];
        let below = |rng: &mut R, mean: f32| core[1] - normal(rng, mean, 20.0).abs() * sy;
        let (cores, deltas) = match class {
            FingerClass::Arch => (vec![], vec![]),
            FingerClass::TentedArch => {
                let delta = [core[0] + normal(rng, 0.0, 8.0) * sx, below(rng, 90.0)];
                (vec![core], vec![delta])
            }
            FingerClass::LeftLoop | FingerClass::RightLoop => {
                let side = if class == FingerClass::LeftLoop {
                    1.0
                } else {
                    -1.0
                };
                let dx = normal(rng, 95.0, 20.0).abs() * sx * side;
                (vec![core], vec![[core[0] + dx, below(rng, 120.0)]])
            }
            FingerClass::Whorl => {
                let tilt = normal(rng, PI / 2.0, 0.5);
                let half = normal(rng, 14.0, 5.0).abs() + 4.0;
                let (s, c) = tilt.sin_cos();
                let cores = vec![
                    [core[0] + half * c * sx, core[1] + half * s * sy],
                    [core[0] - half * c * sx, core[1] - half * s * sy],
                ];
                let deltas = vec![
                    [
                        core[0] - normal(rng, 110.0, 20.0).abs() * sx,
                        below(rng, 120.0),
                    ],
                    [
                        core[0] + normal(rng, 110.0, 20.0).abs() * sx,
                        below(rng, 120.0),
                    ],
                ];
                (cores, deltas)
            }
        };
        let base = normal(rng, 0.0, 0.08);
        let arch_slope = normal(rng, 0.9, 0.2).clamp(0.3, 1.4);
        let arch_width = normal(rng, 90.0, 15.0).abs().max(40.0) * sx;
        let wave_angle = rng.gen::<f32>() * 2.0 * PI;
        let wavelength = normal(rng, 350.0, 80.0).abs().max(150.0);
        let k = 2.0 * PI / wavelength;
        let wave = [
            normal(rng, 0.0, 0.08),
            k * wave_angle.cos(),
            k * wave_angle.sin(),
            rng.gen::<f32>() * 2.0 * PI,
        ];
        Self {
            class,
            cores,
            deltas,
            base,
            arch_slope,
            arch_width,
            wave,
        }
    }

    /// The pattern class.
    pub fn class(&self) -> FingerClass {
        self.class
    }

    /// The cores (mathematical frame: x right, y up, pixels from the finger centre).
    pub fn cores(&self) -> &[[f32; 2]] {
        &self.cores
    }

    /// The deltas (same frame as [`OrientationField::cores`]).
    pub fn deltas(&self) -> &[[f32; 2]] {
        &self.deltas
    }

    /// The ridge orientation at `p` (mathematical frame), radians in `[0, pi)`.
    pub fn at(&self, p: [f32; 2]) -> f32 {
        let mut o = self.base;
        if self.class == FingerClass::Arch {
            // Ridges y = h(y0) exp(-x^2 / 2w^2): slope -x/w^2 h e^.., humps flatten going down.
            let w = self.arch_width;
            let lift = 1.0 / (1.0 + (-(p[1] + 40.0) / 60.0).exp());
            let slope = -self.arch_slope * (p[0] / w) * (-(p[0] * p[0]) / (2.0 * w * w)).exp();
            o += (slope * lift * 1.6).atan();
        } else {
            for c in &self.cores {
                o += 0.5 * (p[1] - c[1]).atan2(p[0] - c[0]);
            }
            for d in &self.deltas {
                o -= 0.5 * (p[1] - d[1]).atan2(p[0] - d[0]);
            }
        }
        let [amp, kx, ky, phase] = self.wave;
        o += amp * (kx * p[0] + ky * p[1] + phase).sin();
        o.rem_euclid(PI)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Circular difference of two orientations (period pi), in `[0, pi/2]`.
    fn orientation_gap(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(PI);
        d.min(PI - d)
    }

    #[test]
    fn orientation_turns_half_a_turn_around_a_core_and_back_around_a_delta() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let field = OrientationField::draw(&mut rng, FingerClass::LeftLoop, 150.0, 200.0);
        // Unwrap the orientation along a small circle around each singular point.
        let winding = |centre: [f32; 2]| {
            let steps = 360;
            let mut total = 0.0;
            let mut prev = field.at([centre[0] + 5.0, centre[1]]);
            for s in 1..=steps {
                let t = s as f32 / steps as f32 * 2.0 * PI;
                let o = field.at([centre[0] + 5.0 * t.cos(), centre[1] + 5.0 * t.sin()]);
                let mut d = o - prev;
                if d > PI / 2.0 {
                    d -= PI;
                } else if d < -PI / 2.0 {
                    d += PI;
                }
                total += d;
                prev = o;
            }
            total
        };
        assert!((winding(field.cores()[0]) - PI).abs() < 0.05);
        assert!((winding(field.deltas()[0]) + PI).abs() < 0.05);
    }

    #[test]
    fn ridges_are_nearly_horizontal_far_above_the_core() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for class in FingerClass::ALL {
            let field = OrientationField::draw(&mut rng, class, 150.0, 200.0);
            let o = field.at([0.0, 190.0]);
            assert!(orientation_gap(o, 0.0) < 0.6, "{class:?}: {o}");
        }
    }

    #[test]
    fn class_draws_follow_the_natural_frequencies() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 20_000;
        let mut counts = [0usize; 5];
        for _ in 0..n {
            let class = FingerClass::draw(&mut rng);
            counts[FingerClass::ALL.iter().position(|c| *c == class).unwrap()] += 1;
        }
        for (count, f) in counts.iter().zip(FingerClass::FREQUENCIES) {
            let observed = *count as f64 / n as f64;
            assert!((observed - f).abs() < 0.012, "{observed} vs {f}");
        }
    }
}
