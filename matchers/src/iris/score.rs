//! From integer bit counts to distances: Daugman's normalisation and the f32 score of a scan.
//!
//! A comparison yields two integers per rotation: `diff`, the bits that disagree where both masks
//! are valid, and `compared`, the bits where both masks are valid. Everything else follows from
//! them through the functions here, shared by every SIMD level, so all levels agree exactly:
//! - [`normalise_hd`] (f64) is the textbook formula, used for [`IrisComparison`].
//! - [`scan_score`] (f32) is what the block kernel [`super::scan`] writes: the same value,
//!   rearranged as `0.5 - (n - 2d) / (2 sqrt(911) sqrt(n))` so that it costs one square root and one
//!   division per rotation, computed in f32 with correctly rounded operations only. The SIMD
//!   kernels evaluate exactly these operations in vector registers, so their outputs are
//!   bit-identical to the scalar reference. It differs from `normalise_hd` by f32 rounding (a few
//!   units in the 7th decimal).
//!
//! When no bit is compared (`compared == 0`, e.g. an all-zero mask) the raw distance is defined as
//! 0.5 (no evidence either way) and the normalised one is 0.5 too, since `sqrt(0 / 911) = 0`.

/// The bits compared in a typical Daugman comparison, the reference for normalisation.
pub const DAUGMAN_REFERENCE_BITS: f64 = 911.0;

/// `2 * sqrt(911)` rounded to f32, the constant of [`scan_score`].
pub(crate) const TWO_SQRT_REFERENCE: f32 = 60.365_555;

/// Daugman's normalised Hamming distance: `0.5 - (0.5 - hd_raw) * sqrt(n / 911)`, which pulls
/// distances computed over few bits towards 0.5. `n == 0` gives 0.5.
pub fn normalise_hd(hd_raw: f64, bits_compared: u32) -> f64 {
    if bits_compared == 0 {
        return 0.5;
    }
    0.5 - (0.5 - hd_raw) * (bits_compared as f64 / DAUGMAN_REFERENCE_BITS).sqrt()
}

/// The fractional Hamming distance `diff / compared`, 0.5 when nothing is compared.
pub fn raw_hd(diff: u32, compared: u32) -> f64 {
    if compared == 0 {
        0.5
    } else {
        diff as f64 / compared as f64
    }
}

/// The normalised Hamming distance in f32 as [`super::scan`] writes it (see the module doc):
/// `0.5 - (compared - 2 * diff) / (2 sqrt(911) * sqrt(compared))`, 0.5 when `compared == 0`.
/// Within 1e-6 of `normalise_hd(raw_hd(diff, compared), compared)`.
#[inline]
pub fn scan_score(diff: u32, compared: u32) -> f32 {
    if compared == 0 {
        return 0.5;
    }
    let num = (compared as i32 - 2 * diff as i32) as f32;
    let den = (compared as f32).sqrt() * TWO_SQRT_REFERENCE;
    0.5 - num / den
}

/// The best rotation of one probe against one gallery row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IrisComparison {
    /// Fractional Hamming distance over the bits both masks keep (0.5 if none).
    pub hd_raw: f64,
    /// Bits both masks keep at this rotation.
    pub bits_compared: u32,
    /// [`normalise_hd`] of `hd_raw`; the rotation minimising it is the one reported.
    pub hd_norm: f64,
    /// The probe's column shift at the best rotation (positive: towards higher columns).
    pub shift: i32,
}

impl IrisComparison {
    /// The comparison at one rotation, from its bit counts.
    pub fn from_counts(diff: u32, compared: u32, shift: i32) -> Self {
        let hd_raw = raw_hd(diff, compared);
        Self {
            hd_raw,
            bits_compared: compared,
            hd_norm: normalise_hd(hd_raw, compared),
            shift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_two_sqrt_911_rounded() {
        assert_eq!(
            TWO_SQRT_REFERENCE,
            (2.0 * DAUGMAN_REFERENCE_BITS.sqrt()) as f32
        );
    }

    #[test]
    fn scan_score_tracks_the_f64_formula() {
        for n in [0u32, 1, 2, 7, 64, 500, 911, 1000, 2048, 12_800, 65_536] {
            for d in [0, n / 7, n / 3, n / 2, n] {
                let exact = normalise_hd(raw_hd(d, n), n);
                assert!(
                    (scan_score(d, n) as f64 - exact).abs() < 1e-6 * (1.0 + exact.abs()),
                    "{d}/{n}"
                );
            }
        }
    }
}
