//! Score calibration: raw matcher score to `-log10(FMR)`, the scale every modality shares in the
//! engine (a calibrated score of 3 means "one impostor comparison in 1,000 scores this well").
//!
//! **How it was fitted.** On data that no reported figure is made on: FVC2002 `DB4_B-synthetic`
//! (SFinGe synthetic prints, ISO templates from the same commercial extractor as DB1-DB3), every
//! pair of impressions of different fingers, 2,880 impostor scores, with the procedure of
//! `abis_datasets::fvc::calibrate` (whose tests re-run it and check these constants;
//! `abis eval fvc` prints the refit and checks the thresholds on the real databases):
//! - body: piecewise linear through the empirical impostor quantiles at FMR 50%, 20%, 10%, 5%;
//! - tail (FMR < 5%): exponential in the raw score, `FMR = 0.05 exp(-(s - 0.019912) / 0.002810)`
//!   (peaks over the 95% quantile, maximum-likelihood scale), linear in `-log10(FMR)`; it is
//!   capped at [`MAX_CALIBRATED_SCORE`], six orders of magnitude past what 2,880 impostors can
//!   support.
//!
//! **Operating points** (raw score at or above which a comparison is a match):
//!
//! | FMR    | `-log10(FMR)` | raw score | how it is known                                   |
//! |--------|---------------|-----------|---------------------------------------------------|
//! | 1%     | 2             | 0.02443   | tail fit; 30 of the 2,880 fitting impostors above |
//! | 0.1%   | 3             | 0.03090   | tail fit; 3 fitting impostors above               |
//! | 0.01%  | 4             | 0.03737   | tail fit, extrapolated one decade past the data   |
//!
//! On the real FVC2002 DB1-DB3 templates (8,640 impostor pairs, never used in the fit) these
//! thresholds measure FMR 0.45%, 0.06% and 0 (of 8,640), with FNMR 9.1%, 14.5% and 17.9%:
//! SFinGe impostors resemble each other more than real ones do, so on real prints the
//! calibration errs on the safe side (the true FMR is below the stated one, by about 2x at 1%
//! and 0.1%). The raw scores are small numbers because relaxation shrinks unsupported
//! similarities geometrically (on FVC2002: impostor medians ~0.013-0.014, genuine medians
//! 0.08-0.19); only their order matters.

use std::f64::consts::LOG10_2;

/// Largest calibrated score (FMR 1e-10): where the fitted tail stops being evidence.
pub const MAX_CALIBRATED_SCORE: f64 = 10.0;

/// `(raw score, -log10 FMR)` knots, raw strictly increasing from 0 to 1; linear in between.
pub const CALIBRATION_POINTS: &[(f32, f64)] = &[
    (0.0, 0.0),
    (0.014_139_101, LOG10_2),
    (0.016_330_654, 1.0 - LOG10_2),
    (0.017_832_657, 1.0),
    (0.019_911_63, 1.0 + LOG10_2),
    (0.076_191_91, MAX_CALIBRATED_SCORE),
    (1.0, MAX_CALIBRATED_SCORE),
];

/// Whether calibration knots are usable: at least two, raw strictly increasing within `[0, 1]`,
/// scores finite, non-decreasing and within `[0, MAX_CALIBRATED_SCORE]`.
pub fn check_points(p: &[(f32, f64)]) -> bool {
    p.len() >= 2
        && p.iter()
            .all(|&(r, s)| (0.0..=1.0).contains(&r) && (0.0..=MAX_CALIBRATED_SCORE).contains(&s))
        && p.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
}

/// Calibrated score `-log10(FMR)` of a raw score, in `[0, MAX_CALIBRATED_SCORE]` (NaN gives 0).
pub fn calibrated_score(raw: f32) -> f64 {
    calibrated_score_with(CALIBRATION_POINTS, raw)
}

/// [`calibrated_score`] through other knots (`(raw, -log10 FMR)`, raw strictly increasing, as
/// [`check_points`] accepts), e.g. a calibration fitted to another population's impostors.
pub fn calibrated_score_with(p: &[(f32, f64)], raw: f32) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    if raw.is_nan() || raw <= p[0].0 {
        return p[0].1;
    }
    for w in p.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if raw <= x1 {
            let t = f64::from(raw - x0) / f64::from(x1 - x0);
            return y0 + t * (y1 - y0);
        }
    }
    p[p.len() - 1].1
}

/// The lowest raw score whose calibrated score reaches `-log10(fmr)`: the match threshold for a
/// target FMR. FMR of 1 or more gives 0; targets beyond the cap, 0 and NaN give the raw score of
/// the cap (the strictest threshold the calibration can state).
pub fn raw_score_for_fmr(fmr: f64) -> f32 {
    let target = if fmr > 0.0 {
        -fmr.log10()
    } else {
        f64::INFINITY
    };
    let p = CALIBRATION_POINTS;
    if target <= p[0].1 {
        return p[0].0;
    }
    for w in p.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if target <= y1 && y1 > y0 {
            let t = (target - y0) / (y1 - y0);
            return x0 + (t * f64::from(x1 - x0)) as f32;
        }
    }
    p.iter()
        .find(|q| q.1 >= MAX_CALIBRATED_SCORE)
        .map_or(1.0, |q| q.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_operating_points() {
        for (fmr, raw) in [(1e-2, 0.02443), (1e-3, 0.03090), (1e-4, 0.03737)] {
            assert!(
                (raw_score_for_fmr(fmr) - raw).abs() < 5e-5,
                "{fmr}: {}",
                raw_score_for_fmr(fmr)
            );
        }
    }

    #[test]
    fn ends_and_odd_inputs() {
        assert_eq!(calibrated_score(-1.0), 0.0);
        assert_eq!(calibrated_score(f32::NAN), 0.0);
        assert_eq!(calibrated_score(1.0), MAX_CALIBRATED_SCORE);
        assert_eq!(calibrated_score(2.0), MAX_CALIBRATED_SCORE);
        assert_eq!(raw_score_for_fmr(1.0), 0.0);
        assert_eq!(raw_score_for_fmr(5.0), 0.0);
        assert_eq!(raw_score_for_fmr(0.0), 0.076_191_91);
        assert_eq!(raw_score_for_fmr(1e-30), 0.076_191_91);
        assert_eq!(
            raw_score_for_fmr(f64::NAN),
            0.076_191_91,
            "no valid target: strictest"
        );
    }

    #[test]
    fn other_knots_interpolate_and_bad_knots_are_refused() {
        assert!(check_points(CALIBRATION_POINTS));
        let knots = [(0.0, 0.0), (0.1, 2.0), (1.0, 6.0)];
        assert!(check_points(&knots));
        assert_eq!(calibrated_score_with(&knots, 0.05), 1.0);
        assert_eq!(calibrated_score_with(&knots, 2.0), 6.0);
        assert!(!check_points(&[(0.0, 0.0)]), "one knot");
        assert!(
            !check_points(&[(0.0, 0.0), (0.0, 1.0)]),
            "raw not increasing"
        );
        assert!(!check_points(&[(0.0, 2.0), (0.5, 1.0)]), "score decreasing");
        assert!(!check_points(&[(0.0, 0.0), (0.5, f64::NAN)]), "not finite");
    }
}
