//! The local similarity matrix of two prepared fingers: every cylinder of one against every
//! cylinder of the other. This is where a comparison spends most of its time, so it is a kernel
//! family with one file per instruction set and this module as the only safe entry point.
//!
//! For a pair of cylinders whose central minutiae differ in direction by at most `DELTA_THETA`,
//! the kernel intersects the two validity masks (`m`); if the cells valid in both are at least
//! `min_common`, it counts `pa = |a & m|`, `pb = |b & m|` and `px = |(a ^ b) & m|` over the
//! `ND` sections and the shared [`gamma`] turns the counts into the MCC bit similarity
//! `1 - sqrt(px) / (sqrt(pa) + sqrt(pb))`. Other pairs are 0. The kernels do not write the
//! matrix: they push one [`key`] per similarity of at least `MIN_GAMMA` (the similarity's f32
//! bits, then the two cylinder indices), in row-major order, which is all the global step needs and spares it a pass
//! over the mostly-zero matrix. Every level computes the same integer counts and the same
//! correctly rounded f32 operations on them, so every level returns identical key lists.
//!
//! - `scalar.rs`: the reference (also used for the `Portable` level: without a hardware popcount
//!   instruction there is nothing portable code could do better);
//! - `x86_avx2.rs`: 256-bit sections counted byte-wise by nibble look-up (`vpshufb`);
//! - `x86_avx512.rs`: a cylinder in three 512-bit registers, `vpopcntq`, the mask broadcast to
//!   both halves of a register.

mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

use super::template::PreparedFinger;
use crate::simd::SimdLevel;

/// Whether two directions (360/256-degree units) differ by at most `DELTA_THETA`.
#[cfg(test)]
fn compatible(a: u8, b: u8) -> bool {
    let d = a.wrapping_sub(b);
    d.min(d.wrapping_neg()) <= super::params::DELTA_THETA
}

/// The cylinders of a template (sorted by direction, as [`PreparedFinger`] keeps them) whose
/// direction differs from `ta` by at most `DELTA_THETA`: at most two index ranges, in increasing
/// order. Walking them instead of testing every pair removes an unpredictable branch.
#[inline]
pub(crate) fn window(angles: &[u8], ta: u8) -> [std::ops::Range<usize>; 2] {
    let lo = ta.wrapping_sub(super::params::DELTA_THETA);
    let hi = ta.wrapping_add(super::params::DELTA_THETA);
    let start = angles.partition_point(|&x| x < lo);
    let end = angles.partition_point(|&x| x <= hi);
    if lo <= hi {
        [start..end, 0..0]
    } else {
        [0..end, start..angles.len()]
    }
}

/// MCC bit similarity of counts over the cells valid in both cylinders.
#[inline(always)]
pub(crate) fn gamma(pa: u32, pb: u32, px: u32) -> f32 {
    let den = (pa as f32).sqrt() + (pb as f32).sqrt();
    if den == 0.0 {
        0.0
    } else {
        1.0 - (px as f32).sqrt() / den
    }
}

/// The key of a pair: similarity bits (positive f32 bits order like the values), then the
/// cylinder indices, so keys sort by similarity and ties break by index.
#[inline(always)]
pub(crate) fn key(g: f32, i: usize, j: usize) -> u64 {
    (u64::from(g.to_bits()) << 32) | ((i as u64) << 16) | j as u64
}

/// Splits a [`key`] into (similarity, index in `a`, index in `b`).
#[inline(always)]
pub(crate) fn unkey(k: u64) -> (f32, usize, usize) {
    (
        f32::from_bits((k >> 32) as u32),
        ((k >> 16) & 0xFFFF) as usize,
        (k & 0xFFFF) as usize,
    )
}

/// Replaces `out` with the [`key`]s of every pair of cylinders (row `i` of `a`, column `j` of
/// `b`) with a local similarity of at least `MIN_GAMMA`, row-major. `min_common` is the fewest cells of one
/// section valid in both for a pair to be compared.
pub(crate) fn pairs(
    level: SimdLevel,
    a: &PreparedFinger,
    b: &PreparedFinger,
    min_common: u32,
    out: &mut Vec<u64>,
) {
    out.clear();
    out.resize(a.cylinders() * b.cylinders(), 0);
    if out.is_empty() {
        return;
    }
    let len = match level.clamp_to_cpu() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level is clamped to the CPU, so AVX-512 F/VL/VPOPCNTDQ are present; both
        // templates were built by `PreparedFinger::new`, so their bit and mask vectors hold
        // exactly `WORDS` and `MASK_WORDS` words per cylinder, and `out` has room for every pair.
        SimdLevel::Avx512 => unsafe { x86_avx512::pairs(a, b, min_common, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 and POPCNT present.
        SimdLevel::Avx2 => unsafe { x86_avx2::pairs(a, b, min_common, out) },
        _ => scalar::pairs(a, b, min_common, out),
    };
    out.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_holds_exactly_the_compatible_directions() {
        let angles: Vec<u8> = (0..=255u8)
            .step_by(3)
            .chain([0, 64, 128, 192, 255])
            .collect();
        let mut angles = angles;
        angles.sort_unstable();
        for ta in 0..=255u8 {
            let [r1, r2] = window(&angles, ta);
            assert!(r1.end <= r2.start || r2.is_empty(), "{ta}: {r1:?} {r2:?}");
            let got: Vec<usize> = r1.chain(r2).collect();
            let want: Vec<usize> = (0..angles.len())
                .filter(|&j| compatible(ta, angles[j]))
                .collect();
            assert_eq!(got, want, "direction {ta}");
        }
    }
}
