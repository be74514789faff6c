//! Fitting the fingerprint score calibration from impostor scores.
//!
//! The matcher's calibration (`abis_matchers::finger::matcher::CALIBRATION_POINTS`) maps a raw
//! score to `-log10(FMR)` piecewise-linearly. This is the procedure that produced it, kept here so
//! the constants can be re-derived and checked (this module's tests do so when the FVC2002 data is
//! present). It must be fed impostor scores from data that is NOT reported on: the
//! matcher's constants come from `DB4_B-synthetic` (every different-finger pair, 2,880 scores).
//!
//! - Body: knots at FMR 1 (raw 0) and at the empirical impostor quantiles for FMR 50%, 20%,
//!   10% and `TAIL_FMR`.
//! - Tail (FMR below `TAIL_FMR` = 5%): a peaks-over-threshold fit, exponential in the raw score,
//!   `FMR(s) = TAIL_FMR * exp(-(s - s0) / beta)` with `s0` the 95% quantile and `beta` the mean
//!   excess of the scores above it (its maximum-likelihood estimate). Matcher scores are bounded,
//!   so their true tail is lighter than exponential: the fit errs towards overstating FMR at high
//!   scores, the safe side for a de-duplication threshold. The tail line ends where it reaches
//!   the matcher's `MAX_CALIBRATED_SCORE`, and a last knot at raw 1 holds that cap.

use abis_matchers::finger::matcher::MAX_CALIBRATED_SCORE;

/// FMR from which the exponential tail takes over.
pub const TAIL_FMR: f64 = 0.05;

/// A fitted calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationFit {
    /// `(raw score, -log10 FMR)` knots, raw strictly increasing from 0 to 1.
    pub points: Vec<(f32, f64)>,
    /// The tail's threshold `s0`.
    pub tail_start: f64,
    /// The tail's scale `beta` (raw-score units per factor e of FMR).
    pub tail_scale: f64,
    /// Impostor scores used.
    pub impostors: usize,
}

/// Fits the calibration from impostor raw scores in `[0, 1]`. `None` with fewer than 100 scores
/// (too few to place the 95% quantile) or a degenerate tail (all excesses zero).
pub fn fit_calibration(impostor: &[f64]) -> Option<CalibrationFit> {
    let n = impostor.len();
    if n < 100 {
        return None;
    }
    let mut desc: Vec<f64> = impostor.iter().map(|s| s.clamp(0.0, 1.0)).collect();
    desc.sort_by(|a, b| b.total_cmp(a));
    // Score with a fraction `p` of the impostors strictly above it.
    let quantile = |p: f64| desc[((p * n as f64) as usize).min(n - 1)];
    let s0 = quantile(TAIL_FMR);
    let excess: Vec<f64> = desc
        .iter()
        .take_while(|&&s| s > s0)
        .map(|s| s - s0)
        .collect();
    let beta = excess.iter().sum::<f64>() / excess.len().max(1) as f64;
    if beta <= 0.0 {
        return None;
    }
    let mut points: Vec<(f32, f64)> = vec![(0.0, 0.0)];
    for p in [0.5, 0.2, 0.1, TAIL_FMR] {
        let s = quantile(p) as f32;
        if s > points.last().map_or(0.0, |l| l.0) && s < 1.0 {
            points.push((s, -p.log10()));
        }
    }
    let cap = MAX_CALIBRATED_SCORE;
    let at_cap = s0 + (cap + TAIL_FMR.log10()) * beta * std::f64::consts::LN_10;
    if at_cap < 1.0 {
        points.push((at_cap as f32, cap));
        points.push((1.0, cap));
    } else {
        points.push((
            1.0,
            -TAIL_FMR.log10() + (1.0 - s0) / (beta * std::f64::consts::LN_10),
        ));
    }
    Some(CalibrationFit {
        points,
        tail_start: s0,
        tail_scale: beta,
        impostors: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_scores_give_their_own_tail_back() {
        // Scores s = 0.2 + E/20 (mean excess 0.05) truncated at 1: the fitted beta is ~0.05 and
        // FMR 1e-3 lands near 0.2 + 0.05 ln(1000).
        let n = 20_000;
        let scores: Vec<f64> = (0..n)
            .map(|k| {
                let u = (k as f64 + 0.5) / n as f64;
                (0.2 - 0.05 * u.ln()).min(1.0)
            })
            .collect();
        let fit = fit_calibration(&scores).unwrap();
        assert!((fit.tail_scale - 0.05).abs() < 0.003, "{fit:?}");
        let want = 0.2 + 0.05 * 1000f64.ln();
        // Invert the tail line at -log10 FMR = 3.
        let s =
            fit.tail_start + (3.0 + TAIL_FMR.log10()) * fit.tail_scale * std::f64::consts::LN_10;
        assert!((s - want).abs() < 0.01, "{s} vs {want}");
        assert!(
            fit.points
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{fit:?}"
        );
        assert_eq!(fit.points.last().unwrap().0, 1.0);
    }

    #[test]
    fn the_matchers_constants_are_the_refit_on_db4_synthetic() {
        use crate::fvc::{load_database, score_database};
        use abis_matchers::finger::matcher::CALIBRATION_POINTS;
        use abis_matchers::SimdLevel;
        let Some(dir) = abis_test_data::shared_data("fvc2002/DB4_B-synthetic") else {
            return;
        };
        let db = load_database(&dir).unwrap();
        assert!(db.synthetic);
        let scores = score_database(&db, SimdLevel::get(), 1);
        let fit = fit_calibration(&scores.all_impostor).unwrap();
        assert_eq!(fit.impostors, 2880);
        assert_eq!(fit.points.len(), CALIBRATION_POINTS.len(), "{fit:?}");
        for (got, want) in fit.points.iter().zip(CALIBRATION_POINTS) {
            assert!(
                (got.0 - want.0).abs() < 1e-6 && (got.1 - want.1).abs() < 1e-9,
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn too_few_or_degenerate_scores_are_refused() {
        assert!(fit_calibration(&[0.1; 50]).is_none());
        assert!(fit_calibration(&[0.3; 500]).is_none());
    }
}
