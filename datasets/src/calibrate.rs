//! Fitting the engine's score calibration on a held-out synthetic population.
//!
//! Thresholds must never be tuned on the data a report is made on: callers pass a seed that is
//! not the seed of the population they evaluate. The iris calibration keeps Daugman's published
//! 249 degrees of freedom (the generator reproduces them, and real iris tails are published);
//! the face impostor SD depends on the embedding model, so it is fitted here.

use crate::face::FaceModel;
use abis_engine::Calibration;
use abis_matchers::face::dot_f32;
use rayon::prelude::*;

/// Fits the face impostor SD on `pairs` impostor pairs of a population seeded with
/// `held_out_seed`, and returns the engine calibration with Daugman's iris parameters.
pub fn fit_calibration(face: &FaceModel, held_out_seed: u64, pairs: u64) -> Calibration {
    let cosines: Vec<f32> = (0..pairs)
        .into_par_iter()
        .map(|i| {
            let a = face.capture(&face.subject(held_out_seed, 2 * i), 0);
            let b = face.capture(&face.subject(held_out_seed, 2 * i + 1), 0);
            dot_f32(&a, &b)
        })
        .collect();
    let defaults = Calibration::default();
    let sd = Calibration::fit_face_sd(&cosines).unwrap_or(defaults.face_impostor_sd);
    Calibration::new(defaults.iris_dof, defaults.iris_rotations, sd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_sd_is_in_the_published_range_and_seed_dependent_only_slightly() {
        let face = FaceModel::new(512).unwrap();
        let a = fit_calibration(&face, 101, 4000).face_impostor_sd;
        let b = fit_calibration(&face, 202, 4000).face_impostor_sd;
        assert!((0.04..0.08).contains(&a), "{a}");
        assert!((a - b).abs() < 0.005, "{a} vs {b}");
        assert_eq!(fit_calibration(&face, 101, 4000).face_impostor_sd, a, "deterministic");
    }
}
