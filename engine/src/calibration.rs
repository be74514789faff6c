//! Score calibration: every modality's raw distance or similarity becomes a false-match rate.
//!
//! A calibrated score is `-log10(FMR)`: the probability that an impostor comparison scores at
//! least this well, on a log scale. Score 4 means "1 impostor in 10,000 does this well", whatever
//! the modality, so one threshold means the same everywhere and fusion can combine modalities.
//!
//! - **Iris** (Daugman, "How iris recognition works", 2004): impostor fractional Hamming distances
//!   behave like a binomial with about 249 degrees of freedom around 0.5. For one rotation,
//!   `FMR1(hd) = P[Binomial(N, 1/2) <= hd * N]`; the best of `R` rotations has
//!   `FMR = 1 - (1 - FMR1)^R`. With N = 249 and R = 7, hd 0.32 gives about 1 in 26 million,
//!   Daugman's published figure. The binomial CDF is tabulated once in log space and interpolated
//!   between integers, so scores are continuous and exact far into the tail.
//! - **Face**: impostor cosines of L2-normalised embeddings are close to a centred normal; the
//!   tail `FMR(c) = Q(c / sd)` uses the impostor standard deviation, which should be fitted on a
//!   held-out impostor sample of the embedding model in use ([`Calibration::fit_face_sd`]).
//!   Real face models have heavier tails than a normal; fitting on their impostor tail, not their
//!   SD, is the honest choice for production.
//! - **Finger**: the minutiae matcher's piecewise-linear knots (`abis_matchers::finger::matcher`,
//!   fitted on FVC2002's synthetic DB4) unless other knots are given
//!   ([`Calibration::with_finger_points`]), e.g. fitted on held-out captures of the templates a
//!   deployment actually enrols (its extractor and sensors).

/// Largest calibrated score reported (FMR 1e-300); stronger evidence is clamped to it.
pub const MAX_SCORE: f64 = 300.0;

/// Calibration parameters of every modality.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Iris degrees of freedom of the impostor binomial (Daugman: 249 for 2,048-bit codes).
    pub iris_dof: f64,
    /// Number of rotations the iris search tries (best-of-R correction).
    pub iris_rotations: u32,
    /// Standard deviation of impostor face cosines.
    pub face_impostor_sd: f64,
    /// Finger knots `(raw, -log10 FMR)`; `None` = the matcher's own calibration.
    finger_points: Option<Vec<(f32, f64)>>,
    iris_log_cdf: Vec<f64>,
}

impl Default for Calibration {
    /// Daugman's 249 degrees of freedom and 7 rotations; face impostor SD 0.06, mid-range of
    /// the 0.05-0.07 published for ArcFace-class 512-d models (1/sqrt(512) = 0.044 is the floor
    /// for isotropic embeddings). Fit it to the model in use with [`Calibration::fit_face_sd`].
    fn default() -> Self {
        Self::new(249.0, 7, 0.06)
    }
}

impl Calibration {
    /// Builds a calibration; `iris_dof` is rounded to a whole number of binomial trials (>= 1).
    pub fn new(iris_dof: f64, iris_rotations: u32, face_impostor_sd: f64) -> Self {
        let n = iris_dof.round().max(1.0) as usize;
        Self {
            iris_dof,
            iris_rotations: iris_rotations.max(1),
            face_impostor_sd: if face_impostor_sd > 0.0 {
                face_impostor_sd
            } else {
                0.06
            },
            finger_points: None,
            iris_log_cdf: binomial_half_log_cdf(n),
        }
    }

    /// The same calibration with other finger knots; `None` if [`check_points`] refuses them.
    ///
    /// [`check_points`]: abis_matchers::finger::matcher::check_points
    pub fn with_finger_points(mut self, points: Vec<(f32, f64)>) -> Option<Self> {
        abis_matchers::finger::matcher::check_points(&points).then(|| {
            self.finger_points = Some(points);
            self
        })
    }

    /// The finger knots in use.
    pub fn finger_points(&self) -> &[(f32, f64)] {
        self.finger_points
            .as_deref()
            .unwrap_or(abis_matchers::finger::matcher::CALIBRATION_POINTS)
    }

    /// Calibrated score of one finger comparison's raw similarity.
    pub fn finger_score(&self, raw: f32) -> f64 {
        abis_matchers::finger::matcher::calibrated_score_with(self.finger_points(), raw)
    }

    /// Estimates the face impostor SD from impostor cosines (a held-out sample, never the data a
    /// report is made on). Returns `None` for fewer than two samples.
    pub fn fit_face_sd(impostor_cosines: &[f32]) -> Option<f64> {
        if impostor_cosines.len() < 2 {
            return None;
        }
        // The mean is known to be ~0 for normalised embeddings; use the second moment so a
        // slightly shifted sample does not understate the tail.
        let m2 = impostor_cosines
            .iter()
            .map(|&c| f64::from(c) * f64::from(c))
            .sum::<f64>()
            / impostor_cosines.len() as f64;
        Some(m2.sqrt())
    }

    /// Natural log of the FMR of a best-of-R normalised iris Hamming distance.
    pub fn iris_ln_fmr(&self, hd_norm: f64) -> f64 {
        let n = (self.iris_log_cdf.len() - 1) as f64;
        let x = (hd_norm.clamp(0.0, 1.0) * n).clamp(0.0, n);
        let lo = x.floor() as usize;
        let hi = (lo + 1).min(self.iris_log_cdf.len() - 1);
        let t = x - lo as f64;
        let ln_f1 = self.iris_log_cdf[lo] * (1.0 - t) + self.iris_log_cdf[hi] * t;
        best_of(ln_f1, self.iris_rotations)
    }

