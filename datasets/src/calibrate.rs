//! Fitting the engine's score calibration on a held-out synthetic population.
//!
//! Thresholds must never be tuned on the data a report is made on: callers pass a seed that is
//! not the seed of the population they evaluate.
//! - Iris: for Daugman's 2,048-bit layout the engine keeps his published 249 degrees of freedom
//!   (the generator reproduces them, and real iris tails are published). Other layouts compare
//!   far more bits than Daugman's reference of 911, so their normalised distances spread wider
//!   and the degrees of freedom must be fitted ([`fit_iris_dof`]): `dof = p(1-p) / var` of
//!   single-rotation impostor normalised distances.
//! - Face: the impostor SD depends on the embedding model, so it is always fitted.
//! - Finger: the matcher's knots were fitted on real-extractor templates (FVC2002 DB4). The
//!   generator's impostors have a heavier tail (sparse captures with few minutiae score higher
//!   against anything), so a synthetic gallery gets knots fitted on its own held-out impostors
//!   ([`fit_finger_points`], the procedure of [`crate::fvc::calibrate`]).

use crate::face::FaceModel;
use crate::finger::FingerModel;
use crate::iris::{Eye, IrisModel};
use abis_engine::Calibration;
use abis_matchers::face::dot_f32;
use abis_matchers::iris::{compare, IrisLayout, PreparedProbe, RotationSearch};
use abis_matchers::SimdLevel;
use rayon::prelude::*;

/// Fits the degrees of freedom of single-rotation impostor normalised Hamming distances on
/// `pairs` impostor pairs of a population seeded with `held_out_seed`.
pub fn fit_iris_dof(iris: &IrisModel, held_out_seed: u64, pairs: u64) -> f64 {
    let layout = iris.layout();
    let none = RotationSearch {
        max_shift: 0,
        step: 1,
    };
    let level = SimdLevel::get();
    let hds: Vec<f64> = (0..pairs)
        .into_par_iter()
        .map(|i| {
            let a = iris.capture(&iris.subject(held_out_seed, 2 * i, Eye::Left), 0);
            let b = iris.capture(&iris.subject(held_out_seed, 2 * i + 1, Eye::Left), 0);
            let probe = PreparedProbe::new(&layout, &a.code, &a.mask, &none)
                .expect("generated codes fit their layout");
            let mut row = vec![0u8; layout.row_bytes()];
            layout
                .encode_row(&b.code, &b.mask, &mut row)
                .expect("generated codes fit their layout");
            compare(level, &probe, &row).hd_norm
        })
        .collect();
    let n = hds.len().max(1) as f64;
    let mean = hds.iter().sum::<f64>() / n;
    let var = hds.iter().map(|h| (h - mean) * (h - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean * (1.0 - mean) / var.max(1e-12)).max(1.0)
}

/// The engine calibration for a population's models, fitted on a held-out seed: face impostor
/// SD always; iris degrees of freedom for any layout but Daugman's 2,048 bits (which keeps 249).
pub fn fit_for(iris: &IrisModel, face: &FaceModel, held_out_seed: u64, pairs: u64) -> Calibration {
    let base = fit_calibration(face, held_out_seed, pairs);
    if iris.layout() == IrisLayout::DAUGMAN_2048 {
        return base;
    }
    let dof = fit_iris_dof(iris, held_out_seed ^ 0x1215, pairs);
    Calibration::new(dof, base.iris_rotations, base.face_impostor_sd)
}

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

/// Raw impostor scores of `pairs` pairs of generated fingers seeded with `seed`: an enrolment
/// capture of one subject's finger against a later capture of another subject's same finger (as
/// a de-dup probe meets the gallery). Pairs where either capture is below the engine's
/// searchable minimum are skipped, as the engine skips them.
pub fn finger_impostor_scores(model: &FingerModel, seed: u64, pairs: u64) -> Vec<f64> {
    use abis_engine::gallery::{prepare_finger, searchable};
    use abis_matchers::finger::FingerMatcher;
    (0..pairs)
        .into_par_iter()
        .map_init(
            || FingerMatcher::new(SimdLevel::get()),
            |matcher, i| {
                let finger = (i % 10) as u8;
                let a = model.capture(&model.master(seed, 2 * i, finger), 0);
                let b = model.capture(&model.master(seed, 2 * i + 1, finger), 1);
                (searchable(&a) && searchable(&b))
                    .then(|| f64::from(matcher.compare(&prepare_finger(&b), &prepare_finger(&a))))
            },
        )
        .flatten()
        .collect()
}

/// Fits finger calibration knots on the impostor scores of [`finger_impostor_scores`] with
/// `held_out_seed`. `None` when the fit fails (fewer than 100 scores).
pub fn fit_finger_points(
    model: &FingerModel,
    held_out_seed: u64,
    pairs: u64,
) -> Option<Vec<(f32, f64)>> {
    let scores = finger_impostor_scores(model, held_out_seed, pairs);
    crate::fvc::calibrate::fit_calibration(&scores).map(|fit| fit.points)
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
        assert_eq!(
            fit_calibration(&face, 101, 4000).face_impostor_sd,
            a,
            "deterministic"
        );
    }

    #[test]
    fn fitted_iris_dof_matches_daugman_for_2048_and_is_wider_for_12800() {
        let daugman = fit_iris_dof(&IrisModel::daugman_2048(), 303, 3000);
        assert!((190.0..320.0).contains(&daugman), "2048-bit dof {daugman}");
        // 12,800-bit codes compare ~6,000 bits: normalised to 911, their spread is wider.
        let open = fit_iris_dof(&IrisModel::open_iris_12800(), 303, 1500);
        assert!(open < daugman, "12800-bit dof {open}");
    }

    #[test]
    fn finger_knots_fitted_on_one_seed_predict_the_fmr_on_another() {
        let model = FingerModel::default();
        let points = fit_finger_points(&model, 404, 3000).unwrap();
        assert!(abis_matchers::finger::matcher::check_points(&points));
        let fitted = Calibration::default().with_finger_points(points).unwrap();
        let fresh = finger_impostor_scores(&model, 505, 3000);
        assert!(
            fresh.len() > 2800,
            "few captures fall below the searchable minimum"
        );
        let fmr = |score: f64| {
            fresh
                .iter()
                .filter(|&&s| fitted.finger_score(s as f32) >= score)
                .count() as f64
                / fresh.len() as f64
        };
        // Calibrated 1 and 2 mean FMR 10% and 1% on impostors the fit never saw.
        assert!((0.06..0.15).contains(&fmr(1.0)), "{}", fmr(1.0));
        assert!((0.003..0.025).contains(&fmr(2.0)), "{}", fmr(2.0));
    }
}
