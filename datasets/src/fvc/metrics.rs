//! FVC error rates from genuine and impostor scores (higher score = more similar; a pair is
//! accepted when its score is at least the threshold).
//!
//! - `FMR(t)` = impostors scoring `>= t` / impostors; `FNMR(t)` = genuines scoring `< t` /
//!   genuines. Both are step functions that change only at observed scores, so evaluating every
//!   observed score (and `+inf`) as a threshold covers every operating point.
//! - **EER**, the FVC convention (Maio et al., FVC2000, section 4.3): `t1` = the highest
//!   threshold with `FNMR <= FMR`, `t2` = the lowest with `FNMR >= FMR`; the crossing lies in
//!   `[EER_low, EER_high]`, taken at `t1` (`[FNMR(t1), FMR(t1)]`) or `t2`
//!   (`[FMR(t2), FNMR(t2)]`), whichever has the smaller `FMR + FNMR`, and the EER is its middle.
//! - **FMR100 / FMR1000 / ZeroFMR**: the lowest FNMR over thresholds with FMR at most 1%, 0.1%,
//!   0. With 45 impostors (the FVC protocol) any false match is already 2.2%, so the three
//!   coincide; they separate with more impostors.

/// The FVC figures of one score set, as fractions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ErrorRates {
    /// Equal error rate.
    pub eer: f64,
    /// FNMR at FMR <= 1%.
    pub fmr100: f64,
    /// FNMR at FMR <= 0.1%.
    pub fmr1000: f64,
    /// FNMR at FMR = 0.
    pub zero_fmr: f64,
    /// Genuine comparisons.
    pub genuine: usize,
    /// Impostor comparisons.
    pub impostor: usize,
}

/// Sorted copies (NaN scores sort as the lowest possible, i.e. rejected).
fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = v
        .iter()
        .map(|&x| if x.is_nan() { f64::NEG_INFINITY } else { x })
        .collect();
    s.sort_by(f64::total_cmp);
    s
}

/// One operating point of a DET curve: a pair is accepted when its score is `>= threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetPoint {
    /// The decision threshold (`+inf` for the point that accepts nothing).
    pub threshold: f64,
    /// Fraction of impostors accepted.
    pub fmr: f64,
    /// Fraction of genuines rejected.
    pub fnmr: f64,
}

/// Every operating point of the score sets, thresholds increasing: each observed score and
/// `+inf`. FMR falls and FNMR rises along it. An empty side has rate 0 everywhere.
pub fn det_curve(genuine: &[f64], impostor: &[f64]) -> Vec<DetPoint> {
    let (g, i) = (sorted(genuine), sorted(impostor));
    let mut thresholds: Vec<f64> = g.iter().chain(&i).copied().collect();
    thresholds.push(f64::INFINITY);
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    thresholds
        .into_iter()
        .map(|t| {
            let (fmr, fnmr) = sorted_rates_at(&g, &i, t);
            DetPoint {
                threshold: t,
                fmr,
                fnmr,
            }
        })
        .collect()
}

/// `(FMR, FNMR)` of sorted score sets at threshold `t`.
fn sorted_rates_at(g: &[f64], i: &[f64], t: f64) -> (f64, f64) {
    let frac = |k: usize, n: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    (
        frac(i.len() - i.partition_point(|&s| s < t), i.len()),
        frac(g.partition_point(|&s| s < t), g.len()),
    )
}

/// `(FMR, FNMR)` at threshold `t` (accept when `score >= t`; NaN scores are rejected).
pub fn rates_at(genuine: &[f64], impostor: &[f64], t: f64) -> (f64, f64) {
    sorted_rates_at(&sorted(genuine), &sorted(impostor), t)
}

