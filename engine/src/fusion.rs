//! Fusion of calibrated scores and the decision threshold.
//!
//! Each comparison of a probe with a candidate (left iris, right iris, face, ...) yields an FMR
//! `p_i`. Treating them as independent, Fisher's method gives the probability that an impostor
//! reaches at least this much combined evidence: with `y = -sum(ln p_i)` over `k` comparisons,
//! `FMR = e^-y * sum_{j<k} y^j / j!` (the upper tail of a Gamma(k, 1)). Unlike a plain sum of
//! log-likelihood ratios this stays a calibrated FMR whatever the number of modalities present,
//! so records with a missing eye or no face are judged on the same scale.
//!
//! Thresholds follow from the target rate: open-set identification against `N` records needs a
//! per-comparison FMR of `FPIR / N` (FPIR ~ N x FMR), so the identify threshold score is
//! `-log10(FPIR / N)`; 1:1 verification uses `-log10(FMR)` directly.

use crate::calibration::{to_score, MAX_SCORE};

/// Fused calibrated score (`-log10` of the combined FMR) of per-comparison scores.
pub fn fuse(scores: &[f64]) -> f64 {
    match scores.len() {
        0 => 0.0,
        1 => scores[0],
        _ => to_score(fused_ln_fmr(
            scores.iter().sum::<f64>() * std::f64::consts::LN_10,
            scores.len(),
        )),
    }
}

/// ln of Fisher's combined FMR for `y = -sum(ln p_i)` over `k` comparisons.
fn fused_ln_fmr(y: f64, k: usize) -> f64 {
    // ln( e^-y * sum_{j<k} y^j/j! ), summed in log space.
    let mut term = 0.0f64; // ln(y^0/0!)
    let mut acc = 0.0f64.ln_1p(); // ln(1) = 0
    for j in 1..k {
        term += y.max(f64::MIN_POSITIVE).ln() - (j as f64).ln();
        let (hi, lo) = if acc > term { (acc, term) } else { (term, acc) };
        acc = hi + (lo - hi).exp().ln_1p();
    }
    (-y + acc).min(0.0)
}

/// Identify threshold score for a target FPIR against a gallery of `gallery_size` records.
pub fn identify_threshold(target_fpir: f64, gallery_size: u64) -> f64 {
    let n = gallery_size.max(1) as f64;
    (-(target_fpir / n).log10()).clamp(0.0, MAX_SCORE)
}

/// Verify threshold score for a target FMR.
pub fn verify_threshold(target_fmr: f64) -> f64 {
    (-target_fmr.log10()).clamp(0.0, MAX_SCORE)
}

/// The smallest single-comparison score that can still lift a record of up to `max_comparisons`
/// comparisons to a fused score of `threshold`: if every comparison scored below it, the fused
/// score would too. Each modality passes every record above this floor to fusion.
pub fn candidate_floor(threshold: f64, max_comparisons: usize) -> f64 {
    let k = max_comparisons.max(1);
    if k == 1 {
        return threshold;
    }
    // Find the smallest y with fused(y) >= threshold; then max_i(-ln p_i) >= y / k.
    let (mut lo, mut hi) = (
        0.0f64,
        (threshold + 10.0) * std::f64::consts::LN_10 * 2.0 + 50.0,
    );
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if to_score(fused_ln_fmr(mid, k)) >= threshold {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo / k as f64 / std::f64::consts::LN_10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_comparison_is_unchanged_and_more_evidence_scores_higher() {
        assert_eq!(fuse(&[5.0]), 5.0);
        assert_eq!(fuse(&[]), 0.0);
        let two = fuse(&[5.0, 5.0]);
        assert!(two > 5.0 && two < 10.0, "{two}");
        assert!(fuse(&[5.0, 5.0, 5.0]) > two);
        // Fisher with k=2, y = 10 ln 10: FMR = e^-y (1 + y) => score = 10 - log10(1 + 23.03).
        let expected = 10.0 - (1.0 + 10.0 * std::f64::consts::LN_10).log10();
        assert!((two - expected).abs() < 1e-9);
    }

    #[test]
    fn weak_evidence_does_not_add_up_to_strong() {
        // Three coin flips' worth of evidence stays weak.
        assert!(fuse(&[0.3, 0.3, 0.3]) < 1.0);
    }

    #[test]
    fn threshold_follows_fpir_and_gallery_size() {
        assert!((identify_threshold(1e-3, 100_000) - 8.0).abs() < 1e-9);
        assert!((identify_threshold(1e-2, 1) - 2.0).abs() < 1e-9);
        assert!((verify_threshold(1e-4) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn candidate_floor_is_a_true_lower_bound() {
        for threshold in [4.0, 8.0, 12.0] {
            for k in 1..=4 {
                let floor = candidate_floor(threshold, k);
                // All comparisons just under the floor cannot reach the threshold...
                let below = vec![floor - 1e-6; k];
                assert!(
                    fuse(&below) < threshold + 1e-6,
                    "t {threshold} k {k} floor {floor}"
                );
                // ...and the floor is not absurdly low.
                assert!(floor > threshold / k as f64 * 0.5);
            }
        }
    }
}
