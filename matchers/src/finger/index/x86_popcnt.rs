//! The affinity with the scalar `popcnt` instruction (the AVX2 level: AVX2 has no vector
//! popcount, and a 256-bit code is four `popcnt`s). Same loops as the reference, compiled with
//! the instruction enabled instead of the bit-twiddling fallback.

use super::{scalar, CylinderCode, ROW_WORDS};

/// See [`super::affinity`].
///
/// # Safety
/// The CPU must support POPCNT.
#[target_feature(enable = "popcnt")]
pub(super) unsafe fn affinity(
    probe: &[CylinderCode],
    rows: &[u64],
    stride: usize,
    out: &mut [u16],
) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = scalar::row_affinity(probe, &rows[k * stride..k * stride + ROW_WORDS]);
    }
}