/// The lowest threshold at which at most a fraction `max_fmr` of `impostor` is accepted: the
/// way to *choose* an operating point on one split, to be applied to another with
/// [`rates_at`]. It lies just above the impostor score that would exceed the budget, so ties
/// at it are rejected; `-inf` when the budget admits every impostor.
pub fn threshold_for_fmr(impostor: &[f64], max_fmr: f64) -> f64 {
    let mut s = sorted(impostor);
    s.reverse();
    // At most k impostors may be accepted: the threshold must exceed the (k+1)-th highest.
    let k = (max_fmr.max(0.0) * s.len() as f64 + 1e-9).floor() as usize;
    match s.get(k) {
        Some(&x) if x == f64::INFINITY => f64::INFINITY,
        Some(&x) => x.next_up(),
        None => f64::NEG_INFINITY,
    }
}

/// `(FMR, FNMR)` at every candidate threshold, thresholds increasing.
fn curve(genuine: &[f64], impostor: &[f64]) -> Vec<(f64, f64)> {
    det_curve(genuine, impostor)
        .into_iter()
        .map(|p| (p.fmr, p.fnmr))
        .collect()
}

/// Lowest FNMR over thresholds whose FMR is at most `max_fmr`.
pub fn fnmr_at_fmr(genuine: &[f64], impostor: &[f64], max_fmr: f64) -> f64 {
    curve(genuine, impostor)
        .into_iter()
        .filter(|&(fmr, _)| fmr <= max_fmr)
        .map(|(_, fnmr)| fnmr)
        .fold(1.0, f64::min)
}

/// Equal error rate, FVC convention (see the module docs).
pub fn eer(genuine: &[f64], impostor: &[f64]) -> f64 {
    let c = curve(genuine, impostor);
    // FMR falls and FNMR rises with the threshold; at -inf-like (lowest) FNMR = 0 <= FMR, and at
    // +inf FNMR >= FMR = 0, so both t1 and t2 exist.
    let t1 = c.iter().rposition(|&(fmr, fnmr)| fnmr <= fmr).unwrap_or(0);
    let t2 = c
        .iter()
        .position(|&(fmr, fnmr)| fnmr >= fmr)
        .unwrap_or(c.len() - 1);
    let (f1, n1) = c[t1];
    let (f2, n2) = c[t2];
    let (low, high) = if f1 + n1 <= f2 + n2 {
        (n1, f1)
    } else {
        (f2, n2)
    };
    (low + high) / 2.0
}

