//! The local similarities with AVX-512 VPOPCNTDQ.
//!
//! A cylinder is `ND = 6` sections of 256 bits: exactly three 512-bit registers, each holding two
//! sections. The 256-bit intersection of the two validity masks is broadcast to both halves of a
//! register, so one `and`, one ternary-logic `(a ^ b) & m` and three `vpopcntq` per register give
//! the three counts; the probe cylinder's registers are loaded once per row. The three per-lane
//! counts (at most 192 each) are packed into 16-bit fields of one vector, so a single horizontal
//! add yields all three. The validity check runs first on four scalar words.

use super::{gamma, key, window};
use crate::finger::matcher::params::{MASK_WORDS, MIN_GAMMA, WORDS};
use crate::finger::matcher::template::PreparedFinger;
use std::arch::x86_64::*;

const _: () = assert!(
    WORDS == 24 && MASK_WORDS == 4,
    "kernel written for 16x16x6 cylinders"
);

/// See [`super::pairs`]; writes the keys to the head of `out` (one slot per pair of cylinders)
/// and returns how many.
///
/// # Safety
/// The CPU must support AVX-512 F, VL and VPOPCNTDQ (and POPCNT); `a` and `b` must hold `WORDS`
/// bit words and `MASK_WORDS` mask words per cylinder (as `PreparedFinger::new` builds them).
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq,popcnt")]
pub(super) unsafe fn pairs(
    a: &PreparedFinger,
    b: &PreparedFinger,
    min_common: u32,
    out: &mut [u64],
) -> usize {
    let bbits = b.bits.as_ptr();
    let mut len = 0;
    for (i, &ta) in a.angles.iter().enumerate() {
        let am: &[u64] = &a.masks[i * MASK_WORDS..(i + 1) * MASK_WORDS];
        // SAFETY: cylinder `i` of `a` spans words `i * WORDS .. (i + 1) * WORDS` of its bits
        // (caller's contract); unaligned loads.
        let (x0, x1, x2, amv) = unsafe {
            let p = a.bits.as_ptr().add(i * WORDS);
            (
                _mm512_loadu_si512(p.cast()),
                _mm512_loadu_si512(p.add(8).cast()),
                _mm512_loadu_si512(p.add(16).cast()),
                _mm256_loadu_si256(am.as_ptr().cast()),
            )
        };
        for j in window(&b.angles, ta).into_iter().flatten() {
            let bm = &b.masks[j * MASK_WORDS..(j + 1) * MASK_WORDS];
            let common = (am[0] & bm[0]).count_ones()
                + (am[1] & bm[1]).count_ones()
                + (am[2] & bm[2]).count_ones()
                + (am[3] & bm[3]).count_ones();
            // SAFETY: `bm` is 4 words; cylinder `j` of `b` spans `j * WORDS ..` of its bits.
            let (m, y0, y1, y2) = unsafe {
                let p = bbits.add(j * WORDS);
                (
                    _mm512_broadcast_i64x4(_mm256_and_si256(
                        amv,
                        _mm256_loadu_si256(bm.as_ptr().cast()),
                    )),
                    _mm512_loadu_si512(p.cast()),
                    _mm512_loadu_si512(p.add(8).cast()),
                    _mm512_loadu_si512(p.add(16).cast()),
                )
            };
            let pa = _mm512_add_epi64(
                _mm512_add_epi64(
                    _mm512_popcnt_epi64(_mm512_and_si512(x0, m)),
                    _mm512_popcnt_epi64(_mm512_and_si512(x1, m)),
                ),
                _mm512_popcnt_epi64(_mm512_and_si512(x2, m)),
            );
            let pb = _mm512_add_epi64(
                _mm512_add_epi64(
                    _mm512_popcnt_epi64(_mm512_and_si512(y0, m)),
                    _mm512_popcnt_epi64(_mm512_and_si512(y1, m)),
                ),
                _mm512_popcnt_epi64(_mm512_and_si512(y2, m)),
            );
            // 0x28 = (a ^ b) & c.
            let px = _mm512_add_epi64(
                _mm512_add_epi64(
                    _mm512_popcnt_epi64(_mm512_ternarylogic_epi64::<0x28>(x0, y0, m)),
                    _mm512_popcnt_epi64(_mm512_ternarylogic_epi64::<0x28>(x1, y1, m)),
                ),
                _mm512_popcnt_epi64(_mm512_ternarylogic_epi64::<0x28>(x2, y2, m)),
            );
            // Each lane's counts are at most 3 x 64; their sums over 8 lanes at most 1,536.
            let packed = _mm512_add_epi64(
                pa,
                _mm512_add_epi64(_mm512_slli_epi64::<16>(pb), _mm512_slli_epi64::<32>(px)),
            );
            let s = _mm512_reduce_add_epi64(packed) as u64;
            let g = gamma(
                (s & 0xFFFF) as u32,
                ((s >> 16) & 0xFFFF) as u32,
                ((s >> 32) & 0xFFFF) as u32,
            );
            // Branch-free append: the slot is always written, kept when the pair qualifies.
            out[len] = key(g, i, j);
            len += usize::from((common >= min_common) & (g >= MIN_GAMMA));
        }
    }
    len
}
