//! The local similarities with AVX2: byte-wise popcounts by nibble look-up (`vpshufb`).
//!
//! AVX2 has no vector popcount instruction. A cylinder is six 256-bit sections: each section of
//! both cylinders is masked, XORed and counted byte-wise through a 16-entry nibble table held in
//! a register (Mula's method); the byte counts of the six sections (at most 48 per byte) are
//! summed in bytes and reduced once per pair with `vpsadbw`. The validity check runs first on
//! four scalar words with `popcnt`.

use super::{gamma, key, window};
use crate::finger::matcher::params::{MASK_WORDS, MIN_GAMMA, ND, WORDS};
use crate::finger::matcher::template::PreparedFinger;
use std::arch::x86_64::*;

const _: () = assert!(
    WORDS == 24 && MASK_WORDS == 4 && ND == 6,
    "kernel written for 16x16x6 cylinders"
);

/// Per-byte popcounts of `v`.
#[target_feature(enable = "avx2")]
#[inline]
fn popcnt_bytes(v: __m256i, lut: __m256i, low: __m256i) -> __m256i {
    let lo = _mm256_and_si256(v, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
}

/// See [`super::pairs`]; writes the keys to the head of `out` (one slot per pair of cylinders)
/// and returns how many.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT; `a` and `b` must hold `WORDS` bit words and
/// `MASK_WORDS` mask words per cylinder (as `PreparedFinger::new` builds them).
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn pairs(
    a: &PreparedFinger,
    b: &PreparedFinger,
    min_common: u32,
    out: &mut [u64],
) -> usize {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let zero = _mm256_setzero_si256();
    let mut len = 0;
    for (i, &ta) in a.angles.iter().enumerate() {
        let am: &[u64] = &a.masks[i * MASK_WORDS..(i + 1) * MASK_WORDS];
        let ab = &a.bits[i * WORDS..(i + 1) * WORDS];
        // SAFETY: `am` is 4 words and `ab` 24 (6 sections of 4 words); unaligned loads.
        let (amv, x) = unsafe {
            let p = ab.as_ptr();
            (
                _mm256_loadu_si256(am.as_ptr().cast()),
                [0, 1, 2, 3, 4, 5].map(|s| _mm256_loadu_si256(p.add(4 * s).cast())),
            )
        };
        for j in window(&b.angles, ta).into_iter().flatten() {
            let bm = &b.masks[j * MASK_WORDS..(j + 1) * MASK_WORDS];
            let common = (am[0] & bm[0]).count_ones()
                + (am[1] & bm[1]).count_ones()
                + (am[2] & bm[2]).count_ones()
                + (am[3] & bm[3]).count_ones();
            let bb = &b.bits[j * WORDS..(j + 1) * WORDS];
            // SAFETY: `bm` is 4 words.
            let m = _mm256_and_si256(amv, unsafe { _mm256_loadu_si256(bm.as_ptr().cast()) });
            let (mut ca, mut cb, mut cx) = (zero, zero, zero);
            for (s, &xs) in x.iter().enumerate() {
                // SAFETY: section `s` of cylinder `j` is words `4 s .. 4 s + 4` of `bb` (24 words).
                let ys = unsafe { _mm256_loadu_si256(bb.as_ptr().add(4 * s).cast()) };
                ca = _mm256_add_epi8(ca, popcnt_bytes(_mm256_and_si256(xs, m), lut, low));
                cb = _mm256_add_epi8(cb, popcnt_bytes(_mm256_and_si256(ys, m), lut, low));
                cx = _mm256_add_epi8(
                    cx,
                    popcnt_bytes(_mm256_and_si256(_mm256_xor_si256(xs, ys), m), lut, low),
                );
            }
            // Byte sums (at most 6 x 8 = 48 each) into 64-bit lanes, the three counts packed.
            let packed = _mm256_add_epi64(
                _mm256_sad_epu8(ca, zero),
                _mm256_add_epi64(
                    _mm256_slli_epi64::<16>(_mm256_sad_epu8(cb, zero)),
                    _mm256_slli_epi64::<32>(_mm256_sad_epu8(cx, zero)),
                ),
            );
            let h = _mm_add_epi64(
                _mm256_castsi256_si128(packed),
                _mm256_extracti128_si256::<1>(packed),
            );
            let sum = (_mm_cvtsi128_si64(h) + _mm_extract_epi64::<1>(h)) as u64;
            let g = gamma(
                (sum & 0xFFFF) as u32,
                ((sum >> 16) & 0xFFFF) as u32,
                ((sum >> 32) & 0xFFFF) as u32,
            );
            // Branch-free append: the slot is always written, kept when the pair qualifies.
            out[len] = key(g, i, j);
            len += usize::from((common >= min_common) & (g >= MIN_GAMMA));
        }
    }
    len
}