/// All FVC figures of one score set.
pub fn error_rates(genuine: &[f64], impostor: &[f64]) -> ErrorRates {
    ErrorRates {
        eer: eer(genuine, impostor),
        fmr100: fnmr_at_fmr(genuine, impostor, 0.01),
        fmr1000: fnmr_at_fmr(genuine, impostor, 0.001),
        zero_fmr: fnmr_at_fmr(genuine, impostor, 0.0),
        genuine: genuine.len(),
        impostor: impostor.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn separated_scores_have_no_error() {
        let r = error_rates(&[0.8, 0.9, 0.7], &[0.1, 0.2, 0.3, 0.69]);
        assert_eq!(
            (r.eer, r.fmr100, r.fmr1000, r.zero_fmr),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!((r.genuine, r.impostor), (3, 4));
    }

    #[test]
    fn reversed_scores_fail_completely() {
        let r = error_rates(&[0.1, 0.2], &[0.8, 0.9]);
        assert!(close(r.eer, 1.0), "{r:?}");
        assert_eq!(r.zero_fmr, 1.0);
    }

    #[test]
    fn eer_at_an_exact_crossing() {
        // 10 genuine, 10 impostor; one genuine below one impostor: at t = 0.55 FMR = 1/10
        // (0.6), FNMR = 1/10 (0.5): the curves cross exactly there.
        let g = [0.5, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78];
        let i = [0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.6];
        let r = error_rates(&g, &i);
        assert!(close(r.eer, 0.1), "{r:?}");
        // Below 10% FMR means rejecting the impostor at 0.6, i.e. the genuine at 0.5.
        assert!(close(r.fmr100, 0.1) && close(r.zero_fmr, 0.1), "{r:?}");
    }

    #[test]
    fn eer_interval_middle_when_curves_jump_past_each_other() {
        // 4 genuine, 2 impostor. Thresholds: 0.3 -> FMR 1/2 FNMR 0; 0.45 -> FMR 1/2 FNMR 1/4;
        // 0.9 -> FMR 0 FNMR 1/2. t1 = 0.45 (1/4 <= 1/2), t2 = 0.9 (1/2 >= 0): sums 3/4 vs
        // 1/2 -> [FMR(t2), FNMR(t2)] = [0, 1/2], EER = 1/4.
        let r = error_rates(&[0.3, 0.45, 0.9, 0.95], &[0.1, 0.45]);
        assert!(close(r.eer, 0.25), "{r:?}");
        assert!(close(r.zero_fmr, 0.5), "{r:?}");
    }

    #[test]
    fn fmr100_and_fmr1000_differ_with_many_impostors() {
        // 1000 impostors at 0..0.999 step 0.001; genuine spread 0.9..1.0.
        let imp: Vec<f64> = (0..1000).map(|k| k as f64 / 1000.0).collect();
        let gen: Vec<f64> = (0..100).map(|k| 0.9 + k as f64 / 1000.0).collect();
        let r = error_rates(&gen, &imp);
        // FMR <= 1% needs t > 0.989 (10 impostors at 0.990..0.999): 90 genuines below 0.990.
        assert!(close(r.fmr100, 0.90), "{r:?}");
        // FMR <= 0.1%: t = 0.999, one impostor accepted; 99 genuines below.
        assert!(close(r.fmr1000, 0.99), "{r:?}");
        assert!(close(r.zero_fmr, 1.0), "{r:?}");
        assert!(r.eer > 0.0 && r.eer < 0.1, "{r:?}");
    }

    #[test]
    fn det_curve_walks_from_accept_all_to_accept_none() {
        let c = det_curve(&[0.5, 0.9], &[0.1, 0.6]);
        let t: Vec<f64> = c.iter().map(|p| p.threshold).collect();
        assert_eq!(t, [0.1, 0.5, 0.6, 0.9, f64::INFINITY]);
        let r: Vec<(f64, f64)> = c.iter().map(|p| (p.fmr, p.fnmr)).collect();
        assert_eq!(
            r,
            [(1.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5), (0.0, 1.0)]
        );
    }

    #[test]
    fn a_threshold_chosen_on_one_split_is_applied_to_another() {
        // Split A: 100 impostors 0.00..0.99; FMR <= 1% admits one: the threshold lies just
        // above 0.98 (the second highest), so 0.99 alone is accepted.
        let a: Vec<f64> = (0..100).map(|k| f64::from(k) / 100.0).collect();
        let t = threshold_for_fmr(&a, 0.01);
        assert!(t > 0.98 && t < 0.99 + 1e-12, "{t}");
        assert_eq!(rates_at(&[], &a, t).0, 0.01);
        // Split B scores higher: the same threshold accepts 3 of its 10 impostors and rejects
        // one genuine of four; it is not re-chosen on B.
        let b_imp = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.985, 0.99, 1.0];
        let b_gen = [0.95, 0.985, 1.0, 2.0];
        assert_eq!(rates_at(&b_gen, &b_imp, t), (0.3, 0.25));
        // Budgets that admit everything or nothing.
        assert_eq!(threshold_for_fmr(&a, 1.0), f64::NEG_INFINITY);
        assert_eq!(threshold_for_fmr(&a, 0.0), 0.99f64.next_up());
        assert_eq!(threshold_for_fmr(&[], 0.01), f64::NEG_INFINITY);
    }

    #[test]
    fn ties_between_genuine_and_impostor_count_as_accepted() {
        let r = error_rates(&[0.5], &[0.5]);
        assert_eq!(r.zero_fmr, 1.0);
        assert!(close(fnmr_at_fmr(&[0.5], &[0.5], 1.0), 0.0));
    }
}
