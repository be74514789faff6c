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
//! - **Face**: impostor cosines of L2-normalised embeddings are modelled as a normal; the tail
//!   `FMR(c) = Q((c - mean) / sd)` uses the impostor mean and standard deviation of the
//!   embedding model in use. ArcFace-class models are centred (mean 0, SD fitted on a held-out
//!   impostor sample: [`Calibration::fit_face_sd`]); dlib's ResNet descriptors, which abis
//!   extracts from face images, are not: [`Calibration::for_gallery`] gives galleries of
//!   [`GalleryConfig::IMAGES`] the tail derived from published LFW statistics
//!   ([`DLIB_FACE_IMPOSTOR_MEAN`]). Real face models have heavier tails than a normal; fitting
//!   on their impostor tail, not their SD, is the honest choice for production.
//! - **Finger**: the minutiae matcher's piecewise-linear knots (`abis_matchers::finger::matcher`,
//!   fitted on FVC2002's synthetic DB4) unless other knots are given
//!   ([`Calibration::with_finger_points`]), e.g. fitted on held-out captures of the templates a
//!   deployment actually enrols (its extractor and sensors).

use crate::config::GalleryConfig;

/// Largest calibrated score reported (FMR 1e-300); stronger evidence is clamped to it.
pub const MAX_SCORE: f64 = 300.0;

/// Mean of impostor cosines of dlib's ResNet face descriptors (`dlib_face_recognition_resnet_
/// model_v1`, 128-d) after L2 normalisation: not the reported data's, but derived from published
/// statistics. A public study of the model on every pair of LFW (81.9 million pairs of 12,797
/// images of 5,467 people, via the `face_recognition` package) gives precision and recall at
/// Euclidean cut-offs 0.45 / 0.50 / 0.55 / 0.60 of 0.98 / 0.91 / 0.71 / 0.34 and 0.59 / 0.84 /
/// 0.96 / 0.99; with LFW's roughly 2.4e5 same-person pairs these are impostor rates of about
/// 3.5e-5 / 2.4e-4 / 1.2e-3 / 5.6e-3 (normal quantiles 3.98 / 3.49 / 3.05 / 2.54: a straight
/// line in the distance, so a normal tail fits). Raw descriptors have a norm of about 1.365
/// (dlib's own descriptors of the public-domain astronaut photo in scikit-image: 1.27-1.46),
/// so a distance d is a cosine of about `1 - d^2 / (2 * 1.365^2)`; a least-squares line
/// through the four (quantile, cosine) knots gives mean 0.829 and SD 0.0296. dlib's own
/// descriptors of two different people's faces (the astronaut and MOSIP's test vector face)
/// have cosines 0.81-0.86, inside that distribution. dlib's documented "same person below
/// 0.6" is cosine 0.903 here, FMR about 0.6%.
pub const DLIB_FACE_IMPOSTOR_MEAN: f64 = 0.829;
/// Standard deviation of impostor cosines of dlib's face descriptors ([`DLIB_FACE_IMPOSTOR_MEAN`]
/// says how it was derived).
pub const DLIB_FACE_IMPOSTOR_SD: f64 = 0.0296;

/// Calibration parameters of every modality.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Iris degrees of freedom of the impostor binomial (Daugman: 249 for 2,048-bit codes).
    pub iris_dof: f64,
    /// Number of rotations the iris search tries (best-of-R correction).
    pub iris_rotations: u32,
    /// Factor on a normalised iris distance's deviation from 0.5 before the binomial tail: 1 for
    /// codes whose bits are as independent as Daugman's 2,048 (the normalisation's 911
    /// reference bits), `sqrt(2048 / code bits)` for larger codes of the same information
    /// ([`Calibration::for_gallery`]).
    pub iris_deviation_scale: f64,
    /// Standard deviation of impostor face cosines.
    pub face_impostor_sd: f64,
    /// Mean of impostor face cosines (0 for centred embeddings).
    pub face_impostor_mean: f64,
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
            face_impostor_mean: 0.0,
            iris_deviation_scale: 1.0,
            finger_points: None,
            iris_log_cdf: binomial_half_log_cdf(n),
        }
    }

    /// The calibration a gallery of `shape` uses unless its opener gives another: the default
    /// (synthetic populations: centred 512-d faces, iris bits as independent as Daugman's), or
    /// for [`GalleryConfig::IMAGES`] (templates abis extracts from images):
    /// - faces: the impostor tail of dlib's face descriptors ([`DLIB_FACE_IMPOSTOR_MEAN`],
    ///   [`DLIB_FACE_IMPOSTOR_SD`]);
    /// - irises: the 12,800-bit codes of `abis-extract-iris` are taken to hold the information
    ///   of Daugman's 2,048-bit code (the same iris ring sampled 6.25 times as densely, so
    ///   neighbouring bits agree far more often: 0.84 for the first wavelet, against 0.5 for
    ///   independent bits), so the normalisation's 911 reference bits stand for 6.25 times as
    ///   many here: the deviation from 0.5 is scaled by `sqrt(2048 / 12800) = 0.4`. Not fitted:
    ///   no labelled iris set is available; with independent-bit normalisation, the two eyes
    ///   of MOSIP's test vector (one person, so impostors to each other) scored 3.1 and 4.6,
    ///   a false match at usual thresholds; scaled, 0.4 and 0.65.
    pub fn for_gallery(shape: &GalleryConfig) -> Self {
        let mut calibration = Self::default();
        if *shape == GalleryConfig::IMAGES {
            calibration.face_impostor_mean = DLIB_FACE_IMPOSTOR_MEAN;
            calibration.face_impostor_sd = DLIB_FACE_IMPOSTOR_SD;
            calibration.iris_deviation_scale =
                (2048.0 / shape.iris_layout.code_bits() as f64).sqrt();
        }
        calibration
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
        let hd_norm = 0.5 - (0.5 - hd_norm) * self.iris_deviation_scale;
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
        ln_normal_tail((cosine - self.face_impostor_mean) / self.face_impostor_sd)
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
        // Normalised distances go below 0 for long codes that agree (a genuine 12,800-bit
        // comparison reaches about -1), so the search starts there.
        let (mut lo, mut hi) = (-4.0f64, 1.0f64);
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

    fn synthetic_score(hd_norm: f64) -> f64 {
        Calibration::default().iris_score(hd_norm)
    }

    #[test]
    fn galleries_of_extracted_templates_use_their_extractors_impostor_tails() {
        let images = Calibration::for_gallery(&GalleryConfig::IMAGES);
        // dlib's "same person below 0.6" (cosine 0.903) is an FMR near the 0.56% derived
        // from LFW; an impostor-typical cosine is no evidence at all.
        let at_cutoff = images.face_score(0.9034);
        assert!((2.1..2.4).contains(&at_cutoff), "{at_cutoff}");
        assert!(images.face_score(0.83) < 0.35);
        // A 12,800-bit code's deviation from 0.5 counts 0.4 as much as a 2,048-bit code's.
        assert!((images.iris_deviation_scale - 0.4).abs() < 1e-12);
        assert!((images.iris_score(0.4) - synthetic_score(0.46)).abs() < 1e-9);
        assert!(images.iris_score(0.38) < 1.0);
        // The same cosine is overwhelming evidence under the centred model of 512-d galleries.
        let synthetic = Calibration::for_gallery(&GalleryConfig::default());
        assert_eq!(synthetic, Calibration::default());
        assert!(synthetic.face_score(0.83) > 30.0);
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