    /// Calibrated iris score `-log10(FMR)`.
    pub fn iris_score(&self, hd_norm: f64) -> f64 {
        to_score(self.iris_ln_fmr(hd_norm))
    }

    /// Natural log of the FMR of a face cosine.
    pub fn face_ln_fmr(&self, cosine: f64) -> f64 {
        ln_normal_tail(cosine / self.face_impostor_sd)
    }

    /// Calibrated face score `-log10(FMR)`.
    pub fn face_score(&self, cosine: f64) -> f64 {
        to_score(self.face_ln_fmr(cosine))
    }

    /// The smallest face cosine whose calibrated score reaches `score` (inverse of
    /// [`Self::face_score`]), found by bisection.
    pub fn face_cosine_for_score(&self, score: f64) -> f64 {
        let (mut lo, mut hi) = (-1.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.face_score(mid) >= score {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// The largest normalised iris HD whose calibrated score reaches `score`.
    pub fn iris_hd_for_score(&self, score: f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.iris_score(mid) >= score {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// `-log10` of an FMR given as a natural log, clamped to `[0, MAX_SCORE]`.
pub fn to_score(ln_fmr: f64) -> f64 {
    (-ln_fmr / std::f64::consts::LN_10).clamp(0.0, MAX_SCORE)
}

/// ln P[Binomial(n, 1/2) <= k] for k = 0..=n.
fn binomial_half_log_cdf(n: usize) -> Vec<f64> {
    let ln2 = std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut cdf = Vec::with_capacity(n + 1);
    let mut acc = f64::NEG_INFINITY;
    for k in 0..=n {
        if k > 0 {
            ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
        }
        acc = log_add_exp(acc, ln_choose - n as f64 * ln2);
        cdf.push(acc.min(0.0));
    }
    cdf
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// ln(1 - (1 - p)^r) from ln p, accurate for tiny and large p.
fn best_of(ln_p: f64, r: u32) -> f64 {
    let p = ln_p.exp();
    if p < 1e-9 {
        // 1 - (1-p)^r = r p (1 - (r-1)p/2 + ...): the correction is below 1e-8 relative.
        (r as f64).ln() + ln_p
    } else {
        let q = (r as f64) * (-p).ln_1p();
        (-q.exp_m1()).ln()
    }
}

/// ln Q(z), the upper tail of the standard normal, accurate far into the tail.
fn ln_normal_tail(z: f64) -> f64 {
    if z < 8.0 {
        (0.5 * libm::erfc(z / std::f64::consts::SQRT_2)).ln()
    } else {
        // Asymptotic series: Q(z) = phi(z)/z * (1 - 1/z^2 + 3/z^4 - ...).
        let z2 = z * z;
        -0.5 * z2 - z.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + (1.0 - 1.0 / z2 + 3.0 / (z2 * z2)).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daugman_reference_point_hd_032_is_about_one_in_26_million() {
        let c = Calibration::default();
        let fmr = 10f64.powf(-c.iris_score(0.32));
        // Daugman (2004) tabulates 1 in 26 million for HD 0.32 with 7 rotations; the interpolated
        // binomial gives the same order of magnitude.
        assert!((1.0 / 60e6..1.0 / 10e6).contains(&fmr), "fmr {fmr:e}");
        // A random impostor around 0.46 is unremarkable.
        assert!(c.iris_score(0.46) < 1.5);
    }

    #[test]
    fn scores_are_monotone_and_inverses_agree() {
        let c = Calibration::default();
        let mut last = -1.0;
        for i in (0..=100).rev() {
            let s = c.iris_score(i as f64 / 100.0);
            assert!(s >= last - 1e-12, "iris score not monotone at {i}");
            last = s;
        }
        let mut last = -1.0;
        for i in -100..=100 {
            let s = c.face_score(i as f64 / 100.0);
            assert!(s >= last - 1e-12, "face score not monotone at {i}");
            last = s;
        }
        for score in [1.0, 4.0, 8.0, 12.0] {
            let cos = c.face_cosine_for_score(score);
            assert!((c.face_score(cos) - score).abs() < 1e-6);
            let hd = c.iris_hd_for_score(score);
            assert!(
                (c.iris_score(hd) - score).abs() < 1e-3,
                "{score} {}",
                c.iris_score(hd)
            );
        }
    }

    #[test]
    fn normal_tail_is_continuous_across_the_series_switch() {
        let below = ln_normal_tail(8.0 - 1e-9);
        let above = ln_normal_tail(8.0);
        assert!((below - above).abs() < 1e-3, "{below} vs {above}");
        // Q(3) = 1.3499e-3.
        assert!((ln_normal_tail(3.0).exp() - 1.3499e-3).abs() < 1e-6);
    }

    #[test]
    fn fitted_face_sd_matches_the_sample() {
        let sample: Vec<f32> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.05 } else { -0.05 })
            .collect();
        assert!((Calibration::fit_face_sd(&sample).unwrap() - 0.05).abs() < 1e-6);
        assert_eq!(Calibration::fit_face_sd(&[0.1]), None);
    }
}
