//! Open-set identification figures from the outcome of each search.
//!
//! A search returns a ranked candidate list. What the figures need from it is captured in a
//! [`Search`]: the mate's rank and score when the mate is listed (mated searches) and the best
//! non-mate's score (any search). Then, for a threshold `t` (a candidate is returned when its
//! score is `>= t`):
//! - **FNIR(t)** = mated searches whose mate is not returned (not listed, or below `t`);
//! - **FPIR(t)** = non-mated searches that return anyone (best score `>= t`);
//! - **CMC(r)** = mated searches whose mate is listed at rank `<= r` (no threshold).
//!
//! The split rule: a threshold for a target FPIR is *chosen* on the non-mated searches of a
//! calibration split (the lowest `t` whose FPIR there is at most the target, via
//! [`threshold_for_fmr`]) and the FNIR and FPIR are *reported* on a test split at that `t`
//! ([`open_set`]), so the figure is not tuned on the data it describes.

use crate::fvc::metrics::threshold_for_fmr;

/// What one search found, for the figures of this module.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Search {
    /// The mate's 1-based rank in the candidate list (`None`: not listed, or no mate).
    pub mate_rank: Option<usize>,
    /// The mate's score when listed.
    pub mate_score: Option<f64>,
    /// The best non-mate candidate's score (`None`: no non-mate listed).
    pub best_non_mate: Option<f64>,
}

/// FNIR at threshold `t` over mated searches (0 when there are none).
pub fn fnir_at(mated: &[Search], t: f64) -> f64 {
    let missed = mated
        .iter()
        .filter(|s| !s.mate_score.is_some_and(|m| m >= t))
        .count();
    missed as f64 / mated.len().max(1) as f64
}

/// FPIR at threshold `t` over non-mated searches (0 when there are none).
pub fn fpir_at(non_mated: &[Search], t: f64) -> f64 {
    let hits = non_mated
        .iter()
        .filter(|s| s.best_non_mate.is_some_and(|b| b >= t))
        .count();
    hits as f64 / non_mated.len().max(1) as f64
}

/// The cumulative match characteristic: element `r - 1` is the fraction of mated searches
/// whose mate is listed at rank `<= r`, for `r` in `1..=max_rank`.
pub fn cmc(mated: &[Search], max_rank: usize) -> Vec<f64> {
    let n = mated.len().max(1) as f64;
    (1..=max_rank)
        .map(|r| {
            mated
                .iter()
                .filter(|s| s.mate_rank.is_some_and(|k| k <= r))
                .count() as f64
                / n
        })
        .collect()
}

/// Open-set figures at one target FPIR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenSetRates {
    /// The FPIR the threshold was chosen for.
    pub target_fpir: f64,
    /// The threshold, chosen on the calibration split.
    pub threshold: f64,
    /// FPIR on the calibration split at that threshold (at most the target).
    pub fpir_calibration: f64,
    /// FNIR on the test split's mated searches.
    pub fnir: f64,
    /// FPIR on the test split's non-mated searches.
    pub fpir: f64,
}

/// Chooses the threshold for `target_fpir` on `calibration_non_mated` and reports FNIR and
/// FPIR at it on the test split (`test_mated`, `test_non_mated`).
pub fn open_set(
    calibration_non_mated: &[Search],
    test_mated: &[Search],
    test_non_mated: &[Search],
    target_fpir: f64,
) -> OpenSetRates {
    let best: Vec<f64> = calibration_non_mated
        .iter()
        .map(|s| s.best_non_mate.unwrap_or(f64::NEG_INFINITY))
        .collect();
    let threshold = threshold_for_fmr(&best, target_fpir);
    OpenSetRates {
        target_fpir,
        threshold,
        fpir_calibration: fpir_at(calibration_non_mated, threshold),
        fnir: fnir_at(test_mated, threshold),
        fpir: fpir_at(test_non_mated, threshold),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mated(rank: Option<usize>, score: f64) -> Search {
        Search {
            mate_rank: rank,
            mate_score: rank.map(|_| score),
            best_non_mate: None,
        }
    }

    fn non_mated(best: Option<f64>) -> Search {
        Search {
            best_non_mate: best,
            ..Default::default()
        }
    }

    #[test]
    fn cmc_counts_mates_at_or_above_each_rank() {
        let s = [
            mated(Some(1), 9.0),
            mated(Some(3), 5.0),
            mated(None, 0.0),
            mated(Some(1), 8.0),
        ];
        assert_eq!(cmc(&s, 4), [0.5, 0.5, 0.75, 0.75]);
        assert!(cmc(&[], 2).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn fnir_and_fpir_follow_the_threshold() {
        let m = [
            mated(Some(1), 9.0),
            mated(Some(2), 5.0),
            mated(None, 0.0),
            mated(Some(1), 7.0),
        ];
        assert_eq!(fnir_at(&m, 6.0), 0.5);
        assert_eq!(fnir_at(&m, 5.0), 0.25);
        assert_eq!(fnir_at(&m, 10.0), 1.0);
        let n = [non_mated(Some(4.0)), non_mated(None), non_mated(Some(6.0))];
        assert!((fpir_at(&n, 4.0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((fpir_at(&n, 5.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_threshold_is_chosen_on_calibration_and_reported_on_test() {
        // Calibration: 100 non-mated searches with best scores 0.0..9.9; FPIR <= 1% admits
        // one (9.9): the threshold lies just above 9.8.
        let calib: Vec<Search> = (0..100)
            .map(|k| non_mated(Some(f64::from(k) / 10.0)))
            .collect();
        // Test: non-mates score higher (2 of 4 reach 9.85), mates 9.75 (rejected) and 12.
        let test_non = [
            non_mated(Some(9.85)),
            non_mated(Some(11.0)),
            non_mated(Some(1.0)),
            non_mated(None),
        ];
        let test_mated = [mated(Some(1), 9.75), mated(Some(1), 12.0)];
        let r = open_set(&calib, &test_mated, &test_non, 0.01);
        assert!(r.threshold > 9.8 && r.threshold < 9.81, "{r:?}");
        assert_eq!(r.fpir_calibration, 0.01);
        // Reported on the test split, not re-tuned there: FPIR 50% > target.
        assert_eq!((r.fnir, r.fpir), (0.5, 0.5));
        // A calibration split with no non-mate listed admits everything listed.
        let empty = [non_mated(None); 10];
        let r = open_set(&empty, &test_mated, &test_non, 0.01);
        assert!(r.threshold < -1e300, "{r:?}");
        assert_eq!((r.fnir, r.fpir), (0.0, 0.75));
    }
}
